"""The authorization matrix of the operations console: every console route, asked by
an anonymous caller, a logged-in customer and each staff role, is allowed or denied
exactly as ``EXPECTED`` says. A console route missing from the table fails the test,
so a new page cannot ship without deciding who may use it."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from factories.customers import PASSWORD, make_customer
from kabuguard.domain.events import Channel, RequestContext
from kabuguard.ops.console_models import Staff

ALL = frozenset({"analyst", "supervisor", "admin", "auditor"})
WORK = frozenset({"analyst", "supervisor", "admin"})
DECIDE = frozenset({"supervisor", "admin"})
ADMIN = frozenset({"admin"})
PUBLIC = "public"  # no session needed (the login itself)
CALLERS = ("anonymous", "customer", "analyst", "supervisor", "admin", "auditor")

EXPECTED: dict[tuple[str, str], frozenset[str] | str] = {
    # login and enrolment
    ("GET", "/console"): PUBLIC,
    ("GET", "/console/login"): PUBLIC,
    ("POST", "/console/login/options"): PUBLIC,
    ("POST", "/console/login"): PUBLIC,
    ("GET", "/console/enrol"): PUBLIC,
    ("POST", "/console/enrol/options"): PUBLIC,
    ("POST", "/console/enrol"): PUBLIC,
    ("POST", "/console/logout"): ALL,
    # home, staff, audit
    ("GET", "/console/"): ALL,
    ("GET", "/console/staff"): ALL,
    ("POST", "/console/staff"): ADMIN,
    ("POST", "/console/staff/{staff_id}/enrolment"): ADMIN,
    ("POST", "/console/staff/{staff_id}/disable"): ADMIN,
    ("GET", "/console/audit"): ALL,
    # alerts and cases
    ("GET", "/console/alerts"): ALL,
    ("GET", "/console/alerts/{alert_id}"): ALL,
    ("POST", "/console/alerts/{alert_id}/triage"): WORK,
    ("GET", "/console/cases"): ALL,
    ("POST", "/console/cases"): WORK,
    ("GET", "/console/cases/{case_id}"): ALL,
    ("POST", "/console/cases/{case_id}/assign"): WORK,
    ("POST", "/console/cases/{case_id}/status"): WORK,
    ("POST", "/console/cases/{case_id}/marker"): WORK,
    ("POST", "/console/cases/{case_id}/verdict"): WORK,
    ("POST", "/console/cases/{case_id}/contacts"): WORK,
    # actions
    ("POST", "/console/accounts/{account}/freeze"): WORK,
    ("POST", "/console/accounts/{account}/revoke-sessions"): WORK,
    ("POST", "/console/accounts/{account}/unfreeze-requests"): WORK,
    ("POST", "/console/accounts/{account}/mfa-reset"): DECIDE,
    ("GET", "/console/unfreezes"): ALL,
    ("POST", "/console/unfreezes/{request_id}/approve"): DECIDE,
    ("POST", "/console/unfreezes/{request_id}/reject"): DECIDE,
    ("GET", "/console/holds"): ALL,
    ("POST", "/console/holds/{kind}/{item_id}"): WORK,
    ("GET", "/console/restrictions"): ALL,
    ("POST", "/console/restrictions"): WORK,
    ("POST", "/console/restrictions/{restriction_id}/lift"): WORK,
    ("POST", "/console/restrictions/import"): WORK,
    ("POST", "/console/restrictions/import/apply"): WORK,
    # compensation
    ("GET", "/console/cases/{case_id}/compensation"): ALL,
    ("POST", "/console/cases/{case_id}/compensation"): WORK,
    ("POST", "/console/compensation/{proposal_id}/approve"): DECIDE,
    ("POST", "/console/compensation/{proposal_id}/reject"): DECIDE,
    ("POST", "/console/compensation/{proposal_id}/withdraw"): WORK,
    ("GET", "/console/compensation/{proposal_id}/statement.html"): ALL,
    ("GET", "/console/compensation/{proposal_id}/statement.pdf"): ALL,
    ("GET", "/console/compensation"): ALL,
    # regulator reports, evidence, self-check
    ("GET", "/console/reports"): ALL,
    ("POST", "/console/reports/fsa/run"): DECIDE,
    ("GET", "/console/reports/fsa.csv"): ALL,
    ("GET", "/console/reports/fsa-revisions.csv"): ALL,
    ("GET", "/console/cases/{case_id}/incident"): ALL,
    ("POST", "/console/accounts/{account}/evidence"): ALL,
    ("GET", "/console/self-check"): ALL,
}


@pytest.fixture
def backend() -> str:
    # Authorization does not depend on the database; one backend is enough here.
    return "sqlite"


def console_routes(app) -> set[tuple[str, str]]:
    found = set()
    for ctx in iter_route_contexts(app.routes):
        route = ctx.route if isinstance(ctx.route, APIRoute) else ctx.original_route
        if isinstance(route, APIRoute) and ctx.path.startswith("/console"):
            found.update((m, ctx.path) for m in ctx.methods or () if m != "HEAD")
    return found


def new_session(services, role: str) -> tuple[str, str]:
    """A console session for a fresh staff member of ``role``: (cookie token, csrf)."""
    info, _code = services.staff.create(name=f"{role}-{len(services.staff.list())}",
                                        role=role, created_by="test")
    ctx = RequestContext(ip="127.0.0.1", channel=Channel.WEB)
    with services.db.write() as session:
        staff = session.get(Staff, info.id)
        token, console = services.staff._open(session, staff, ctx, services.identity.clock())
    return token, console.csrf_token


@pytest.fixture
def world(services, client):
    """Ids for the routes' path parameters, and a logged-in customer's cookie."""
    victim, _code = services.staff.create(name="victim", role="analyst", created_by="test")
    desk = client.app.state.desk
    desk.feed.sync_cross_account([{"kind": "pump_beneficiary", "symbol": "9999",
                                   "account": "M1", "ts_s": 1.7e9}])
    alert = desk.alerts.queue()[0]
    make_customer(services, login_id="matrixcustomer")
    page = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = client.post("/login", data={"login_id": "matrixcustomer", "password": PASSWORD,
                                    "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    account = make_customer(services, login_id="matrixvictim")
    return {"params": {"staff_id": victim.id, "alert_id": alert.id, "case_id": alert.case_id,
                       "account": account, "request_id": "unf_none", "kind": "order",
                       "item_id": "ord_none", "restriction_id": "rst_none",
                       "proposal_id": "comp_none"},
            "customer_cookie": client.cookies.get("kg_session")}


def is_denied(caller: str, response) -> bool:
    if caller in ("anonymous", "customer"):
        if response.status_code in (302, 303, 307):
            return response.headers["location"].startswith("/console/login")
        return (response.status_code == 401
                and "staff_session_invalid" in response.text)
    return response.status_code == 403 and ('data-code="console_forbidden"' in response.text
                                            or "console_forbidden" in response.text)


def test_every_console_route_is_in_the_matrix(app):
    served = console_routes(app)
    assert len(served) >= len(EXPECTED) // 2, "the walk found too few routes"
    assert served - set(EXPECTED) == set(), "console routes without an entry in EXPECTED"
    assert set(EXPECTED) - served == set(), "EXPECTED lists routes that no longer exist"


def test_the_authorization_matrix(app, services, world):
    failures = []
    for (method, path), allowed in sorted(EXPECTED.items()):
        url = path.format(**world["params"])
        for caller in CALLERS:
            client = TestClient(app, base_url="https://testserver")
            data: dict[str, str] = {"reason": "authorization matrix"}
            if caller == "customer":
                client.cookies.set("kg_session", world["customer_cookie"])
            elif caller != "anonymous":
                token, csrf = new_session(services, caller)
                client.cookies.set("kg_console", token, path="/console")
                data["csrf_token"] = csrf
            if method == "GET":
                response = client.get(url, follow_redirects=False)
            else:
                response = client.post(url, data=data, follow_redirects=False)
            if response.status_code >= 500:
                failures.append(f"{caller} {method} {url}: {response.status_code}")
                continue
            denied = is_denied(caller, response)
            expected_allowed = allowed == PUBLIC or caller in allowed
            if denied == expected_allowed:
                failures.append(f"{caller} {method} {url}: expected "
                                f"{'allowed' if expected_allowed else 'denied'}, got "
                                f"{response.status_code}")
    assert not failures, "\n".join(failures)
