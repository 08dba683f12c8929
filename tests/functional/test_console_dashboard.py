"""The dashboard: today's and this month's figures (JST) from the decision log, the
freezes, the restrictions and the alerts, passkey adoption among active customers,
and its charts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from factories.customers import make_customer
from factories.events import Stream
from factories.staff import console_token, make_staff
from kabuguard.identity.models import LoginRecord, Passkey
from kabuguard.settings import load_settings


@pytest.fixture
def settings(database_url):
    # A login needs a one-time code: a password alone is challenged.
    return load_settings(database_url=database_url, market_hours="always_open",
                         policy="email_otp_mandatory")


def figure(section: str, name: str) -> str:
    return re.search(rf'data-figure="{name}">([^<]+)<', section).group(1)


def test_the_dashboard_counts_today_and_this_month(app, client, services, clock):
    _i, key = app.state.decision_api.keys.create(name="gw", scopes=(), created_by="t")
    headers = {"Authorization": f"Bearer {key}"}
    # Yesterday (JST): one login. Today: two logins, a bank change and a withdrawal held,
    # a customer's report (frozen).
    s = Stream(start=clock.now - timedelta(days=1), prefix="y")
    assert client.post("/api/v1/events", headers=headers,
                       json=s.login(["password", "email_otp"])).status_code == 200
    clock.advance(timedelta(days=1, minutes=1))
    t = Stream(start=clock.now - timedelta(minutes=1), prefix="t")
    today = [t.login(["password", "email_otp"]),
             t.ev("bank_account_change", bank_account="b-x"), t.withdrawal(900_000),
             t.login(["password"], account="A2", session="s2"), t.report(account="A3")]
    r = client.post("/api/v1/events", headers=headers, json={"events": today})
    assert r.status_code == 200
    decisions = [d["decision"] for d in r.json()["decisions"]]
    assert decisions.count("hold") == 1 and decisions.count("challenge") == 1
    # Two customers logged in on the site this month, one with a passkey; a third
    # logged in long ago (not active) with a passkey.
    for login_id, keyed, days_ago in (("dash1", True, 3), ("dash2", False, 0),
                                      ("dash3", True, 45)):
        account = make_customer(services, login_id=login_id)
        with services.db.write() as session:
            session.add(LoginRecord(customer_id=account, ts=clock.now - timedelta(days=days_ago),
                                    ip="192.0.2.1", channel="web", outcome="success",
                                    success=True, methods="password"))
            if keyed:
                session.add(Passkey(credential_id=f"c-{login_id}", customer_id=account,
                                    public_key=b"k", sign_count=0, backup_eligible=True,
                                    backed_up=True, aaguid="0" * 36, name="phone",
                                    created_at=clock.now))
    make_staff(services, client, name="ana", role="analyst")
    client.get("/console/alerts")  # the queue picks up the decisions
    token = console_token(client)
    assert client.post("/console/restrictions", data={"csrf_token": token, "symbol": "7203",
                                                      "reason": "監視"}).status_code == 200
    page = client.get("/console/").text
    today_html = page.split('id="dash-today"')[1].split("</section>")[0]
    month_html = page.split('id="dash-month"')[1].split("</section>")[0]
    assert figure(today_html, "logins") == "2"
    assert figure(month_html, "logins") == "3"  # 2025-04-09 JST: yesterday is this month
    assert figure(today_html, "challenges") == "1"
    assert figure(today_html, "holds") == "1"
    assert figure(today_html, "freezes") == "1"
    assert figure(today_html, "restrictions") == "1"
    assert figure(today_html, "alerts") == "2"
    assert figure(page, "adoption") == "50.0%"
    assert page.count('<svg class="chart"') == 2
    assert "bank_change_then_withdrawal" in page
