"""Authenticator app on the site: enrol on the security page, then a withdrawal the
policy guards at the otp level asks for a code and resumes after it."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from factories.apps import app_with_policy, policy_text
from factories.customers import PASSWORD, make_customer
from kabuguard.web.security import SESSION_COOKIE

POLICY = policy_text("test_site_otp", withdrawal="{level: otp, max_age: 5m}")

@pytest.fixture
def env(database_url, clock, tmp_path):
    with app_with_policy(database_url, clock, tmp_path, POLICY) as (services, client):
        yield services, client, clock


def hidden(html: str, name: str) -> str:
    return html.split(f'name="{name}" value="')[1].split('"', maxsplit=1)[0]


def site_login(client, login_id):
    token = hidden(client.get("/login").text, "csrf_token")
    client.post("/login", data={"login_id": login_id, "password": PASSWORD,
                                "csrf_token": token, "next": "/"})


def test_enrol_then_step_up_resumes_the_withdrawal(env):
    services, client, clock = env
    account = make_customer(services, cash_yen=50_000, login_id="sitetotp")
    site_login(client, "sitetotp")
    page = client.get("/security").text
    assert "認証アプリを登録" in page
    page = client.post("/security/totp", data={"csrf_token": hidden(page, "csrf_token")}).text
    secret = page.split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    assert 'id="totp-qr"' in page
    assert 'src="data:image/svg+xml' in page
    totp = pyotp.TOTP(secret)
    r = client.post("/security/totp/confirm", data={"csrf_token": hidden(page, "csrf_token"),
                                                    "code": "99999x"})
    assert r.status_code == 422
    r = client.post("/security/totp/confirm", data={"csrf_token": hidden(page, "csrf_token"),
                                                    "code": totp.at(clock.now)})
    assert "認証アプリを登録しました" in r.text
    cash = client.get("/cash").text
    r = client.post("/cash/withdraw", data={"csrf_token": hidden(cash, "csrf_token"),
                                            "amount_jpy": "2000"})
    assert r.status_code == 401
    assert "認証アプリに表示されている6桁のコード" in r.text
    assert 'name="amount_jpy" value="2000"' in r.text
    step_up = r.text
    old_cookie = client.cookies.get(SESSION_COOKIE)
    clock.advance(timedelta(seconds=30))
    wrong = client.post("/step-up/totp", data={
        "csrf_token": hidden(step_up, "csrf_token"), "resume_to": "/cash/withdraw",
        "amount_jpy": "2000", "code": "000000" if totp.at(clock.now) != "000000" else "111111"})
    assert wrong.status_code == 401
    assert 'name="amount_jpy" value="2000"' in wrong.text  # still carried
    assert '"resume_action" value="withdrawal"' in step_up
    assert services.broker.portfolio(account).cash_yen == 50_000
    r = client.post("/step-up/totp", data={
        "csrf_token": hidden(step_up, "csrf_token"), "resume_to": "/cash/withdraw",
        "amount_jpy": "2000", "code": totp.at(clock.now)})
    assert r.status_code == 200, r.text
    assert services.broker.portfolio(account).cash_yen == 48_000
    assert client.cookies.get(SESSION_COOKIE) != old_cookie


def test_step_up_page_without_an_app_points_to_security(env):
    services, client, _clock = env
    make_customer(services, cash_yen=50_000, login_id="noapp")
    site_login(client, "noapp")
    cash = client.get("/cash").text
    r = client.post("/cash/withdraw", data={"csrf_token": hidden(cash, "csrf_token"),
                                            "amount_jpy": "2000"})
    assert r.status_code == 401
    assert "認証アプリが登録されていません" in r.text
    assert 'href="/security"' in r.text
