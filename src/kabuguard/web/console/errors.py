"""How errors look on console paths: a console page (or JSON for the page scripts'
calls), and the console's own login for a missing or ended staff session, never the
customer site's."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from kabuguard.domain.errors import KabuguardError
from kabuguard.ops.staff import StaffSessionInvalid
from kabuguard.web.console.i18n import CONSOLE_MESSAGES, console_text
from kabuguard.web.console.templating import render_console
from kabuguard.web.deps import language_of

CONSOLE_PREFIX = "/console"


def is_console(request: Request) -> bool:
    path = request.url.path
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


def _wants_json(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("application/json")


def console_message(exc: KabuguardError, lang: str) -> str:
    """The console's wording of a domain error (the service's English otherwise)."""
    if exc.code == "invalid_input" and exc.params.get("field") == "reason":
        return console_text("error.reason_required", lang)
    key = f"error.{exc.code}"
    if key in CONSOLE_MESSAGES and "{" not in CONSOLE_MESSAGES[key]["ja"]:
        return console_text(key, lang)
    return exc.message


async def console_error(request: Request, exc: Exception) -> Response:
    lang = language_of(request)
    if isinstance(exc, StaffSessionInvalid):
        if _wants_json(request):
            return JSONResponse({**exc.to_dict()}, status_code=401)
        target = request.url.path if request.method == "GET" else CONSOLE_PREFIX + "/"
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(f"{CONSOLE_PREFIX}/login?next={quote(target, safe='')}"
                                "&notice=session_ended", status_code=303)
    if isinstance(exc, KabuguardError):
        status, code = exc.status, exc.code
        if exc.code == "console_forbidden":
            console = getattr(request.state, "console", None)
            role = str(console.role) if console is not None else ""
            message = console_text("error.console_forbidden", lang,
                                   role=console_text(f"role.{role}", lang) if role else "—")
        else:
            message = console_message(exc, lang)
    elif isinstance(exc, RequestValidationError):
        status, code = 422, "invalid_input"
        fields = [".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path"))
                  + ": " + str(e.get("msg", "")) for e in exc.errors()]
        message = "; ".join(fields) or "The request is not valid."
    elif isinstance(exc, StarletteHTTPException):
        status, code = exc.status_code, "http_error"
        message = console_text("error.not_found", lang) if status == 404 else str(exc.detail)
    else:  # pragma: no cover - only the handlers above call this
        raise exc
    if _wants_json(request):
        return JSONResponse({"error": code, "message": message}, status_code=status)
    return render_console(request, "console/error.html", lang=lang, status_code=status,
                          message=message, code=code)
