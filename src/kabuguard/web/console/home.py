"""The console's front page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.web.console.deps import CONSOLE_PREFIX, Viewer
from kabuguard.web.console.templating import render_console
from kabuguard.web.deps import LangDep

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)


@router.get("")
def console_root() -> Response:
    return RedirectResponse(CONSOLE_PREFIX + "/", status_code=308)


@router.get("/")
def home(request: Request, _operator: Viewer, lang: LangDep) -> Response:
    return render_console(request, "console/home.html", lang=lang)
