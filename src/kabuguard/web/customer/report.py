"""「心当たりがない」: the customer tells the firm that a login or a notice was not
them (FSA supervisory guideline: accept customers' reports and act fast to limit the
damage).

One click, from the login history (security page) or the notification settings:
the report is journaled as a ``customer_report`` event (``report: not_me``, which the
risk engine answers by freezing the account) with an alert for the desk, every
session of the customer ends, and the account is frozen at once. It only takes
access away, so a session and its CSRF token suffice (an intruder who clicks it helps
the owner, as with the self-lock); the page then gives the number to call, never a
link.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.domain.errors import InvalidInput
from kabuguard.domain.events import Event, EventType
from kabuguard.domain.ids import new_id
from kabuguard.ops.alerts import add_alert
from kabuguard.web.customer.routes import clear_cookie
from kabuguard.web.deps import LangDep, ServicesDep, WebSessionDep
from kabuguard.web.security import SESSION_COOKIE, check_csrf, request_context
from kabuguard.web.templating import render

router = APIRouter(include_in_schema=False)
REASON = "customer_report_not_me"
ABOUT = ("login_history", "notice")


@router.post("/security/report-not-me")
def report_not_me(request: Request, session: WebSessionDep, services: ServicesDep,
                  csrf_token: Annotated[str, Form(max_length=200)] = "",
                  about: Annotated[str, Form(max_length=20)] = "login_history",
                  confirm: Annotated[str, Form(max_length=5)] = "") -> Response:
    check_csrf(session.csrf_token, csrf_token)
    if confirm != "yes":
        raise InvalidInput("Tick the box to confirm the account will be frozen.",
                           field="confirm")
    about = about if about in ABOUT else "login_history"
    context = request_context(request, session=session.public_id)
    now = services.identity.clock()
    event = Event(new_id("evt"), now, EventType.CUSTOMER_REPORT, session.account_id, context,
                  {"report": "not_me", "about": about})
    with services.db.write() as db_session:
        services.journal.record(db_session, event, actor=f"customer:{session.customer_id}")
        add_alert(db_session, now=now, dedupe_key=event.id, source="customer_report",
                  kind="not_me", account=session.account_id, symbol=None, event_id=event.id,
                  event_ts=now, event_type="customer_report", decision=None,
                  reasons=[REASON], detail={"about": about, "ip": context.ip,
                                            "channel": str(context.channel)})
        ended = services.identity.revoke_all_sessions(db_session, session.customer_id, now=now)
        services.journal.record_admin(db_session, ts=now, actor=f"customer:{session.customer_id}",
                                      action="sessions_ended_by_report",
                                      subject=session.customer_id,
                                      payload={"sessions": ended, "ip": context.ip})
    services.freezes.freeze(session.account_id, actor=f"customer:{session.customer_id}",
                            reasons=(REASON,), ip=context.ip)
    response = RedirectResponse("/reported", status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    return response


@router.get("/reported")
def reported(request: Request, services: ServicesDep, lang: LangDep) -> Response:
    """What to do next: the number to call (no session is left to show anything else)."""
    return render(request, "customer/reported.html", lang=lang,
                  phone=services.settings.support_phone)
