"""Regulator reports and the guideline self-check: the FSA monthly table (chart, CSV,
revisions, a new run), the incident report draft of a case, the evidence bundle of an
account, and the JSDA/FSA checklist against the running configuration."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.ops.fsa_stats import FOOTNOTES, charts, fsa_table
from kabuguard.ops.self_check import running_config, self_check
from kabuguard.ops.staff import Permission
from kabuguard.web.console.alerts import desk_of
from kabuguard.web.console.compensation import document
from kabuguard.web.console.deps import CONSOLE_PREFIX, Decider, Exporter, Viewer
from kabuguard.web.console.templating import render_console
from kabuguard.web.deps import LangDep

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)


@router.get("/reports")
def reports_page(request: Request, operator: Viewer, lang: LangDep, notice: str = "") -> Response:
    view = desk_of(request).reports.fsa_view()
    revised = view.revised_months
    return render_console(
        request, "console/reports.html", lang=lang, view=view,
        table=fsa_table(view.figures) if view.figures else None,
        charts=charts(view.figures, revised=revised) if view.figures else (),
        footnotes=FOOTNOTES, notice=notice == "run",
        can_decide=operator.may(Permission.DECIDE))


@router.post("/reports/fsa/run")
async def run_fsa(request: Request, operator: Decider) -> Response:
    await anyio.to_thread.run_sync(lambda: desk_of(request).reports.run_fsa(operator=operator))
    return RedirectResponse(f"{CONSOLE_PREFIX}/reports?notice=run", status_code=303)


def _csv(text: str, filename: str) -> Response:
    # With a BOM: Excel in Japan reads it as UTF-8.
    return Response(("\ufeff" + text).encode(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


@router.get("/reports/fsa.csv")
def fsa_csv(request: Request, _operator: Viewer, exact: bool = False) -> Response:
    return _csv(desk_of(request).reports.fsa_csv(exact_yen=exact),
                "fsa-monthly-exact.csv" if exact else "fsa-monthly.csv")


@router.get("/reports/fsa-revisions.csv")
def fsa_revisions_csv(request: Request, _operator: Viewer) -> Response:
    return _csv(desk_of(request).reports.revisions_csv(), "fsa-revisions.csv")


@router.get("/cases/{case_id}/incident")
def incident_report(request: Request, case_id: str, operator: Viewer) -> Response:
    desk = desk_of(request)
    latest = next(iter(desk.compensation.proposals(case_id=case_id)), None)
    page = desk.reports.incident_html(
        case_id, operator=operator, compensation_status=latest.status if latest else None,
        compensation_yen=latest.total_yen if latest and latest.status == "approved" else None)
    return document(page, "text/html")


@router.post("/accounts/{account}/evidence")
def evidence_bundle(request: Request, account: str, operator: Exporter) -> Response:
    data, now = desk_of(request).reports.evidence_bundle(account, operator=operator)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return Response(data, media_type="application/zip", headers={
        "content-disposition": f'attachment; filename="evidence-{account}-{stamp}.zip"'})


@router.get("/self-check")
def self_check_page(request: Request, _operator: Viewer, lang: LangDep) -> Response:
    results = self_check(running_config(request.app.state.settings))
    counts = {status: sum(r.status == status for r in results)
              for status in ("met", "missing", "recommended")}
    return render_console(request, "console/self_check.html", lang=lang, results=results,
                          counts=counts)
