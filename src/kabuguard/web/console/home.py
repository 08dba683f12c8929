"""The console's front page: today's and this month's figures with charts (the SVG
helpers of the simulator's report)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from kabuguard.ops.dashboard import Dashboard, DashboardService
from kabuguard.sim.report_charts import BLUE, ORANGE, VERMILLION, Series, bar_chart
from kabuguard.sim.report_format import format_count, format_count_short
from kabuguard.web.console.deps import CONSOLE_PREFIX, Viewer
from kabuguard.web.console.i18n import console_text
from kabuguard.web.console.templating import render_console
from kabuguard.web.deps import LangDep

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)


@router.get("")
def console_root() -> Response:
    return RedirectResponse(CONSOLE_PREFIX + "/", status_code=308)


def dashboard_charts(board: Dashboard, lang: str) -> list[Markup]:
    """Decisions day by day this month, and this month's alerts by reason."""
    def t(key: str) -> str:
        return console_text(key, lang)

    out = []
    if any(sum(c.values()) for _day, c in board.days):
        out.append(bar_chart(
            key="daily", title=t("dash.chart_daily"), categories=[d for d, _c in board.days],
            series=[Series(t("dash.logins"), [c["logins"] for _d, c in board.days], BLUE),
                    Series(t("dash.challenges"), [c["challenges"] for _d, c in board.days],
                           ORANGE),
                    Series(t("dash.holds"), [c["holds"] + c["denials"] for _d, c in board.days],
                           VERMILLION)],
            axis_format=format_count_short, value_format=format_count, whole=True))
    if board.month.alerts_by_reason:
        out.append(bar_chart(
            key="reasons", title=t("dash.chart_reasons"),
            categories=[r for r, _n in board.month.alerts_by_reason],
            series=[Series(t("dash.alerts"), [n for _r, n in board.month.alerts_by_reason],
                           VERMILLION)],
            axis_format=format_count_short, value_format=format_count, whole=True,
            horizontal=True))
    return out


@router.get("/")
def home(request: Request, _operator: Viewer, lang: LangDep) -> Response:
    board = DashboardService(request.app.state.services.db,
                             clock=request.app.state.services.identity.clock).build()
    return render_console(request, "console/dashboard.html", lang=lang, board=board,
                          charts=dashboard_charts(board, lang))
