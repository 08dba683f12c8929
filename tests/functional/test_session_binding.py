"""A session cookie replayed from another device (an infostealer's copy) is refused,
and the session is revoked for everyone: the real customer logs in again."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from factories.customers import PASSWORD, make_customer
from kabuguard.audit.models import AuditRecord
from kabuguard.web.security import DEVICE_COOKIE, SESSION_COOKIE


def site_login(client, login_id):
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = client.post("/login", data={"login_id": login_id, "password": PASSWORD,
                                    "csrf_token": token, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303


def test_stolen_cookie_from_another_device_is_refused_and_revoked(app, client, services):
    make_customer(services, login_id="bound1")
    site_login(client, "bound1")
    assert client.get("/").status_code == 200
    stolen = client.cookies.get(SESSION_COOKIE)
    with TestClient(app, base_url="https://testserver") as thief:
        thief.cookies.set(SESSION_COOKIE, stolen)
        thief.cookies.set(DEVICE_COOKIE, "attacker-device-0123456789")
        r = thief.get("/", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login")
    # The session is gone for the real device too: it must log in again.
    assert client.get("/", follow_redirects=False).status_code == 303
    with services.db.read() as session:
        actions = session.execute(select(AuditRecord.action)).scalars().all()
    assert "session_revoked_device_mismatch" in actions


def test_cookie_without_its_device_cookie_is_refused(app, client, services):
    make_customer(services, login_id="bound2")
    site_login(client, "bound2")
    stolen = client.cookies.get(SESSION_COOKIE)
    with TestClient(app, base_url="https://testserver") as thief:
        thief.cookies.set(SESSION_COOKIE, stolen)
        assert thief.get("/", follow_redirects=False).status_code == 303


def test_app_token_bound_to_its_install_id(client, services):
    make_customer(services, login_id="bound3")
    r = client.post("/api/v1/sessions", json={"login_id": "bound3", "password": PASSWORD,
                                              "channel": "app"},
                    headers={"X-Device-Id": "app-install-aaaaaaaaaaaa"})
    token = {"Authorization": f"Bearer {r.json()['token']}"}
    ok = client.get("/api/v1/portfolio", headers={**token, "X-Device-Id": "app-install-aaaaaaaaaaaa"})
    assert ok.status_code == 200
    other = client.get("/api/v1/portfolio", headers={**token, "X-Device-Id": "app-install-bbbbbbbbbbbb"})
    assert other.status_code == 401
    again = client.get("/api/v1/portfolio", headers={**token, "X-Device-Id": "app-install-aaaaaaaaaaaa"})
    assert again.status_code == 401
