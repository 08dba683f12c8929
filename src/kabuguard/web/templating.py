"""The Jinja2 environment shared by every page, with the i18n and format helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import Response

from kabuguard.web.i18n import format_jst, format_price, format_yen, translate

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
env = TEMPLATES.env
env.globals.update(yen=format_yen, price=format_price)
env.filters.update(yen=format_yen)


def render(request: Request, template: str, *, lang: str, status_code: int = 200,
           **context: Any) -> Response:
    """Render a page with ``t()`` bound to the request's language."""

    def t(key: str, **params: Any) -> str:
        return translate(key, lang, **params)

    def jst(ts: Any) -> str:
        return format_jst(ts, lang)

    session = getattr(request.state, "session", None)
    return TEMPLATES.TemplateResponse(
        request, template,
        {"lang": lang, "t": t, "jst": jst, "session": session, **context},
        status_code=status_code,
    )
