"""Under jsda_2025_mandatory once its interim date has passed, a customer without a
passkey is neither let in on a code nor locked out: the code opens a session that can
only register a passkey (JSDA 2025, J-M2: guide the customer to enrol)."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
import pytest
from sqlalchemy import select

from factories.apps import app_with_policy, policy_text
from factories.customers import PASSWORD, make_customer
from factories.forms import form_of, hidden
from factories.mfa import add_app, add_passkey
from factories.soft_authenticator import SoftAuthenticator
from kabuguard.identity.models import Customer, LoginRecord
from kabuguard.notify.models import Notice

ORIGIN = "http://localhost:8000"
AFTER_INTERIM = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def env(database_url, clock, tmp_path):
    clock.now = AFTER_INTERIM
    with app_with_policy(database_url, clock, tmp_path, "jsda_2025_mandatory",
                         webauthn_rp_id="localhost", webauthn_origins=[ORIGIN]) as pair:
        yield pair


def code_of_last_notice(services) -> str:
    with services.db.read() as session:
        notice = session.scalars(select(Notice).where(Notice.kind == "one_time_code")
                                 .order_by(Notice.created_at.desc(), Notice.id.desc())
                                 .limit(1)).one()
    return services.notifier.decode(notice)[1]["code"]


def test_a_code_opens_a_session_that_can_only_register_a_passkey(env):
    services, client = env
    account = make_customer(services, login_id="enrol1")
    r = client.post("/api/v1/sessions", json={"login_id": "enrol1", "password": PASSWORD})
    assert (r.status_code, r.json()["level"]) == (401, "otp")
    challenge = r.json()["login_challenge"]
    assert client.post("/api/v1/sessions/code/send", json={
        "login_challenge": challenge, "method": "email_otp"}).status_code == 202
    r = client.post("/api/v1/sessions/code", json={"login_challenge": challenge,
                                                    "code": code_of_last_notice(services)})
    assert r.status_code == 201, r.text
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    # Anything but enrolment is refused, with a message that says what to do.
    r = client.get("/api/v1/portfolio", headers=auth)
    assert (r.status_code, r.json()["error"]) == (403, "passkey_enrolment_required")
    r = client.post("/api/v1/withdrawals", headers=auth, json={"amount_jpy": 1000})
    assert r.status_code == 403
    assert services.broker.portfolio(account).cash_yen == 1_000_000
    # Registering the passkey lifts the restriction.
    key = SoftAuthenticator()
    opts = client.post("/api/v1/passkeys/options", headers=auth).json()
    r = client.post("/api/v1/passkeys", headers=auth, json={
        "challenge_id": opts["challenge_id"], "name": "phone",
        "credential": key.create(opts["publicKey"], origin=ORIGIN)})
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/portfolio", headers=auth).status_code == 200
    # The session proved a code, not a passkey: a withdrawal still asks for the passkey.
    r = client.post("/api/v1/withdrawals", headers=auth, json={"amount_jpy": 1000})
    assert (r.status_code, r.json()["level"]) == (401, "phishing_resistant")
    # And the next login is with the passkey itself.
    opts = client.post("/api/v1/sessions/passkey/options").json()
    r = client.post("/api/v1/sessions/passkey", json={
        "challenge_id": opts["challenge_id"],
        "credential": key.get(opts["publicKey"], origin=ORIGIN)})
    assert r.status_code == 201, r.text
    with services.db.read() as session:
        outcomes = list(session.execute(select(LoginRecord.outcome)
                                        .where(LoginRecord.success.is_(True))
                                        .order_by(LoginRecord.id)).scalars())
    assert outcomes == ["enrol_only", "success"]


def test_the_site_sends_an_enrolment_only_session_to_the_passkey_section(env):
    services, client = env
    make_customer(services, login_id="enrol2")
    page = client.get("/login").text
    r = client.post("/login", data={"login_id": "enrol2", "password": PASSWORD,
                                    "csrf_token": hidden(page, "csrf_token"), "next": "/"})
    assert r.status_code == 401 and 'id="send-email_otp"' in r.text
    r = client.post("/login/code/send", data={**form_of(r.text, "send-email_otp"),
                                              "second_factor": "email_otp"})
    r = client.post("/login/code", data={**form_of(r.text, "code-form"),
                                         "code": code_of_last_notice(services)},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    r = client.get("/", follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/security#passkeys")
    r = client.get("/security")
    assert r.status_code == 200 and 'id="enrol-only"' in r.text
    assert "まずこの端末でパスキーを登録してください" in r.text
    assert client.get("/cash", follow_redirects=False).headers["location"] == "/security#passkeys"


def test_a_leaked_password_and_no_passkey_leave_both_ways_open(env, clock):
    """Password change and passkey enrolment restrict the same session: each list of
    routes stays usable, so the customer can register the passkey the password
    change's step-up then asks for."""
    services, client = env
    account = make_customer(services, login_id="enrol3")
    _app_id, secret = add_app(services, account)
    with services.db.write() as session:
        session.get(Customer, account).password_reset_required_at = clock()
    r = client.post("/api/v1/sessions", json={"login_id": "enrol3", "password": PASSWORD})
    assert (r.status_code, r.json()["level"]) == (401, "otp")
    r = client.post("/api/v1/sessions/totp", json={
        "login_challenge": r.json()["login_challenge"],
        "code": pyotp.TOTP(secret).at(clock())})
    assert r.status_code == 201, r.text
    assert r.json()["password_change_required"] and r.json()["enrol_only"]
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get("/api/v1/portfolio", headers=auth).json()["error"] == \
        "password_change_required"
    assert client.get("/api/v1/passkeys", headers=auth).status_code == 200
    r = client.put("/api/v1/password", headers=auth, json={
        "current": PASSWORD, "new": "a-fresh-and-long-passphrase-42"})
    assert (r.status_code, r.json()["level"]) == (401, "phishing_resistant")


def test_an_otp_step_up_page_also_offers_the_passkey(database_url, clock, tmp_path):
    """A passkey is stronger than any code: the otp-level step-up offers it first."""
    policy = policy_text("otp_withdrawals", withdrawal="{level: otp, max_age: 5m}")
    with app_with_policy(database_url, clock, tmp_path, policy) as (services, client):
        account = make_customer(services, login_id="stepup1")
        page = client.get("/login").text
        client.post("/login", data={"login_id": "stepup1", "password": PASSWORD,
                                    "csrf_token": hidden(page, "csrf_token"), "next": "/"})
        cash = client.get("/cash").text
        form = {"csrf_token": hidden(cash, "csrf_token"), "amount_jpy": "1000"}
        r = client.post("/cash/withdraw", data=form)
        assert r.status_code == 401 and 'id="passkey-step-up"' not in r.text
        add_passkey(services, account)
        r = client.post("/cash/withdraw", data=form)
        assert r.status_code == 401
        assert 'id="passkey-step-up"' in r.text and 'id="resume-form"' in r.text
        assert 'id="send-email_otp"' not in r.text  # the policy offers the app only
