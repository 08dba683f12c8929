"""アカウントの復旧: the site's pages for a customer who lost the phone or the passkey
device (``identity/recovery.py`` holds the rules and says why).

Reached from the login page without a session: the forms carry a double-submit CSRF
token of their own (cookie ``kg_recovery_csrf``), as the login form does. The guard is
asked inside ``RecoveryService`` (``Action.RECOVERY``), at the level the flow proved,
since there is no session for a guard dependency to read yet.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.domain.errors import KabuguardError
from kabuguard.identity.interfaces import (
    CodeExpired,
    CodeFormatInvalid,
    LoginFailed,
    TooManyAttempts,
    WrongCode,
)
from kabuguard.identity.recovery import (
    CODE_DIGITS,
    RecoveryInvalid,
    RecoveryNotAvailable,
    RecoveryService,
    TooManyRecoveries,
)
from kabuguard.web.customer.display import cooling_off_hours
from kabuguard.web.customer.forms import error_text
from kabuguard.web.customer.routes import clear_cookie
from kabuguard.web.deps import (
    AuthenticatorAppDep,
    LangDep,
    PasskeysDep,
    RecoveryDep,
    WebSessionDep,
)
from kabuguard.web.i18n import translate
from kabuguard.web.security import (
    SESSION_COOKIE,
    check_csrf,
    ensure_device,
    request_context,
    set_cookie,
)
from kabuguard.web.templating import render

router = APIRouter(include_in_schema=False)

RECOVERY_CSRF_COOKIE = "kg_recovery_csrf"


@router.get("/recovery")
def recovery_page(request: Request, recovery: RecoveryDep, lang: LangDep) -> Response:
    return _start_form(request, recovery, lang, error=None, status_code=200)


@router.post("/recovery")
def recovery_start(
    request: Request, recovery: RecoveryDep, lang: LangDep,
    login_id: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    new_phone: Annotated[str, Form(max_length=30)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_csrf(request.cookies.get(RECOVERY_CSRF_COOKIE), csrf_token)
    try:
        started = recovery.start(login_id=login_id.strip(), password=password,
                                 new_phone=new_phone, context=request_context(request))
    except KabuguardError as exc:
        return _start_form(request, recovery, lang, error=_error(exc, lang),
                           form={"login_id": login_id, "new_phone": new_phone},
                           status_code=exc.status)
    return _code_form(request, lang, request_id=started.request_id,
                      expires_at=started.expires_at, csrf_token=csrf_token, error=None)


@router.post("/recovery/complete")
def recovery_complete(
    request: Request, recovery: RecoveryDep, lang: LangDep,
    request_id: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    expires_at: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_csrf(request.cookies.get(RECOVERY_CSRF_COOKIE), csrf_token)
    # The new session is bound to this browser's device id, as a login's is.
    probe = Response()
    ensure_device(request, probe)
    try:
        done = recovery.complete(request_id=request_id, code=code,
                                 context=request_context(request))
    except (WrongCode, CodeFormatInvalid) as exc:
        # The request is still alive (a dead one raises the errors below): try again.
        if not isinstance(exc, WrongCode) or exc.attempts_left:
            return _code_form(request, lang, request_id=request_id,
                              expires_at=_parse_time(expires_at), csrf_token=csrf_token,
                              error=_error(exc, lang), status_code=exc.status)
        return _start_form(request, recovery, lang, error=_error(exc, lang),
                           status_code=exc.status)
    except KabuguardError as exc:
        return _start_form(request, recovery, lang, error=_error(exc, lang),
                           status_code=exc.status)
    response = RedirectResponse("/recovery/done", status_code=303)
    set_cookie(response, SESSION_COOKIE, done.login.token)
    clear_cookie(response, RECOVERY_CSRF_COOKIE)
    ensure_device(request, response)
    return response


@router.get("/recovery/done")
def recovery_done(request: Request, session: WebSessionDep, passkeys: PasskeysDep,
                  app: AuthenticatorAppDep, lang: LangDep) -> Response:
    """What the customer does next: enrol a passkey on the new device, and review the
    passkeys the recovery kept (one they do not know means: call us)."""
    return render(request, "customer/recovery.html", lang=lang, step="done",
                  passkeys=passkeys.list(session.customer_id),
                  has_app=app.is_enrolled(session.customer_id))


def _start_form(request: Request, recovery: RecoveryService, lang: str, *, error: str | None,
                form: dict[str, str] | None = None, status_code: int) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "customer/recovery.html", lang=lang, step="start",
                      status_code=status_code, csrf_token=token, error=error,
                      form=form or {},
                      cooling_off_hours=cooling_off_hours(recovery.cooling_off),
                      ttl_minutes=int(recovery.ttl.total_seconds() // 60))
    set_cookie(response, RECOVERY_CSRF_COOKIE, token)
    ensure_device(request, response)
    return response


def _code_form(request: Request, lang: str, *, request_id: str, expires_at: datetime | None,
               csrf_token: str, error: str | None, status_code: int = 200) -> Response:
    return render(request, "customer/recovery.html", lang=lang, step="code",
                  status_code=status_code, csrf_token=csrf_token, error=error,
                  request_id=request_id, expires_at=expires_at, digits=CODE_DIGITS)


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _error(exc: KabuguardError, lang: str) -> str:
    """The customer's wording for what went wrong in a recovery step."""
    if isinstance(exc, LoginFailed):
        return translate("login.failed", lang)
    if isinstance(exc, WrongCode):
        return translate("recovery.code_wrong", lang, attempts_left=exc.attempts_left or 0)
    keys: list[tuple[type[KabuguardError], str]] = [
        (CodeFormatInvalid, "recovery.code_format"), (CodeExpired, "recovery.code_expired"),
        (TooManyAttempts, "recovery.code_too_many"), (RecoveryInvalid, "recovery.invalid"),
        (RecoveryNotAvailable, "recovery.not_available"),
        (TooManyRecoveries, "recovery.rate_limited"),
    ]
    for kind, key in keys:
        if isinstance(exc, kind):
            return translate(key, lang, digits=CODE_DIGITS)
    return error_text(exc, lang)
