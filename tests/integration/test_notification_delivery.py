"""Notices end to end, with a real SMTP server (aiosmtpd on loopback) and a loopback
HTTP gateway for SMS and push: real actions through the API and the site queue them,
the dispatcher delivers them, and each arrives in the customer's language with no link.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from factories.apps import app_with_policy
from factories.customers import FAST_PASSWORDS, PASSWORD, make_customer
from factories.mail import Received, SmtpServer, smtp_server, webhook_gateway
from factories.soft_authenticator import SoftAuthenticator
from kabuguard.container import build_services
from kabuguard.domain.events import Channel, RequestContext
from kabuguard.identity.interfaces import LoginFailed
from kabuguard.identity.models import Customer
from kabuguard.notify.interfaces import Medium, NoticeKind
from kabuguard.notify.links import find_links
from kabuguard.notify.models import Notice
from kabuguard.notify.webhook import webhook_key
from kabuguard.settings import DEMO_DATA_KEY, load_settings

ORIGIN = "http://localhost:8000"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
KEY = webhook_key(DEMO_DATA_KEY)


@pytest.fixture
def mail():
    with smtp_server() as server:
        yield server


@pytest.fixture
def gateway():
    with webhook_gateway(KEY) as (url, received):
        yield url, received


@pytest.fixture
def env(database_url, clock, tmp_path, mail, gateway):
    url, _ = gateway
    with app_with_policy(database_url, clock, tmp_path, "baseline_2024",
                         webauthn_rp_id="localhost", webauthn_origins=[ORIGIN],
                         smtp_url=mail.url, sms_webhook_url=f"{url}/sms",
                         push_webhook_url=f"{url}/push") as (services, client):
        yield services, client


def api_login(client, login_id, **headers):
    r = client.post("/api/v1/sessions", json={"login_id": login_id, "password": PASSWORD},
                    headers=headers)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def email_of(account: str) -> str:
    return f"u{account}@example.jp"


def dispatch_all(services) -> None:
    result = services.dispatcher.dispatch_once(limit=500)
    assert result.retrying == 0 and result.dead == 0, services.outbox.list(limit=20)


def assert_clean(received: Received, *, japanese: bool) -> None:
    text = received.text
    assert not find_links(received.subject) and not find_links(text), find_links(text)
    if japanese:
        assert JAPANESE.search(received.subject) and JAPANESE.search(text)
        assert "ブックマーク" in text
    else:
        assert not JAPANESE.search(received.subject) and "bookmark" in text
    msg = received.message
    assert msg["Date"] and msg["Message-ID"] and msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_charset() == "utf-8"
    # Over the wire: 7-bit, the Japanese subject RFC 2047-encoded, the body base64.
    assert received.raw.isascii()
    if japanese:
        assert b"subject: =?utf-8?" in received.raw.lower()


def subjects(inbox: list[Received]) -> list[str]:
    return [r.subject for r in inbox]


def test_each_notice_arrives_in_japanese_with_no_link(env, mail, gateway, clock):
    services, client = env
    _, sms_push = gateway
    account = make_customer(services, login_id="nt1")
    auth = api_login(client, "nt1", **{"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 "
                                                      "like Mac OS X) AppleWebKit/605.1.15 "
                                                      "(KHTML, like Gecko) Version/17.4 "
                                                      "Mobile/15E148 Safari/604.1"})
    assert client.post("/api/v1/withdrawals", json={"amount_jpy": 12_345},
                       headers=auth).status_code == 201
    assert client.put("/api/v1/bank-account", headers=auth, json={
        "bank_name": "三井住友銀行", "branch_code": "123", "number": "7654321",
        "holder": "テスト"}).status_code == 200
    r = client.post("/api/v1/orders", headers=auth,
                    json={"symbol": "7203", "side": "buy", "quantity": 100})
    assert r.status_code == 201 and r.json()["status"] == "filled"
    r = client.post("/api/v1/totp", headers=auth)
    code = pyotp.TOTP(r.json()["secret"]).at(clock.now)
    assert client.post("/api/v1/totp/confirm", headers=auth, json={"code": code}).status_code == 200
    key = SoftAuthenticator()
    opts = client.post("/api/v1/passkeys/options", headers=auth).json()
    assert client.post("/api/v1/passkeys", headers=auth, json={
        "challenge_id": opts["challenge_id"], "name": "会社のPC",
        "credential": key.create(opts["publicKey"], origin=ORIGIN)}).status_code == 201
    r = client.put("/api/v1/password", headers=auth, json={
        "current_password": PASSWORD, "new_password": "a-brand-new-passphrase"})
    assert r.status_code == 200, r.text
    r = client.patch("/api/v1/profile", headers=auth, json={"email": "hanako.new@example.jp"})
    assert r.status_code == 200, r.text

    with services.db.read() as session:
        queued = list(session.scalars(select(Notice)))
    assert {n.language for n in queued} == {"ja"}
    assert all("@" not in n.address_enc and "12345" not in n.params_enc for n in queued)
    dispatch_all(services)

    old = mail.inbox.to(email_of(account))
    by_subject = {r.subject: r for r in old}
    expected = ["新しい端末からのログイン", "出金のお知らせ", "出金先口座変更",
                "約定のお知らせ", "認証方法の登録", "パスワード変更", "メールアドレス変更"]
    for word in expected:
        assert any(word in s for s in by_subject), (word, subjects(old))
    # An order that filled on entry gets one message, the execution's.
    assert not any("ご注文受付" in s for s in by_subject), subjects(old)
    for received in old:
        assert_clean(received, japanese=True)
    withdrawal = next(r for r in old if "出金のお知らせ" in r.subject)
    assert "12,345円" in withdrawal.text and "様" in withdrawal.text
    execution = next(r for r in old if "約定" in r.subject)
    assert "7203" in execution.text and "100株" in execution.text and "トヨタ" in execution.text
    login = next(r for r in old if "新しい端末" in r.subject)
    assert "Safari 17 / iPhone" in login.text
    passkey = [r for r in old if "認証方法の登録" in r.subject]
    assert {("パスキー" in r.text, "認証アプリ" in r.text) for r in passkey} == {
        (True, False), (False, True)}
    assert any("会社のPC" in r.text for r in passkey)
    bank = next(r for r in old if "出金先口座変更" in r.subject)
    assert "三井住友銀行" in bank.text and "4321" in bank.text and "7654321" not in bank.text
    # The previous address and the new one both hear of the change.
    new = mail.inbox.to("hanako.new@example.jp")
    assert [r.subject for r in new] == ["【かぶガード証券】メールアドレス変更のお知らせ"]
    assert_clean(new[0], japanese=True)

    # SMS (security notices) and push (all) through the gateway, signed, in Japanese.
    assert sms_push.refused == 0
    sms = [m for m in sms_push.accepted if m["path"] == "/sms"]
    push = [m for m in sms_push.accepted if m["path"] == "/push"]
    assert {m["to"] for m in sms} == {"09000000000"} and {m["to"] for m in push} == {account}
    assert {m["kind"] for m in sms} >= {"new_device", "withdrawal", "bank_account_change",
                                        "mfa_change", "password_change", "contact_change"}
    assert "execution" not in {m["kind"] for m in sms}
    assert "execution" in {m["kind"] for m in push}
    for m in sms + push:
        assert m["language"] == "ja" and JAPANESE.search(m["body"]) and not find_links(m["body"])
        assert set(m) == {"path", "notice_id", "to", "kind", "language", "title", "body"}

    # Delivered once: a second pass sends nothing.
    count = len(mail.inbox.all())
    assert not services.dispatcher.dispatch_once()
    assert len(mail.inbox.all()) == count


def test_an_english_customer_gets_english(env, mail, clock):
    services, client = env
    account = make_customer(services, login_id="nt2")
    with services.db.write() as session:
        session.get(Customer, account).language = "en"
    auth = api_login(client, "nt2")
    client.post("/api/v1/orders", headers=auth,
                json={"symbol": "AAPL", "side": "buy", "quantity": 1})
    dispatch_all(services)
    inbox = mail.inbox.to(email_of(account))
    assert sorted(subjects(inbox)) == sorted([
        "[Kabuguard Securities] Login from a new device",
        "[Kabuguard Securities] Order executed"])
    for received in inbox:
        assert_clean(received, japanese=False)
    execution = next(r for r in inbox if "executed" in r.subject)
    assert "USD" in execution.text and "Apple" in execution.text


def test_site_login_new_device_then_known_device(env, mail):
    services, client = env
    account = make_customer(services, login_id="nt3")

    def site_login():
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = client.post("/login", data={"login_id": "nt3", "password": PASSWORD,
                                        "csrf_token": token, "next": "/"},
                        follow_redirects=False)
        assert r.status_code == 303, r.text

    site_login()
    site_login()  # same browser, same device cookie
    dispatch_all(services)
    assert sorted(subjects(mail.inbox.to(email_of(account)))) == [
        "【かぶガード証券】ログインのお知らせ", "【かぶガード証券】新しい端末からのログインのお知らせ"]


def test_login_country_failed_burst_and_lock(env, mail):
    services, _client = env
    account = make_customer(services, login_id="nt4")
    identity = services.identity
    ctx = RequestContext(ip="198.51.100.20", channel=Channel.APP, device="device-abcdefgh-1234",
                         user_agent="KabuApp/3.1")
    identity.login_password(login_id="nt4", password=PASSWORD, context=ctx)
    for _ in range(5):
        with pytest.raises(LoginFailed):
            identity.login_password(login_id="nt4", password="wrong-password-123",
                                    context=RequestContext(ip="192.0.2.77"))
    with pytest.raises(LoginFailed):  # locked now: nothing more to say
        identity.login_password(login_id="nt4", password="wrong-password-123",
                                context=RequestContext(ip="192.0.2.77"))
    dispatch_all(services)
    inbox = {r.subject: r for r in mail.inbox.to(email_of(account))}
    assert sorted(inbox) == sorted([
        "【かぶガード証券】新しい端末からのログインのお知らせ",
        "【かぶガード証券】ログインの失敗が続いています",
        "【かぶガード証券】ログインを一時停止しました"])
    login = inbox["【かぶガード証券】新しい端末からのログインのお知らせ"].text
    assert "アメリカ" in login and "198.51.100.20" not in login  # country, never the address
    assert "3 回" in inbox["【かぶガード証券】ログインの失敗が続いています"].text
    assert "パスキー" in inbox["【かぶガード証券】ログインを一時停止しました"].text


def test_a_phone_change_tells_the_previous_number(env, gateway):
    services, client = env
    _, received = gateway
    make_customer(services, login_id="nt5")
    auth = api_login(client, "nt5")
    assert client.patch("/api/v1/profile", headers=auth,
                        json={"phone": "080-1111-2222"}).status_code == 200
    dispatch_all(services)
    sms = [m for m in received.accepted if m["kind"] == "contact_change" and m["path"] == "/sms"]
    assert sorted(m["to"] for m in sms) == ["08011112222", "09000000000"]
    assert all("電話番号" in m["body"] for m in sms)


def test_retries_back_off_then_dead_then_retry_delivers(database_url, clock, tmp_path):
    server = SmtpServer()  # not started: the mail server is down
    settings = load_settings(database_url=database_url, market_hours="always_open",
                             smtp_url=server.url, notify_max_attempts=3,
                             notify_retry_base=timedelta(seconds=30))
    services = build_services(settings, clock=clock, passwords=FAST_PASSWORDS)
    try:
        account = make_customer(services, login_id="nt6")
        with services.db.write() as session:
            services.notifier.queue(session, customer_id=account, kind=NoticeKind.SELF_LOCK,
                                    params={"at": clock().isoformat()}, now=clock())
        assert services.dispatcher.dispatch_once().retrying == 1
        [row] = services.outbox.list()
        assert (row.status, row.attempts, row.last_error) == ("pending", 1,
                                                              "SMTP connection refused")
        assert row.next_attempt_at == clock() + timedelta(seconds=30)
        assert row.address == "u2***@e***.jp"  # masked
        clock.advance(timedelta(seconds=29))
        assert not services.dispatcher.dispatch_once()  # not due yet
        clock.advance(timedelta(seconds=1))
        assert services.dispatcher.dispatch_once().retrying == 1
        clock.advance(timedelta(seconds=60))  # the second wait is twice the first
        assert services.dispatcher.dispatch_once().dead == 1
        [dead] = services.outbox.list(status="dead")
        assert dead.attempts == 3 and "refused" in dead.last_error
        clock.advance(timedelta(hours=2))
        assert not services.dispatcher.dispatch_once()  # dead letters stay put
        server.start()
        assert services.outbox.retry_all_dead() == 1
        assert services.dispatcher.dispatch_once().sent == 1
        [sent] = services.outbox.list()
        assert sent.status == "sent" and sent.last_error is None
        [received] = server.inbox.to(email_of(account))
        assert "口座をロックしました" in received.subject
    finally:
        server.stop()
        services.close()


def test_two_dispatchers_send_each_notice_once(database_url, clock, mail):
    settings = load_settings(database_url=database_url, market_hours="always_open",
                             smtp_url=mail.url)
    first = build_services(settings, clock=clock, passwords=FAST_PASSWORDS)
    second = build_services(settings, clock=clock, passwords=FAST_PASSWORDS)
    try:
        accounts = [make_customer(first, login_id=f"nt7x{i}") for i in range(4)]
        with first.db.write() as session:
            for n in range(30):
                first.notifier.queue(session, customer_id=accounts[n % 4],
                                     kind=NoticeKind.WITHDRAWAL, now=clock(),
                                     params={"at": clock().isoformat(), "amount_jpy": n + 1})
        results = []
        barrier = threading.Barrier(2)

        def run(services):
            barrier.wait()
            results.append(services.dispatcher.dispatch_once(limit=100))

        threads = [threading.Thread(target=run, args=(s,)) for s in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sum(r.sent for r in results) == 30
        assert not set(results[0].claimed) & set(results[1].claimed)
        amounts = sorted(int(re.search(r"金額: ([\d,]+)円", r.text).group(1).replace(",", ""))
                         for r in mail.inbox.all())
        assert amounts == list(range(1, 31))  # each exactly once
        assert {r.status for r in first.outbox.list(limit=100)} == {"sent"}
    finally:
        first.close()
        second.close()


def test_a_dispatcher_that_died_mid_send_is_taken_over_after_its_lease(env, mail, clock):
    services, _ = env
    account = make_customer(services, login_id="nt8")
    with services.db.write() as session:
        services.notifier.queue(session, customer_id=account, kind=NoticeKind.SELF_LOCK,
                                params={"at": clock().isoformat()}, now=clock(),
                                media=[Medium.EMAIL])
    [claimed] = services.dispatcher.claim(now=clock(), limit=10)  # then "crashes"
    assert not services.dispatcher.dispatch_once()  # leased to the dead one
    clock.advance(services.dispatcher.lease)
    assert services.dispatcher.dispatch_once().claimed == [claimed]
    assert len(mail.inbox.to(email_of(account))) == 1


def test_unconfigured_email_and_bad_signature_are_dead_letters(database_url, clock):
    with webhook_gateway(b"another key") as (url, received):
        settings = load_settings(database_url=database_url, market_hours="always_open",
                                 sms_webhook_url=f"{url}/sms")
        services = build_services(settings, clock=clock, passwords=FAST_PASSWORDS)
        try:
            account = make_customer(services, login_id="nt9")
            with services.db.write() as session:
                services.notifier.queue(session, customer_id=account,
                                        kind=NoticeKind.WITHDRAWAL, now=clock(),
                                        params={"at": clock().isoformat(), "amount_jpy": 1})
            assert services.dispatcher.dispatch_once().dead == 2
            errors = {n.medium: n.last_error for n in services.outbox.list(status="dead")}
            assert errors == {"email": "no email channel is configured (set KABUGUARD_SMTP_URL)",
                              "sms": "sms webhook HTTP 401"}
            assert received.refused == 1 and received.accepted == []
        finally:
            services.close()


def test_a_code_that_could_not_go_out_in_time_is_not_sent_late(database_url, clock):
    server = SmtpServer()
    settings = load_settings(database_url=database_url, smtp_url=server.url)
    services = build_services(settings, clock=clock, passwords=FAST_PASSWORDS)
    try:
        account = make_customer(services, login_id="nt10")
        with services.db.write() as session:
            services.notifier.queue(session, customer_id=account,
                                    kind=NoticeKind.ONE_TIME_CODE, media=[Medium.EMAIL],
                                    params={"code": "493817", "purpose": "withdrawal",
                                            "expires_minutes": 1}, now=clock())
        assert services.dispatcher.dispatch_once().retrying == 1
        clock.advance(timedelta(minutes=2))
        server.start()
        assert services.dispatcher.dispatch_once().dead == 1
        [dead] = services.outbox.list(status="dead")
        assert dead.last_error == "expired before it could be delivered"
        assert "493817" not in repr(dead)
        assert server.inbox.all() == []
    finally:
        server.stop()
        services.close()


def test_settings_switch_off_order_notices_but_not_security_ones(env, mail):
    services, client = env
    account = make_customer(services, login_id="nt11")
    auth = api_login(client, "nt11")
    r = client.get("/api/v1/notification-settings", headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["available"] == {"email": True, "sms": True, "push": True}
    order = next(s for s in body["settings"] if s["kind"] == "order")
    assert order == {"kind": "order", "mandatory": False, "email": True, "sms": False,
                     "push": True}
    r = client.put("/api/v1/notification-settings", headers=auth, json={"settings": [
        {"kind": "order", "email": False, "push": False},
        {"kind": "execution", "email": False, "sms": False, "push": False}]})
    assert r.status_code == 200, r.text
    r = client.put("/api/v1/notification-settings", headers=auth,
                   json={"settings": [{"kind": "withdrawal", "email": False}]})
    assert r.status_code == 422 and "cannot be switched off" in r.json()["message"]
    # A GET's answer can be sent back as it is.
    r = client.put("/api/v1/notification-settings", headers=auth,
                   json={"settings": client.get("/api/v1/notification-settings",
                                                headers=auth).json()["settings"]})
    assert r.status_code == 200
    dispatch_all(services)
    mail.inbox.received.clear()
    client.post("/api/v1/orders", headers=auth,
                json={"symbol": "7203", "side": "buy", "quantity": 100})
    client.post("/api/v1/withdrawals", headers=auth, json={"amount_jpy": 1000})
    dispatch_all(services)
    assert subjects(mail.inbox.to(email_of(account))) == ["【かぶガード証券】出金のお知らせ"]
