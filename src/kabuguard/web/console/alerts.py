"""The alert queue and its triage."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.ops.console_models import ALERT_SOURCES, ALERT_STATUSES
from kabuguard.ops.desk import Desk
from kabuguard.ops.staff import Permission
from kabuguard.web.console.deps import CONSOLE_PREFIX, StaffServiceDep, Viewer, Worker
from kabuguard.web.console.templating import render_console
from kabuguard.web.deps import LangDep

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
KINDS = ("hold", "deny", "freeze", "revoke", "restrict", "not_me", "symbol_pump",
         "symbol_buy_surge", "pump_beneficiary")


def desk_of(request: Request) -> Desk:
    return request.app.state.desk


@router.get("/alerts")
async def alert_queue(request: Request, operator: Viewer, staff: StaffServiceDep,
                      lang: LangDep, status: str = "", source: str = "", kind: str = "",
                      account: str = "") -> Response:
    desk = desk_of(request)
    # The queue is brought up to date on every look, not only by the background loop.
    await anyio.to_thread.run_sync(desk.sync)
    filters = {"status": status if status in ALERT_STATUSES else "",
               "source": source if source in ALERT_SOURCES else "",
               "kind": kind if kind in KINDS else "", "account": account.strip()[:64]}
    alerts = await anyio.to_thread.run_sync(lambda: desk.alerts.queue(
        **{k: v or None for k, v in filters.items()}))
    return render_console(request, "console/alerts.html", lang=lang, alerts=alerts,
                          filters=filters, statuses=ALERT_STATUSES, sources=ALERT_SOURCES,
                          kinds=KINDS, counts=desk.alerts.counts(),
                          can_work=operator.may(Permission.WORK))


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, alert_id: str, operator: Viewer, staff: StaffServiceDep,
               lang: LangDep) -> Response:
    alert = desk_of(request).alerts.get(alert_id)
    return render_console(request, "console/alert.html", lang=lang, alert=alert,
                          statuses=ALERT_STATUSES,
                          staff=[s for s in staff.list() if s.disabled_at is None],
                          can_work=operator.may(Permission.WORK))


@router.post("/alerts/{alert_id}/triage")
def triage(alert_id: str, request: Request, operator: Worker,
           status: Annotated[str, Form(max_length=10)],
           assignee: Annotated[str, Form(max_length=40)] = "") -> Response:
    desk_of(request).alerts.triage(alert_id, status=status, assignee=assignee or None,
                                   operator=operator)
    return RedirectResponse(f"{CONSOLE_PREFIX}/alerts/{alert_id}?notice=saved", status_code=303)
