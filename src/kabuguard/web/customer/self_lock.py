"""自己ロック on the site: lock from the security page (no step-up) or, without logging
in, with login id and password at /lock; unlock at /unlock from the unlock-only session
a login opens while the account is locked. The design is in ``identity/self_lock.py``."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.domain.errors import KabuguardError
from kabuguard.identity.interfaces import UNLOCK_SCOPE, LoginFailed, SessionInfo
from kabuguard.identity.self_lock import NotLocked, UnlockExpired
from kabuguard.web.customer.forms import error_text
from kabuguard.web.customer.routes import clear_cookie
from kabuguard.web.deps import (
    IdentityDep,
    LangDep,
    SelfLockDep,
    UnlockWebSessionDep,
    WebSessionDep,
)
from kabuguard.web.i18n import translate
from kabuguard.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    request_context,
    set_cookie,
)
from kabuguard.web.templating import render

router = APIRouter(include_in_schema=False)

CsrfField = Annotated[str, Form(max_length=200)]


@router.post("/security/lock")
def lock_from_session(request: Request, session: WebSessionDep, self_lock: SelfLockDep,
                      csrf_token: CsrfField = "") -> Response:
    """Lock at once: locking only takes access away, so it needs no step-up."""
    check_csrf(session.csrf_token, csrf_token)
    self_lock.lock(session.customer_id,
                   context=request_context(request, session=session.public_id))
    response = RedirectResponse("/lock?notice=locked", status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    return response


@router.get("/lock")
def lock_page(request: Request, lang: LangDep, notice: str = "") -> Response:
    return _lock_page(request, lang, locked=notice == "locked")


def _lock_page(request: Request, lang: str, *, locked: bool = False, error: str | None = None,
               status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "customer/lock.html", lang=lang, status_code=status_code,
                      csrf_token=token, locked=locked, error=error)
    set_cookie(response, LOGIN_CSRF_COOKIE, token)
    return response


@router.post("/lock")
def lock_with_password(request: Request, self_lock: SelfLockDep, lang: LangDep,
                       login_id: Annotated[str, Form(max_length=64)] = "",
                       password: Annotated[str, Form(max_length=256)] = "",
                       csrf_token: CsrfField = "") -> Response:
    """For a customer who fears someone is inside: the password proves who asks, with
    the login's own answer for a wrong id or password (no enumeration)."""
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token)
    try:
        self_lock.lock_with_password(login_id=login_id.strip(), password=password,
                                     context=request_context(request))
    except LoginFailed:
        return _lock_page(request, lang, error=translate("login.failed", lang),
                          status_code=401)
    except KabuguardError as exc:
        return _lock_page(request, lang, error=error_text(exc, lang), status_code=exc.status)
    response = RedirectResponse("/lock?notice=locked", status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    return response


@router.get("/unlock")
def unlock_page(request: Request, session: UnlockWebSessionDep, self_lock: SelfLockDep,
                lang: LangDep) -> Response:
    if session.scope != UNLOCK_SCOPE:
        return RedirectResponse("/security", status_code=303)
    return _unlock_page(request, session, self_lock, lang)


def _unlock_page(request: Request, session: SessionInfo, self_lock: SelfLockDep, lang: str,
                 *, error: str | None = None, expired: bool = False,
                 status_code: int = 200) -> Response:
    # No navigation or logout button: every other page refuses this session anyway.
    request.state.session = None
    return render(request, "customer/unlock.html", lang=lang, status_code=status_code,
                  csrf_token=session.csrf_token, error=error, expired=expired,
                  locked_since=self_lock.locked_at(session.customer_id))


@router.post("/unlock")
def unlock(request: Request, session: UnlockWebSessionDep, self_lock: SelfLockDep,
           lang: LangDep, csrf_token: CsrfField = "") -> Response:
    """Unlock from the unlock-only session (its login was the re-verification)."""
    check_csrf(session.csrf_token, csrf_token)
    try:
        token, _info = self_lock.unlock(session, request.cookies.get(SESSION_COOKIE, ""),
                                        context=request_context(request,
                                                                session=session.public_id))
    except NotLocked:
        return RedirectResponse("/security", status_code=303)
    except UnlockExpired as exc:
        response = _unlock_page(request, session, self_lock, lang, expired=True,
                                error=error_text(exc, lang), status_code=exc.status)
        clear_cookie(response, SESSION_COOKIE)
        return response
    response = RedirectResponse("/security?notice=unlocked", status_code=303)
    set_cookie(response, SESSION_COOKIE, token)
    return response


@router.post("/unlock/cancel")
def leave_locked(request: Request, session: UnlockWebSessionDep, identity: IdentityDep,
                 csrf_token: CsrfField = "") -> Response:
    """Leave the account locked and end this unlock-only session."""
    check_csrf(session.csrf_token, csrf_token)
    identity.logout(request.cookies.get(SESSION_COOKIE, ""),
                    context=request_context(request, session=session.public_id))
    response = RedirectResponse("/login?notice=logged_out", status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    return response
