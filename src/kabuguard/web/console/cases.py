"""Cases per account: the list, the case page with its timeline, and the case's own
changes (assignment, status, the takeover marker, verdicts, the contact log)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.ops.console_models import CONTACT_CHANNELS, ID_DOCUMENTS
from kabuguard.ops.staff import Permission
from kabuguard.web.console.alerts import desk_of
from kabuguard.web.console.deps import CONSOLE_PREFIX, StaffServiceDep, Viewer, Worker
from kabuguard.web.console.templating import render_console
from kabuguard.web.deps import LangDep

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
NOTICES = ("saved", "opened", "frozen", "unfreeze_requested", "unfreeze_approved",
           "sessions_revoked", "mfa_reset", "verdict", "contact", "marker")


def to_case(case_id: str, notice: str, anchor: str = "") -> Response:
    return RedirectResponse(f"{CONSOLE_PREFIX}/cases/{case_id}?notice={notice}{anchor}",
                            status_code=303)


@router.get("/cases")
def case_list(request: Request, operator: Viewer, lang: LangDep, status: str = "open",
              account: str = "") -> Response:
    status = status if status in ("open", "closed", "all") else "open"
    cases = desk_of(request).cases.list(status=None if status == "all" else status,
                                        account=account.strip()[:64] or None)
    return render_console(request, "console/cases.html", lang=lang, cases=cases,
                          status=status, account=account,
                          can_work=operator.may(Permission.WORK))


@router.post("/cases")
def case_open(request: Request, operator: Worker,
              account: Annotated[str, Form(max_length=64)]) -> Response:
    case_id = desk_of(request).cases.open(account, operator=operator)
    return to_case(case_id, "opened")


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str, operator: Viewer, staff: StaffServiceDep,
              lang: LangDep, notice: str = "") -> Response:
    desk = desk_of(request)
    case = desk.cases.get(case_id)
    account = case.summary.account
    timeline = desk.cases.timeline(account, marker=case.takeover_event_id)
    return render_console(
        request, "console/case.html", lang=lang, case=case, timeline=timeline,
        staff=[s for s in staff.list() if s.disabled_at is None],
        channels=CONTACT_CHANNELS, notice=notice if notice in NOTICES else None,
        can_work=operator.may(Permission.WORK), can_decide=operator.may(Permission.DECIDE),
        verdicts_enabled=desk.decision_log is not None,
        state=desk.actions.state(account), held=desk.held.list(account_id=account),
        unfreezes=desk.actions.unfreeze_requests(account=account, status=None),
        id_documents=ID_DOCUMENTS)


@router.post("/cases/{case_id}/assign")
def case_assign(case_id: str, request: Request, operator: Worker,
                assignee: Annotated[str, Form(max_length=40)] = "") -> Response:
    desk_of(request).cases.assign(case_id, assignee=assignee or None, operator=operator)
    return to_case(case_id, "saved")


@router.post("/cases/{case_id}/status")
def case_status(case_id: str, request: Request, operator: Worker,
                status: Annotated[str, Form(max_length=10)]) -> Response:
    desk_of(request).cases.set_status(case_id, status=status, operator=operator)
    return to_case(case_id, "saved")


@router.post("/cases/{case_id}/marker")
def case_marker(case_id: str, request: Request, operator: Worker,
                event_id: Annotated[str, Form(max_length=100)] = "") -> Response:
    desk_of(request).cases.set_marker(case_id, event_id=event_id or None, operator=operator)
    return to_case(case_id, "marker", "#timeline")


@router.post("/cases/{case_id}/verdict")
def case_verdict(case_id: str, request: Request, operator: Worker,
                 event_id: Annotated[str, Form(max_length=100)],
                 kind: Annotated[str, Form(max_length=20)]) -> Response:
    desk_of(request).cases.verdict(case_id, event_id=event_id, kind=kind, operator=operator)
    return to_case(case_id, "verdict", "#timeline")


@router.post("/cases/{case_id}/contacts")
def case_contact(case_id: str, request: Request, operator: Worker,
                 channel: Annotated[str, Form(max_length=10)],
                 summary: Annotated[str, Form(max_length=4000)]) -> Response:
    desk_of(request).cases.add_contact(case_id, channel=channel, summary=summary,
                                       operator=operator)
    return to_case(case_id, "contact", "#contacts")
