"""Authenticator app (TOTP) through the API: enrol, confirm, step up; a code works once."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from factories.apps import app_with_policy, policy_text
from factories.customers import PASSWORD, make_customer
from kabuguard.identity.models import TotpAuthenticator

POLICY = policy_text("test_otp_withdrawal", withdrawal="{level: otp, max_age: 5m}")


@pytest.fixture
def env(database_url, clock, tmp_path):
    with app_with_policy(database_url, clock, tmp_path, POLICY) as (services, client):
        yield services, client, clock


def login(client, login_id):
    r = client.post("/api/v1/sessions", json={"login_id": login_id, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_enrol_confirm_and_step_up(env):
    services, client, clock = env
    account = make_customer(services, cash_yen=10_000, login_id="totp1")
    auth = login(client, "totp1")
    r = client.post("/api/v1/totp", headers=auth)
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    assert r.json()["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(secret)
    assert client.post("/api/v1/totp/confirm", headers=auth,
                       json={"code": "000000" if totp.at(clock.now) != "000000" else "111111"}
                       ).json()["error"] == "otp_wrong"
    assert client.post("/api/v1/totp/confirm", headers=auth,
                       json={"code": totp.at(clock.now)}).status_code == 200
    with services.db.read() as session:
        stored = session.execute(select(TotpAuthenticator.secret_enc)).scalar_one()
    assert secret not in stored  # encrypted at rest
    r = client.post("/api/v1/withdrawals", json={"amount_jpy": 1_000}, headers=auth)
    assert (r.status_code, r.json()["level"]) == (401, "otp")
    # The code that confirmed the enrolment cannot be used again.
    r = client.post("/api/v1/step-up/totp", headers=auth, json={"code": totp.at(clock.now)})
    assert r.json()["error"] == "otp_reused"
    clock.advance(timedelta(seconds=30))
    r = client.post("/api/v1/step-up/totp", headers=auth, json={"code": totp.at(clock.now)})
    assert r.status_code == 200, r.text
    new_auth = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.post("/api/v1/withdrawals", json={"amount_jpy": 1_000},
                       headers=new_auth).status_code == 201
    assert services.broker.portfolio(account).cash_yen == 9_000


def test_step_up_without_an_app_and_bad_codes(env):
    services, client, _clock = env
    make_customer(services, login_id="totp2")
    auth = login(client, "totp2")
    r = client.post("/api/v1/step-up/totp", headers=auth, json={"code": "123456"})
    assert (r.status_code, r.json()["error"]) == (409, "totp_not_enrolled")
    client.post("/api/v1/totp", headers=auth)
    r = client.post("/api/v1/totp/confirm", headers=auth, json={"code": "12ab56"})
    assert (r.status_code, r.json()["error"]) == (422, "otp_format_invalid")


def _with_app(services, clock, customer) -> str:
    """An authenticator app the customer enrolled earlier; returns its secret."""
    secret = pyotp.random_base32()
    with services.db.write() as session:
        session.add(TotpAuthenticator(id=f"totp_{customer}", customer_id=customer,
                                      secret_enc=services.cipher.encrypt(secret),
                                      created_at=clock.now, confirmed_at=clock.now))
    return secret


def test_interim_login_with_password_and_authenticator_app(database_url, clock, tmp_path):
    """Under the JSDA mandatory preset, before its published date, a customer without a
    passkey logs in with password + app code (the interim alternative); a customer
    without an app is offered the preset's other alternatives, codes by e-mail or SMS."""
    with app_with_policy(database_url, clock, tmp_path, "jsda_2025_mandatory") as (
            services, client):
        secret = _with_app(services, clock, make_customer(services, login_id="interim1"))
        make_customer(services, login_id="interim2")
        r = client.post("/api/v1/sessions", json={"login_id": "interim1", "password": PASSWORD})
        assert r.status_code == 401
        body = r.json()
        assert body["level"] == "otp"
        assert "interim_alternative" in body["reasons"]
        challenge = body["login_challenge"]
        code = pyotp.TOTP(secret).at(clock.now)
        r = client.post("/api/v1/sessions/totp", json={"login_challenge": challenge, "code": code})
        assert r.status_code == 201, r.text
        token = {"Authorization": f"Bearer {r.json()['token']}"}
        assert client.get("/api/v1/portfolio", headers=token).status_code == 200
        # The challenge and the code were single-use.
        r = client.post("/api/v1/sessions/totp", json={"login_challenge": challenge, "code": code})
        assert r.status_code == 401
        # Without an app, the preset's other interim alternatives: codes by e-mail or SMS.
        r = client.post("/api/v1/sessions", json={"login_id": "interim2", "password": PASSWORD})
        assert r.json()["level"] == "otp"
        assert r.json()["methods"] == ["email_otp", "sms_otp"]


def test_interim_schedule_is_shown_to_customers_without_a_passkey(database_url, clock,
                                                                   tmp_path):
    with app_with_policy(database_url, clock, tmp_path, "jsda_2025_mandatory") as (
            services, client):
        secret = _with_app(services, clock, make_customer(services, login_id="interim3"))
        page = client.get("/login").text
        token = page.split('name="csrf_token" value="')[1].split('"')[0]
        r = client.post("/login", data={"login_id": "interim3", "password": PASSWORD,
                                        "csrf_token": token, "next": "/"})
        assert r.status_code == 401  # the password was right; now the second step
        # The app's code, or the preset's other alternatives (a code by e-mail or SMS).
        assert "確認の方法を選んでください" in r.text
        assert 'id="login-totp"' in r.text
        assert 'id="send-email_otp"' in r.text
        second = r.text
        token = second.split('name="csrf_token" value="')[1].split('"')[0]
        challenge = second.split('name="login_challenge" value="')[1].split('"')[0]
        r = client.post("/login/totp", data={"login_challenge": challenge, "csrf_token": token,
                                             "next": "/", "code": pyotp.TOTP(secret).at(clock.now)})
        assert r.status_code == 200, r.text
        assert "2026年3月31日以降" in r.text  # the portfolio, with the interim schedule
