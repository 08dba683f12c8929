"""登録情報: name, login id, contact details and their change, and the login history
of the last three months (what the customer checks for logins that were not theirs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.domain.errors import KabuguardError
from kabuguard.guard.actions import Action
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.identity.services import IdentityService
from kabuguard.web.customer.display import browser_label, mask_email, mask_phone, months_ago
from kabuguard.web.customer.forms import error_text, normalize_text, notice_text
from kabuguard.web.deps import IdentityDep, LangDep, WebSessionDep
from kabuguard.web.guarding import guarded_web
from kabuguard.web.security import check_csrf, request_context
from kabuguard.web.templating import render

router = APIRouter(include_in_schema=False)

HISTORY_MONTHS = 3
NOTICES = {"email_changed": "profile.notice_email_changed",
           "phone_changed": "profile.notice_phone_changed"}


@router.get("/profile")
def profile_page(request: Request, session: WebSessionDep, identity: IdentityDep,
                 lang: LangDep, notice: str = "") -> Response:
    return _render_profile(request, identity, session, lang,
                           notice=notice_text(notice, NOTICES, lang))


@router.post("/profile/email", dependencies=[Depends(guarded_web(Action.CONTACT_CHANGE))])
def change_email(request: Request, session: WebSessionDep, identity: IdentityDep,
                 lang: LangDep, csrf_token: Annotated[str, Form(max_length=200)] = "",
                 email: Annotated[str, Form(max_length=254)] = "") -> Response:
    return _change(request, identity, session, lang, csrf_token, "email", email)


@router.post("/profile/phone", dependencies=[Depends(guarded_web(Action.CONTACT_CHANGE))])
def change_phone(request: Request, session: WebSessionDep, identity: IdentityDep,
                 lang: LangDep, csrf_token: Annotated[str, Form(max_length=200)] = "",
                 phone: Annotated[str, Form(max_length=30)] = "") -> Response:
    return _change(request, identity, session, lang, csrf_token, "phone", phone)


def _change(request: Request, identity: IdentityService, session: SessionInfo, lang: str,
            csrf_token: str, field: str, value: str) -> Response:
    check_csrf(session.csrf_token, csrf_token)
    try:
        identity.change_contact(session.customer_id, field=field, value=normalize_text(value),
                                context=request_context(request, session=session.public_id))
    except KabuguardError as exc:
        return _render_profile(request, identity, session, lang, error=error_text(exc, lang),
                               field=field, form={field: value}, status_code=exc.status)
    return RedirectResponse(f"/profile?notice={field}_changed", status_code=303)


def _render_profile(request: Request, identity: IdentityService, session: SessionInfo,
                    lang: str, *, notice: str | None = None, error: str | None = None,
                    field: str | None = None, form: dict[str, str] | None = None,
                    status_code: int = 200) -> Response:
    profile = identity.profile(session.customer_id)
    since = months_ago(identity.clock(), HISTORY_MONTHS)
    history = [
        {"ts": r.ts, "ip": r.ip, "browser": browser_label(r.user_agent),
         "channel": r.channel, "success": r.success, "outcome": r.outcome}
        for r in identity.login_history(session.customer_id, since=since)
    ]
    return render(
        request, "customer/profile.html", lang=lang, status_code=status_code,
        profile=profile, email_masked=mask_email(profile["email"]),
        phone_masked=mask_phone(profile["phone"]), history=history, since=since,
        notice=notice, error=error, field=field, form=form or {},
        csrf_token=session.csrf_token)
