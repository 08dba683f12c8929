"""The customer web site (server-rendered, Japanese first, English switch).

Every page resolves the session from the cookie, and the account it acts on comes
from the session only: no URL or form field can name another customer's account.
Every POST carries the session's CSRF token (the login form a cookie-bound one).
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.domain.errors import KabuguardError
from kabuguard.guard.interfaces import StepUpRequired
from kabuguard.identity.interfaces import (
    UNLOCK_SCOPE,
    AccountLocked,
    LeakedPasswordNoSecondFactor,
    LoginFailed,
)
from kabuguard.identity.leaked import REASON_LEAKED
from kabuguard.identity.outofband import Delivery, OutOfBandService
from kabuguard.web.deps import (
    AuthenticatorAppDep,
    BrokerDep,
    IdentityDep,
    LangDep,
    OutOfBandDep,
    PasskeysDep,
    WebSessionDep,
)
from kabuguard.web.errors import localized_error
from kabuguard.web.i18n import LANG_COOKIE_NAME, LANGUAGES, translate
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
OTP_LEVEL_METHODS = ("totp", "email_otp", "sms_otp", "emoji")


def safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would help a phishing page.

    >>> safe_next("/orders"), safe_next("https://evil.example/"), safe_next("//evil")
    ('/orders', '/', '/')
    """
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/lang/{code}")
def switch_language(code: str, request: Request, next: str = "/") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if code in LANGUAGES:
        set_cookie(response, LANG_COOKIE_NAME, code, max_age=400 * 24 * 3600)
    return response


@router.get("/login")
def login_page(request: Request, lang: LangDep, next: str = "/", notice: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "customer/login.html", lang=lang, csrf_token=token,
                      next=safe_next(next), error=None,
                      notice=translate(f"login.{notice}", lang) if notice in
                      ("logged_out", "session_ended") else None)
    set_cookie(response, LOGIN_CSRF_COOKIE, token)
    ensure_device(request, response)
    return response


@router.post("/login")
def login_submit(
    request: Request, identity: IdentityDep, lang: LangDep,
    login_id: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token)
    probe = Response()
    ensure_device(request, probe)
    try:
        result = identity.login_password(login_id=login_id.strip(), password=password,
                                         context=request_context(request))
    except LoginFailed:
        return _login_again(request, lang, next, probe, error=translate("login.failed", lang))
    except AccountLocked as exc:
        # The customer locked the account (the password was right): say how to unlock.
        return _login_again(request, lang, next, probe, status_code=exc.status,
                            error=translate(f"selflock.refused_{exc.unlock}", lang))
    except LeakedPasswordNoSecondFactor:
        return _login_again(request, lang, next, probe, status_code=403,
                            error=translate("leaked.login_no_second_factor", lang))
    except StepUpRequired as exc:
        # The password was right but the policy wants more: the second step with the
        # single-use login challenge (an app code, or a code or emoji sent by e-mail
        # or SMS, as the policy offers and the customer has), or a passkey.
        # A password found in a leaked list gets its own wording (identity/leaked.py).
        prefix = "leaked." if REASON_LEAKED in exc.params.get("reasons", []) else "login."
        if str(exc.params.get("level")) != "otp":
            # An unusual login (the risk engine's) says why, and how to get a passkey
            # safely: from the usual device, or by phone (never a link).
            message = (translate("login.second_step_passkey_risk", lang,
                                 phone=request.app.state.settings.support_phone)
                       if exc.params.get("unusual") and prefix == "login."
                       else translate(prefix + "second_step_passkey", lang))
            return _login_again(request, lang, next, probe, status_code=401, error=message)
        methods = [m for m in exc.params.get("methods", ["totp"]) if m in OTP_LEVEL_METHODS]
        # A self-locked customer's code opens the unlock page only (identity/self_lock.py).
        key = ("selflock.refused_app" if exc.params.get("account_locked")
               else "leaked.second_step_otp" if prefix == "leaked."
               else _second_step_message(methods))
        return _login_again(request, lang, next, probe, status_code=401,
                            error=translate(key, lang),
                            login_challenge=exc.params.get("login_challenge"),
                            methods=methods)
    return _logged_in(result.token, next, probe)


def _second_step_message(methods: list[str]) -> str:
    return "login.second_step_otp" if methods == ["totp"] else "otp.second_step_choose"


@router.post("/login/code/send")
def login_send_code(
    request: Request, outofband: OutOfBandDep, lang: LangDep,
    login_challenge: Annotated[str, Form(max_length=40)] = "",
    second_factor: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """The login's second step: send a code (or emoji) by e-mail or SMS for the login
    challenge the password step returned (paced per customer; ``identity/outofband.py``)."""
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token)
    probe = Response()
    ensure_device(request, probe)
    try:
        delivery = outofband.send_for_login(login_challenge=login_challenge,
                                            method=second_factor,
                                            context=request_context(request))
    except LoginFailed:
        return _login_again(request, lang, next, probe,
                            error=translate("otp.login_expired", lang))
    except KabuguardError as exc:
        return _second_step(request, outofband, lang, next, probe, login_challenge,
                            error=localized_error(exc, lang), status_code=exc.status)
    return _second_step(request, outofband, lang, next, probe, login_challenge,
                        delivery=delivery, status_code=200)


@router.post("/login/code")
def login_code(
    request: Request, outofband: OutOfBandDep, lang: LangDep,
    login_challenge: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    emoji: Annotated[list[str] | None, Form(max_length=8)] = None,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """The login's second step: the code received, or the emoji picked in order. A
    wrong answer shows the same form again while the code has attempts left."""
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token)
    probe = Response()
    ensure_device(request, probe)
    picks = [pick for pick in emoji or [] if pick]
    try:
        result = outofband.login(login_challenge=login_challenge,
                                 answer=picks[:16] if emoji else code,
                                 context=request_context(request))
    except LoginFailed:
        return _login_again(request, lang, next, probe,
                            error=translate("otp.login_expired", lang))
    except KabuguardError as exc:
        return _second_step(request, outofband, lang, next, probe, login_challenge,
                            error=localized_error(exc, lang), status_code=exc.status)
    return _logged_in(result.token, next, probe)


def _second_step(request: Request, outofband: OutOfBandService, lang: str, next_path: str,
                 probe: Response, login_challenge: str, *, error: str | None = None,
                 delivery: Delivery | None = None, status_code: int = 401) -> Response:
    """The login's second step again: the form for the code waiting for an answer, or
    the choice of methods; the password form once the login itself has expired."""
    try:
        methods = outofband.methods_for_login(login_challenge)
    except LoginFailed:
        return _login_again(request, lang, next_path, probe,
                            error=translate("otp.login_expired", lang))
    delivery = delivery or outofband.pending_for_login(login_challenge)
    return _login_again(request, lang, next_path, probe, error=error,
                        login_challenge=login_challenge, methods=methods, delivery=delivery,
                        status_code=status_code)


@router.post("/login/totp")
def login_totp(
    request: Request, app: AuthenticatorAppDep, lang: LangDep,
    login_challenge: Annotated[str, Form(max_length=40)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """The login's second step on the site: the code from the customer's app."""
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token)
    probe = Response()
    ensure_device(request, probe)
    try:
        result = app.login(login_challenge=login_challenge, code=code,
                           context=request_context(request))
    except KabuguardError as exc:
        # The challenge is single-use: the customer starts again from the password.
        return _login_again(request, lang, next, probe, error=localized_error(exc, lang))
    if result.session.scope == UNLOCK_SCOPE:
        return _logged_in(result.token, "/unlock", probe)
    return _logged_in(result.token, next, probe)


def _login_again(request: Request, lang: str, next_path: str, probe: Response, *,
                 error: str | None, login_challenge: str | None = None,
                 methods: list[str] | None = None, delivery: Delivery | None = None,
                 status_code: int = 401) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "customer/login.html", lang=lang, status_code=status_code,
                      csrf_token=token, next=safe_next(next_path), error=error, notice=None,
                      login_challenge=login_challenge, methods=methods, delivery=delivery,
                      delivery_minutes=delivery.minutes_left(request.app.state.services
                                                             .identity.clock())
                      if delivery else None)
    set_cookie(response, LOGIN_CSRF_COOKIE, token)
    _copy_cookies(probe, response)
    return response


def _logged_in(token: str, next_path: str, probe: Response) -> Response:
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_cookie(response, SESSION_COOKIE, token)
    clear_cookie(response, LOGIN_CSRF_COOKIE)
    _copy_cookies(probe, response)
    return response


def clear_cookie(response: Response, name: str) -> None:
    """Delete a cookie with the attributes it was set with: Starlette's default
    deletion header is neither Secure nor HttpOnly and is SameSite=Lax."""
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite="strict")


def _copy_cookies(source: Response, target: Response) -> None:
    for key, value in source.raw_headers:
        if key == b"set-cookie":
            target.raw_headers.append((key, value))


@router.post("/logout")
def logout(request: Request, identity: IdentityDep, session: WebSessionDep,
           csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    check_csrf(session.csrf_token, csrf_token)
    identity.logout(request.cookies.get(SESSION_COOKIE, ""),
                    context=request_context(request, session=session.public_id))
    response = RedirectResponse("/login?notice=logged_out", status_code=303)
    clear_cookie(response, SESSION_COOKIE)
    return response


@router.get("/")
def portfolio_page(request: Request, session: WebSessionDep, broker: BrokerDep,
                   identity: IdentityDep, passkeys: PasskeysDep, lang: LangDep) -> Response:
    # The login before this session's, with time and place, so a customer notices a
    # login that was not theirs (a measure the JSDA guideline lists).
    previous = identity.previous_login(session.customer_id, before=session.created_at)
    has_passkey = bool(passkeys.list(session.customer_id))
    # JSDA 2025 (J-M2): an interim alternative to passkeys only with a concrete schedule
    # published to the customers who still use it; they see it until they enrol.
    interim = request.app.state.services.guard.policy.interim
    interim_notice = None
    if interim is not None and not has_passkey:
        interim_notice = interim.notice_ja if lang == "ja" else interim.notice_en
    return render(request, "customer/portfolio.html", lang=lang,
                  portfolio=broker.portfolio(session.account_id), previous=previous,
                  # JSDA 2025 asks firms to raise passkey adoption: prompt until one is set.
                  has_passkey=has_passkey, interim_notice=interim_notice)
