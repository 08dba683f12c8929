"""After a leaked list matched a customer: the password alone no longer logs in (even on a
password-only policy), the second factor does, and the session it opens may only
change the password; the change resolves the match. Site and API."""

from __future__ import annotations

import io
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from factories.apps import app_with_policy, policy_text
from factories.customers import PASSWORD, make_customer
from factories.soft_authenticator import SoftAuthenticator
from kabuguard.identity.models import Customer, LeakedCredentialMatch

ORIGIN = "http://localhost:8000"
NEW_PASSWORD = "a-brand-new-passphrase"
# A password is enough to log in and to change it: the leak alone raises the bar.
POLICY = policy_text("test_leaked_password_only")


@pytest.fixture
def env(database_url, clock, tmp_path):
    with app_with_policy(database_url, clock, tmp_path, POLICY, webauthn_rp_id="localhost",
                         webauthn_origins=[ORIGIN]) as (services, client):
        yield services, client, clock


def api_login(client, login_id, password=PASSWORD):
    return client.post("/api/v1/sessions", json={"login_id": login_id, "password": password})


def bearer(response):
    return {"Authorization": f"Bearer {response.json()['token']}"}


def enrol_app(client, clock, login_id) -> pyotp.TOTP:
    auth = bearer(api_login(client, login_id))
    totp = pyotp.TOTP(client.post("/api/v1/totp", headers=auth).json()["secret"])
    assert client.post("/api/v1/totp/confirm", headers=auth,
                       json={"code": totp.at(clock.now)}).status_code == 200
    clock.advance(timedelta(seconds=30))  # the next code is a new one
    return auth, totp


def leak(services, *pairs):
    text = "\n".join(f"{login_id}:{password}" for login_id, password in pairs)
    return services.leaked.import_stream(io.BytesIO(text.encode()), source="market-x")


def state(services, customer_id):
    with services.db.read() as session:
        flag = session.get(Customer, customer_id).password_reset_required_at
        statuses = session.scalars(select(LeakedCredentialMatch.status).where(
            LeakedCredentialMatch.customer_id == customer_id)).all()
    return flag, statuses


def hidden(html, name):
    return html.split(f'name="{name}" value="')[1].split('"', maxsplit=1)[0]


def site_password(client, login_id, password=PASSWORD):
    token = hidden(client.get("/login").text, "csrf_token")
    return client.post("/login", data={"login_id": login_id, "password": password,
                                       "csrf_token": token, "next": "/"},
                       follow_redirects=False)


def test_api_second_factor_then_only_the_password_change(env):
    services, client, clock = env
    account = make_customer(services, login_id="leakapi")
    old_auth, totp = enrol_app(client, clock, "leakapi")
    assert leak(services, ("leakapi", PASSWORD)).new_matches == 1
    # Every session ended at the import.
    assert client.get("/api/v1/portfolio", headers=old_auth).json()["error"] == "session_invalid"

    r = api_login(client, "leakapi")
    assert r.status_code == 401
    body = r.json()
    assert (body["error"], body["level"]) == ("step_up_required", "otp")
    assert "leaked_credentials" in body["reasons"]
    r = client.post("/api/v1/sessions/totp", json={"login_challenge": body["login_challenge"],
                                                   "code": totp.at(clock.now)})
    assert r.status_code == 201, r.text
    assert r.json()["password_change_required"] is True
    auth = bearer(r)
    for method, path, payload in (("GET", "/api/v1/portfolio", None),
                                  ("GET", "/api/v1/profile", None),
                                  ("POST", "/api/v1/withdrawals", {"amount_jpy": 1000}),
                                  ("POST", "/api/v1/totp", None)):
        r = client.request(method, path, headers=auth, json=payload)
        assert (r.status_code, r.json()["error"]) == (403, "password_change_required"), path
    # The existing checks apply: the leaked (current) password and a breached one fail.
    for new in (PASSWORD, "password1234"):
        r = client.put("/api/v1/password", headers=auth,
                       json={"current_password": PASSWORD, "new_password": new})
        assert (r.status_code, r.json()["error"]) == (422, "weak_password")
    r = client.put("/api/v1/password", headers=auth,
                   json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/portfolio", headers=auth).status_code == 200
    assert state(services, account) == (None, ["resolved"])
    # The leaked password stays refused for this customer, even later.
    r = client.put("/api/v1/password", headers=auth,
                   json={"current_password": NEW_PASSWORD, "new_password": PASSWORD})
    assert (r.status_code, r.json()["error"]) == (422, "weak_password")
    assert "leaked" in r.json()["message"]
    # The leaked password no longer logs in; the new one does, on the password alone.
    assert api_login(client, "leakapi").json()["error"] == "login_failed"
    assert api_login(client, "leakapi", NEW_PASSWORD).status_code == 201
    # Importing the same list again finds nothing: the leaked password is out of use.
    again = leak(services, ("leakapi", PASSWORD))
    assert (again.new_matches, again.already_known) == (0, 1)
    assert state(services, account) == (None, ["resolved"])


def test_site_second_factor_then_the_forced_change_page(env):
    services, client, clock = env
    account = make_customer(services, login_id="leaksite")
    _auth, totp = enrol_app(client, clock, "leaksite")
    leak(services, ("leaksite", PASSWORD))

    r = site_password(client, "leaksite")
    assert r.status_code == 401
    assert "流出情報の中に見つかった" in r.text
    assert 'action="/login/totp"' in r.text
    r = client.post("/login/totp", data={
        "login_challenge": hidden(r.text, "login_challenge"), "code": totp.at(clock.now),
        "csrf_token": hidden(r.text, "csrf_token"), "next": "/"}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/")
    for path in ("/", "/cash", "/security", "/profile"):
        r = client.get(path, follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (303, "/security/password/required")
    page = client.get("/security/password/required")
    assert page.status_code == 200
    assert "パスワードの変更が必要です" in page.text
    assert 'class="site-nav"' not in page.text  # nowhere else to go
    csrf = hidden(page.text, "csrf_token")
    r = client.post("/cash/withdraw", data={"csrf_token": csrf, "amount_jpy": "1000"},
                    follow_redirects=False)
    assert r.headers["location"] == "/security/password/required"
    assert services.broker.portfolio(account).cash_yen == 1_000_000
    r = client.post("/security/password/required", data={
        "csrf_token": csrf, "current_password": PASSWORD, "new_password": PASSWORD})
    assert r.status_code == 422
    assert 'id="password-error"' in r.text
    r = client.post("/security/password/required", data={
        "csrf_token": csrf, "current_password": PASSWORD, "new_password": NEW_PASSWORD},
        follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/security?notice=password_changed")
    assert client.get("/").status_code == 200
    assert client.get("/security/password/required",
                      follow_redirects=False).headers["location"] == "/security"
    assert state(services, account) == (None, ["resolved"])


def test_without_a_second_factor_the_password_is_refused_with_a_way_out(env):
    services, client, _clock = env
    account = make_customer(services, login_id="leaknone")
    leak(services, ("leaknone", PASSWORD))
    r = api_login(client, "leaknone")
    assert (r.status_code, r.json()["error"]) == (403, "leaked_password_no_second_factor")
    assert "support" in r.json()["message"]
    assert "token" not in r.json()
    r = site_password(client, "leaknone")
    assert r.status_code == 403
    assert "カスタマーサポートにお電話ください" in r.text
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")
    # A wrong password still answers as before: the leak tells an attacker nothing new.
    assert api_login(client, "leaknone", "not-the-password").json()["error"] == "login_failed"
    assert state(services, account)[1] == ["open"]


def test_a_passkey_still_logs_in_but_only_to_change_the_password(env):
    services, client, _clock = env
    make_customer(services, login_id="leakpk")
    auth = bearer(api_login(client, "leakpk"))
    key = SoftAuthenticator()
    opts = client.post("/api/v1/passkeys/options", headers=auth).json()
    r = client.post("/api/v1/passkeys", headers=auth, json={
        "challenge_id": opts["challenge_id"], "name": "phone",
        "credential": key.create(opts["publicKey"], origin=ORIGIN)})
    assert r.status_code == 201, r.text
    leak(services, ("leakpk", PASSWORD))
    r = api_login(client, "leakpk")
    assert (r.status_code, r.json()["level"]) == (401, "phishing_resistant")
    opts = client.post("/api/v1/sessions/passkey/options").json()
    r = client.post("/api/v1/sessions/passkey", json={
        "challenge_id": opts["challenge_id"],
        "credential": key.get(opts["publicKey"], origin=ORIGIN)})
    assert r.status_code == 201, r.text
    assert r.json()["password_change_required"] is True
    auth = bearer(r)
    assert client.get("/api/v1/portfolio", headers=auth).status_code == 403
    assert client.put("/api/v1/password", headers=auth, json={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD}).status_code == 200
    assert client.get("/api/v1/portfolio", headers=auth).status_code == 200
