"""E-mail/SMS codes and the emoji challenge on the customer site: the login page's
second step, and the step-up page that resumes the action after the answer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from factories.apps import app_with_policy
from factories.customers import PASSWORD, make_customer
from factories.forms import form_of, hidden
from kabuguard.audit.models import AuditRecord
from kabuguard.notify.models import Notice
from kabuguard.web.security import SESSION_COOKIE


@pytest.fixture
def env(database_url, clock, tmp_path, request):
    policy = getattr(request, "param", "email_otp_mandatory")
    with app_with_policy(database_url, clock, tmp_path, policy) as (services, client):
        yield services, client, clock


def last_params(services) -> dict:
    with services.db.read() as session:
        # The code's notice, not the login's (the journal queues that one too).
        notice = session.scalars(
            select(Notice).where(Notice.kind.in_(["one_time_code", "emoji_challenge"]))
            .order_by(Notice.created_at.desc(), Notice.id.desc()).limit(1)).one()
    return services.notifier.decode(notice)[1]


def password_step(client, login_id: str):
    page = client.get("/login").text
    r = client.post("/login", data={"login_id": login_id, "password": PASSWORD,
                                    "csrf_token": hidden(page, "csrf_token"), "next": "/"})
    assert r.status_code == 401, r.text
    return r


def test_login_with_an_e_mail_code(env):
    services, client, _clock = env
    make_customer(services, login_id="sitemail1")
    r = password_step(client, "sitemail1")
    assert "確認の方法を選んでください" in r.text
    assert 'id="send-email_otp"' in r.text and 'id="send-sms_otp"' in r.text
    assert 'id="login-totp"' not in r.text  # no app registered
    r = client.post("/login/code/send", data={**form_of(r.text, "send-email_otp"),
                                              "second_factor": "email_otp"})
    assert r.status_code == 200, r.text
    assert "ご登録のメールアドレスに確認コードを送信しました（有効期限 5分）" in r.text
    code = last_params(services)["code"]
    assert code not in r.text
    # If the e-mail does not come, the other way is one click away.
    assert 'id="send-sms_otp"' in r.text and 'id="send-email_otp"' not in r.text
    wrong = "000000" if code != "000000" else "111111"
    r = client.post("/login/code", data={**form_of(r.text, "code-form"), "code": wrong})
    assert r.status_code == 401
    assert "確認コードが正しくありません" in r.text
    assert 'id="code-form"' in r.text  # the same login, another try
    assert client.cookies.get(SESSION_COOKIE) is None
    r = client.post("/login/code", data={**form_of(r.text, "code-form"), "code": code},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert client.cookies.get(SESSION_COOKIE)
    assert client.get("/").status_code == 200


def test_resend_is_paced_and_an_expired_login_starts_again(env):
    services, client, clock = env
    make_customer(services, login_id="sitemail2")
    r = password_step(client, "sitemail2")
    page = client.post("/login/code/send", data={**form_of(r.text, "send-sms_otp"),
                                                 "second_factor": "sms_otp"}).text
    assert "SMSで確認コードを送信しました" in page
    r = client.post("/login/code/send", data=form_of(page, "resend") | {"second_factor": "sms_otp"})
    assert r.status_code == 429
    assert "秒後にもう一度お試しください" in r.text
    assert 'id="code-form"' in r.text  # the code already sent still works
    clock.advance(timedelta(minutes=5))
    r = client.post("/login/code", data={**form_of(r.text, "code-form"),
                                         "code": last_params(services)["code"]})
    assert r.status_code == 401
    assert "もう一度ログインしてください" in r.text
    assert 'name="password"' in r.text


@pytest.mark.parametrize("env", ["emoji_all_trades"], indirect=True)
def test_emoji_at_login_and_for_every_order(env):
    services, client, clock = env
    account = make_customer(services, cash_yen=5_000_000, login_id="siteemoji1")
    r = password_step(client, "siteemoji1")
    assert 'id="send-emoji"' in r.text and 'id="send-email_otp"' not in r.text
    r = client.post("/login/code/send", data={**form_of(r.text, "send-emoji"),
                                              "second_factor": "emoji"})
    assert "2つの絵文字を、記載された順番に選んでください" in r.text
    assert r.text.count('class="emoji-choice"') == 10
    assert r.text.count('<select name="emoji"') == 2
    picks = last_params(services)["emojis"]
    r = client.post("/login/code", data={**form_of(r.text, "emoji-form"), "emoji": picks},
                    follow_redirects=False)
    assert r.status_code == 303, r.text

    for n in range(2):
        trade = client.get("/trade?symbol=7203").text
        order = {"csrf_token": hidden(trade, "csrf_token"),
                 "idempotency_key": hidden(trade, "idempotency_key"), "symbol": "7203",
                 "side": "buy", "order_type": "market", "quantity": "100"}
        r = client.post("/trade", data=order)
        assert r.status_code == 401
        assert "この操作は1回ごとに本人確認が必要です" in r.text
        step_up = r.text
        assert form_of(step_up, "send-emoji")["resume_action"] == ["order"]
        clock.advance(timedelta(seconds=61))
        r = client.post("/step-up/code/send", data={**form_of(step_up, "send-emoji"),
                                                    "second_factor": "emoji"})
        assert r.status_code == 200, r.text
        picks = last_params(services)["emojis"]
        carried = form_of(r.text, "emoji-form")
        assert carried["quantity"] == ["100"] and carried["resume_to"] == ["/trade"]
        if n == 0:
            wrong = client.post("/step-up/code", data={**carried, "emoji": picks[::-1]})
            assert wrong.status_code == 401
            assert "順番が、送信したものと一致しません" in wrong.text
            assert 'id="emoji-form"' in wrong.text  # the same grid, one try fewer
        r = client.post("/step-up/code", data={**carried, "emoji": picks})
        assert r.status_code == 200, r.text  # 307 to /trade, then the order's 303
        assert "/orders/ord_" in str(r.url)
    assert len(services.broker.orders(account, limit=10)) == 2
    with services.db.read() as session:
        actions = list(session.scalars(select(AuditRecord.action)))
    assert actions.count("second_factor_rejected") == 1
    assert actions.count("step_up") == 2


def test_step_up_page_offers_the_codes_and_resumes_the_withdrawal(env):
    services, client, clock = env
    account = make_customer(services, cash_yen=50_000, login_id="sitewd1")
    r = password_step(client, "sitewd1")
    r = client.post("/login/code/send", data={**form_of(r.text, "send-email_otp"),
                                              "second_factor": "email_otp"})
    client.post("/login/code", data={**form_of(r.text, "code-form"),
                                     "code": last_params(services)["code"]})
    clock.advance(timedelta(minutes=6))
    cash = client.get("/cash").text
    r = client.post("/cash/withdraw", data={"csrf_token": hidden(cash, "csrf_token"),
                                            "amount_jpy": "2000"})
    assert r.status_code == 401
    assert 'id="send-email_otp"' in r.text and 'id="send-sms_otp"' in r.text
    r = client.post("/step-up/code/send", data={**form_of(r.text, "send-email_otp"),
                                                "second_factor": "email_otp"})
    assert "確認コードを送信しました（有効期限 10分）" in r.text
    params = last_params(services)
    assert params["purpose"] == "withdrawal"
    r = client.post("/step-up/code", data={**form_of(r.text, "code-form"), "code": "12ab"})
    assert r.status_code == 422
    assert "半角数字" in r.text
    r = client.post("/step-up/code", data={**form_of(r.text, "code-form"),
                                           "code": params["code"]})
    assert r.status_code == 200, r.text
    assert services.broker.portfolio(account).cash_yen == 48_000
