"""Pages of the operations console: their own templates (``web/console/templates``)
and text catalogue (``web/console/i18n.py``), the site's formats (yen, JST)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates
from starlette.requests import Request
from starlette.responses import Response

from kabuguard.web.console.i18n import console_text
from kabuguard.web.i18n import format_jst, format_yen

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
env = TEMPLATES.env
env.globals.update(yen=format_yen)
env.filters.update(yen=format_yen, pretty_json=lambda v: json.dumps(
    v, ensure_ascii=False, indent=1, sort_keys=True))


def render_console(request: Request, template: str, *, lang: str, status_code: int = 200,
                   **context: Any) -> Response:
    """Render a console page with ``t()`` in the request's language and the staff
    session (``console``) when there is one."""

    def t(key: str, **params: Any) -> str:
        return console_text(key, lang, **params)

    def jst(ts: Any) -> str:
        return format_jst(ts, lang)

    return TEMPLATES.TemplateResponse(
        request, template,
        {"lang": lang, "t": t, "jst": jst,
         "console": getattr(request.state, "console", None), **context},
        status_code=status_code)
