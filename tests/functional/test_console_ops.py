"""The ops domain through the console: a case's compensation (preview, propose,
four-eyes approval, the customer's statement as HTML and PDF), the FSA monthly
report (run, table, chart, CSV, revisions), the incident report draft, the signed
evidence bundle and the guideline self-check."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories.customers import make_customer
from factories.staff import console_token, make_staff
from kabuguard.audit.models import AuditRecord
from kabuguard.broker.interfaces import OrderRequest
from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.events import Channel, RequestContext
from kabuguard.ops.evidence import verify_bundle
from kabuguard.ops.staff import Operator, Role

CTX = RequestContext(ip="203.0.113.99", channel=Channel.WEB, session="s-evil",
                     device="d-evil", user_agent="curl/8")


def browser(app) -> TestClient:
    return TestClient(app, base_url="https://testserver")


def post(client: TestClient, path: str, **data):
    return client.post(path, data={"csrf_token": console_token(client), **data},
                       follow_redirects=False)


@pytest.fixture
def hijacked(app, services):
    """An account whose holdings an intruder sold and whose cash it spent on a small
    cap, with a case whose takeover marker is at the intruder's first order."""
    account = make_customer(services, cash_yen=2_000_000, holdings={"7203": 1000})
    broker = services.broker
    first = broker.place_order(account, OrderRequest("7203", "sell", 1000), context=CTX).body
    broker.place_order(account, OrderRequest("6758", "buy", 100), context=CTX)
    with services.db.read() as session:
        events = {json.loads(p)["order_id"]: eid for eid, p in session.execute(
            select(OutboxEvent.event_id, OutboxEvent.payload).where(
                OutboxEvent.account == account, OutboxEvent.type == "order"))}
    desk = app.state.desk
    system = Operator("stf_system", "system", Role.ADMIN, "test set-up")
    case_id = desk.cases.open(account, operator=system)
    people = {}
    for name, role in (("ana", "analyst"), ("sup", "supervisor"), ("aud", "auditor")):
        people[name] = browser(app)
        make_staff(services, people[name], name=name, role=role)
    r = post(people["ana"], f"/console/cases/{case_id}/marker",
             event_id=events[first["id"]], reason="ここから乗っ取り")
    assert r.status_code == 303
    return {"account": account, "case": case_id, "first_event": events[first["id"]], **people}


def test_compensation_is_proposed_approved_by_another_and_printed(app, services, hijacked):
    ana, sup, case = hijacked["ana"], hijacked["sup"], hijacked["case"]
    page = ana.get(f"/console/cases/{case}/compensation?preset=sbi_2025")
    assert page.status_code == 200
    lines = dict(re.findall(r'data-line="([a-z_]+)" class="line-[a-z]+"><td>[^<]*</td>'
                            r'<td class="num">([^<]+)</td>', page.text))
    assert {"buy_value", "sell_value", "sympathy_payment", "total"} <= set(lines)
    assert lines["sympathy_payment"] == "¥10,000"
    assert "2 trades covered" in page.text or "対象の取引 2件" in page.text

    r = post(ana, f"/console/cases/{case}/compensation", preset="sbi_2025",
             reason="SBI方式で起案")
    assert r.status_code == 303, r.text
    page = ana.get(f"/console/cases/{case}/compensation").text
    proposal = re.search(r'data-proposal="([^"]+)" data-status="proposed"', page).group(1)
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', sup.get(
        f"/console/cases/{case}/compensation").text).group(1)
    # The analyst may not approve; the supervisor, who did not propose it, may.
    assert post(ana, f"/console/compensation/{proposal}/approve", digest=digest,
                reason="承認").status_code == 403
    assert post(sup, f"/console/compensation/{proposal}/approve", digest="0" * 64,
                reason="承認").status_code == 409  # another snapshot than the one shown
    assert post(sup, f"/console/compensation/{proposal}/approve", digest=digest,
                reason="内容を確認").status_code == 303
    statement = sup.get(f"/console/compensation/{proposal}/statement.html")
    assert statement.status_code == 200
    assert "承認済み" in statement.text and "0120-000-000" in statement.text
    assert "style-src 'unsafe-inline'" in statement.headers["content-security-policy"]
    assert "script" not in statement.headers["content-security-policy"]
    pdf = hijacked["aud"].get(f"/console/compensation/{proposal}/statement.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    with services.db.read() as session:
        actions = [r.action for r in session.execute(
            select(AuditRecord).where(AuditRecord.action.like("console:compensation%"))
            .order_by(AuditRecord.seq)).scalars()]
    assert actions == ["console:compensation_proposed", "console:compensation_approve"]
    overview = hijacked["aud"].get("/console/compensation")
    assert overview.status_code == 200 and proposal in overview.text


def test_a_supervisor_cannot_approve_their_own_compensation(app, hijacked):
    sup, case = hijacked["sup"], hijacked["case"]
    assert post(sup, f"/console/cases/{case}/compensation", preset="full_cash",
                reason="起案").status_code == 303
    page = sup.get(f"/console/cases/{case}/compensation").text
    proposal = re.search(r'data-proposal="([^"]+)" data-status="proposed"', page).group(1)
    assert 'class="inline-form approve-comp"' not in page
    r = sup.post(f"/console/compensation/{proposal}/approve", data={
        "csrf_token": console_token(sup), "digest": "x", "reason": "自分で承認"})
    assert r.status_code == 403


def test_the_fsa_report_counts_the_analysts_verdicts(app, services, hijacked):
    ana, sup, aud = hijacked["ana"], hijacked["sup"], hijacked["aud"]
    case = hijacked["case"]
    assert post(ana, f"/console/cases/{case}/verdict", event_id=hijacked["first_event"],
                kind="analyst_fraud", reason="本人が否定").status_code == 303
    assert aud.post("/console/reports/fsa/run", data={
        "csrf_token": console_token(aud), "reason": "月次"}).status_code == 403
    assert post(sup, "/console/reports/fsa/run", reason="月次報告").status_code == 303
    page = aud.get("/console/reports").text
    table = re.search(r'<table class="records" id="fsa-table">(.*?)</table>', page, re.S).group(1)
    assert "不正取引件数" in table and '<svg class="chart"' in page
    trades_row = re.search(r"<td>不正取引件数</td>(.*?)</tr>", table, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]+)</td>', trades_row)[-1] == "1"
    csv = aud.get("/console/reports/fsa.csv")
    assert csv.content.startswith("\ufeff".encode()) and "項目" in csv.text
    assert "初回報告" in aud.get("/console/reports/fsa-revisions.csv").text


def test_incident_draft_and_evidence_bundle(app, services, hijacked, tmp_path):
    aud, case, account = hijacked["aud"], hijacked["case"], hijacked["account"]
    post(hijacked["ana"], f"/console/cases/{case}/verdict", event_id=hijacked["first_event"],
         kind="analyst_fraud", reason="本人が否定")
    post(hijacked["ana"], f"/console/cases/{case}/contacts", channel="phone_out",
         summary="登録電話番号へ連絡し被害を確認", reason="初回連絡")
    draft = aud.get(f"/console/cases/{case}/incident")
    assert draft.status_code == 200 and "犯罪発生報告書" in draft.text
    assert "登録電話番号へ連絡し被害を確認" in draft.text
    # An export of a customer's records says why.
    assert aud.post(f"/console/accounts/{account}/evidence",
                    data={"csrf_token": console_token(aud)}).status_code == 422
    r = aud.post(f"/console/accounts/{account}/evidence",
                 data={"csrf_token": console_token(aud), "reason": "警察からの照会"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    path = tmp_path / "bundle.zip"
    path.write_bytes(r.content)
    assert verify_bundle(path).ok
    with services.db.read() as session:
        record = session.execute(select(AuditRecord).where(
            AuditRecord.action == "console:evidence_exported")).scalar_one()
    assert json.loads(record.payload)["reason"] == "警察からの照会"


def test_self_check_page(app, services, client):
    make_staff(services, client, name="aud", role="auditor")
    page = client.get("/console/self-check")
    assert page.status_code == 200
    rows = re.findall(r'data-item="([^"]+)" data-status="(met|missing|recommended)"', page.text)
    assert len(rows) >= 10
    assert int(re.search(r'id="count-met">(\d+)<', page.text).group(1)) == sum(
        1 for _i, s in rows if s == "met")
