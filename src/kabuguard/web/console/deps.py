"""The console's dependencies: the staff session from its own cookie, the role's
permission, the CSRF token of every change and the written reason of every action.

A route declares what it needs with ``Depends(permitted(Permission.X))`` (or
``reason=True`` for an action, whose form must say why). The dependency runs before
the route reads anything: an anonymous caller is sent to the console's login, a
customer's session counts for nothing here (another cookie, another table), and a
role without the permission gets 403. ``tests/functional/test_console_authorization.py``
walks every console route with every kind of caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from kabuguard.ops.staff import (
    ConsoleSession,
    Operator,
    Permission,
    StaffService,
    check_reason,
    require,
)
from kabuguard.web.security import check_csrf, client_ip

CONSOLE_PREFIX = "/console"
CONSOLE_COOKIE = "kg_console"
CONSOLE_LOGIN_CSRF = "kg_console_login"


def set_console_cookie(response: Response, name: str, value: str) -> None:
    """Console cookies go to /console only, and are HttpOnly, Secure and
    SameSite=Strict like every kabuguard cookie."""
    response.set_cookie(name, value, httponly=True, secure=True, samesite="strict",
                        path=CONSOLE_PREFIX)


def clear_console_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path=CONSOLE_PREFIX, secure=True, httponly=True,
                           samesite="strict")


async def get_staff_service(request: Request) -> StaffService:
    return request.app.state.services.staff


StaffServiceDep = Annotated[StaffService, Depends(get_staff_service)]


def console_session(request: Request, staff: StaffServiceDep) -> ConsoleSession:
    """The live console session of the request (StaffSessionInvalid otherwise)."""
    info = staff.resolve(request.cookies.get(CONSOLE_COOKIE))
    request.state.console = info
    return info


ConsoleSessionDep = Annotated[ConsoleSession, Depends(console_session)]


def permitted(permission: Permission, *, reason: bool = False
              ) -> Callable[..., Awaitable[Operator]]:
    """A dependency: the operator, once the role allows ``permission``, a change
    carries the session's CSRF token (form field ``csrf_token`` or the
    ``X-CSRF-Token`` header) and, with ``reason``, the form says why."""

    async def dependency(request: Request, session: ConsoleSessionDep) -> Operator:
        require(session, permission)
        form = None
        if request.method not in ("GET", "HEAD"):
            given = request.headers.get("x-csrf-token")
            if given is None:
                form = await request.form()
                value = form.get("csrf_token")
                given = value if isinstance(value, str) else None
            check_csrf(session.csrf_token, given)
        text = ""
        if reason:
            form = form or await request.form()
            value = form.get("reason")
            text = check_reason(value if isinstance(value, str) else None)
        return Operator(session.staff_id, session.name, session.role, text, client_ip(request))

    dependency.console_permission = permission  # type: ignore[attr-defined]
    return dependency


Viewer = Annotated[Operator, Depends(permitted(Permission.VIEW))]
# Reading with a reason: exports of a customer's records (an evidence bundle).
Exporter = Annotated[Operator, Depends(permitted(Permission.VIEW, reason=True))]
Worker = Annotated[Operator, Depends(permitted(Permission.WORK, reason=True))]
Decider = Annotated[Operator, Depends(permitted(Permission.DECIDE, reason=True))]
StaffAdmin = Annotated[Operator, Depends(permitted(Permission.MANAGE_STAFF, reason=True))]
