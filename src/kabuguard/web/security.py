"""Cookies, CSRF, security headers and the request context every event carries."""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kabuguard.domain.errors import Forbidden
from kabuguard.domain.events import Channel, RequestContext

SESSION_COOKIE = "kg_session"
DEVICE_COOKIE = "kg_device"
LOGIN_CSRF_COOKIE = "kg_login_csrf"
DEVICE_MAX_AGE = 400 * 24 * 3600  # browsers cap cookie lifetime at 400 days

# No inline script or style: a CSP this strict stops injected script from running.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]
NO_STORE = (b"cache-control", b"no-store")


class SecurityHeaders:
    """Adds the security headers to every HTTP response.

    A plain ASGI middleware rather than Starlette's BaseHTTPMiddleware, which wraps
    every request in extra tasks and memory streams: measurable on the order path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Every page shows or changes a customer's money: nothing but static assets
        # may be kept by a browser or a shared proxy.
        cacheable = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [h for h in HEADERS if h[0] not in present]
                if not cacheable and NO_STORE[0] not in present:
                    extra.append(NO_STORE)
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    """Every cookie kabuguard sets is HttpOnly, Secure and SameSite=Strict.

    Browsers treat http://localhost as a secure context, so Secure cookies work in the
    demo too."""
    response.set_cookie(name, value, max_age=max_age, httponly=True, secure=True,
                        samesite="strict", path="/")


def device_id(request: Request) -> str | None:
    value = request.cookies.get(DEVICE_COOKIE)
    if value and 16 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum():
        return value
    return None


def ensure_device(request: Request, response: Response) -> str:
    """The long-lived device id cookie: the identity issue binds sessions to it."""
    existing = device_id(request)
    if existing:
        return existing
    value = getattr(request.state, "new_device", None) or secrets.token_urlsafe(24)
    request.state.new_device = value
    set_cookie(response, DEVICE_COOKIE, value, max_age=DEVICE_MAX_AGE)
    return value


def client_ip(request: Request) -> str:
    # Behind a proxy, uvicorn's --proxy-headers/--forwarded-allow-ips sets this
    # correctly; kabuguard itself never trusts X-Forwarded-For.
    return request.client.host if request.client else "0.0.0.0"  # noqa: S104


def request_context(request: Request, *, channel: Channel = Channel.WEB,
                    session: str | None = None) -> RequestContext:
    device = device_id(request) or getattr(request.state, "new_device", None)
    if channel != Channel.WEB:
        device = request.headers.get("x-device-id", "")[:64] or None
    # The step-up made for this very action, when the guard found one (web/guarding.py):
    # the action's event carries it as ``methods``.
    methods = getattr(request.state, "action_methods", None)
    return RequestContext(ip=client_ip(request), channel=channel, session=session,
                          device=device, user_agent=request.headers.get("user-agent", "")[:400] or None,
                          methods=methods)


def check_csrf(expected: str | None, given: str | None) -> None:
    """Constant-time check of a form's CSRF token against the session's."""
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise CsrfFailed("The form has expired or did not come from this site. "
                         "Please reload the page and try again.")


class CsrfFailed(Forbidden):
    code = "csrf_failed"
