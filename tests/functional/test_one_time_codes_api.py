"""E-mail/SMS codes and the emoji challenge through the JSON API: the login's second
step and the step-up a mobile app completes before retrying the original request.
Codes are read the way the dispatcher reads them: by decoding the queued notice."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from factories.apps import app_with_policy
from factories.customers import PASSWORD, make_customer
from kabuguard.audit.models import AuditRecord
from kabuguard.notify.models import Notice


@pytest.fixture
def env(database_url, clock, tmp_path, request):
    policy = getattr(request, "param", "email_otp_mandatory")
    with app_with_policy(database_url, clock, tmp_path, policy) as (services, client):
        yield services, client, clock


def last_notice(services) -> tuple[Notice, str, dict]:
    with services.db.read() as session:
        # The code's notice, not the login's (the journal queues that one too).
        notice = session.scalars(
            select(Notice).where(Notice.kind.in_(["one_time_code", "emoji_challenge"]))
            .order_by(Notice.created_at.desc(), Notice.id.desc()).limit(1)).one()
    return (notice, *services.notifier.decode(notice))


def password_step(client, login_id: str) -> dict:
    r = client.post("/api/v1/sessions", json={"login_id": login_id, "password": PASSWORD})
    assert (r.status_code, r.json()["error"]) == (401, "step_up_required"), r.text
    assert "token" not in r.json()
    return r.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def code_login(services, client, login_id: str, method: str = "email_otp") -> dict[str, str]:
    challenge = password_step(client, login_id)["login_challenge"]
    r = client.post("/api/v1/sessions/code/send",
                    json={"login_challenge": challenge, "method": method})
    assert r.status_code == 202, r.text
    _notice, _address, params = last_notice(services)
    answer = {"emojis": params["emojis"]} if method == "emoji" else {"code": params["code"]}
    r = client.post("/api/v1/sessions/code", json={"login_challenge": challenge, **answer})
    assert r.status_code == 201, r.text
    return bearer(r.json()["token"])


def test_login_under_email_otp_mandatory(env):
    services, client, _clock = env
    account = make_customer(services, login_id="apimail1")
    body = password_step(client, "apimail1")
    assert (body["level"], body["methods"]) == ("otp", ["email_otp", "sms_otp"])
    challenge = body["login_challenge"]
    r = client.post("/api/v1/sessions/code/send",
                    json={"login_challenge": challenge, "method": "email_otp"})
    assert r.status_code == 202, r.text
    sent = r.json()
    assert (sent["method"], sent["medium"], sent["purpose"]) == ("email_otp", "email", "login")
    assert (sent["attempts_left"], sent["resend_after_seconds"]) == (5, 60)
    assert "code" not in sent and "grid" not in sent
    notice, address, params = last_notice(services)
    assert (notice.kind, address) == ("one_time_code", f"u{account}@example.jp")
    r = client.post("/api/v1/sessions/code", json={"login_challenge": challenge,
                                                    "code": "12x456"})
    assert (r.status_code, r.json()["error"]) == (422, "otp_format_invalid")
    r = client.post("/api/v1/sessions/code", json={"login_challenge": challenge,
                                                    "code": params["code"]})
    assert r.status_code == 201, r.text
    assert r.json()["level"] == "otp"
    assert client.get("/api/v1/portfolio", headers=bearer(r.json()["token"])).status_code == 200
    # The login challenge and the code were single-use.
    r = client.post("/api/v1/sessions/code", json={"login_challenge": challenge,
                                                    "code": params["code"]})
    assert (r.status_code, r.json()["error"]) == (401, "login_failed")


def test_login_with_an_sms_code(env):
    services, client, _clock = env
    make_customer(services, login_id="apisms1")
    auth = code_login(services, client, "apisms1", method="sms_otp")
    notice, address, _params = last_notice(services)
    assert (notice.medium, address) == ("sms", "09000000000")
    assert client.get("/api/v1/portfolio", headers=auth).status_code == 200


def test_bad_requests_are_refused_plainly(env):
    services, client, clock = env
    make_customer(services, login_id="apibad1")
    challenge = password_step(client, "apibad1")["login_challenge"]
    for body, status, error in [
        ({"login_challenge": challenge, "method": "totp"}, 422, "invalid_input"),
        ({"login_challenge": "lgn_nope", "method": "email_otp"}, 401, "login_failed"),
        ({"login_challenge": challenge, "method": "email_otp", "extra": 1}, 422, "invalid_input"),
    ]:
        r = client.post("/api/v1/sessions/code/send", json=body)
        assert (r.status_code, r.json()["error"]) == (status, error), r.text
    r = client.post("/api/v1/sessions/code", json={"login_challenge": challenge, "code": "123456"})
    assert (r.status_code, r.json()["error"]) == (409, "otp_not_requested")
    assert client.post("/api/v1/sessions/code/send", json={
        "login_challenge": challenge, "method": "email_otp"}).status_code == 202
    r = client.post("/api/v1/sessions/code/send",
                    json={"login_challenge": challenge, "method": "sms_otp"})
    assert (r.status_code, r.json()["error"]) == (429, "otp_resend_throttled")
    assert r.json()["retry_after_seconds"] == 60
    r = client.post("/api/v1/sessions/code", json={"login_challenge": challenge, "code": "1",
                                                    "emojis": ["🐶"]})
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input")
    clock.advance(timedelta(minutes=5))  # the login challenge's own lifetime
    r = client.post("/api/v1/sessions/code", json={"login_challenge": challenge,
                                                    "code": last_notice(services)[2]["code"]})
    assert (r.status_code, r.json()["error"]) == (401, "login_failed")


def test_step_up_for_a_withdrawal(env):
    services, client, clock = env
    account = make_customer(services, cash_yen=50_000, login_id="apiwd1")
    auth = code_login(services, client, "apiwd1")
    # Logged in with a code moments ago: fresh enough for the 5-minute rule.
    assert client.post("/api/v1/withdrawals", json={"amount_jpy": 1_000},
                       headers=auth).status_code == 201
    clock.advance(timedelta(minutes=6))
    r = client.post("/api/v1/withdrawals", json={"amount_jpy": 2_000}, headers=auth)
    assert r.status_code == 401
    stepup = r.json()
    assert (stepup["error"], stepup["level"], stepup["action"]) == (
        "step_up_required", "otp", "withdrawal")
    assert stepup["reasons"] == ["stale_authentication"]
    assert stepup["methods"] == ["email_otp", "sms_otp"]
    r = client.post("/api/v1/step-up/code/send", headers=auth,
                    json={"method": "sms_otp", "action": stepup["action"]})
    assert r.status_code == 202, r.text
    assert r.json()["purpose"] == "withdrawal"
    notice, _address, params = last_notice(services)
    assert (notice.medium, params["purpose"], params["expires_minutes"]) == ("sms", "withdrawal",
                                                                            10)
    wrong = "000000" if params["code"] != "000000" else "111111"
    r = client.post("/api/v1/step-up/code", headers=auth, json={"code": wrong})
    assert (r.status_code, r.json()["error"], r.json()["attempts_left"]) == (401, "otp_wrong", 4)
    r = client.post("/api/v1/step-up/code", headers=auth, json={"code": params["code"]})
    assert r.status_code == 200, r.text
    assert r.json()["level"] == "otp"
    fresh = bearer(r.json()["token"])
    # The old token stopped working; the retry goes through with the new one.
    assert client.get("/api/v1/portfolio", headers=auth).status_code == 401
    assert client.post("/api/v1/withdrawals", json={"amount_jpy": 2_000},
                       headers=fresh).status_code == 201
    assert services.broker.portfolio(account).cash_yen == 47_000
    with services.db.read() as session:
        audit = list(session.scalars(select(AuditRecord).where(
            AuditRecord.action.in_(["second_factor_rejected", "step_up"]))
            .order_by(AuditRecord.seq)))
    assert [a.action for a in audit] == ["second_factor_rejected", "step_up"]
    assert params["code"] not in audit[0].payload and wrong not in audit[0].payload


def test_step_up_send_needs_a_session_and_a_known_action(env):
    services, client, _clock = env
    make_customer(services, login_id="apiwd2")
    r = client.post("/api/v1/step-up/code/send", json={"method": "email_otp",
                                                        "action": "withdrawal"})
    assert r.status_code == 401
    auth = code_login(services, client, "apiwd2")
    r = client.post("/api/v1/step-up/code/send", headers=auth,
                    json={"method": "email_otp", "action": "teleport"})
    assert (r.status_code, r.json()["error"]) == (422, "invalid_input")
    r = client.post("/api/v1/step-up/code", headers=auth, json={"code": "123456"})
    assert (r.status_code, r.json()["error"]) == (409, "otp_not_requested")


@pytest.mark.parametrize("env", ["emoji_all_trades"], indirect=True)
def test_emoji_for_every_single_order(env, caplog):
    """Rakuten 2025: an emoji challenge at login and for every order. The app asks for
    the challenge, shows the grid, posts the picks in order, then retries."""
    services, client, clock = env
    make_customer(services, cash_yen=5_000_000, login_id="apiemoji1")
    body = password_step(client, "apiemoji1")
    assert body["methods"] == ["emoji"]
    caplog.set_level(logging.DEBUG)
    auth = code_login(services, client, "apiemoji1", method="emoji")
    order = {"symbol": "7203", "side": "buy", "quantity": 100}
    placed = 0
    for attempt in range(2):
        r = client.post("/api/v1/orders", json=order, headers=auth)
        assert r.status_code == 401, r.text
        assert r.json()["reasons"] == ["confirmation_per_action"]
        assert r.json()["methods"] == ["emoji"]
        clock.advance(timedelta(seconds=61))  # the pace between two messages
        r = client.post("/api/v1/step-up/code/send", headers=auth,
                        json={"method": "emoji", "action": "order"})
        assert r.status_code == 202, r.text
        grid, pick = r.json()["grid"], r.json()["pick"]
        assert (len(grid), len(set(grid)), pick) == (10, 10, 2)
        notice, _address, params = last_notice(services)
        assert notice.kind == "emoji_challenge"
        emojis = params["emojis"]
        if attempt == 0:
            r = client.post("/api/v1/step-up/code", headers=auth, json={"emojis": emojis[::-1]})
            assert (r.status_code, r.json()["error"]) == (401, "emoji_wrong")
        r = client.post("/api/v1/step-up/code", headers=auth, json={"emojis": emojis})
        assert r.status_code == 200, r.text
        auth = bearer(r.json()["token"])
        r = client.post("/api/v1/orders", json=order, headers=auth)
        assert r.status_code == 201, r.text
        placed += 1
        # The confirmation was for that one order: the next asks again.
        r = client.post("/api/v1/orders", json=order, headers=auth)
        assert (r.status_code, r.json()["reasons"]) == (401, ["confirmation_per_action"])
    assert placed == 2
    assert len(client.get("/api/v1/orders", headers=auth).json()) == 2
    with services.db.read() as session:
        rejected = session.scalars(select(AuditRecord.payload).where(
            AuditRecord.action == "second_factor_rejected")).all()
    assert len(rejected) == 1 and '"emoji_wrong"' in rejected[0]
    assert not any(e in caplog.text for e in emojis)
