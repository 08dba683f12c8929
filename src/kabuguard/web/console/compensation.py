"""Compensation: per case (choose a preset, negligence and cut-off, see the line items,
propose), the supervisors' decisions, the customer's statement (HTML and PDF), and
the firm's position from restorations with the 5% large-shareholding warning."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kabuguard.domain.errors import KabuguardError
from kabuguard.ops.compensation import CompensationResult
from kabuguard.ops.compensation_desk import parse_request
from kabuguard.ops.staff import Operator, Permission
from kabuguard.ops.statement import LINE_LABELS
from kabuguard.web.console.alerts import desk_of
from kabuguard.web.console.deps import CONSOLE_PREFIX, Decider, Viewer, Worker
from kabuguard.web.console.errors import console_message
from kabuguard.web.console.templating import render_console
from kabuguard.web.deps import LangDep

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
# A printed document, not a console page: its own inline styles, nothing else loads.
DOCUMENT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def document(body: str | bytes, media_type: str, *, filename: str | None = None) -> Response:
    headers = {"content-security-policy": DOCUMENT_CSP}
    if filename:
        headers["content-disposition"] = f'attachment; filename="{filename}"'
    if isinstance(body, str):
        return HTMLResponse(body, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/cases/{case_id}/compensation")
def case_compensation(request: Request, case_id: str, operator: Viewer,
                      lang: LangDep) -> Response:
    """The form, and a preview of the computation when the form was filled in (a GET:
    nothing is stored until the analyst proposes it)."""
    desk = desk_of(request)
    case = desk.cases.get(case_id)
    form = dict(request.query_params)
    result: CompensationResult | None = None
    error = None
    positions = []
    if form.get("preset"):
        try:
            result = desk.compensation.compute(case_id, parse_request(form), operator)
            # What the firm would hold, this restoration included: warn before 5%.
            positions = desk.compensation.firm_positions(with_result=result)
        except KabuguardError as exc:
            error = console_message(exc, lang)
    return render_console(
        request, "console/compensation_case.html", lang=lang, case=case, form=form,
        presets=desk.compensation.presets, result=result, error=error, positions=positions,
        line_labels=LINE_LABELS, proposals=desk.compensation.proposals(case_id=case_id),
        can_work=operator.may(Permission.WORK), can_decide=operator.may(Permission.DECIDE))


@router.post("/cases/{case_id}/compensation")
async def propose(request: Request, case_id: str, operator: Worker) -> Response:
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    desk_of(request).compensation.propose(case_id, parse_request(fields), operator=operator)
    return RedirectResponse(f"{CONSOLE_PREFIX}/cases/{case_id}/compensation?notice=proposed",
                            status_code=303)


def _decide(request: Request, proposal_id: str, action: str, operator: Operator,
            digest: str = "") -> Response:
    desk = desk_of(request)
    desk.compensation.decide(proposal_id, action=action, operator=operator,
                             expected_digest=digest)
    row, _result = desk.compensation.result(proposal_id)
    return RedirectResponse(f"{CONSOLE_PREFIX}/cases/{row.case_id}/compensation?notice={action}",
                            status_code=303)


@router.post("/compensation/{proposal_id}/approve")
def approve(request: Request, proposal_id: str, operator: Decider,
            digest: Annotated[str, Form(max_length=64)]) -> Response:
    return _decide(request, proposal_id, "approve", operator, digest)


@router.post("/compensation/{proposal_id}/reject")
def reject(request: Request, proposal_id: str, operator: Decider) -> Response:
    return _decide(request, proposal_id, "reject", operator)


@router.post("/compensation/{proposal_id}/withdraw")
def withdraw(request: Request, proposal_id: str, operator: Worker) -> Response:
    return _decide(request, proposal_id, "withdraw", operator)


@router.get("/compensation/{proposal_id}/statement.html")
def statement_html(request: Request, proposal_id: str, _operator: Viewer) -> Response:
    return document(desk_of(request).compensation.statement_html(proposal_id), "text/html")


@router.get("/compensation/{proposal_id}/statement.pdf")
def statement_pdf(request: Request, proposal_id: str, _operator: Viewer) -> Response:
    pdf = desk_of(request).compensation.statement_pdf(proposal_id)
    return document(pdf, "application/pdf", filename=f"statement-{proposal_id}.pdf")


@router.get("/compensation")
def compensation_overview(request: Request, operator: Viewer, lang: LangDep) -> Response:
    desk = desk_of(request)
    return render_console(request, "console/compensation.html", lang=lang,
                          proposals=desk.compensation.proposals(),
                          positions=desk.compensation.firm_positions())
