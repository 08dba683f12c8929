"""Authenticator app (TOTP) through the API: enrol, confirm, step up; a code works once."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories.customers import FAST_PASSWORDS, PASSWORD, make_customer
from kabuguard.container import build_services
from kabuguard.guard.actions import Action
from kabuguard.identity.models import TotpAuthenticator
from kabuguard.settings import load_settings
from kabuguard.web.app import create_app

POLICY = "version: 1\nname: test_otp_withdrawal\nactions:\n" + "\n".join(
    f"  {a.value}: {{level: password}}" for a in Action if a is not Action.WITHDRAWAL
) + "\n  withdrawal: {level: otp, max_age: 5m}\n"


@pytest.fixture
def env(database_url, clock, tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY, encoding="utf-8")
    settings = load_settings(database_url=database_url, policy=str(path))
    services = build_services(settings, clock=clock, passwords=FAST_PASSWORDS)
    app = create_app(settings, services=services, background_interval_seconds=None)
    with TestClient(app, base_url="https://testserver") as client:
        yield services, client, clock
    services.close()


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
