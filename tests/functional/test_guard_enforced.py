"""The guard's decisions reach the customer: challenged actions do not execute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from factories.apps import app_with_policy, policy_text
from factories.customers import PASSWORD, make_customer
from kabuguard.identity.models import LoginRecord, WebSession
from kabuguard.store.base import Base

POLICY = policy_text("test_strict_money",
                     withdrawal="{level: phishing_resistant, max_age: 5m}",
                     bank_account_change="{level: otp, max_age: 5m}",
                     deposit="{level: password, max_age: 5m}")


def counts(services):
    with services.db.read() as session:
        return {t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables if t.name not in ("web_sessions",)}


@pytest.fixture
def strict(database_url, clock, tmp_path):
    with app_with_policy(database_url, clock, tmp_path, POLICY) as pair:
        yield pair


def _login(client, login_id):
    r = client.post("/api/v1/sessions", json={"login_id": login_id, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_challenged_withdrawal_is_refused_and_writes_nothing(strict):
    services, client = strict
    make_customer(services, cash_yen=1_000_000, login_id="strict1")
    auth = _login(client, "strict1")
    before = counts(services)
    r = client.post("/api/v1/withdrawals", json={"amount_jpy": 1_000}, headers=auth)
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "step_up_required"
    assert body["level"] == "phishing_resistant"
    assert body["action"] == "withdrawal"
    assert "level_too_low" in body["reasons"]
    r = client.put("/api/v1/bank-account", headers=auth, json={
        "bank_name": "X銀行", "branch_code": "123", "number": "1234567", "holder": "X"})
    assert r.json()["level"] == "otp"
    assert counts(services) == before
    # Orders are allowed by this policy.
    r = client.post("/api/v1/orders", headers=auth,
                    json={"symbol": "7203", "side": "buy", "quantity": 100})
    assert r.status_code == 201


def test_stale_session_is_challenged(strict):
    services, client = strict
    make_customer(services, cash_yen=100_000, login_id="strict2")
    auth = _login(client, "strict2")
    assert client.post("/api/v1/deposits", json={"amount_jpy": 1}, headers=auth).status_code == 201
    services.identity.clock.advance(timedelta(minutes=6))  # the MutableClock fixture
    r = client.post("/api/v1/deposits", json={"amount_jpy": 1}, headers=auth)
    assert r.status_code == 401
    assert r.json()["reasons"] == ["stale_authentication"]


def test_site_shows_the_step_up_in_japanese(strict):
    services, client = strict
    account = make_customer(services, cash_yen=100_000, login_id="strict3")
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/login", data={"login_id": "strict3", "password": PASSWORD,
                                "csrf_token": token, "next": "/"})
    cash = client.get("/cash").text
    csrf = cash.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/cash/withdraw", data={"csrf_token": csrf, "amount_jpy": "1000"})
    assert r.status_code == 401
    assert "追加の本人認証（パスキー）が必要です" in r.text
    assert services.broker.portfolio(account).cash_yen == 100_000


def test_login_refused_without_a_session_when_the_policy_wants_more(database_url, clock,
                                                                    tmp_path):
    with app_with_policy(database_url, clock, tmp_path, "jsda_2025_mandatory") as (
            services, client):
        make_customer(services, login_id="mandatory1")
        # Until the published date, the interim alternative: a code by e-mail or SMS
        # (every customer has an e-mail address)...
        r = client.post("/api/v1/sessions", json={"login_id": "mandatory1", "password": PASSWORD})
        assert r.status_code == 401
        assert (r.json()["level"], r.json()["methods"]) == ("otp", ["email_otp", "sms_otp"])
        assert "interim_alternative" in r.json()["reasons"]
        # ... and after it, a passkey the customer has yet to register: the code now
        # opens only a session that can register one (test_passkey_enrolment.py).
        clock.now = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
        r = client.post("/api/v1/sessions", json={"login_id": "mandatory1", "password": PASSWORD})
        assert r.status_code == 401
        assert r.json()["error"] == "step_up_required"
        assert r.json()["level"] == "otp"
        assert {"enrolment_required", "enrolment_only"} <= set(r.json()["reasons"])
        assert r.json()["methods"] == ["email_otp", "sms_otp"]
        assert "token" not in r.json()
        # A wrong password still says only that the password is wrong.
        r = client.post("/api/v1/sessions", json={"login_id": "mandatory1", "password": "nope-nope-1"})
        assert r.json()["error"] == "login_failed"
        with services.db.read() as session:
            assert session.execute(select(func.count()).select_from(WebSession)).scalar_one() == 0
            outcomes = set(session.execute(select(LoginRecord.outcome)).scalars())
    assert outcomes == {"second_factor_required", "bad_password"}
