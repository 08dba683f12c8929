"""Console login, first-passkey enrolment and logout: passkeys only.

The login page sets a double-submit CSRF cookie (path /console) that the page's
script echoes in ``X-CSRF-Token`` on the JSON calls of the ceremony; a successful
ceremony sets the console session cookie (``kg_console``: HttpOnly, Secure,
SameSite=Strict, path /console).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, RedirectResponse, Response

from kabuguard.ops.staff import Permission, StaffSessionInvalid
from kabuguard.web.console.deps import (
    CONSOLE_COOKIE,
    CONSOLE_LOGIN_CSRF,
    CONSOLE_PREFIX,
    StaffServiceDep,
    clear_console_cookie,
    permitted,
    set_console_cookie,
)
from kabuguard.web.console.templating import render_console
from kabuguard.web.deps import LangDep
from kabuguard.web.security import check_csrf, request_context

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
NOTICES = ("session_ended", "logged_out")


def console_next(target: str | None) -> str:
    """Only console paths: the login must not become an open redirect.

    >>> console_next("/console/cases/c1"), console_next("https://x/console"), console_next("/")
    ('/console/cases/c1', '/console/', '/console/')
    >>> console_next("/console//evil.example")
    '/console/'
    """
    if (not target or not target.startswith(CONSOLE_PREFIX + "/") or "//" in target
            or "\\" in target):
        return CONSOLE_PREFIX + "/"
    return target


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CeremonyAnswer(_Strict):
    challenge_id: str = Field(min_length=1, max_length=200)
    credential: dict[str, Any]
    next: str = Field(default="/console/", max_length=500)


class EnrolOptions(_Strict):
    code: str = Field(min_length=1, max_length=40)


class EnrolAnswer(CeremonyAnswer):
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(default="", max_length=60)


def login_csrf(request: Request,
               x_csrf_token: Annotated[str, Header(max_length=200)] = "") -> None:
    check_csrf(request.cookies.get(CONSOLE_LOGIN_CSRF), x_csrf_token)


def _with_login_csrf(request: Request, template: str, lang: str, **context: Any) -> Response:
    token = secrets.token_urlsafe(32)
    response = render_console(request, template, lang=lang, login_csrf=token, **context)
    set_console_cookie(response, CONSOLE_LOGIN_CSRF, token)
    return response


@router.get("/login")
def login_page(request: Request, staff: StaffServiceDep, lang: LangDep,
               next: str = "/console/", notice: str = "") -> Response:
    try:
        staff.resolve(request.cookies.get(CONSOLE_COOKIE))
    except StaffSessionInvalid:
        pass
    else:
        return RedirectResponse(console_next(next), status_code=303)
    return _with_login_csrf(request, "console/login.html", lang, next=console_next(next),
                            notice=notice if notice in NOTICES else None)


@router.post("/login/options", dependencies=[Depends(login_csrf)])
def login_options(staff: StaffServiceDep) -> dict[str, Any]:
    return staff.login_begin()


@router.post("/login", dependencies=[Depends(login_csrf)])
def login(body: CeremonyAnswer, request: Request, staff: StaffServiceDep) -> Response:
    token, _session = staff.login_finish(challenge_id=body.challenge_id,
                                         credential=body.credential,
                                         context=request_context(request))
    response = JSONResponse({"redirect": console_next(body.next)})
    set_console_cookie(response, CONSOLE_COOKIE, token)
    clear_console_cookie(response, CONSOLE_LOGIN_CSRF)
    return response


@router.get("/enrol")
def enrol_page(request: Request, lang: LangDep) -> Response:
    return _with_login_csrf(request, "console/enrol.html", lang)


@router.post("/enrol/options", dependencies=[Depends(login_csrf)])
def enrol_options(body: EnrolOptions, request: Request, staff: StaffServiceDep
                  ) -> dict[str, Any]:
    return staff.enrol_begin(body.code, context=request_context(request))


@router.post("/enrol", dependencies=[Depends(login_csrf)])
def enrol(body: EnrolAnswer, request: Request, staff: StaffServiceDep) -> Response:
    token, _session = staff.enrol_finish(
        challenge_id=body.challenge_id, code=body.code, credential=body.credential,
        name=body.name, context=request_context(request))
    response = JSONResponse({"redirect": CONSOLE_PREFIX + "/"})
    set_console_cookie(response, CONSOLE_COOKIE, token)
    clear_console_cookie(response, CONSOLE_LOGIN_CSRF)
    return response


@router.post("/logout", dependencies=[Depends(permitted(Permission.VIEW))])
def logout(request: Request, staff: StaffServiceDep) -> Response:
    staff.logout(request.cookies.get(CONSOLE_COOKIE, ""), context=request_context(request))
    response = RedirectResponse(CONSOLE_PREFIX + "/login?notice=logged_out", status_code=303)
    clear_console_cookie(response, CONSOLE_COOKIE)
    return response
