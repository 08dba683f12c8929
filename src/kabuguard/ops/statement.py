"""The customer's compensation statement (補償のご案内): print-ready HTML and PDF.

One Jinja2 template (``templates/compensation_statement.html``, autoescaped, styles
inline) gives the HTML; WeasyPrint lays the same HTML out as PDF, in process. Why
WeasyPrint: it is a maintained HTML/CSS-to-PDF engine built for print (``@page`` sizes,
page numbers), installs from PyPI and uses the Pango and fontconfig libraries Debian
already has here (Chromium depends on them), embeds subsets of the fonts, and needs no
browser process in the server (headless Chromium's print-to-PDF would); reportlab
would mean laying the statement out a second time in code.

The statement carries no link of any kind: messages to customers never do (JSDA 2025,
J-M8 in JP-RULES.md), and a printed letter from the firm must not teach otherwise. Text
typed by people (a name, a negligence reason) with anything link-like in it is refused,
not scrubbed: whoever typed it must correct it. The PDF loads nothing from anywhere.
"""

from __future__ import annotations

import functools
import html
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from kabuguard.domain.errors import InvalidInput
from kabuguard.domain.events import JST
from kabuguard.notify.links import find_links
from kabuguard.ops.approval import Approval, Status
from kabuguard.ops.compensation import CompensationResult, Exclusion, LineCode, LineKind
from kabuguard.ops.compensation_policy import CompensationPreset, Method

TEMPLATE = "compensation_statement.html"
DEFAULT_FIRM_NAME = {"ja": "かぶガード証券株式会社", "en": "Kabuguard Securities Co., Ltd."}


class StatementError(InvalidInput):
    """The statement cannot be produced as asked (a link in it, no Japanese font, a
    preset that is not the result's)."""

    code = "compensation_statement_error"


LINE_LABELS: Mapping[LineCode, tuple[str, str]] = {
    LineCode.BUY_VALUE: ("不正な買付けの約定代金", "Trade value of the fraudulent buys"),
    LineCode.SELL_VALUE: ("不正な売付けの約定代金", "Trade value of the fraudulent sells"),
    LineCode.LOSS_BOUGHT_REALISED: ("不正に買い付けられた株式の売却による損失",
                                    "Realised loss on the securities the intruder bought"),
    LineCode.LOSS_BOUGHT_UNREALISED: ("不正に買い付けられた株式の評価損",
                                      "Unrealised loss on the securities the intruder bought"),
    LineCode.LOSS_ON_BOUGHT: ("不正に買い付けられた株式の損失",
                              "Loss on the securities the intruder bought"),
    LineCode.OWN_SOLD_PROCEEDS: ("不正に売却された保有株式の売却代金",
                                 "Proceeds of your holdings the intruder sold"),
    LineCode.OWN_BUYBACK_COST: ("同じ株式を現在の価格で買い戻す費用",
                                "Cost of buying them back at current prices"),
    LineCode.LOSS_ON_SOLD_OWN: ("保有株式を売却されたことによる損失",
                                "Loss from the sale of your holdings"),
    LineCode.FEES_PAID: ("不正取引の手数料", "Fees of the fraudulent trades"),
    LineCode.BASIS: ("この方針で補償の対象となる損失", "Loss covered by this policy"),
    LineCode.LOSS_COMPENSATION: ("損失の補償", "Compensation for the loss"),
    LineCode.FEE_REFUND: ("手数料の返金", "Refund of fees"),
    LineCode.NEGLIGENCE_REDUCTION: ("お客様のご事情による減額", "Reduction for your part in the damage"),
    LineCode.SYMPATHY_PAYMENT: ("見舞金", "Sympathy payment"),
    LineCode.RETURNED_SHARES_VALUE: ("お戻しする株式(現在の価格による評価額)",
                                     "Shares returned to you (value at current prices)"),
    LineCode.CASH_ADJUSTMENT: ("お預り金の調整(+ご入金 / −お引出し)",
                               "Cash adjustment (+ credited / − debited)"),
    LineCode.REMOVED_POSITIONS_VALUE: ("当社が引き取る株式(現在の価格による評価額)",
                                       "Shares the firm takes over (value at current prices)"),
    LineCode.TOTAL: ("お支払い額の合計", "Total paid to you"),
}
RESTORATION_TOTAL = ("原状回復の評価額(現在の価格による)",
                     "Value of the restoration to you (at current prices)")
STATUS_LABELS: Mapping[Status, tuple[str, str]] = {
    Status.DRAFT: ("下書き(未承認・無効)", "Draft (not approved, not valid)"),
    Status.PROPOSED: ("承認待ち(未承認・無効)", "Awaiting approval (not valid yet)"),
    Status.APPROVED: ("承認済み", "Approved"),
    Status.REJECTED: ("却下(無効)", "Rejected (not valid)"),
}
EXCLUSION_LABELS: Mapping[Exclusion, tuple[str, str]] = {
    Exclusion.AFTER_CUTOFF: ("基準日時より後のため対象外", "After the cut-off: not covered"),
    Exclusion.BEFORE_COVERED_PERIOD: ("対象期間より前のため対象外",
                                      "Before the covered period: not covered"),
    Exclusion.AFTER_COVERED_PERIOD: ("対象期間より後のため対象外",
                                     "After the covered period: not covered"),
}
SIDE_LABELS = {"buy": ("買付", "Buy"), "sell": ("売付", "Sell")}


@dataclass(frozen=True, slots=True)
class StatementParty:
    """Who the statement is for and who sends it."""

    customer_name: str
    support_phone: str
    firm_name_ja: str = DEFAULT_FIRM_NAME["ja"]
    firm_name_en: str = DEFAULT_FIRM_NAME["en"]


def _yen(amount: int, lang: str = "ja") -> str:
    """
    >>> _yen(1502420), _yen(-537580), _yen(10000, "en")
    ('1,502,420円', '−537,580円', '¥10,000')
    """
    sign = "−" if amount < 0 else ""
    return f"{sign}{abs(amount):,}円" if lang == "ja" else f"{sign}¥{abs(amount):,}"


def _price(value: Decimal, lang: str = "ja") -> str:
    """
    >>> _price(Decimal("2800")), _price(Decimal("301.5"), "en")
    ('2,800円', '¥301.5')
    """
    text = f"{value.normalize():,f}"
    return f"{text}円" if lang == "ja" else f"¥{text}"


def _when(ts: datetime) -> str:
    return ts.astimezone(JST).strftime("%Y-%m-%d %H:%M")


def _pct(value: Decimal) -> str:
    return f"{(value * 100).normalize():f}%"


@functools.cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("kabuguard.ops", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(yen=_yen, price=_price, when=_when, pct=_pct)
    return env


def _lines(result: CompensationResult, kind: LineKind) -> list[dict[str, Any]]:
    restoration = result.method is Method.RESTORATION
    out = []
    for line in result.lines:
        if line.kind is not kind:
            continue
        labels = (RESTORATION_TOTAL if restoration and line.code is LineCode.TOTAL
                  else LINE_LABELS[line.code])
        out.append({"code": line.code.value, "label": labels, "amount": line.amount_yen,
                    "formula": line.formula})
    return out


def statement_context(result: CompensationResult, preset: CompensationPreset, *,
                      party: StatementParty, approval: Approval, issued_at: datetime,
                      symbol_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The values the template shows (exposed so the console can show the same)."""
    if preset.name != result.preset_name:
        raise StatementError(f"the result was computed with {result.preset_name}, "
                             f"not {preset.name}")
    names = dict(symbol_names or {})
    excluded = {id(e.trade): e.reason for e in result.excluded}
    trades = [{"trade": t, "name": names.get(t.symbol, ""), "side": SIDE_LABELS[t.side.value],
               "excluded": EXCLUSION_LABELS[excluded[id(t)]] if id(t) in excluded else None}
              for t in sorted([*result.included, *(e.trade for e in result.excluded)],
                              key=lambda t: t.ts)]
    return {
        "r": result, "preset": preset, "party": party, "approval": approval,
        "status": STATUS_LABELS[approval.status], "valid": approval.status is Status.APPROVED,
        "issued_at": issued_at, "period": result.period, "trades": trades,
        "details": _lines(result, LineKind.DETAIL), "amounts": _lines(result, LineKind.AMOUNT),
        "total": _lines(result, LineKind.TOTAL)[0], "names": names,
        "restoration": result.method is Method.RESTORATION,
    }


_TAG = re.compile(r"<[^>]+>")


def render_statement_html(result: CompensationResult, preset: CompensationPreset, *,
                          party: StatementParty, approval: Approval, issued_at: datetime,
                          english: bool = True,
                          symbol_names: Mapping[str, str] | None = None) -> str:
    """The statement as one self-contained HTML page (A4, styles inline): Japanese, then
    the English translation when ``english``. A statement not yet approved says so on
    every page.

    Raises StatementError when anything in it reads as a link."""
    context = statement_context(result, preset, party=party, approval=approval,
                                issued_at=issued_at, symbol_names=symbol_names)
    page = _environment().get_template(TEMPLATE).render(**context, english=english)
    visible = html.unescape(_TAG.sub(" ", page.split("</style>", 1)[-1]))
    links = find_links(visible)
    if links or re.search(r"<a\b|href=|src=", page, re.IGNORECASE):
        raise StatementError("a statement must carry no link; correct the text that has "
                             f"one: {', '.join(sorted(set(links))) or 'an HTML link'}")
    return page


class _NoFetch:
    """WeasyPrint's URL fetcher for statements: fetching anything is an error."""

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> None:
        from weasyprint.urls import FatalURLFetchingError  # noqa: PLC0415 (heavy import)

        raise FatalURLFetchingError(f"a statement loads no resource (asked for {url[:60]})")


@functools.cache
def japanese_font_installed() -> bool:
    """True when fontconfig knows a font covering Japanese (Debian: fonts-noto-cjk)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    found = subprocess.run([fc_list, ":lang=ja", "family"], capture_output=True,  # noqa: S603
                           text=True, check=False, timeout=30)
    return bool(found.stdout.strip())


def render_statement_pdf(page_html: str) -> bytes:
    """The PDF of a statement's HTML (``render_statement_html``).

    Raises StatementError when no Japanese font is installed: a statement of empty boxes
    must never reach a customer."""
    if not japanese_font_installed():
        raise StatementError("no Japanese font is installed (Debian: apt-get install "
                             "fonts-noto-cjk); refusing to print a statement without one")
    from weasyprint import HTML  # noqa: PLC0415 (Pango loads on first use, not at import)

    return HTML(string=page_html, url_fetcher=_NoFetch()).write_pdf()
