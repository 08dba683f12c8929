"""The one place where exceptions become HTTP answers.

API paths get JSON ``{"error": code, "message": text, ...}``; site pages get a page
in the customer's language, and an expired session sends them to the login page.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, RedirectResponse, Response

from kabuguard.domain.errors import KabuguardError
from kabuguard.identity.interfaces import SessionInvalid
from kabuguard.web.deps import language_of
from kabuguard.web.i18n import MESSAGES, translate
from kabuguard.web.templating import render


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def localized_error(exc: KabuguardError, lang: str) -> str:
    """The customer-facing text of an error: the catalogue's wording when there is
    one for its code, otherwise the service's own (English) message."""
    if lang == "en":
        return exc.message
    key = f"error.{exc.code}"
    if key in MESSAGES:
        params = {k: v for k, v in exc.params.items() if isinstance(v, str | int)}
        if "level" in params:
            params["level_name"] = translate(f"level.{params['level']}", lang)
        try:
            return translate(key, lang, **params)
        except KeyError:
            return translate(key, "ja") if "{" not in MESSAGES[key]["ja"] else exc.message
    return exc.message


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KabuguardError)
    async def _domain_error(request: Request, exc: KabuguardError) -> Response:
        if is_api(request):
            headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)
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
        if is_api(request):
            return JSONResponse({"error": "http_error", "message": str(exc.detail)},
                                status_code=exc.status_code)
        lang = language_of(request)
        message = (translate("error.not_found", lang) if exc.status_code == 404
                   else str(exc.detail))
        return render(request, "customer/error.html", lang=lang, status_code=exc.status_code,
                      message=message)
