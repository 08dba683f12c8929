"""セキュリティ設定: the customer's passkeys, and the site's passkey ceremonies.

The browser runs WebAuthn in ``static/passkeys.js`` and talks to the JSON endpoints
here under the cookie session: registration (guarded as ``Action.MFA_ENROLL``), the
username-less login on the login page, and the step-up the guard asks for before a
withdrawal or a bank account change (JSDA 2025: phishing-resistant MFA at login,
withdrawal and change of the withdrawal account). Each JSON call carries its CSRF
token in the ``X-CSRF-Token`` header: the session's token, or on the login page the
``kg_login_csrf`` double-submit cookie's, so that another site can neither enrol a
passkey in a customer's session nor log a customer into the attacker's account.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

import anyio
import segno
from fastapi import APIRouter, Depends, Form, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData
from starlette.responses import JSONResponse, RedirectResponse, Response

from kabuguard.domain.errors import KabuguardError
from kabuguard.guard.actions import Action
from kabuguard.identity.interfaces import ENROL_SCOPE, UNLOCK_SCOPE, SessionInfo
from kabuguard.identity.outofband import Delivery
from kabuguard.identity.passkeys import PasskeyService
from kabuguard.identity.services import IdentityService
from kabuguard.web.customer.display import HISTORY_MONTHS, history_row, months_ago
from kabuguard.web.customer.forms import error_text, notice_text
from kabuguard.web.customer.routes import clear_cookie, safe_next
from kabuguard.web.deps import (
    AuthenticatorAppDep,
    IdentityDep,
    LangDep,
    OutOfBandDep,
    PasskeysDep,
    WebSessionDep,
    get_web_session,
)
from kabuguard.web.errors import render_step_up
from kabuguard.web.guarding import guarded_web
from kabuguard.web.i18n import translate
from kabuguard.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    ensure_device,
    request_context,
    set_cookie,
)
from kabuguard.web.templating import render

router = APIRouter(include_in_schema=False)

CSRF_HEADER = "X-CSRF-Token"
NOTICES = {"registered": "security.notice_registered",
           "password_changed": "security.notice_password_changed",
           "session_revoked": "security.notice_session_revoked",
           "totp_enrolled": "security.notice_totp_enrolled",
           "mfa_removed": "removal.notice_removed",
           "mfa_removal_scheduled": "removal.notice_scheduled",
           "mfa_removal_cancelled": "removal.notice_cancelled",
           "unlocked": "unlock.notice_unlocked"}
HISTORY_PAGE_SIZE = 20
HISTORY_MAX_PAGE = 100


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PasskeyAnswer(Strict):
    challenge_id: str = Field(min_length=1, max_length=200)
    credential: dict[str, Any]


class PasskeyRegistration(PasskeyAnswer):
    name: str = Field(min_length=1, max_length=60)


class PasskeyLogin(PasskeyAnswer):
    next: str = Field(default="/", max_length=500)


CsrfHeader = Annotated[str, Header(alias=CSRF_HEADER, max_length=200)]


def session_csrf(session: Annotated[SessionInfo, Depends(get_web_session)],
                 x_csrf_token: CsrfHeader = "") -> None:
    """The session's CSRF token in the header; checked before the guard runs."""
    check_csrf(session.csrf_token, x_csrf_token)


def login_csrf(request: Request, x_csrf_token: CsrfHeader = "") -> None:
    """Login CSRF: the login page's double-submit cookie, echoed in the header."""
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), x_csrf_token)


def _token(request: Request) -> str:
    return request.cookies.get(SESSION_COOKIE, "")


# -- the security page -----------------------------------------------------------------
@router.get("/security")
def security_page(request: Request, session: WebSessionDep, passkeys: PasskeysDep,
                  identity: IdentityDep, lang: LangDep, notice: str = "",
                  history_page: Annotated[int, Query(ge=1, le=HISTORY_MAX_PAGE)] = 1
                  ) -> Response:
    return render_security(request, session, passkeys, identity, lang,
                           notice=notice_text(notice, NOTICES, lang),
                           history_page=history_page)


def render_security(request: Request, session: SessionInfo, passkeys: PasskeyService,
                    identity: IdentityService, lang: str, *, notice: str | None = None,
                    password_error: str | None = None, totp_error: str | None = None,
                    totp_secret: str | None = None, totp_uri: str | None = None,
                    totp_qr: str | None = None, removal_error: str | None = None,
                    history_page: int = 1, status_code: int = 200) -> Response:
    services = request.app.state.services
    app = services.authenticator_app
    # Listing applies any removal that has fallen due (lazily, besides the background
    # loop), so the page never shows a method that is already gone as usable.
    pending = services.removals.pending(session.customer_id)
    by_credential = {(r["method"], r["credential"]): r for r in pending}
    keys = [{**p, "removal": by_credential.get(("passkey", p["id"]))}
            for p in passkeys.list(session.customer_id)]
    totp_removal = next((r for r in pending if r["method"] == "totp"), None)
    since = months_ago(identity.clock(), HISTORY_MONTHS)
    rows = identity.login_history(session.customer_id, since=since,
                                  limit=HISTORY_PAGE_SIZE + 1,
                                  offset=(history_page - 1) * HISTORY_PAGE_SIZE)
    return render(request, "customer/security.html", lang=lang, status_code=status_code,
                  enrol_only=session.scope == ENROL_SCOPE,
                  totp_enrolled=app.is_enrolled(session.customer_id),
                  totp_error=totp_error, totp_secret=totp_secret, totp_uri=totp_uri,
                  totp_qr=totp_qr, totp_removal=totp_removal,
                  passkeys=keys, removals=pending, removal_error=removal_error,
                  sessions=identity.list_sessions(session.customer_id),
                  current_session=session.public_id, csrf_token=session.csrf_token,
                  notice=notice, password_error=password_error,
                  history=[history_row(r) for r in rows[:HISTORY_PAGE_SIZE]],
                  history_since=since, history_page=history_page,
                  history_more=len(rows) > HISTORY_PAGE_SIZE,
                  unlock_method=services.self_lock.unlock_method(session.customer_id))


@router.post("/security/password",
             dependencies=[Depends(guarded_web(Action.PASSWORD_CHANGE))])
def change_password(request: Request, session: WebSessionDep, passkeys: PasskeysDep,
                    identity: IdentityDep, lang: LangDep,
                    csrf_token: Annotated[str, Form(max_length=200)] = "",
                    current_password: Annotated[str, Form(max_length=256)] = "",
                    new_password: Annotated[str, Form(max_length=256)] = "") -> Response:
    check_csrf(session.csrf_token, csrf_token)
    try:
        identity.change_password(session, current=current_password, new=new_password,
                                 context=request_context(request, session=session.public_id))
    except KabuguardError as exc:
        return render_security(request, session, passkeys, identity, lang,
                                password_error=error_text(exc, lang), status_code=exc.status)
    return RedirectResponse("/security?notice=password_changed", status_code=303)


# -- the forced change after a leak (identity/leaked.py) -----------------------------------
@router.get("/security/password/required")
def password_change_required_page(request: Request, session: WebSessionDep,
                                  lang: LangDep) -> Response:
    """The only page a session may see while the customer's password is known to be
    leaked (web/deps.py sends every other request here)."""
    if not session.password_change_required:
        return RedirectResponse("/security", status_code=303)
    return render(request, "customer/password_required.html", lang=lang,
                  csrf_token=session.csrf_token, error=None)


@router.post("/security/password/required",
             dependencies=[Depends(guarded_web(Action.PASSWORD_CHANGE))])
def change_leaked_password(request: Request, session: WebSessionDep, identity: IdentityDep,
                           lang: LangDep,
                           csrf_token: Annotated[str, Form(max_length=200)] = "",
                           current_password: Annotated[str, Form(max_length=256)] = "",
                           new_password: Annotated[str, Form(max_length=256)] = "") -> Response:
    """The usual change (breach corpus, length, differs from the leaked one), which also
    resolves the customer's leaked-credential matches and lifts the restriction."""
    check_csrf(session.csrf_token, csrf_token)
    try:
        identity.change_password(session, current=current_password, new=new_password,
                                 context=request_context(request, session=session.public_id))
    except KabuguardError as exc:
        return render(request, "customer/password_required.html", lang=lang,
                      status_code=exc.status, csrf_token=session.csrf_token,
                      error=error_text(exc, lang))
    return RedirectResponse("/security?notice=password_changed", status_code=303)


@router.post("/security/totp", dependencies=[Depends(guarded_web(Action.MFA_ENROLL))])
def totp_start(request: Request, session: WebSessionDep, passkeys: PasskeysDep,
               identity: IdentityDep, app: AuthenticatorAppDep, lang: LangDep,
               csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(session.csrf_token, csrf_token)
    try:
        started = app.enroll_begin(session)
    except KabuguardError as exc:
        return render_security(request, session, passkeys, identity, lang,
                                password_error=None, totp_error=error_text(exc, lang),
                                status_code=exc.status)
    secret = started["secret"]
    # The QR code is drawn here as an SVG data URI (segno, pure Python): no third-party
    # QR service ever sees the secret, and the page's CSP allows data: images only.
    qr = segno.make(started["otpauth_uri"], error="m").svg_data_uri(scale=4, border=2)
    return render_security(request, session, passkeys, identity, lang,
                            totp_secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                            totp_uri=started["otpauth_uri"], totp_qr=qr)


@router.post("/security/totp/confirm",
             dependencies=[Depends(guarded_web(Action.MFA_ENROLL))])
def totp_confirm(request: Request, session: WebSessionDep, passkeys: PasskeysDep,
                 identity: IdentityDep, app: AuthenticatorAppDep, lang: LangDep,
                 csrf_token: Annotated[str, Form(max_length=200)] = "",
                 code: Annotated[str, Form(max_length=20)] = "") -> Response:
    check_csrf(session.csrf_token, csrf_token)
    try:
        app.enroll_confirm(session, code=code,
                           context=request_context(request, session=session.public_id))
    except KabuguardError as exc:
        return render_security(request, session, passkeys, identity, lang,
                                totp_error=error_text(exc, lang), status_code=exc.status)
    return RedirectResponse("/security?notice=totp_enrolled", status_code=303)


@router.post("/step-up/totp")
async def step_up_totp(request: Request, session: WebSessionDep, app: AuthenticatorAppDep,
                       lang: LangDep) -> Response:
    """Confirm with an authenticator-app code, then resume the action: a 307 redirect
    makes the browser send the carried form again, now with the fresh session."""
    form = await request.form()
    check_csrf(session.csrf_token, str(form.get("csrf_token") or ""))
    target = safe_next(str(form.get("resume_to") or "/"))
    try:
        token, _fresh = await anyio.to_thread.run_sync(functools.partial(
            app.step_up, session, _token(request), code=str(form.get("code") or ""),
            context=request_context(request, session=session.public_id)))
    except KabuguardError as exc:
        fields = [(k, v) for k, v in form.multi_items()
                  if k not in ("csrf_token", "code", "resume_to", "resume_action")
                  and isinstance(v, str)]
        action = str(form.get("resume_action") or "")
        return render_step_up(request, action=action if action in set(Action) else "",
                              level="otp", reasons=[],
                              fields=fields, target=target,
                              message=translate("error.step_up_required", lang,
                                                level_name=translate("level.otp", lang)),
                              error=error_text(exc, lang), status_code=exc.status)
    response = RedirectResponse(target, status_code=307)
    set_cookie(response, SESSION_COOKIE, token)
    return response


@router.post("/step-up/code/send")
async def step_up_send_code(request: Request, session: WebSessionDep, outofband: OutOfBandDep,
                            lang: LangDep) -> Response:
    """Send a code (or emoji) by e-mail or SMS for the action being confirmed, then
    show its form; the original form rides along in hidden fields."""
    form = await request.form()
    check_csrf(session.csrf_token, str(form.get("csrf_token") or ""))
    action = str(form.get("resume_action") or "")
    try:
        delivery = await anyio.to_thread.run_sync(functools.partial(
            outofband.send_for_step_up, session, method=str(form.get("second_factor") or ""),
            action=action, context=request_context(request, session=session.public_id)))
    except KabuguardError as exc:
        return _step_up_again(request, form, lang, error=error_text(exc, lang),
                              status_code=exc.status)
    return _step_up_again(request, form, lang, delivery=delivery, status_code=200)


@router.post("/step-up/code")
async def step_up_code(request: Request, session: WebSessionDep, outofband: OutOfBandDep,
                       lang: LangDep) -> Response:
    """Confirm with the code received or the emoji picked in order, then resume the
    action: a 307 redirect makes the browser send the carried form again, now with
    the fresh session."""
    form = await request.form()
    check_csrf(session.csrf_token, str(form.get("csrf_token") or ""))
    target = safe_next(str(form.get("resume_to") or "/"))
    picks = [v for v in form.getlist("emoji") if isinstance(v, str) and v][:16]
    answer: str | list[str] = picks if form.getlist("emoji") else str(form.get("code") or "")
    try:
        token, _fresh = await anyio.to_thread.run_sync(functools.partial(
            outofband.step_up, session, _token(request), answer=answer,
            context=request_context(request, session=session.public_id)))
    except KabuguardError as exc:
        return _step_up_again(request, form, lang, error=error_text(exc, lang),
                              status_code=exc.status)
    response = RedirectResponse(target, status_code=307)
    set_cookie(response, SESSION_COOKIE, token)
    return response


def _step_up_again(request: Request, form: FormData, lang: str, *, error: str | None = None,
                   delivery: Delivery | None = None, status_code: int = 401) -> Response:
    """The ``otp`` step-up page again, with the carried form (``render_step_up`` drops
    the step-up's own fields)."""
    action = str(form.get("resume_action") or "")
    fields = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return render_step_up(request, action=action if action in set(Action) else "",
                          level="otp", reasons=[], fields=fields,
                          target=safe_next(str(form.get("resume_to") or "/")),
                          message=translate("error.step_up_required", lang,
                                            level_name=translate("level.otp", lang)),
                          error=error, delivery=delivery, status_code=status_code)


@router.post("/security/sessions/{public_id}/revoke")
def revoke_session(public_id: str, request: Request, session: WebSessionDep,
                   identity: IdentityDep,
                   csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(session.csrf_token, csrf_token)
    identity.revoke_session(session.customer_id, public_id,
                            context=request_context(request, session=session.public_id))
    if public_id == session.public_id:
        return RedirectResponse("/login?notice=logged_out", status_code=303)
    return RedirectResponse("/security?notice=session_revoked", status_code=303)


@router.post("/security/logout-everywhere")
def logout_everywhere(request: Request, session: WebSessionDep, identity: IdentityDep,
                      csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(session.csrf_token, csrf_token)
    identity.logout_everywhere(session.customer_id,
                               context=request_context(request, session=session.public_id))
    response = RedirectResponse("/login?notice=logged_out", status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    return response


@router.post("/security/passkeys/options",
             dependencies=[Depends(session_csrf), Depends(guarded_web(Action.MFA_ENROLL))])
def registration_options(request: Request, session: WebSessionDep,
                         passkeys: PasskeysDep) -> dict[str, Any]:
    return passkeys.registration_begin(session, _token(request))


@router.post("/security/passkeys", status_code=201,
             dependencies=[Depends(session_csrf), Depends(guarded_web(Action.MFA_ENROLL))])
def register_passkey(body: PasskeyRegistration, request: Request, session: WebSessionDep,
                     passkeys: PasskeysDep) -> dict[str, Any]:
    return passkeys.registration_finish(
        session, _token(request), challenge_id=body.challenge_id, credential=body.credential,
        name=body.name, context=request_context(request, session=session.public_id))


# -- username-less login -----------------------------------------------------------------
@router.post("/login/passkey/options", dependencies=[Depends(login_csrf)])
def login_options(passkeys: PasskeysDep) -> dict[str, Any]:
    return passkeys.login_begin()


@router.post("/login/passkey", dependencies=[Depends(login_csrf)])
def login_with_passkey(body: PasskeyLogin, request: Request,
                       passkeys: PasskeysDep) -> Response:
    """Finish the passkey login; sets the session cookie as the password login does and
    tells the page where to go next."""
    # The new session is bound to the device cookie: a first visit gets its id now.
    ensure_device(request, Response())
    result = passkeys.login_finish(challenge_id=body.challenge_id, credential=body.credential,
                                   context=request_context(request))
    # A self-locked account's login opens an unlock-only session: its one page.
    unlock_only = result.session.scope == UNLOCK_SCOPE
    response = JSONResponse({"redirect": "/unlock" if unlock_only else safe_next(body.next)})
    ensure_device(request, response)  # the same id as above, now as a cookie
    set_cookie(response, SESSION_COOKIE, result.token)
    clear_cookie(response, LOGIN_CSRF_COOKIE)
    return response


# -- step-up -----------------------------------------------------------------------------
@router.post("/step-up/passkey/options", dependencies=[Depends(session_csrf)])
def step_up_options(request: Request, session: WebSessionDep,
                    passkeys: PasskeysDep) -> dict[str, Any]:
    return passkeys.step_up_begin(session, _token(request))


@router.post("/step-up/passkey", dependencies=[Depends(session_csrf)])
def step_up(body: PasskeyAnswer, request: Request, session: WebSessionDep,
            passkeys: PasskeysDep) -> Response:
    """Confirm with a passkey. The session gets a new id (the old cookie stops working)
    and keeps its CSRF token, so the form the page re-submits stays valid."""
    token, _fresh = passkeys.step_up_finish(
        session, _token(request), challenge_id=body.challenge_id, credential=body.credential,
        context=request_context(request, session=session.public_id))
    response = JSONResponse({"ok": True})
    set_cookie(response, SESSION_COOKIE, token)
    return response

