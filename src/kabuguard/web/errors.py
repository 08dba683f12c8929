"""The one place where exceptions become HTTP answers.

API paths get JSON ``{"error": code, "message": text, ...}``, and so do the site's own
JSON calls (``static/passkeys.js``), with the message in the customer's language; site
pages get a page in the customer's language, and an expired session sends them to the
login page. A site form stopped by the guard for a passkey gets the step-up page, which
carries the form so that the action resumes once the customer has confirmed.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from kabuguard.domain.assurance import Level
from kabuguard.domain.errors import KabuguardError
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import StepUpRequired
from kabuguard.identity.interfaces import (
    PasskeyEnrolmentRequired,
    PasswordChangeRequired,
    SessionInvalid,
    UnlockOnlySession,
)
from kabuguard.identity.outofband import Delivery
from kabuguard.web.console.errors import console_error, is_console
from kabuguard.web.deps import language_of
from kabuguard.web.i18n import MESSAGES, format_jst, translate
from kabuguard.web.templating import render

# Where a session whose password is known to be leaked is sent (identity/leaked.py).
PASSWORD_CHANGE_PAGE = "/security/password/required"


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def wants_json(request: Request) -> bool:
    """The site's script posts JSON; its forms never do."""
    return request.headers.get("content-type", "").startswith("application/json")


def localized_error(exc: KabuguardError, lang: str) -> str:
    """The customer-facing text of an error: the catalogue's wording when there is
    one for its code, otherwise the service's own (English) message."""
    key = f"error.{exc.code}"
    reason = exc.params.get("reason")
    if isinstance(reason, str) and f"{key}.{reason}" in MESSAGES:
        key = f"{key}.{reason}"  # a refusal worded for its cause (a recovery's cooling-off)
    elif lang == "en":
        return exc.message
    if key in MESSAGES:
        params = {k: v for k, v in exc.params.items() if isinstance(v, str | int)}
        if "level" in params:
            params["level_name"] = translate(f"level.{params['level']}", lang)
        if "action" in params:
            params["action_label"] = translate(f"action.{params['action']}", lang)
        if "until" in params:
            params["until_jst"] = format_jst(str(params["until"]), lang)
        try:
            return translate(key, lang, **params)
        except KeyError:
            return translate(key, "ja") if "{" not in MESSAGES[key]["ja"] else exc.message
    return exc.message


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KabuguardError)
    async def _domain_error(request: Request, exc: KabuguardError) -> Response:
        if is_console(request):
            return await console_error(request, exc)
        if is_api(request):
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)
        if wants_json(request):
            body = {**exc.to_dict(), "message": localized_error(exc, language_of(request))}
            return JSONResponse(body, status_code=exc.status)
        if (isinstance(exc, StepUpRequired) and request.method == "POST"
                and exc.params.get("level") in (Level.PHISHING_RESISTANT.label,
                                                Level.OTP.label)
                and getattr(request.state, "session", None) is not None):
            return await step_up_page(request, exc)
        if isinstance(exc, UnlockOnlySession):
            # The account is self-locked: this session's one page is the unlock page.
            return RedirectResponse("/unlock", status_code=303)
        if isinstance(exc, PasswordChangeRequired):
            return RedirectResponse(PASSWORD_CHANGE_PAGE, status_code=303)
        if isinstance(exc, PasskeyEnrolmentRequired):
            # The one thing this session can do is on the security page.
            return RedirectResponse("/security#passkeys", status_code=303)
        if isinstance(exc, SessionInvalid):
            target = request.url.path
            if request.url.query:
                target += "?" + request.url.query
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        lang = language_of(request)
        return render(request, "customer/error.html", lang=lang, status_code=exc.status,
                      message=localized_error(exc, lang))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        if is_console(request):
            return await console_error(request, exc)
        fields = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            fields.append({"field": ".".join(loc), "message": err.get("msg", "invalid")})
        text = "; ".join(f"{f['field']}: {f['message']}" if f["field"] else f["message"]
                         for f in fields) or "The request is not valid."
        if is_api(request):
            return JSONResponse({"error": "invalid_input", "message": text, "fields": fields},
                                status_code=422)
        lang = language_of(request)
        return render(request, "customer/error.html", lang=lang, status_code=422,
                      message=translate("error.invalid_input", lang) + " " + text)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_console(request):
            return await console_error(request, exc)
        if is_api(request):
            return JSONResponse({"error": "http_error", "message": str(exc.detail)},
                                status_code=exc.status_code)
        lang = language_of(request)
        message = (translate("error.not_found", lang) if exc.status_code == 404
                   else str(exc.detail))
        return render(request, "customer/error.html", lang=lang, status_code=exc.status_code,
                      message=message)


async def step_up_page(request: Request, exc: StepUpRequired) -> Response:
    """The passkey confirmation a guarded form asks for (HTTP 401), explaining in the
    customer's language which action needs it and why, with the submitted form carried
    in hidden fields that ``static/passkeys.js`` re-submits after the confirmation.

    The form's ``csrf_token`` is dropped and the session's put in its place: the token
    is the session row's and survives the new session id the step-up brings. Without a
    passkey the page says so and leads to /security, with the policy's interim
    alternative and its end date when there is one (JSDA 2025, J-M2 in JP-RULES.md)."""
    form = await request.form()
    fields = [(name, value) for name, value in form.multi_items()
              if name != "csrf_token" and isinstance(value, str)]
    return render_step_up(request, action=str(exc.params.get("action", "")),
                          level=str(exc.params.get("level")),
                          reasons=list(exc.params.get("reasons", [])), fields=fields,
                          target=request.url.path,
                          message=localized_error(exc, language_of(request)))


# Form fields of the step-up itself, never carried to the resumed action's form.
STEP_UP_FIELDS = ("csrf_token", "code", "emoji", "second_factor", "resume_to", "resume_action")
OTP_LEVEL_METHODS = ("totp", "email_otp", "sms_otp", "emoji")


def render_step_up(request: Request, *, action: str, level: str, reasons: list[str],
                   fields: list[tuple[str, str]], target: str, message: str,
                   error: str | None = None, status_code: int = 401,
                   delivery: Delivery | None = None) -> Response:
    """The step-up page: a passkey confirmation (``phishing_resistant``) or, for
    ``otp``, the methods the policy offers and the customer has (an app code, a code
    or emoji sent by e-mail or SMS), with the original form carried along. With a
    ``delivery`` (a code just sent or waiting for its answer) it shows its form."""
    lang = language_of(request)
    session = request.state.session
    services = request.app.state.services
    action_label = (translate(f"action.{action}", lang)
                    if action in set(Action) else action)
    interim = services.guard.policy.interim
    methods = [str(m) for m in services.identity.second_factors(session.customer_id)
               if str(m) in OTP_LEVEL_METHODS]
    if level == Level.OTP.label and delivery is None:
        delivery = services.outofband.pending_for_step_up(session)
    return render(request, "customer/step_up.html", lang=lang, status_code=status_code,
                  message=message, action=action, action_label=action_label, level=level,
                  reasons=reasons,
                  fields=[(k, v) for k, v in fields if k not in STEP_UP_FIELDS],
                  target=target, error=error,
                  csrf_token=session.csrf_token,
                  has_passkey=bool(services.passkeys.list(session.customer_id)),
                  has_app="totp" in methods, methods=methods, delivery=delivery,
                  delivery_minutes=delivery.minutes_left(services.identity.clock())
                  if delivery else None,
                  interim=interim,
                  interim_notice=(interim.notice_ja if lang == "ja" else interim.notice_en)
                  if interim else None)
