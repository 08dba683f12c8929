"""通知設定: which notices the customer gets by e-mail, SMS and app push.

Security notices (``notify.interfaces.MANDATORY``) always go by e-mail: the page shows
that switch on and locked, and the service refuses to turn it off. Saving is guarded as
a contact change (``Action.CONTACT_CHANGE``): switching off the order and execution
e-mails is what an intruder with a stolen session would do before trading in the
account, so it needs what a change of the e-mail address needs.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.domain.errors import KabuguardError
from kabuguard.guard.actions import Action
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.notify.preferences import NotificationPreferences
from kabuguard.web.customer.forms import error_text, notice_text
from kabuguard.web.deps import LangDep, ServicesDep, WebSessionDep
from kabuguard.web.guarding import guarded_web
from kabuguard.web.security import check_csrf, request_context
from kabuguard.web.templating import render

router = APIRouter(include_in_schema=False)

MEDIA = ("email", "sms", "push")
NOTICES = {"saved": "notifications.notice_saved"}


@router.get("/security/notifications")
def notifications_page(request: Request, session: WebSessionDep, services: ServicesDep,
                       lang: LangDep, notice: str = "") -> Response:
    return _render(request, session, services.notification_preferences, lang,
                   notice=notice_text(notice, NOTICES, lang))


@router.post("/security/notifications",
             dependencies=[Depends(guarded_web(Action.CONTACT_CHANGE))])
async def save_notifications(request: Request, session: WebSessionDep,
                             services: ServicesDep, lang: LangDep,
                             csrf_token: Annotated[str, Form(max_length=200)] = ""
                             ) -> Response:
    check_csrf(session.csrf_token, csrf_token)
    ticked = {str(key) for key, value in (await request.form()).multi_items() if value == "on"}
    # The service works with the database: off the event loop.
    return await anyio.to_thread.run_sync(functools.partial(
        _save, request, session, services.notification_preferences, lang, ticked))


def _save(request: Request, session: SessionInfo, preferences: NotificationPreferences,
          lang: str, ticked: set[str]) -> Response:
    current = preferences.settings(session.customer_id)
    available = current["available"]
    # A checkbox left unticked is not sent: every kind on the page is set from the
    # form, for the media the customer can use (a greyed-out medium keeps its value).
    changes: dict[str, dict[str, object]] = {}
    for item in current["settings"]:
        kind = item["kind"]
        changes[kind] = {
            medium: (medium == "email" and item["mandatory"]) or f"{kind}.{medium}" in ticked
            for medium in MEDIA if available[medium]}
    try:
        preferences.update(session.customer_id, changes,
                           context=request_context(request, session=session.public_id))
    except KabuguardError as exc:
        return _render(request, session, preferences, lang, error=error_text(exc, lang),
                       status_code=exc.status)
    return RedirectResponse("/security/notifications?notice=saved", status_code=303)


def _render(request: Request, session: SessionInfo, preferences: NotificationPreferences,
            lang: str, *, notice: str | None = None, error: str | None = None,
            status_code: int = 200) -> Response:
    current: dict[str, Any] = preferences.settings(session.customer_id)
    return render(request, "customer/notifications.html", lang=lang, status_code=status_code,
                  settings=current["settings"], available=current["available"],
                  media=MEDIA, notice=notice, error=error, csrf_token=session.csrf_token)
