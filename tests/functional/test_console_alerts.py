"""Alerts and cases: the queue fed by the risk engine's decisions (the decision API's
and the app's own) and by customers' "this wasn't me", triage, cases per account, the
case timeline with the takeover marked, verdicts stored as decision-API feedback."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories.customers import PASSWORD, make_customer
from factories.events import Stream
from factories.staff import console_token, make_staff
from kabuguard.audit.models import AuditRecord
from kabuguard.broker.models import Account
from kabuguard.ops.console_models import Alert, Case
from kabuguard.risk.models import RiskFeedback


@pytest.fixture
def api_key(app):
    _info, key = app.state.decision_api.keys.create(name="gw", scopes=(), created_by="test")
    return {"Authorization": f"Bearer {key}"}


def attack() -> list[dict]:
    """A1 logs in, changes the bank account and withdraws at once (held); A2's owner
    reports a login that was not theirs (frozen); A3 only trades (nothing to see)."""
    s = Stream()
    return [
        s.login(["password", "email_otp"]),
        s.ev("bank_account_change", bank_account="b-evil"),
        s.withdrawal(900_000),
        s.login(["password", "email_otp"], account="A3", session="s3"),
        s.order(account="A3", session="s3"),
        s.report(account="A2"),
    ]


def feed(client: TestClient, headers: dict, events: list[dict]) -> list[dict]:
    r = client.post("/api/v1/events", json={"events": events}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["decisions"]


def test_decisions_that_stop_or_act_raise_one_alert_each(app, client, services, api_key):
    decisions = feed(client, api_key, attack())
    assert [d["decision"] for d in decisions][2] == "hold"
    desk = app.state.desk
    assert desk.sync() == 2
    assert desk.sync() == 0  # fed twice, stored once
    alerts = {a.kind: a for a in desk.alerts.queue()}
    assert set(alerts) == {"hold", "not_me"}
    assert alerts["hold"].account == "A1" and alerts["hold"].event_id == "e3"
    assert "bank_change_then_withdrawal" in alerts["hold"].reasons
    assert alerts["not_me"].source == "customer_report" and alerts["not_me"].account == "A2"
    # Each joined its account's case.
    cases = {c.account: c for c in desk.cases.list()}
    assert set(cases) == {"A1", "A2"}
    assert alerts["hold"].case_id == cases["A1"].id


def test_the_queue_filters_and_triage_is_audited(app, client, services, api_key):
    feed(client, api_key, attack())
    make_staff(services, client, name="ana", role="analyst")
    page = client.get("/console/alerts")  # the page brings the queue up to date
    assert page.status_code == 200
    assert page.text.count('data-alert="') == 2
    held = client.get("/console/alerts?kind=hold&status=new")
    assert held.text.count('data-alert="') == 1 and 'data-account="A1"' in held.text
    assert client.get("/console/alerts?source=cross_account").text.count('data-alert="') == 0
    alert_id = re.search(r'data-alert="([^"]+)" data-kind="hold"', held.text).group(1)
    token = console_token(client)
    r = client.post(f"/console/alerts/{alert_id}/triage",
                    data={"csrf_token": token, "status": "triaged", "reason": "確認中"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/console/alerts?status=triaged").text.count('data-alert="') == 1
    with services.db.read() as session:
        record = session.execute(select(AuditRecord).where(
            AuditRecord.action == "console:alert_triaged")).scalar_one()
    payload = json.loads(record.payload)
    assert payload["reason"] == "確認中" and payload["after"]["status"] == "triaged"
    assert record.actor.startswith("staff:") and payload["role"] == "analyst"
    # No reason, no change.
    r = client.post(f"/console/alerts/{alert_id}/triage",
                    data={"csrf_token": token, "status": "closed"})
    assert r.status_code == 422 and "理由" in r.text
    # An auditor reads the queue but cannot triage.
    auditor = TestClient(app, base_url="https://testserver")
    make_staff(services, auditor, name="aud", role="auditor")
    assert auditor.get("/console/alerts").status_code == 200
    r = auditor.post(f"/console/alerts/{alert_id}/triage",
                     data={"csrf_token": console_token(auditor), "status": "closed",
                           "reason": "x y"})
    assert r.status_code == 403


def test_a_customer_says_this_was_not_me_from_the_login_history(app, client, services):
    account = make_customer(services, login_id="victim1")
    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"login_id": "victim1", "password": PASSWORD,
                                "csrf_token": csrf}, follow_redirects=False)
    security = client.get("/security").text
    assert 'id="report-login_history"' in security
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', security).group(1)
    notices = client.get("/security/notifications").text
    assert 'id="report-notice"' in notices
    # Without the confirmation box nothing happens.
    r = client.post("/security/report-not-me", data={"csrf_token": token})
    assert r.status_code == 422
    # A forged form (no token) is refused.
    assert client.post("/security/report-not-me",
                       data={"confirm": "yes"}).status_code == 403
    r = client.post("/security/report-not-me", data={"csrf_token": token, "confirm": "yes",
                                                     "about": "login_history"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/reported"
    done = client.get("/reported")
    assert services.settings.support_phone in done.text and "http" not in done.text.split(
        'id="reported"')[1].split("</p>")[0]
    # Frozen, every session ended, the engine told, one alert for the desk.
    with services.db.read() as session:
        assert session.get(Account, account).status == "frozen"
        alerts = session.execute(select(Alert).where(Alert.account == account)).scalars().all()
    assert services.freezes.is_frozen(account)
    assert client.get("/", follow_redirects=False).status_code == 303
    assert [(a.source, a.kind) for a in alerts] == [("customer_report", "not_me")]
    assert app.state.desk.sync() == 0  # the engine's own decision on it is the same alert
    assert account in app.state.decision_api.log.guard.frozen


def test_case_timeline_marks_the_takeover_and_verdicts_go_to_feedback(app, client, services,
                                                                      api_key, clock):
    s = Stream()
    home = {"ip": "192.0.2.10", "device": "d1"}
    events = [s.login(["password", "email_otp"], **home), s.order(**home)]
    s.ts += timedelta(days=2)
    events += [s.login(["password", "email_otp"], session="s9", ip="203.0.113.99",
                       device="d-evil", user_agent="curl/8"),
               s.ev("bank_account_change", session="s9", ip="203.0.113.99", device="d-evil",
                    bank_account="b-evil"),
               s.withdrawal(900_000, session="s9", ip="203.0.113.99", device="d-evil")]
    decisions = feed(client, api_key, events)
    flagged = next(e["id"] for e, d in zip(events, decisions, strict=True)
                   if d["decision"] != "allow")
    make_staff(services, client, name="ana", role="analyst")
    client.get("/console/alerts")
    with services.db.read() as session:
        case_id = session.scalar(select(Case.id).where(Case.account == "A1"))
    page = client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200
    rows = re.findall(r'<tr data-event="([^"]+)" data-type="[^"]+" class="([^"]*)"', page.text)
    assert [r[0] for r in rows] == [e["id"] for e in events]
    marked = [eid for eid, cls in rows if "takeover-start" in cls]
    assert marked == [flagged]
    assert "203.0.113.99" in page.text and "curl/8" in page.text

    token = console_token(client)
    # The analyst calls the new-device login fraud and moves the marker to it.
    login_id = events[2]["id"]
    r = client.post(f"/console/cases/{case_id}/verdict",
                    data={"csrf_token": token, "event_id": login_id, "kind": "analyst_fraud",
                          "reason": "見知らぬ端末から"}, follow_redirects=False)
    assert r.status_code == 303, r.text
    with services.db.read() as session:
        fb = session.execute(select(RiskFeedback)).scalar_one()
    assert (fb.event_id, fb.kind, fb.note) == (login_id, "analyst_fraud", "見知らぬ端末から")
    page = client.get(f"/console/cases/{case_id}").text
    rows = re.findall(r'<tr data-event="([^"]+)" data-type="[^"]+" class="([^"]*)"', page)
    assert [eid for eid, cls in rows if "takeover-start" in cls] == [login_id]
    # An event of another account is refused.
    r = client.post(f"/console/cases/{case_id}/marker",
                    data={"csrf_token": token, "event_id": "nope", "reason": "xx"})
    assert r.status_code == 422
    r = client.post(f"/console/cases/{case_id}/marker",
                    data={"csrf_token": token, "event_id": events[1]["id"], "reason": "注文から"},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"/console/cases/{case_id}").text
    rows = re.findall(r'<tr data-event="([^"]+)" data-type="[^"]+" class="([^"]*)"', page)
    assert [eid for eid, cls in rows if "takeover-start" in cls] == [events[1]["id"]]
    assert "after-takeover" in rows[-1][1] and "after-takeover" not in rows[0][1]

    # The contact log.
    r = client.post(f"/console/cases/{case_id}/contacts",
                    data={"csrf_token": token, "channel": "phone_out",
                          "summary": "登録電話番号へ折り返し、本人の操作ではないと確認",
                          "reason": "初回連絡"}, follow_redirects=False)
    assert r.status_code == 303
    assert "登録電話番号へ折り返し" in client.get(f"/console/cases/{case_id}").text


def test_cross_account_alerts_are_persisted_once(app):
    desk = app.state.desk
    alerts = [{"kind": "symbol_pump", "symbol": "9999", "ts_s": 1.7e9, "buyers": 12,
               "top_accounts": [["B1", 0.9], ["B2", 0.8]]},
              {"kind": "pump_beneficiary", "symbol": "9999", "account": "B9", "ts_s": 1.7e9}]
    assert desk.feed.sync_cross_account(alerts) == 2
    assert desk.feed.sync_cross_account(alerts) == 0
    assert desk.feed.sync_cross_account(alerts[:1]) == 0  # a rebuilt engine: no doubles
    kinds = {a.kind: a for a in desk.alerts.queue(source="cross_account")}
    assert kinds["symbol_pump"].account is None and kinds["symbol_pump"].case_id is None
    assert kinds["pump_beneficiary"].case_id is not None
