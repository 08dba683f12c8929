"""The login history of the last three months on the security page and in the API:
newest first, in JST, with outcome, methods, address, a short device name, channel."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from factories.customers import PASSWORD, make_customer
from kabuguard.identity.models import LoginRecord
from kabuguard.web.i18n import format_jst

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Safari/537.36")


def add_record(services, account, ts, *, ip="203.0.113.5", outcome="success", methods="password",
               channel="web"):
    with services.db.write() as session:
        session.add(LoginRecord(customer_id=account, ts=ts, ip=ip, user_agent=CHROME,
                                channel=channel, outcome=outcome, success=outcome == "success",
                                methods=methods))


def site_login(client, login_id):
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"login_id": login_id, "password": PASSWORD, "csrf_token": token})


@pytest.fixture
def history(services, clock):
    account = make_customer(services, login_id="hist1")
    now = clock.now
    add_record(services, account, now - timedelta(days=100), ip="198.51.100.100")
    add_record(services, account, now - timedelta(days=80), ip="198.51.100.80",
               methods="password,totp", channel="app")
    add_record(services, account, now - timedelta(days=1), ip="198.51.100.1",
               outcome="bad_password")
    return account


def test_the_security_page_shows_three_months_newest_first(client, services, clock, history):
    site_login(client, "hist1")
    page = client.get("/security").text
    section = page.split('id="login-history"')[1].split("</section>")[0]
    ips = re.findall(r'class="code">([^<]+)<', section)
    assert ips == ["testclient", "198.51.100.1", "198.51.100.80"]  # this login first
    assert "198.51.100.100" not in section  # older than three months
    assert format_jst(clock.now - timedelta(days=80), "ja") in section
    assert "パスワード + 認証アプリ" in section and "Chrome 124 / Windows" in section
    assert "アプリ" in section and "パスワード誤り" in section
    assert 'id="history-older"' not in section


def test_the_api_lists_three_months(client, services, clock, history, api_login):
    auth = api_login("hist1", PASSWORD)
    body = client.get("/api/v1/login-history", headers=auth).json()
    assert body["since"] < (clock.now - timedelta(days=80)).isoformat()
    records = body["records"]
    assert [r["outcome"] for r in records] == ["success", "bad_password", "success"]
    assert records[0]["methods"] == ["password"] and records[0]["channel"] == "api"
    assert records[2] == {"at": (clock.now - timedelta(days=80)).isoformat(),
                          "outcome": "success", "success": True,
                          "methods": ["password", "totp"], "ip": "198.51.100.80",
                          "device": "Chrome 124 / Windows", "user_agent": CHROME,
                          "channel": "app"}
    assert body["next_offset"] is None
    page = client.get("/api/v1/login-history?limit=2", headers=auth).json()
    assert len(page["records"]) == 2 and page["next_offset"] == 2
    rest = client.get("/api/v1/login-history?limit=2&offset=2", headers=auth).json()
    assert [r["ip"] for r in rest["records"]] == ["198.51.100.80"]


def test_the_page_is_paginated(client, services, clock):
    account = make_customer(services, login_id="hist2")
    for n in range(24):
        add_record(services, account, clock.now - timedelta(hours=n + 1), ip=f"192.0.2.{n}")
    site_login(client, "hist2")
    first = client.get("/security").text.split('id="login-history"')[1]
    assert first.count('data-label="IPアドレス"') == 20
    assert 'id="history-older"' in first and 'id="history-newer"' not in first
    second = client.get("/security?history_page=2").text.split('id="login-history"')[1]
    assert second.count('data-label="IPアドレス"') == 5
    assert "192.0.2.23" in second and 'id="history-newer"' in second
    assert client.get("/security?history_page=0").status_code == 422
