"""通知設定 on the site and through the API: routine notices can be switched off, the
e-mail of security notices cannot, and saving is guarded like a contact change."""

from __future__ import annotations

import re

from sqlalchemy import select

from factories.apps import app_with_policy, policy_text
from factories.customers import PASSWORD, make_customer
from kabuguard.audit.models import AuditRecord
from kabuguard.notify.interfaces import MANDATORY, NoticeKind
from kabuguard.notify.models import Notice, NoticePreference


def site_login(client, login_id):
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"login_id": login_id, "password": PASSWORD,
                                    "csrf_token": token, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_the_page_lists_every_kind_with_security_email_locked(client, services):
    make_customer(services, login_id="ns1")
    site_login(client, "ns1")
    assert 'href="/security/notifications"' in client.get("/security").text
    page = client.get("/security/notifications").text
    assert "通知設定" in page and "約定" in page and "新しい端末からのログイン" in page
    assert "リンク（URL）が記載されることはありません" in page
    for kind in (NoticeKind.WITHDRAWAL, NoticeKind.NEW_DEVICE):
        assert re.search(rf'name="{kind}\.email"[^>]*checked disabled', page, re.S)
    assert re.search(r'name="order\.email"[^>]*checked\s*>', page, re.S)
    # No SMS or push gateway configured here: those columns are greyed out.
    assert 'id="sms-unavailable"' in page and 'id="push-unavailable"' in page
    assert 'name="order.sms"' not in page and 'name="withdrawal.push"' not in page
    assert "one_time_code" not in page  # codes always go where the customer asked
    client.get("/lang/en")
    english = client.get("/security/notifications").text
    assert "Notification settings" in english and "required" in english


def test_saving_from_the_page(client, services):
    account = make_customer(services, login_id="ns2")
    site_login(client, "ns2")
    page = client.get("/security/notifications").text
    # Everything ticked but order and execution; and no withdrawal.email either, as a
    # crafted form would do: a security notice's e-mail stays on.
    form = {"csrf_token": csrf(page)}
    for kind in ("login", "new_device", "contact_change"):
        form[f"{kind}.email"] = "on"
    r = client.post("/security/notifications", data=form, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/security/notifications?notice=saved")
    assert "通知設定を保存しました" in client.get(r.headers["location"]).text
    with services.db.read() as session:
        rows = {p.kind: p for p in session.scalars(
            select(NoticePreference).where(NoticePreference.customer_id == account))}
        audited = session.scalars(select(AuditRecord.action)).all()
    assert rows["order"].email is False and rows["execution"].email is False
    assert rows["login"].email is True
    assert all(rows[str(k)].email for k in MANDATORY if str(k) in rows)
    assert "notification_settings_change" in audited
    r = client.post("/security/notifications", data={**form, "csrf_token": "forged"})
    assert r.status_code == 403

    # The next order queues no notice; a withdrawal still does.
    headers = {"Authorization": "Bearer " + client.post("/api/v1/sessions", json={
        "login_id": "ns2", "password": PASSWORD}).json()["token"]}
    client.post("/api/v1/orders", headers=headers,
                json={"symbol": "7203", "side": "buy", "quantity": 100})
    client.post("/api/v1/withdrawals", headers=headers, json={"amount_jpy": 1000})
    with services.db.read() as session:
        kinds = set(session.scalars(select(Notice.kind).where(Notice.customer_id == account)))
    assert "order" not in kinds and "execution" not in kinds
    assert {"withdrawal", "new_device"} <= kinds


def test_api_refuses_bad_input_and_writes_nothing(client, services, api_login):
    make_customer(services, login_id="ns3")
    auth = api_login("ns3", PASSWORD)
    for body, status in (
        ({"settings": [{"kind": "order", "email": False},
                       {"kind": "withdrawal", "email": False}]}, 422),
        ({"settings": [{"kind": "teleport", "email": True}]}, 422),
        ({"settings": [{"kind": "one_time_code", "email": False}]}, 422),
        ({"settings": [{"kind": "order", "email": "no"}]}, 422),
        ({"settings": [{"kind": "order", "fax": True}]}, 422),
        ({"settings": []}, 422),
    ):
        r = client.put("/api/v1/notification-settings", headers=auth, json=body)
        assert r.status_code == status, (body, r.text)
    with services.db.read() as session:
        assert session.scalars(select(NoticePreference)).all() == []
    assert client.get("/api/v1/notification-settings").status_code == 401


def test_saving_needs_what_a_contact_change_needs(database_url, clock, tmp_path):
    policy = policy_text("strict_contacts", contact_change="{level: phishing_resistant}")
    with app_with_policy(database_url, clock, tmp_path, policy) as (services, client):
        make_customer(services, login_id="ns4")
        r = client.post("/api/v1/sessions", json={"login_id": "ns4", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {r.json()['token']}"}
        assert client.get("/api/v1/notification-settings", headers=auth).status_code == 200
        r = client.put("/api/v1/notification-settings", headers=auth,
                       json={"settings": [{"kind": "order", "email": False}]})
        assert r.status_code == 401 and r.json()["error"] == "step_up_required"
        site_login(client, "ns4")
        page = client.get("/security/notifications").text
        r = client.post("/security/notifications", data={"csrf_token": csrf(page)})
        assert r.status_code == 401
