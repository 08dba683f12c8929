"""The desk's actions on an account (freeze, unfreeze with four eyes, end sessions,
reset second factors), held orders and withdrawals, and the unfreeze approvals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.ops.actions import ReverificationInput
from kabuguard.ops.staff import Permission
from kabuguard.web.console.alerts import desk_of
from kabuguard.web.console.deps import CONSOLE_PREFIX, Decider, Viewer, Worker
from kabuguard.web.console.templating import render_console
from kabuguard.web.deps import LangDep

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
Field = Annotated[str, Form(max_length=2000)]


def back(case_id: str, notice: str) -> Response:
    """To the case the form came from, or to the list of cases."""
    target = (f"{CONSOLE_PREFIX}/cases/{case_id}?notice={notice}" if case_id.startswith("case_")
              and "/" not in case_id else f"{CONSOLE_PREFIX}/cases")
    return RedirectResponse(target, status_code=303)


def _reverification(callback: str, id_document: str, notes: str) -> ReverificationInput:
    return ReverificationInput(callback_registered_phone=callback == "yes",
                               id_document=id_document, notes=notes)


@router.post("/accounts/{account}/freeze")
def freeze(account: str, request: Request, operator: Worker,
           case_id: Annotated[str, Form(max_length=40)] = "") -> Response:
    desk_of(request).actions.freeze(account, operator=operator)
    return back(case_id, "frozen")


@router.post("/accounts/{account}/revoke-sessions")
def revoke_sessions(account: str, request: Request, operator: Worker,
                    case_id: Annotated[str, Form(max_length=40)] = "") -> Response:
    desk_of(request).actions.revoke_sessions(account, operator=operator)
    return back(case_id, "sessions_revoked")


@router.post("/accounts/{account}/unfreeze-requests")
def request_unfreeze(account: str, request: Request, operator: Worker,
                     id_document: Annotated[str, Form(max_length=30)],
                     notes: Field, callback: Annotated[str, Form(max_length=5)] = "",
                     case_id: Annotated[str, Form(max_length=40)] = "") -> Response:
    desk_of(request).actions.request_unfreeze(
        account, reverification=_reverification(callback, id_document, notes),
        case_id=case_id or None, operator=operator)
    return back(case_id, "unfreeze_requested")


@router.post("/accounts/{account}/mfa-reset")
def mfa_reset(account: str, request: Request, operator: Decider,
              id_document: Annotated[str, Form(max_length=30)], notes: Field,
              callback: Annotated[str, Form(max_length=5)] = "",
              case_id: Annotated[str, Form(max_length=40)] = "") -> Response:
    desk_of(request).actions.reset_mfa(
        account, reverification=_reverification(callback, id_document, notes),
        operator=operator)
    return back(case_id, "mfa_reset")


@router.get("/unfreezes")
def unfreezes(request: Request, operator: Viewer, lang: LangDep,
              status: str = "pending") -> Response:
    status = status if status in ("pending", "approved", "rejected", "all") else "pending"
    rows = desk_of(request).actions.unfreeze_requests(status=None if status == "all" else status)
    return render_console(request, "console/unfreezes.html", lang=lang, requests=rows,
                          status=status, can_decide=operator.may(Permission.DECIDE))


@router.post("/unfreezes/{request_id}/approve")
def approve_unfreeze(request_id: str, request: Request, operator: Decider,
                     case_id: Annotated[str, Form(max_length=40)] = "") -> Response:
    desk_of(request).actions.decide_unfreeze(request_id, approve=True, operator=operator)
    if case_id:
        return back(case_id, "unfreeze_approved")
    return RedirectResponse(f"{CONSOLE_PREFIX}/unfreezes", status_code=303)


@router.post("/unfreezes/{request_id}/reject")
def reject_unfreeze(request_id: str, request: Request, operator: Decider,
                    case_id: Annotated[str, Form(max_length=40)] = "") -> Response:
    desk_of(request).actions.decide_unfreeze(request_id, approve=False, operator=operator)
    if case_id:
        return back(case_id, "saved")
    return RedirectResponse(f"{CONSOLE_PREFIX}/unfreezes", status_code=303)


@router.get("/holds")
def holds(request: Request, operator: Viewer, lang: LangDep, account: str = "") -> Response:
    items = desk_of(request).held.list(account_id=account.strip()[:64] or None)
    return render_console(request, "console/holds.html", lang=lang, items=items,
                          account=account, can_work=operator.may(Permission.WORK))


@router.post("/holds/{kind}/{item_id}")
def decide_held(kind: str, item_id: str, request: Request, operator: Worker,
                decision: Annotated[str, Form(max_length=10)],
                case_id: Annotated[str, Form(max_length=40)] = "") -> Response:
    desk_of(request).actions.decide_held(kind, item_id, decision=decision, operator=operator)
    if case_id:
        return back(case_id, "saved")
    return RedirectResponse(f"{CONSOLE_PREFIX}/holds?notice=saved", status_code=303)
