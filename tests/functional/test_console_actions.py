"""The desk's actions through HTTP: freeze; unfreeze with four eyes and the recorded
re-verification; ending sessions; resetting second factors; held orders and
withdrawals released, cancelled or kept; symbol restrictions one by one and by bulk
import, honoured by the broker and by the risk engine alike; every action audited."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories.customers import PASSWORD, make_customer
from factories.events import Stream
from factories.staff import console_token, make_staff
from kabuguard.audit.models import AuditRecord
from kabuguard.broker.interfaces import OrderRequest, SymbolRestricted
from kabuguard.broker.models import Account, Order, Withdrawal
from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.events import Channel, RequestContext
from kabuguard.identity.models import Passkey
from kabuguard.notify.models import Notice
from kabuguard.ops.console_models import UnfreezeRequest

CTX = RequestContext(ip="192.0.2.10", channel=Channel.WEB)
REVERIFIED = {"callback": "yes", "id_document": "drivers_licence",
              "notes": "生年月日・住所を照合"}


def browser(app) -> TestClient:
    return TestClient(app, base_url="https://testserver")


def audit(services, action: str) -> list[dict]:
    with services.db.read() as session:
        rows = session.execute(select(AuditRecord).where(AuditRecord.action == action)
                               .order_by(AuditRecord.seq)).scalars().all()
    return [{"actor": r.actor, "subject": r.subject, **json.loads(r.payload)} for r in rows]


@pytest.fixture
def desk(app, client, services):
    """A customer with a case, an analyst and two supervisors, each in a browser."""
    account = make_customer(services, login_id="deskcust", holdings={"7203": 1000})
    case_id = app.state.desk.cases.open(account, operator=_system())
    people = {}
    for name, role in (("ana", "analyst"), ("sup1", "supervisor"), ("sup2", "supervisor")):
        people[name] = browser(app)
        make_staff(services, people[name], name=name, role=role)
    return {"account": account, "case": case_id, **people}


def _system():
    from kabuguard.ops.staff import Operator, Role

    return Operator("stf_system", "system", Role.ADMIN, "test set-up")


def post(client: TestClient, path: str, **data):
    return client.post(path, data={"csrf_token": console_token(client), **data},
                       follow_redirects=False)


def customer_login(app, login_id: str = "deskcust") -> dict:
    api = browser(app)
    r = api.post("/api/v1/sessions", json={"login_id": login_id, "password": PASSWORD})
    return {"client": api, "status": r.status_code,
            "headers": {"Authorization": f"Bearer {r.json().get('token')}"}}


def order(app, symbol: str = "7203", side: str = "buy") -> int:
    c = customer_login(app)
    if c["status"] != 201:
        return c["status"]  # a frozen account cannot even log in
    return c["client"].post("/api/v1/orders", headers=c["headers"], json={
        "symbol": symbol, "side": side, "quantity": 100}).status_code


def test_freeze_then_unfreeze_needs_a_second_person_and_the_reverification(app, services,
                                                                          desk):
    account, case, ana, sup1 = (desk[k] for k in ("account", "case", "ana", "sup1"))
    assert order(app) == 201
    r = post(ana, f"/console/accounts/{account}/freeze", case_id=case,
             reason="不審なログイン")
    assert r.status_code == 303 and "notice=frozen" in r.headers["location"]
    with services.db.read() as session:
        assert session.get(Account, account).status == "frozen"
    assert account in app.state.decision_api.log.guard.frozen
    assert order(app) == 403
    page = ana.get(f"/console/cases/{case}").text
    assert 'id="unfreeze-request-form"' in page and 'id="freeze-form"' not in page

    # No re-verification, no request.
    r = post(ana, f"/console/accounts/{account}/unfreeze-requests", case_id=case,
             reason="本人確認済み", id_document="drivers_licence", notes="照合")
    assert r.status_code == 422
    r = post(ana, f"/console/accounts/{account}/unfreeze-requests", case_id=case,
             reason="本人確認済み", **REVERIFIED)
    assert r.status_code == 303, r.text
    with services.db.read() as session:
        request_id = session.scalar(select(UnfreezeRequest.id))
    # The analyst cannot approve (role), nor can a supervisor who asked (four eyes).
    assert post(ana, f"/console/unfreezes/{request_id}/approve", reason="ok!").status_code == 403
    page = ana.get(f"/console/cases/{case}").text
    assert "approve-submit" not in page and "four-eyes" in page
    with services.db.read() as session:
        assert session.get(Account, account).status == "frozen"

    # A supervisor approves; the account trades again, here and in the engine.
    r = post(sup1, f"/console/unfreezes/{request_id}/approve", case_id=case,
             reason="書類確認済み")
    assert r.status_code == 303, r.text
    with services.db.read() as session:
        assert session.get(Account, account).status == "active"
        req = session.get(UnfreezeRequest, request_id)
    assert req.status == "approved"
    assert account not in app.state.decision_api.log.guard.frozen
    assert order(app) == 201
    # A rebuilt engine agrees (the desk's actions are in its log).
    app.state.decision_api.log.load()
    assert account not in app.state.decision_api.log.guard.frozen
    approved = audit(services, "console:unfreeze_approved")[-1]
    assert approved["reason"] == "書類確認済み" and approved["role"] == "supervisor"
    assert audit(services, "console:unfreeze_requested")[-1]["reverification"][
        "id_document"] == "drivers_licence"


def test_a_supervisor_cannot_approve_their_own_request(app, services, desk):
    account, sup1, sup2 = desk["account"], desk["sup1"], desk["sup2"]
    post(sup1, f"/console/accounts/{account}/freeze", reason="確認のため")
    post(sup1, f"/console/accounts/{account}/unfreeze-requests", reason="再開", **REVERIFIED)
    with services.db.read() as session:
        request_id = session.scalar(select(UnfreezeRequest.id))
    r = post(sup1, f"/console/unfreezes/{request_id}/approve", reason="自分で承認")
    assert r.status_code == 403
    assert post(sup2, f"/console/unfreezes/{request_id}/reject",
                reason="書類不一致").status_code == 303
    with services.db.read() as session:
        assert session.get(Account, account).status == "frozen"
        assert session.get(UnfreezeRequest, request_id).status == "rejected"


def test_end_every_session_and_reset_second_factors(app, services, desk):
    account, ana, sup1 = desk["account"], desk["ana"], desk["sup1"]
    c = customer_login(app)
    assert c["client"].get("/api/v1/portfolio", headers=c["headers"]).status_code == 200
    assert post(ana, f"/console/accounts/{account}/revoke-sessions",
                reason="乗っ取りの疑い").status_code == 303
    assert c["client"].get("/api/v1/portfolio", headers=c["headers"]).status_code == 401
    assert audit(services, "console:sessions_revoked")[-1]["sessions"] == 1

    with services.db.write() as session:
        session.add(Passkey(credential_id="cred-intruder", customer_id=account,
                            public_key=b"k", sign_count=0, backup_eligible=True,
                            backed_up=True, aaguid="0" * 36, name="intruder",
                            created_at=services.identity.clock()))
    # Analysts cannot; a supervisor can, with the re-verification.
    assert post(ana, f"/console/accounts/{account}/mfa-reset", reason="リセット",
                **REVERIFIED).status_code == 403
    assert post(sup1, f"/console/accounts/{account}/mfa-reset", reason="リセット",
                callback="yes", id_document="", notes="x y").status_code == 422
    assert post(sup1, f"/console/accounts/{account}/mfa-reset", reason="リセット",
                **REVERIFIED).status_code == 303
    with services.db.read() as session:
        assert session.get(Passkey, "cred-intruder").removed_at is not None
        # Written as a customer's own removal is: the notice planner tells the customer
        # and the engine's state forgets the method.
        removals = [json.loads(e.payload) for e in session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "mfa_change",
                                      OutboxEvent.account == account))]
        assert [(e["change"], e["method"], e["channel"]) for e in removals] == [
            ("remove", "passkey", "call_center")]
        assert session.scalars(select(Notice.kind).where(
            Notice.kind == "mfa_change")).all()
    assert audit(services, "console:mfa_reset")[-1]["removed"]["passkeys"] == 1


def test_held_orders_and_withdrawals(app, services, desk):
    account, ana = desk["account"], desk["ana"]
    broker = services.broker
    cash = broker.portfolio(account).cash_yen
    held = broker.place_order(account, OrderRequest("7203", "buy", 100), context=CTX,
                              hold=True).body
    second = broker.place_order(account, OrderRequest("7203", "buy", 100), context=CTX,
                                hold=True).body
    wd = broker.withdraw(account, 50_000, context=CTX, hold=True).body
    assert broker.portfolio(account).reserved_yen > 0
    page = ana.get("/console/holds").text
    assert page.count("data-held=") == 3

    # Release: executed through the broker.
    assert post(ana, f"/console/holds/order/{held['id']}", decision="release",
                reason="本人確認済み").status_code == 303
    with services.db.read() as session:
        assert session.get(Order, held["id"]).status == "filled"
    # Cancel: the reserved cash returns.
    assert post(ana, f"/console/holds/order/{second['id']}", decision="cancel",
                reason="不正").status_code == 303
    # Keep, then cancel the withdrawal.
    assert post(ana, f"/console/holds/withdrawal/{wd['id']}", decision="keep",
                reason="確認中").status_code == 303
    with services.db.read() as session:
        assert session.get(Withdrawal, wd["id"]).status == "held"
    assert post(ana, f"/console/holds/withdrawal/{wd['id']}", decision="cancel",
                reason="不正な出金").status_code == 303
    portfolio = broker.portfolio(account)
    with services.db.read() as session:
        assert session.get(Order, second["id"]).status == "cancelled"
        assert session.get(Withdrawal, wd["id"]).status == "cancelled"
    assert portfolio.reserved_yen == 0
    assert portfolio.cash_yen < cash  # the released buy was paid, nothing else moved
    released = audit(services, "console:held_order_release")
    kept = audit(services, "console:held_withdrawal_keep")
    assert [(a["item"], a["subject"], a["reason"]) for a in released + kept] == [
        (held["id"], account, "本人確認済み"), (wd["id"], account, "確認中")]
    # A decided item cannot be decided again.
    assert post(ana, f"/console/holds/order/{held['id']}", decision="cancel",
                reason="again").status_code == 409


def test_held_withdrawal_release_pays_out(app, services, desk):
    account, ana = desk["account"], desk["ana"]
    cash = services.broker.portfolio(account).cash_yen
    wd = services.broker.withdraw(account, 70_000, context=CTX, hold=True).body
    assert post(ana, f"/console/holds/withdrawal/{wd['id']}", decision="release",
                reason="本人確認済み").status_code == 303
    portfolio = services.broker.portfolio(account)
    assert (portfolio.cash_yen, portfolio.reserved_yen) == (cash - 70_000, 0)


def test_a_restricted_symbol_is_refused_by_the_broker_and_the_engine(app, client, services,
                                                                     desk):
    ana = desk["ana"]
    _i, key = app.state.decision_api.keys.create(name="gw", scopes=(), created_by="t")
    headers = {"Authorization": f"Bearer {key}"}
    assert post(ana, "/console/restrictions", symbol="７２０３", side="buy",
                reason="つり上げの疑い").status_code == 303
    assert services.restrictions.is_restricted("7203", "buy")
    assert order(app, "7203", "buy") == 403
    assert order(app, "7203", "sell") == 201  # selling stays possible
    s = Stream()
    decisions = client.post("/api/v1/events", headers=headers, json={"events": [
        s.login(["password", "email_otp"]), s.order(symbol="7203", side="buy")]}).json()
    assert decisions["decisions"][1]["reasons"] == ["symbol_restricted"]
    # The broker refuses even with the guard out of the picture.
    with pytest.raises(SymbolRestricted):
        services.broker.place_order(desk["account"], OrderRequest("7203", "buy", 100),
                                    context=CTX)
    page = ana.get("/console/restrictions").text
    rid = re.search(r'action="/console/restrictions/([^/"]+)/lift"', page).group(1)
    assert post(ana, f"/console/restrictions/{rid}/lift", reason="解除").status_code == 303
    assert not services.restrictions.is_restricted("7203", "buy")
    assert order(app, "7203", "buy") == 201
    decision = client.post("/api/v1/events", headers=headers,
                           json=s.order(symbol="7203", side="buy")).json()
    assert "symbol_restricted" not in decision["reasons"]


def test_bulk_import_of_over_a_thousand_symbols(app, services, desk):
    ana = desk["ana"]
    symbols = services.broker.symbols
    chinese = [c for c, s in symbols.items() if str(s.market) in ("SSE", "SZSE", "HKEX")]
    others = [c for c, s in symbols.items() if str(s.market).startswith("TSE")][:700]
    listing = "symbol,name\n" + "\n".join(f"{c},x" for c in chinese + others)
    listing += "\nNOPE1,unknown\n999999.SS,unknown\n" + chinese[0] + ",again\n"
    page = ana.post("/console/restrictions/import", data={
        "csrf_token": console_token(ana), "reason": "中国株の買付停止"},
        files={"file": ("list.csv", listing.encode(), "text/csv")})
    assert page.status_code == 200, page.text
    known = len(chinese) + len(others)
    assert known > 1000
    assert re.search(r'id="import-known">([\d,]+)<', page.text).group(1) == f"{known:,}"
    assert "NOPE1" in page.text and "999999.SS" in page.text
    assert not services.restrictions.is_restricted(chinese[0], "buy")  # nothing changed yet
    codes = re.search(r'<textarea name="symbols"[^>]*>([^<]*)</textarea>', page.text).group(1)
    r = post(ana, "/console/restrictions/import/apply", symbols=codes, reason="中国株の買付停止")
    assert r.status_code == 303 and f"count={known}" in r.headers["location"]
    assert all(services.restrictions.is_restricted(c, "buy") for c in chinese + others)
    guard = app.state.decision_api.log.guard
    assert {(c, "buy") for c in chinese} <= guard.restricted
    record = audit(services, "console:symbols_restricted")[-1]
    assert record["count"] == known and record["source"] == "import"
    # Unknown codes in the applied list are refused whole.
    r = post(ana, "/console/restrictions/import/apply", symbols="NOPE1", reason="x y")
    assert r.status_code == 422
