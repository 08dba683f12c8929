"""自己ロック through HTTP: lock from the security page, from the form without a session
and from the API; a locked account refuses logins with what to do and every guarded
action; a passkey login (or password and app code) opens only the unlock page."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories.apps import app_with_policy, policy_text
from factories.customers import PASSWORD, make_customer
from factories.soft_authenticator import SoftAuthenticator
from kabuguard.domain.events import RequestContext
from kabuguard.notify.models import Notice

ORIGIN = "http://localhost:8000"


@pytest.fixture
def env(database_url, clock, tmp_path):
    with app_with_policy(database_url, clock, tmp_path, policy_text("test_self_lock"),
                         webauthn_rp_id="localhost", webauthn_origins=[ORIGIN]) as pair:
        yield pair


def hidden(page: str, name: str) -> str:
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page).group(1))


def meta_csrf(page: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)


def log_in(client: TestClient, login_id: str, password: str = PASSWORD):
    page = client.get("/login").text
    return client.post("/login", data={"login_id": login_id, "password": password,
                                       "csrf_token": hidden(page, "csrf_token")},
                       follow_redirects=False)


def register(client: TestClient, key: SoftAuthenticator) -> None:
    token = meta_csrf(client.get("/security").text)
    opts = client.post("/security/passkeys/options", json={}, headers={"X-CSRF-Token": token})
    r = client.post("/security/passkeys", headers={"X-CSRF-Token": token}, json={
        "challenge_id": opts.json()["challenge_id"], "name": "iPhone",
        "credential": key.create(opts.json()["publicKey"], origin=ORIGIN)})
    assert r.status_code == 201, r.text


def passkey_login(client: TestClient, key: SoftAuthenticator):
    token = hidden(client.get("/login").text, "csrf_token")
    opts = client.post("/login/passkey/options", json={}, headers={"X-CSRF-Token": token})
    return client.post("/login/passkey", headers={"X-CSRF-Token": token}, json={
        "challenge_id": opts.json()["challenge_id"], "next": "/cash",
        "credential": key.get(opts.json()["publicKey"], origin=ORIGIN)})


def self_lock_notices(services, account):
    with services.db.read() as session:
        return session.scalars(select(Notice).where(Notice.customer_id == account,
                                                    Notice.kind == "self_lock")).all()


def test_lock_from_the_security_page_then_unlock_with_a_passkey(env, clock):
    services, client = env
    account = make_customer(services, cash_yen=50_000, login_id="sl1")
    assert log_in(client, "sl1").status_code == 303
    key = SoftAuthenticator()
    register(client, key)
    other = TestClient(client.app, base_url="https://testserver")
    assert log_in(other, "sl1").status_code == 303  # someone else's session, say
    page = client.get("/security").text
    assert 'id="self-lock"' in page and "パスキーでログインしてください" in page
    r = client.post("/security/lock", data={"csrf_token": hidden(page, "csrf_token")},
                    follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/lock?notice=locked")
    assert "アカウントをロックしました" in client.get(r.headers["location"]).text
    for c in (client, other):  # every session has ended
        assert c.get("/cash", follow_redirects=False).headers["location"].startswith("/login")
    assert len(self_lock_notices(services, account)) == 2  # e-mail and SMS
    # The password alone is refused, with how to unlock.
    r = log_in(client, "sl1")
    assert r.status_code == 403
    assert "ロックされています。解除するには、パスキーでログインしてください。" in r.text
    # A passkey login opens the unlock page only.
    r = passkey_login(client, key)
    assert r.json() == {"redirect": "/unlock"}
    for path in ("/", "/cash", "/security"):
        assert client.get(path, follow_redirects=False).headers["location"] == "/unlock"
    cash = client.post("/cash/withdraw", data={"amount_jpy": "1000", "csrf_token": "x"},
                       follow_redirects=False)
    assert cash.headers["location"] == "/unlock"
    assert services.broker.portfolio(account).cash_yen == 50_000
    page = client.get("/unlock").text
    assert "からアカウントをロックしています" in page and 'id="unlock-submit"' in page
    assert 'href="/cash"' not in page  # no navigation from the unlock-only session
    r = client.post("/unlock", data={"csrf_token": hidden(page, "csrf_token")},
                    follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/security?notice=unlocked")
    assert "ロックを解除しました" in client.get(r.headers["location"]).text
    assert client.get("/cash", follow_redirects=False).status_code == 200
    assert services.self_lock.locked_at(account) is None


def test_an_unlock_page_left_too_long_asks_for_a_new_login(env, clock):
    services, client = env
    account = make_customer(services, login_id="sl2")
    log_in(client, "sl2")
    key = SoftAuthenticator()
    register(client, key)
    services.self_lock.lock(account, context=_ctx())
    passkey_login(client, key)
    page = client.get("/unlock").text
    clock.advance(timedelta(minutes=6))
    r = client.post("/unlock", data={"csrf_token": hidden(page, "csrf_token")},
                    follow_redirects=False)
    assert r.status_code == 401 and "もう一度ログインしてください" in r.text
    assert services.self_lock.locked_at(account) is not None
    assert client.get("/unlock", follow_redirects=False).headers["location"].startswith("/login")


def test_lock_without_logging_in(env):
    services, client = env
    account = make_customer(services, login_id="sl3")
    page = client.get("/login").text
    assert 'href="/lock"' in page
    form = client.get("/lock").text
    wrong = client.post("/lock", data={"login_id": "sl3", "password": "wrong-wrong-1",
                                       "csrf_token": hidden(form, "csrf_token")})
    unknown = client.post("/lock", data={"login_id": "nobody", "password": "wrong-wrong-1",
                                         "csrf_token": hidden(wrong.text, "csrf_token")})
    failed_login = log_in(client, "nobody", "wrong-wrong-1")
    message = re.search(r'role="alert"[^>]*>([^<]+)<', failed_login.text).group(1)
    for r in (wrong, unknown):  # the login's own answer: no enumeration
        assert r.status_code == 401 and message in r.text
    assert services.self_lock.locked_at(account) is None
    form = client.get("/lock").text  # the login page above took a new CSRF cookie
    r = client.post("/lock", data={"login_id": "sl3", "password": PASSWORD,
                                   "csrf_token": hidden(form, "csrf_token")},
                    follow_redirects=False)
    assert r.headers["location"] == "/lock?notice=locked"
    assert services.self_lock.locked_at(account) is not None
    assert len(self_lock_notices(services, account)) == 2
    # No passkey, no app: the login says the support desk unlocks it.
    assert "サポートセンターでの本人確認が必要です" in log_in(client, "sl3").text


def test_an_app_customer_unlocks_with_password_and_code(env, clock):
    services, client = env
    account = make_customer(services, login_id="sl4")
    log_in(client, "sl4")
    page = client.post("/security/totp",
                       data={"csrf_token": meta_csrf(client.get("/security").text)}).text
    totp = pyotp.TOTP(page.split('id="totp-secret">')[1].split("<")[0].replace(" ", ""))
    client.post("/security/totp/confirm", data={"csrf_token": meta_csrf(page),
                                                "code": totp.at(clock.now)})
    services.self_lock.lock(account, context=_ctx())
    r = log_in(client, "sl4")
    assert r.status_code == 401 and "認証アプリに表示されている6桁のコード" in r.text
    assert "ロックされています" in r.text
    clock.advance(timedelta(seconds=30))
    r = client.post("/login/totp", data={
        "login_challenge": hidden(r.text, "login_challenge"), "code": totp.at(clock.now),
        "csrf_token": hidden(r.text, "csrf_token")}, follow_redirects=False)
    assert r.headers["location"] == "/unlock"
    page = client.get("/unlock").text
    client.post("/unlock", data={"csrf_token": hidden(page, "csrf_token")})
    assert services.self_lock.locked_at(account) is None


def test_the_api_locks_refuses_and_unlocks(env, clock):
    services, client = env
    account = make_customer(services, cash_yen=10_000, login_id="sl5")
    token = client.post("/api/v1/sessions", json={"login_id": "sl5", "password": PASSWORD}
                        ).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    key = SoftAuthenticator()
    opts = client.post("/api/v1/passkeys/options", headers=auth).json()
    client.post("/api/v1/passkeys", headers=auth, json={
        "challenge_id": opts["challenge_id"], "name": "iPhone",
        "credential": key.create(opts["publicKey"], origin=ORIGIN)})
    r = client.post("/api/v1/lock", headers=auth)
    assert r.json() == {"locked": True, "sessions_ended": 1}
    assert client.get("/api/v1/portfolio", headers=auth).status_code == 401
    r = client.post("/api/v1/sessions", json={"login_id": "sl5", "password": PASSWORD})
    assert (r.status_code, r.json()["error"], r.json()["unlock"]) == (
        403, "account_locked", "passkey")
    opts = client.post("/api/v1/sessions/passkey/options").json()
    r = client.post("/api/v1/sessions/passkey", json={
        "challenge_id": opts["challenge_id"],
        "credential": key.get(opts["publicKey"], origin=ORIGIN)})
    assert r.status_code == 201 and r.json()["unlock_only"] is True
    unlock_auth = {"Authorization": f"Bearer {r.json()['token']}"}
    for method, path, body in (("GET", "/api/v1/portfolio", None),
                               ("POST", "/api/v1/withdrawals", {"amount_jpy": 1_000}),
                               ("DELETE", "/api/v1/totp", None)):
        r = client.request(method, path, headers=unlock_auth, json=body)
        assert (r.status_code, r.json()["error"]) == (403, "unlock_only_session"), path
    assert services.broker.portfolio(account).cash_yen == 10_000
    r = client.post("/api/v1/unlock", headers=unlock_auth)
    assert r.status_code == 200 and r.json()["unlocked"] is True
    new_auth = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get("/api/v1/portfolio", headers=new_auth).status_code == 200
    assert client.get("/api/v1/portfolio", headers=unlock_auth).status_code == 401


def test_the_api_lock_with_password(env):
    services, client = env
    account = make_customer(services, login_id="sl6")
    r = client.post("/api/v1/lock/password", json={"login_id": "sl6", "password": "nope-nope-1"})
    assert (r.status_code, r.json()["error"]) == (401, "login_failed")
    r = client.post("/api/v1/lock/password", json={"login_id": "sl6", "password": PASSWORD})
    assert r.json() == {"locked": True}
    assert services.self_lock.locked_at(account) is not None


def _ctx() -> RequestContext:
    return RequestContext(ip="127.0.0.1")
