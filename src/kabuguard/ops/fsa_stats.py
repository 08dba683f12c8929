"""The FSA's monthly statistics of unauthorised access and trading, from the events.

金融庁「インターネット取引サービスへの不正アクセス・不正取引による被害が急増しています」
publishes a table of five rows a month plus a total (JP-RULES.md §3, R-1..R-5):
不正取引が発生した証券会社数（社）, 不正アクセス件数, 不正取引件数, 売却金額, 買付金額
(約○億円), with footnotes that the figures are provisional, that amounts accumulate within
an account and that they are not customer losses. A firm reports its own figures; this
module computes them from confirmed fraud (:mod:`kabuguard.ops.fraud`) as follows,
by the JST month of the event:

- **不正アクセス件数**: sessions a third party used: a fraudulent successful login that
  went through, or a customer's own session that carried a fraudulent action that went
  through (a session stolen by an infostealer never logs in), counted once per session
  in the month it was first used; an action outside any session (a recovery request)
  is no access;
- **不正取引件数**: fraudulent orders that went through;
- **売却金額 / 買付金額**: their ``notional_jpy`` (estimated at entry), sells and buys
  apart, never summed (R-5);
- **証券会社数**: firms with at least one such trade (an event's ``firm`` field, else the
  reporting firm), the total column counting each firm once.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from markupsafe import Markup

from kabuguard.ops.fraud import FraudSet, jst_month
from kabuguard.sim import report_format as fmt
from kabuguard.sim.report_charts import BLUE, GREEN, ORANGE, PURPLE, Series, bar_chart

SELF_FIRM = "self"
TOTAL = "合計"
OKU = Decimal(100_000_000)
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

ROW_LABELS = (
    ("firms", "不正取引が発生した証券会社数（社）"),
    ("accesses", "不正アクセス件数"),
    ("trades", "不正取引件数"),
    ("sell_jpy", "売却金額"),
    ("buy_jpy", "買付金額"),
)
FIELDS = tuple(name for name, _ in ROW_LABELS)
FIELD_LABELS: Mapping[str, str] = dict(ROW_LABELS)

# The FSA's three notes said for one firm's own figures (JP-RULES.md §3, R-3), and a
# fourth giving this module's definitions, so a reader can recount them.
FOOTNOTES: tuple[str, ...] = (
    "※1 当社が現時点で把握した件数・金額を集計した暫定値であり、まだ判明していない不正アクセス・"
    "不正取引が存在する可能性がある。後から判明した事案により過去の月の数値を改訂した場合は、"
    "改訂履歴に改訂前後の数値と理由を記載する。",
    "※2 売却金額及び買付金額は、被害口座内における不正取引の金額（注文受付時の見積約定代金）を"
    "合計したものであり、同一口座内で不正取引が繰り返された場合は売買金額が累積する。",
    "※3 多くの場合、不正行為者は被害口座内の株式等を売却し、その売却代金で国内外の小型株等を"
    "買い付ける。表中の売却金額・買付金額はこのような不正な売却・買付代金の総額であり、"
    "不正取引により生じた顧客の損失額とは一致しない。",
    "※4 不正アクセス件数は第三者が利用したセッションの数（不正なログインのほか、窃取された"
    "セッションの利用を含む）、不正取引件数は受け付けられた不正な注文の数。"
    "いずれも不正と確認された事象に限り、日本時間の月で集計する。",
)


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """One column of the table. ``event_ids``: the fraudulent events that went through
    in the month (what a revision compares to say why a month changed)."""

    month: str
    firms: int = 0
    accesses: int = 0
    trades: int = 0
    sell_jpy: int = 0
    buy_jpy: int = 0
    firm_names: frozenset[str] = frozenset()
    event_ids: frozenset[str] = frozenset()

    def values(self) -> dict[str, int]:
        """The five figures by field name."""
        return {"firms": self.firms, "accesses": self.accesses, "trades": self.trades,
                "sell_jpy": self.sell_jpy, "buy_jpy": self.buy_jpy}


@dataclass(slots=True)
class _Tally:
    accesses: int = 0
    trades: int = 0
    sell_jpy: int = 0
    buy_jpy: int = 0
    firms: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)


def monthly_figures(events: Iterable[Mapping[str, Any]], fraud: FraudSet, *,
                    through: Container[str] | None = None, firm: str = SELF_FIRM,
                    months: Iterable[str] = ()) -> list[MonthFigures]:
    """The table's columns, oldest month first, by the module docstring's definitions.

    ``events`` in stream order; ``through`` the ids that went through
    (:func:`kabuguard.ops.fraud.went_through`; None: all did); ``months`` adds months to
    show even without fraud (zeros)."""
    months = list(months)
    tallies: dict[str, _Tally] = {m: _Tally() for m in months}
    sessions_seen: set[str] = set()
    is_fraud = fraud.is_fraud
    for e in events:
        event_id = e["id"]
        if not is_fraud(event_id) or (through is not None and event_id not in through):
            continue
        kind = e["type"]
        if kind == "login" and e.get("outcome") != "success":
            continue  # a refused attempt is not an access
        month = jst_month(e["ts"])
        tally = tallies.get(month)
        if tally is None:
            tally = tallies[month] = _Tally()
        tally.ids.add(event_id)
        key = access_key(e)
        if key is not None and key not in sessions_seen:
            sessions_seen.add(key)
            tally.accesses += 1
        if kind == "order":
            tally.trades += 1
            tally.firms.add(e.get("firm") or firm)
            if e.get("side") == "sell":
                tally.sell_jpy += int(e.get("notional_jpy") or 0)
            else:
                tally.buy_jpy += int(e.get("notional_jpy") or 0)
    asked = set(months)
    # A month that only continued a session counted before has nothing to show.
    return [MonthFigures(m, len(t.firms), t.accesses, t.trades, t.sell_jpy, t.buy_jpy,
                         frozenset(t.firms), frozenset(t.ids))
            for m, t in sorted(tallies.items()) if t.accesses or t.trades or m in asked]


def access_key(event: Mapping[str, Any]) -> str | None:
    """What one unauthorised access is for this event: its session, or a login's own id
    when it names none; None for an action outside any session (a recovery request, a
    report by phone), which is no access to the account.

    >>> access_key({"id": "e", "type": "order", "session": "s"}), access_key({"id": "e", "type": "recovery"})
    ('s', None)
    """
    session = event.get("session")
    if session is not None:
        return str(session)
    return str(event["id"]) if event["type"] == "login" else None


def total(figures: Sequence[MonthFigures]) -> MonthFigures:
    """The 合計 column: sums, and each firm counted once over the whole period."""
    names = frozenset().union(*(f.firm_names for f in figures)) if figures else frozenset()
    return MonthFigures(TOTAL, firms=len(names) if names else max((f.firms for f in figures), default=0),
                        accesses=sum(f.accesses for f in figures),
                        trades=sum(f.trades for f in figures),
                        sell_jpy=sum(f.sell_jpy for f in figures),
                        buy_jpy=sum(f.buy_jpy for f in figures), firm_names=names)


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` (``YYYY-MM``), both included.

    >>> month_range("2024-11", "2025-02")
    ['2024-11', '2024-12', '2025-01', '2025-02']
    """
    for m in (first, last):
        if not MONTH_RE.match(m):
            msg = f"'{m}' is not a month such as 2025-04"
            raise ValueError(msg)
    y, mo = int(first[:4]), int(first[5:])
    out = []
    while f"{y:04d}-{mo:02d}" <= last:
        out.append(f"{y:04d}-{mo:02d}")
        y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
    return out


def format_oku(yen: int) -> str:
    """An amount as the FSA prints it: 約○億円, one decimal below ¥100m, whole 億 above,
    rounded half up (四捨五入).

    >>> format_oku(148_100_000_000), format_oku(80_000_000), format_oku(96_000_000)
    ('約1,481億円', '約0.8億円', '約1億円')
    >>> format_oku(0), format_oku(3_000_000), format_oku(5_000_000), format_oku(123_456_789)
    ('0億円', '0.1億円未満', '約0.1億円', '約1億円')
    """
    if yen == 0:
        return "0億円"
    oku = Decimal(yen) / OKU
    if oku < 1:
        tenth = oku.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        if tenth == 0:
            return "0.1億円未満"
        if tenth < 1:
            return f"約{tenth}億円"
    whole = int(oku.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return f"約{whole:,}億円"


def month_header(month: str) -> str:
    """
    >>> month_header("2025-04"), month_header(TOTAL)
    ('2025年4月', '合計')
    """
    return fmt.month_labels(month)[0]


@dataclass(frozen=True, slots=True)
class FsaTable:
    """The table as text cells: ``header`` (項目, months…, 合計) and one row per field."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    footnotes: tuple[str, ...] = FOOTNOTES


def fsa_table(figures: Sequence[MonthFigures], *, exact_yen: bool = False) -> FsaTable:
    """The five rows of the FSA's layout; amounts as 約○億円, or whole yen with
    ``exact_yen`` (what a firm hands over for summing)."""
    columns = [*figures, total(figures)]
    rows = []
    for name, label in ROW_LABELS:
        if name.endswith("_jpy"):
            cells = [f"{getattr(c, name)}" if exact_yen else format_oku(getattr(c, name))
                     for c in columns]
            rows.append((f"{label}（円）" if exact_yen else label, *cells))
        else:
            rows.append((label, *(f"{getattr(c, name):,}" for c in columns)))
    return FsaTable(("項目", *(month_header(c.month) for c in columns)), tuple(rows))


def to_csv(figures: Sequence[MonthFigures], *, exact_yen: bool = False) -> str:
    """The table as CSV (RFC 4180, CRLF) with the footnotes below it, one a row.
    Write it with ``encoding="utf-8-sig"`` so that Excel in Japan reads it."""
    table = fsa_table(figures, exact_yen=exact_yen)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(table.header)
    writer.writerows(table.rows)
    writer.writerow([])
    for note in table.footnotes:
        writer.writerow([note])
    return buf.getvalue()


# -------------------------------------------------------------------------- chart

CHART_CSS = (
    "svg.chart text{font-size:12px;fill:#333;font-family:'Hiragino Sans','Noto Sans CJK JP',"
    "'Yu Gothic',sans-serif}svg.chart text.value{font-size:11px;fill:#1b1b1b}"
    "svg.chart text.tick{fill:#555;font-size:11px}svg.chart line.grid{stroke:#e3e3e3;stroke-width:1}"
    "svg.chart line.axis{stroke:#666;stroke-width:1}"
)


def charts(figures: Sequence[MonthFigures], *, revised: Container[str] = (),
           width: int = 720) -> tuple[Markup, Markup]:
    """Two inline SVG bar charts (counts; amounts) for an HTML page whose CSS styles
    ``svg.chart`` (:data:`CHART_CSS`); a month in ``revised`` is marked with ※."""
    axis = [month_header(f.month) + ("※" if f.month in revised else "") for f in figures]
    note = "※ 改訂あり / revised" if any(f.month in revised for f in figures) else ""
    counts = bar_chart(
        key="fsa-counts", title="月別 不正アクセス件数・不正取引件数",
        desc=" ".join(filter(None, ("暫定値", note))), categories=axis,
        series=[Series("不正アクセス件数", [f.accesses for f in figures], BLUE),
                Series("不正取引件数", [f.trades for f in figures], ORANGE)],
        axis_format=fmt.format_count_short, value_format=fmt.format_count, whole=True, width=width)
    amounts = bar_chart(
        key="fsa-amounts", title="月別 売却金額・買付金額",
        desc=" ".join(filter(None, ("暫定値。顧客の損失額ではない", note))), categories=axis,
        series=[Series("売却金額", [f.sell_jpy for f in figures], GREEN),
                Series("買付金額", [f.buy_jpy for f in figures], PURPLE)],
        axis_format=fmt.format_yen_short, value_format=format_oku, width=width)
    return counts, amounts


_SIZE = re.compile(r'^<svg class="chart" viewBox="0 0 ([\d.]+) ([\d.]+)"')


def to_svg(figures: Sequence[MonthFigures], *, revised: Container[str] = (),
           title: str = "インターネット取引サービスへの不正アクセス・不正取引の状況") -> str:
    """One standalone SVG file: a title, both charts one above the other, and a note
    that the figures are provisional and not losses. Same input, same bytes."""
    parts, y, width = [], 34.0, 720.0
    for chart in charts(figures, revised=revised, width=int(width)):
        match = _SIZE.match(str(chart))
        if match is None:  # the helper's output changed shape: fail loudly, not silently
            msg = "unexpected chart markup from kabuguard.sim.report_charts"
            raise RuntimeError(msg)
        height = float(match.group(2))
        inner = str(chart).replace("<svg ", f'<svg x="0" y="{y:g}" ', 1)
        parts.append(inner)
        y += height + 16
    note = "※1 暫定値。※3 売却金額・買付金額は顧客の損失額と一致しない。"
    total_h = y + 20
    # class="chart" on the outer element too, so the title and note take CHART_CSS.
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width:g} '
            f'{total_h:g}" width="{width:g}" height="{total_h:g}" role="img">'
            f"<title>{_escape(title)}</title>"
            f"<style>{CHART_CSS}svg.chart text.heading{{font-size:15px;font-weight:bold}}</style>"
            f'<rect width="100%" height="100%" fill="#fff"/>'
            f'<text class="heading" x="0" y="20">{_escape(title)}</text>'
            + "".join(parts)
            + f'<text x="0" y="{y + 6:g}">{_escape(note)}</text></svg>\n')


def _escape(text: str) -> str:
    return str(Markup.escape(text))
