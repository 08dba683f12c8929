"""Staff identity of the operations console: accounts apart from customers, a one-time
enrolment code for the first passkey, passkey-only login, a cookie of its own, audit."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from factories.customers import make_customer
from factories.soft_authenticator import SoftAuthenticator
from factories.staff import ORIGIN, console_token, enrol, login_csrf, make_staff, passkey_login
from kabuguard.audit.models import AuditRecord
from kabuguard.ops.console_models import Staff


def other_client(app) -> TestClient:
    return TestClient(app, base_url="https://testserver")


def audit(services, action: str) -> list[dict]:
    with services.db.read() as session:
        rows = session.execute(select(AuditRecord).where(AuditRecord.action == action)
                               .order_by(AuditRecord.seq)).scalars().all()
    return [{"actor": r.actor, "subject": r.subject, **json.loads(r.payload)} for r in rows]


def test_enrolment_code_registers_a_passkey_then_the_passkey_logs_in(services, client, app):
    _info, code = services.staff.create(name="佐藤 分析", role="analyst", created_by="test")
    key = SoftAuthenticator()
    r = enrol(client, code, key)
    assert r.status_code == 200, r.text
    assert r.json() == {"redirect": "/console/"}
    cookie = r.headers["set-cookie"]
    assert "kg_console=" in cookie and "Path=/console" in cookie
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=strict" in cookie
    page = client.get("/console/")
    assert page.status_code == 200 and "佐藤 分析" in page.text

    # The code was spent: a second enrolment with it is refused.
    assert enrol(other_client(app), code, SoftAuthenticator()).status_code == 401

    # A fresh browser logs in with the passkey alone.
    browser = other_client(app)
    assert browser.get("/console/", follow_redirects=False).status_code == 303
    r = passkey_login(browser, key, next_path="/console/audit")
    assert r.status_code == 200 and r.json() == {"redirect": "/console/audit"}
    assert browser.get("/console/audit").status_code == 200
    logins = audit(services, "console:login")
    assert logins[-1]["actor"].startswith("staff:stf_")


def test_an_enrolment_code_expires_after_24_hours(services, client, clock):
    _info, code = services.staff.create(name="期限切れ", role="analyst", created_by="test")
    clock.advance(timedelta(hours=24, minutes=1))
    r = enrol(client, code, SoftAuthenticator())
    assert r.status_code == 401
    assert audit(services, "console:passkey_refused")[-1]["error"] == "enrolment_invalid"


def test_a_customer_passkey_or_session_never_opens_the_console(services, client, app):
    make_customer(services, login_id="cust1")
    page = client.get("/login").text
    import re
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"login_id": "cust1", "password": "correct-horse-battery",
                                "csrf_token": csrf}, follow_redirects=False)
    assert client.cookies.get("kg_session")
    r = client.get("/console/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")

    # A customer's registered passkey is not a staff credential.
    key = SoftAuthenticator()
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">',
                      client.get("/security").text).group(1)
    opts = client.post("/security/passkeys/options", json={}, headers={"X-CSRF-Token": token})
    cred = key.create(opts.json()["publicKey"], origin=ORIGIN)
    assert client.post("/security/passkeys", headers={"X-CSRF-Token": token}, json={
        "challenge_id": opts.json()["challenge_id"], "credential": cred,
        "name": "phone"}).status_code == 201
    r = passkey_login(other_client(app), key)
    assert r.status_code == 401
    assert audit(services, "console:passkey_refused")[-1]["error"] == "passkey_invalid"


def test_a_login_challenge_is_single_use(services, client, app):
    key = make_staff(services, client, name="一回限り", role="supervisor")
    browser = other_client(app)
    token = login_csrf(browser)
    opts = browser.post("/console/login/options", json={}, headers={"X-CSRF-Token": token})
    cred = key.get(opts.json()["publicKey"], origin=ORIGIN)
    body = {"challenge_id": opts.json()["challenge_id"], "credential": cred}
    assert browser.post("/console/login", json=body,
                        headers={"X-CSRF-Token": token}).status_code == 200
    again = other_client(app)
    token2 = login_csrf(again)
    assert again.post("/console/login", json=body,
                      headers={"X-CSRF-Token": token2}).status_code == 401


def test_login_ceremony_needs_the_login_page_csrf(client):
    login_csrf(client)
    assert client.post("/console/login/options", json={}).status_code == 403
    assert client.post("/console/login/options", json={},
                       headers={"X-CSRF-Token": "forged"}).status_code == 403


def test_sessions_end_when_idle_on_logout_and_when_disabled(services, client, app, clock):
    make_staff(services, client, name="idle", role="analyst")
    clock.advance(timedelta(minutes=31))
    r = client.get("/console/", follow_redirects=False)
    assert r.status_code == 303 and "notice=session_ended" in r.headers["location"]

    admin = other_client(app)
    make_staff(services, admin, name="root", role="admin")
    key = make_staff(services, client, name="leaver", role="analyst")
    token = console_token(client)
    r = client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and client.get("/console/", follow_redirects=False).status_code == 303

    assert passkey_login(client, key).status_code == 200
    with services.db.read() as session:
        leaver = session.scalar(select(Staff.id).where(Staff.name == "leaver"))
    admin_token = console_token(admin)
    r = admin.post(f"/console/staff/{leaver}/disable",
                   data={"csrf_token": admin_token, "reason": "退職"})
    assert r.status_code == 200, r.text
    assert client.get("/console/", follow_redirects=False).status_code == 303
    assert passkey_login(other_client(app), key).status_code == 401
    disabled = audit(services, "console:staff_disabled")[-1]
    assert disabled["reason"] == "退職" and disabled["subject"] == leaver


def test_admin_creates_staff_and_the_code_is_shown_once(services, client):
    make_staff(services, client, name="root", role="admin")
    token = console_token(client)
    r = client.post("/console/staff", data={"csrf_token": token, "name": "新人",
                                             "role": "auditor", "reason": "監査部に配属"})
    assert r.status_code == 200 and 'id="enrolment-code"' in r.text
    assert "新人" in client.get("/console/staff").text
    assert 'id="enrolment-code"' not in client.get("/console/staff").text
    created = audit(services, "console:staff_created")[-1]
    assert created["role"] == "auditor"


def test_cli_creates_staff_and_prints_the_code(settings, services, monkeypatch):
    from kabuguard.cli import app as cli

    for key, value in {"KABUGUARD_DATABASE_URL": settings.database_url}.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(cli, ["staff", "create", "--name", "山田", "--role",
                                      "supervisor"])
    assert result.exit_code == 0, result.output
    code = result.stdout.strip().splitlines()[-1]
    assert len(code) == 19 and code.count("-") == 3
    result = CliRunner().invoke(cli, ["staff", "create", "--name", "x", "--role", "boss"])
    assert result.exit_code == 2
    assert "role must be one of" in result.output
    listed = CliRunner().invoke(cli, ["staff", "list"])
    assert "山田" in listed.stdout and "supervisor" in listed.stdout
