"""The risk engine inside the app's own guard (issue 5), through HTTP: a login from a
hosting network on a new device needs a passkey on the site and the API; a session
cookie replayed from another network is refused and the session ends; an order or
withdrawal a rule holds is stored as held (202); a freeze freezes; the decision API
decides on the same state as the app (its history, after a restart too); and
``KABUGUARD_RISK=off`` gives the policy's answers alone.

Addresses come from the sample table (kabuguard/domain/data/ip_ranges.csv): 192.0.2.x
is a Japanese home line, 198.51.100.x a US data centre. The test client's address is
the request's (``TestClient(client=...)``): kabuguard never trusts X-Forwarded-For.
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Iterator
from datetime import timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories.customers import FAST_PASSWORDS, PASSWORD, make_customer
from factories.soft_authenticator import SoftAuthenticator
from kabuguard.audit.models import AuditRecord
from kabuguard.broker.models import Account, Order, Withdrawal
from kabuguard.container import Services, build_services
from kabuguard.identity.models import WebSession
from kabuguard.notify.models import Notice
from kabuguard.risk.models import RiskEvent
from kabuguard.settings import load_settings
from kabuguard.web.app import create_app
from kabuguard.web.security import DEVICE_COOKIE, SESSION_COOKIE

ORIGIN = "http://localhost:8000"
BASE = "https://testserver"
HOME = ("192.0.2.10", 50000)      # JP, residential (AS64500)
AWAY = ("198.51.100.7", 50000)    # US, hosting (AS64502)
POLICY = "email_otp_mandatory"
# 5531: a TSE Prime stock trading about ¥101m a day; 7,000 shares (~¥10.4m) are a
# tenth of that, which rule notional_large_vs_adv holds from an unusual session.
BIG_BUY = {"symbol": "5531", "side": "buy", "quantity": 7000}
RULES = """version: 1
rules:
  - id: huge_withdrawal_freezes
    when: amount_jpy >= 5_000_000
    outcome: freeze
    applies_to: [withdrawal]
    description_ja: 高額の出金
    description_en: A very large withdrawal.
  - id: deposit_noticed
    when: hour_jst >= 0
    outcome: notify
    applies_to: [deposit]
    description_ja: 入金
    description_en: A deposit.
"""


@contextlib.contextmanager
def running(database_url, clock, tmp_path, **overrides) -> Iterator[tuple[Services, TestClient]]:
    """Services and a client at HOME for an app on POLICY (the engine on unless said)."""
    settings = load_settings(database_url=database_url, market_hours="always_open",
                             policy=POLICY, webauthn_rp_id="localhost",
                             webauthn_origins=[ORIGIN], **overrides)
    services = build_services(settings, clock=clock, passwords=FAST_PASSWORDS)
    app = create_app(settings, services=services, background_interval_seconds=None)
    try:
        with TestClient(app, base_url=BASE, client=HOME) as client:
            yield services, client
    finally:
        services.close()


@pytest.fixture
def env(database_url, clock, tmp_path):
    with running(database_url, clock, tmp_path) as pair:
        yield pair


def other_client(client: TestClient, address: tuple[str, int], **kwargs) -> TestClient:
    """Another browser or app on the same server, from ``address`` (no second start)."""
    return TestClient(client.app, base_url=BASE, client=address, **kwargs)


# -- logging in -------------------------------------------------------------------------


def last_code(services: Services) -> str:
    with services.db.read() as session:
        notice = session.scalars(select(Notice).where(Notice.kind == "one_time_code")
                                 .order_by(Notice.created_at.desc(), Notice.id.desc())
                                 .limit(1)).one()
    return services.notifier.decode(notice)[1]["code"]


def api_login(services: Services, client: TestClient, login_id: str,
              device: str) -> dict[str, str]:
    """Password, then an e-mailed code (the policy's level); returns the headers."""
    services.identity.clock.advance(timedelta(seconds=61))  # codes are paced per customer
    headers = {"X-Device-Id": device}
    r = client.post("/api/v1/sessions", json={"login_id": login_id, "password": PASSWORD},
                    headers=headers)
    assert (r.status_code, r.json()["level"]) == (401, "otp"), r.text
    challenge = r.json()["login_challenge"]
    r = client.post("/api/v1/sessions/code/send",
                    json={"login_challenge": challenge, "method": "email_otp"}, headers=headers)
    assert r.status_code == 202, r.text
    r = client.post("/api/v1/sessions/code", headers=headers,
                    json={"login_challenge": challenge, "code": last_code(services)})
    assert r.status_code == 201, r.text
    return {**headers, "Authorization": f"Bearer {r.json()['token']}"}


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no field {name}"
    return html.unescape(match.group(1))


def site_password(client: TestClient, login_id: str):
    page = client.get("/login").text
    return client.post("/login", data={"login_id": login_id, "password": PASSWORD,
                                       "csrf_token": hidden(page, "csrf_token")},
                       follow_redirects=False)


def site_login(services: Services, client: TestClient, login_id: str) -> None:
    """The site's login: password, then a code sent by e-mail."""
    services.identity.clock.advance(timedelta(seconds=61))  # codes are paced per customer
    r = site_password(client, login_id)
    assert r.status_code == 401, r.text
    form = {"csrf_token": hidden(r.text, "csrf_token"),
            "login_challenge": hidden(r.text, "login_challenge")}
    r = client.post("/login/code/send", data={**form, "second_factor": "email_otp"})
    assert r.status_code == 200, r.text
    form["csrf_token"] = hidden(r.text, "csrf_token")  # each login page has its own
    r = client.post("/login/code", data={**form, "code": last_code(services)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def register_passkey(client: TestClient, auth: dict[str, str], key: SoftAuthenticator) -> None:
    opts = client.post("/api/v1/passkeys/options", headers=auth)
    assert opts.status_code == 200, opts.text
    r = client.post("/api/v1/passkeys", headers=auth, json={
        "challenge_id": opts.json()["challenge_id"], "name": "iPhone",
        "credential": key.create(opts.json()["publicKey"], origin=ORIGIN)})
    assert r.status_code == 201, r.text


def site_passkey_login(client: TestClient, key: SoftAuthenticator):
    token = hidden(client.get("/login").text, "csrf_token")
    opts = client.post("/login/passkey/options", json={}, headers={"X-CSRF-Token": token})
    assert opts.status_code == 200, opts.text
    return client.post("/login/passkey", headers={"X-CSRF-Token": token}, json={
        "challenge_id": opts.json()["challenge_id"], "next": "/",
        "credential": key.get(opts.json()["publicKey"], origin=ORIGIN)})


def app_events(services: Services, account: str | None = None) -> list[RiskEvent]:
    with services.db.read() as session:
        query = select(RiskEvent).where(RiskEvent.source == "app").order_by(RiskEvent.seq)
        if account is not None:
            query = query.where(RiskEvent.account == account)
        return list(session.scalars(query))


# -- a login from a hosting network on a new device --------------------------------------


def test_an_unusual_login_needs_a_passkey_on_the_api_and_the_site(env):
    services, home = env
    account = make_customer(services, login_id="rl1")
    auth = api_login(services, home, "rl1", device="phone-1")   # the customer's history
    key = SoftAuthenticator()
    register_passkey(home, auth, key)

    away = other_client(home, AWAY)
    r = away.post("/api/v1/sessions", json={"login_id": "rl1", "password": PASSWORD},
                  headers={"X-Device-Id": "laptop-9"})
    assert (r.status_code, r.json()["error"]) == (401, "step_up_required")
    assert r.json()["level"] == "phishing_resistant"  # the policy alone asks for otp
    assert "risky_login" in r.json()["reasons"]
    assert r.json()["methods"] == ["passkey"]
    assert "token" not in r.json()

    # The site says why; the passkey it asks for lets the customer in.
    r = site_password(away, "rl1")
    assert r.status_code == 401
    assert "普段と異なる環境からのログインのため、パスキーでの認証が必要です" in r.text
    assert SESSION_COOKIE not in away.cookies
    done = site_passkey_login(away, key)
    assert done.status_code == 200, done.text
    assert away.get("/cash", follow_redirects=False).status_code == 200
    # The engine learnt each login, in order, from the app's own events.
    logins = [orjson.loads(e.event_json) for e in app_events(services, account)
              if e.type == "login"]
    assert [(e["ip"], e["methods"]) for e in logins] == [
        ("192.0.2.10", ["password", "email_otp"]), ("198.51.100.7", ["passkey"])]


def test_without_a_passkey_an_unusual_login_is_told_how_to_get_one(env):
    services, home = env
    make_customer(services, login_id="rl2")
    api_login(services, home, "rl2", device="phone-1")
    away = other_client(home, AWAY)

    r = site_password(away, "rl2")
    assert r.status_code == 401
    text = html.unescape(r.text)
    assert "パスキーをお持ちでない場合は、いつもお使いの端末からログインしてパスキーを登録する" in text
    assert "0120-000-000" in text
    assert "http" not in re.sub(r'(href|src|action|content)="[^"]*"', "", text.split("<main")[1])

    # An e-mailed code (what a phishing relay passes) opens nothing, not even a session
    # that could register a passkey.
    r = away.post("/api/v1/sessions", json={"login_id": "rl2", "password": PASSWORD},
                  headers={"X-Device-Id": "laptop-9"})
    assert (r.status_code, r.json()["level"]) == (401, "phishing_resistant")
    assert "enrolment_required" in r.json()["reasons"]
    sent = away.post("/api/v1/sessions/code/send",
                     json={"login_challenge": r.json()["login_challenge"],
                           "method": "email_otp"})
    assert (sent.status_code, sent.json()["level"]) == (401, "phishing_resistant")
    with services.db.read() as session:  # no code was sent to be relayed: the home one only
        codes = session.scalars(select(Notice).where(Notice.kind == "one_time_code")).all()
    assert len(codes) == 1


# -- a stolen session used from another network ------------------------------------------


def test_a_session_cookie_replayed_from_a_data_centre_is_refused_and_ended(env):
    services, home = env
    account = make_customer(services, login_id="rs1", cash_yen=2_000_000)
    site_login(services, home, "rs1")
    assert home.get("/cash", follow_redirects=False).status_code == 200
    # The infostealer has both cookies (so the device binding holds) but not the line.
    thief = other_client(home, AWAY, cookies={SESSION_COOKIE: home.cookies[SESSION_COOKIE],
                                              DEVICE_COOKIE: home.cookies[DEVICE_COOKIE]})
    page = thief.get("/trade?symbol=7203")
    assert page.status_code == 200
    r = thief.post("/trade", follow_redirects=False, data={
        "csrf_token": hidden(page.text, "csrf_token"),
        "idempotency_key": hidden(page.text, "idempotency_key"),
        "symbol": "7203", "side": "buy", "order_type": "market", "quantity": "100"})
    assert r.status_code == 403
    assert "ログインを終了しました" in r.text
    with services.db.read() as session:
        assert session.scalars(select(Order).where(Order.account_id == account)).all() == []
        ended = session.scalars(select(WebSession).where(
            WebSession.customer_id == account)).one()
        assert ended.revoked_at is not None
        audit = session.scalars(select(AuditRecord.action).where(
            AuditRecord.subject == account, AuditRecord.actor == "risk")).all()
        notices = session.scalars(select(Notice.kind).where(
            Notice.customer_id == account, Notice.kind == "security_alert")).all()
    assert audit == ["session_revoked_by_risk", "risk_deny"]
    assert notices == ["security_alert"]
    # The customer's own browser is logged out too: the session is over.
    assert home.get("/cash", follow_redirects=False).status_code == 303


# -- orders and withdrawals a rule holds --------------------------------------------------


def test_an_order_a_rule_holds_is_stored_held_and_answers_202(env):
    services, home = env
    account = make_customer(services, login_id="rh1", cash_yen=20_000_000)
    api_login(services, home, "rh1", device="phone-1")
    auth = api_login(services, home, "rh1", device="tablet-2")   # a device never seen
    r = home.post("/api/v1/orders", json=BIG_BUY, headers=auth)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["error"] == "action_held"
    assert "notional_large_vs_adv" in body["reasons"]
    assert (body["order"]["status"], body["order"]["quantity"]) == ("held", 7000)
    assert services.broker.run_due_orders() == 0   # a held order waits for the desk
    portfolio = services.broker.portfolio(account)
    assert portfolio.cash_yen == 20_000_000 and portfolio.reserved_yen > 10_000_000
    assert [o["status"] for o in services.broker.orders(account)] == ["held"]
    # The engine saw the held order as an event too, and held it there as well.
    last = app_events(services, account)[-1]
    assert (last.type, last.decision) == ("order", "hold")
    # An ordinary order from the same session goes through.
    small = home.post("/api/v1/orders", json={"symbol": "7203", "side": "buy",
                                              "quantity": 100}, headers=auth)
    assert (small.status_code, small.json()["status"]) == (201, "filled")


def test_a_held_order_on_the_site_shows_as_held(env):
    services, home = env
    make_customer(services, login_id="rh2", cash_yen=20_000_000)
    api_login(services, home, "rh2", device="phone-1")
    site_login(services, home, "rh2")   # the site's device cookie is new to the engine
    page = home.get("/trade?symbol=5531")
    r = home.post("/trade", follow_redirects=False, data={
        "csrf_token": hidden(page.text, "csrf_token"),
        "idempotency_key": hidden(page.text, "idempotency_key"), "symbol": "5531",
        "side": "buy", "order_type": "market", "quantity": "7000"})
    assert r.status_code == 303, r.text
    assert r.headers["location"].endswith("?notice=held")
    shown = home.get(r.headers["location"]).text
    assert "ご注文は確認のため保留しました" in shown and "確認のため保留中" in shown


def test_a_passkey_confirmation_for_the_order_itself_lets_it_through(env):
    services, home = env
    make_customer(services, login_id="rc1", cash_yen=5_000_000)
    auth = api_login(services, home, "rc1", device="phone-1")
    key = SoftAuthenticator()
    register_passkey(home, auth, key)
    auth = api_login(services, home, "rc1", device="tablet-2")
    # An illiquid small cap never bought before, from a new device: a passkey first.
    order = {"symbol": "7415", "side": "buy", "quantity": 100}
    r = home.post("/api/v1/orders", json=order, headers=auth)
    assert (r.status_code, r.json()["level"]) == (401, "phishing_resistant"), r.text
    assert "first_illiquid_buy" in r.json()["reasons"]
    opts = home.post("/api/v1/step-up/passkey/options", headers=auth).json()
    r = home.post("/api/v1/step-up/passkey", headers=auth, json={
        "challenge_id": opts["challenge_id"],
        "credential": key.get(opts["publicKey"], origin=ORIGIN)})
    assert r.status_code == 200, r.text
    auth = {**auth, "Authorization": f"Bearer {r.json()['token']}"}
    r = home.post("/api/v1/orders", json=order, headers=auth)
    assert r.status_code == 201, r.text
    # The order's event carries the confirmation made for it; the engine agrees.
    last = app_events(services)[-1]
    assert orjson.loads(last.event_json)["methods"] == ["passkey"]
    assert (last.type, last.decision) == ("order", "allow")


def test_a_withdrawal_a_rule_holds_is_stored_held(env, clock):
    services, home = env
    account = make_customer(services, login_id="rw1", cash_yen=3_000_000)
    auth = api_login(services, home, "rw1", device="phone-1")
    new_bank = {"bank_name": "ゆうちょ銀行", "branch_code": "019", "number": "7654321",
                "holder": "テスト"}
    assert home.put("/api/v1/bank-account", json=new_bank, headers=auth).status_code == 200
    clock.advance(timedelta(hours=73))   # the broker's cooling-off and the rule's window
    auth = api_login(services, home, "rw1", device="phone-1")
    r = home.post("/api/v1/withdrawals", json={"amount_jpy": 10_000}, headers=auth)
    assert r.status_code == 201, r.text
    # Within 72 hours of a bank change the rule bank_change_then_withdrawal holds it
    # (once the broker's own checks pass: its cooling-off is shortened to nothing here).
    services.broker.bank_cooling_off = timedelta(0)
    assert home.put("/api/v1/bank-account", json={**new_bank, "number": "1111111"},
                    headers=auth).status_code == 200
    auth = api_login(services, home, "rw1", device="phone-1")
    r = home.post("/api/v1/withdrawals", json={"amount_jpy": 20_000}, headers=auth)
    assert r.status_code == 202, r.text
    assert r.json()["error"] == "action_held"
    assert "bank_change_then_withdrawal" in r.json()["reasons"]
    assert r.json()["withdrawal"]["status"] == "held"
    with services.db.read() as session:
        held = session.scalars(select(Withdrawal).where(Withdrawal.status == "held")).one()
        acct = session.get(Account, account)
    assert held.amount_yen == 20_000
    assert (acct.cash_yen, acct.reserved_yen) == (2_990_000, 20_000)  # reserved, not sent


# -- freeze and notify -------------------------------------------------------------------


def test_a_freeze_rule_freezes_the_account_with_a_number_to_call(database_url, clock, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    with running(database_url, clock, tmp_path, risk_rules=rules) as (services, home):
        account = make_customer(services, login_id="rf1", cash_yen=10_000_000)
        auth = api_login(services, home, "rf1", device="phone-1")
        assert home.post("/api/v1/deposits", json={"amount_jpy": 1_000},
                         headers=auth).status_code == 201
        r = home.post("/api/v1/withdrawals", json={"amount_jpy": 6_000_000}, headers=auth)
        assert (r.status_code, r.json()["error"]) == (403, "account_frozen")
        assert "0120-000-000" in r.json()["message"]
        with services.db.read() as session:
            assert session.get(Account, account).status == "frozen"
            alerts = session.scalars(select(Notice).where(
                Notice.customer_id == account, Notice.kind == "security_alert")).all()
        assert sorted(services.notifier.decode(n)[1]["reason"] for n in alerts) == [
            "account_frozen", "deposit_noticed"]
        # Every later action of the account stops, on every channel, whatever it proves.
        r = home.post("/api/v1/orders", json={"symbol": "7203", "side": "buy",
                                              "quantity": 100}, headers=auth)
        assert (r.status_code, r.json()["error"]) == (403, "account_frozen")
        site_login(services, home, "rf1")
        page = home.get("/cash")
        r = home.post("/cash/withdraw", data={"csrf_token": hidden(page.text, "csrf_token"),
                                              "amount_jpy": "1000"})
        assert r.status_code == 403
        assert "お客様サポート（電話 0120-000-000）へお電話ください" in html.unescape(r.text)


# -- one state with the decision API ------------------------------------------------------


def api_key(client: TestClient) -> dict[str, str]:
    _info, key = client.app.state.decision_api.keys.create(name="gw", scopes=(),
                                                          created_by="test")
    return {"Authorization": f"Bearer {key}"}


def gateway_login(clock, account: str, n: int) -> dict:
    """A login the firm's own gateway reports: the customer's account, from a data
    centre, on a device never seen, with a password and an e-mailed code."""
    return {"id": f"gw-{n}", "ts": clock.now.isoformat(), "type": "login",
            "account": account, "session": f"gw-s{n}", "channel": "app",
            "ip": "198.51.100.20", "device": "gw-device", "user_agent": "App/1.0",
            "login_id": "h:x", "outcome": "success", "methods": ["password", "email_otp"]}


def test_the_decision_api_decides_on_the_web_apps_history(env, clock):
    services, home = env
    account = make_customer(services, login_id="rd1")
    headers = api_key(home)
    # Before the customer ever logged in, the engine knows nothing to differ from.
    first = home.post("/api/v1/events", json=gateway_login(clock, account, 1), headers=headers)
    assert first.json()["decision"] == "allow", first.text
    other = make_customer(services, login_id="rd2")
    api_login(services, home, "rd2", device="phone-1")
    clock.advance(timedelta(minutes=1))
    r = home.post("/api/v1/events", json=gateway_login(clock, other, 2), headers=headers)
    body = r.json()
    assert (body["decision"], body["level"]) == ("challenge", "phishing_resistant"), r.text
    assert {"risky_login", "new_device"} <= set(body["reasons"])
    # Stored like the API's own, marked by source.
    sources = {(e.source, e.type) for e in app_events(services, other)}
    assert sources == {("app", "login")}
    with services.db.read() as session:
        assert session.scalar(select(RiskEvent.source).where(RiskEvent.id == "gw-2")) == "api"


def test_a_restart_rebuilds_the_engine_from_the_log(database_url, clock, tmp_path):
    with running(database_url, clock, tmp_path) as (services, home):
        make_customer(services, login_id="rr1")
        api_login(services, home, "rr1", device="phone-1")
        stored = len(app_events(services))
    assert stored >= 1
    with running(database_url, clock, tmp_path) as (services, home):
        report = home.app.state.decision_api.log.load()
        assert (report.events, report.differing) == (stored, 0)
        r = other_client(home, AWAY).post(
            "/api/v1/sessions", json={"login_id": "rr1", "password": PASSWORD},
            headers={"X-Device-Id": "laptop-9"})
        assert (r.status_code, r.json()["level"]) == (401, "phishing_resistant"), r.text


def test_an_app_event_committed_but_never_decided_is_recovered_at_start(
        database_url, clock, tmp_path):
    with running(database_url, clock, tmp_path) as (services, home):
        make_customer(services, login_id="rv1")
        api_login(services, home, "rv1", device="phone-1")
        log = home.app.state.decision_api.log
        # The process stops between a commit and its hand-over to the decision log.
        log.record_app_events = lambda _events: 0
        api_login(services, home, "rv1", device="phone-1")
        before = len(app_events(services))
    with running(database_url, clock, tmp_path) as (services, _home):
        assert len(app_events(services)) > before
        assert [e.type for e in app_events(services)][-1] == "login"


# -- the engine off ----------------------------------------------------------------------


def test_with_the_engine_off_the_policy_alone_decides(database_url, clock, tmp_path):
    with running(database_url, clock, tmp_path, risk=False) as (services, home):
        make_customer(services, login_id="ro1", cash_yen=20_000_000)
        api_login(services, home, "ro1", device="phone-1")
        away = other_client(home, AWAY)
        r = away.post("/api/v1/sessions", json={"login_id": "ro1", "password": PASSWORD},
                      headers={"X-Device-Id": "laptop-9"})
        assert (r.status_code, r.json()["level"]) == (401, "otp")  # the policy's level
        auth = api_login(services, home, "ro1", device="tablet-2")
        r = home.post("/api/v1/orders", json=BIG_BUY, headers=auth)
        assert (r.status_code, r.json()["status"]) == (201, "filled")
        assert app_events(services) == []


def test_a_second_worker_picks_up_the_first_ones_events(database_url, clock, tmp_path):
    with running(database_url, clock, tmp_path) as (services, first), \
            running(database_url, clock, tmp_path) as (_other, second):
        make_customer(services, login_id="rm1")
        api_login(services, first, "rm1", device="phone-1")   # decided by the first
        away = other_client(second, AWAY)

        def unusual_login() -> str:
            r = away.post("/api/v1/sessions", json={"login_id": "rm1", "password": PASSWORD},
                          headers={"X-Device-Id": "laptop-9"})
            return r.json()["level"]

        assert unusual_login() == "otp"   # the second has not seen the customer yet
        assert second.app.state.decision_api.log.refresh() >= 1   # its background loop
        assert unusual_login() == "phishing_resistant"
