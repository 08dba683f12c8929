"""HTML reports of a simulation: one configuration (``report.html`` beside its
``metrics.json``) and the side-by-side comparison of every configuration.

A page to look at rather than read: the headline findings first, then the FSA's
monthly table of unauthorised accesses and trades (金融庁「インターネット取引サービスへの
不正アクセス・不正取引」, months as columns, JP-RULES.md §3) with a chart, outcome by
attack kind, friction for legitimate customers, the attackers' profit and the target
symbols' price paths. Japanese first, English beside it.

The page is self-contained (inline CSS and SVG, no script, no network) so it can be
mailed or archived as one file, and deterministic: the same metrics give the same
bytes. Everything taken from the metrics is HTML-escaped (Jinja2 autoescape).
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from kabuguard.sim import report_format as fmt
from kabuguard.sim.report_charts import (
    BLUE,
    GREEN,
    ORANGE,
    PURPLE,
    SKY,
    VERMILLION,
    Series,
    bar_chart,
    downsample,
    line_chart,
)

REPORT_FILE = "report.html"
BASELINE_POLICY = "baseline_2024"
GRID_WIDTH = 540           # charts shown two abreast (CSS .charts) are drawn at about that width
PRICE_POINTS_MAX = 480      # per chart: enough for a day's pump at a glance, small page
JST = timezone(timedelta(hours=9))


@dataclass(frozen=True, slots=True)
class FsaMonth:
    """One month of the FSA's published figures (all firms, provisional, 約 rounded)."""

    month: str
    accesses: str
    trades: str
    sell_oku: str       # 億円; "" when only the sum of sells and buys was published
    buy_oku: str
    combined_oku: str   # 売買計 when published without the split
    source: str


# For scale beside the simulated firm: the latest figure per month in JP-RULES.md §3
# (values are revised at every FSA update; November's only source is unverified).
FSA_2025: tuple[FsaMonth, ...] = (
    FsaMonth("2025-01", "170", "95", "約2", "約0.7", "", "金融庁 05-08, 東洋経済 08-26"),
    FsaMonth("2025-02", "114", "51", "約0.9", "約0.6", "", "金融庁 05-08, 東洋経済 08-26"),
    FsaMonth("2025-03", "2,319", "951", "約168", "約128", "", "金融庁 05-08, 東洋経済 08-26"),
    FsaMonth("2025-04", "5,441", "2,987", "約1,561", "約1,369", "", "金融庁, 報道"),
    FsaMonth("2025-05", fmt.DASH, "2,329", "", "", "約2,105", "時事 06-05, Bloomberg 07-07"),
    FsaMonth("2025-06", fmt.DASH, "783", "", "", "約381", "Bloomberg 07-07"),
    FsaMonth("2025-07", "1,055", "818", "", "", "約460", "金融庁 08-07 (二次)"),
    FsaMonth("2025-08", "1,248", "562", "約261", "約253", "", "共同 09-08"),
    FsaMonth("2025-09", "310", "182", "約57", "約50", "", "日経 10-06 (二次)"),
    FsaMonth("2025-10", "736", "354", "約106", "約98", "", "ScanNetSecurity 11-27"),
    FsaMonth("2025-11", fmt.DASH, fmt.DASH, fmt.DASH, fmt.DASH, "", "未確認 / unverified"),
    FsaMonth("2025-12", "343", fmt.DASH, "", "", "約41", "日経 2026-01-14"),
)
FSA_2025_TOTAL = {"accesses": "17,559", "combined_oku": "約7,393"}


def _num(value: object) -> float:
    """A metric as a number; absent or not a number counts as 0."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _opt(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class TableRow:
    """A row of a months-as-columns table: label, one cell per month, the total."""

    ja: str
    en: str
    cells: tuple[str, ...]
    total: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class AttackRow:
    kind: str
    ja: str
    en: str
    victims: float
    attempts: float
    logins_succeeded: float
    accounts_with_fraud_trades: float
    orders_executed: float
    money_attempted: float
    money_lost: float
    stopped_share: float | None

    @property
    def money_stopped(self) -> float:
        return max(self.money_attempted - self.money_lost, 0.0)

    @property
    def accounts_protected(self) -> float:
        return max(self.victims - self.accounts_with_fraud_trades, 0.0)


def _attack_rows(by_attack: Mapping[str, Any]) -> list[AttackRow]:
    rows = []
    for kind, raw in by_attack.items():
        data = _dict(raw)
        ja, en = fmt.attack_labels(str(kind))
        attempted, lost = _num(data.get("money_attempted_jpy")), _num(data.get("money_lost_jpy"))
        share = _opt(data.get("stopped_share"))
        if share is None and attempted > 0:
            share = 1 - lost / attempted
        rows.append(AttackRow(str(kind), ja, en, _num(data.get("victims")), _num(data.get("attempts")),
                              _num(data.get("logins_succeeded")),
                              _num(data.get("accounts_with_fraud_trades")),
                              _num(data.get("orders_executed")), attempted, lost, share))
    return rows


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures a configuration is judged by, from one metrics dict."""

    name: str
    policy: str
    risk: bool
    money_attempted: float
    money_lost: float
    accounts_traded: float
    victims: float
    accesses: float
    trades: float
    sell: float
    buy: float
    legit_sessions: float
    challenges: float
    challenges_per_1000: float | None
    holds_denials: float
    holds_per_1000: float | None
    frozen: float
    frozen_per_10000: float | None
    profit: float | None

    @property
    def money_stopped(self) -> float:
        return max(self.money_attempted - self.money_lost, 0.0)

    @property
    def stopped_share(self) -> float | None:
        return self.money_stopped / self.money_attempted if self.money_attempted > 0 else None

    @property
    def friction_events(self) -> float:
        """Non-allow decisions that reached legitimate customers (EVENTS.md "friction")."""
        return self.challenges + self.holds_denials + self.frozen


def config_name(metrics: Mapping[str, Any]) -> str:
    """The configuration's name (``<policy>`` or ``<policy>+risk``).

    >>> config_name({"config": {"policy": "baseline_2024", "risk": True}})
    'baseline_2024+risk'
    """
    config = _dict(metrics.get("config"))
    if config.get("name"):
        return str(config["name"])
    policy = str(config.get("policy") or fmt.DASH)
    return f"{policy}+risk" if config.get("risk") else policy


def summarise(metrics: Mapping[str, Any]) -> Summary:
    """The headline figures of one configuration's metrics (absent parts count as 0)."""
    config = _dict(metrics.get("config"))
    attacks = _attack_rows(_dict(metrics.get("by_attack")))
    monthly = [_dict(m) for m in metrics.get("monthly") or []]
    friction = _dict(metrics.get("friction"))
    profit = _dict(metrics.get("profit"))
    customers = _num(_dict(metrics.get("run")).get("customers"))
    frozen = _num(friction.get("frozen_legit_accounts"))
    return Summary(
        name=config_name(metrics), policy=str(config.get("policy") or ""), risk=bool(config.get("risk")),
        money_attempted=sum(a.money_attempted for a in attacks),
        money_lost=sum(a.money_lost for a in attacks),
        accounts_traded=sum(a.accounts_with_fraud_trades for a in attacks),
        victims=sum(a.victims for a in attacks),
        accesses=sum(_num(m.get("accesses")) for m in monthly),
        trades=sum(_num(m.get("trades")) for m in monthly),
        sell=sum(_num(m.get("sell_jpy")) for m in monthly),
        buy=sum(_num(m.get("buy_jpy")) for m in monthly),
        legit_sessions=_num(friction.get("legit_sessions")),
        challenges=_num(friction.get("challenges")),
        challenges_per_1000=_opt(friction.get("challenges_per_1000_sessions")),
        holds_denials=_num(friction.get("holds_denials")),
        holds_per_1000=_opt(friction.get("holds_denials_per_1000")),
        frozen=frozen,
        # Per 10,000 customers: the population is almost all legitimate customers.
        frozen_per_10000=frozen / customers * 10_000 if customers > 0 else None,
        profit=_opt(profit.get("attacker_profit_jpy")),
    )


def _months(metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    return sorted((_dict(m) for m in metrics.get("monthly") or []), key=lambda m: str(m.get("month", "")))


def _fsa_table(months: Sequence[Mapping[str, Any]]) -> list[TableRow]:
    def row(ja: str, en: str, key: str, show: Any, note: str = "") -> TableRow:
        values = [_num(m.get(key)) for m in months]
        return TableRow(ja, en, tuple(show(v) for v in values), show(sum(values)), note)

    firms = tuple("1" if _num(m.get("trades")) > 0 else "0" for m in months)
    return [
        TableRow("不正取引が発生した証券会社数（社）", "Firms with unauthorised trades", firms,
                 "1" if any(c == "1" for c in firms) else "0", "※4"),
        row("不正アクセス件数", "Unauthorised accesses", "accesses", fmt.format_count),
        row("不正取引件数", "Unauthorised trades", "trades", fmt.format_count),
        row("売却金額", "Sell amount", "sell_jpy", fmt.format_yen, "※2"),
        row("買付金額", "Buy amount", "buy_jpy", fmt.format_yen, "※2"),
    ]


def _fsa_sources() -> list[tuple[str, str]]:
    """(source, months) with consecutive months of one source run together: "1–3月"."""
    runs: list[tuple[str, list[int]]] = []
    for m in FSA_2025:
        month = int(m.month[5:])
        if runs and runs[-1][0] == m.source and runs[-1][1][-1] == month - 1:
            runs[-1][1].append(month)
        else:
            runs.append((m.source, [month]))
    return [(source, f"{months[0]}–{months[-1]}月" if len(months) > 1 else f"{months[0]}月")
            for source, months in runs]


def _month_axis(months: Sequence[Mapping[str, Any]]) -> list[str]:
    labels = []
    for i, m in enumerate(months):
        ja, _ = fmt.month_labels(str(m.get("month", "")))
        # The year only where it starts or changes: "2025年3月", "4月", ...
        short = ja.split("年", 1)[-1] if i and str(months[i - 1].get("month", ""))[:4] == ja[:4] else ja
        labels.append(short)
    return labels


def _fsa_charts(months: Sequence[Mapping[str, Any]]) -> list[Markup]:
    if not months:
        return []
    axis = _month_axis(months)
    counts = bar_chart(
        key="fsa-counts",
        title="月別 不正アクセス件数・不正取引件数 / Unauthorised accesses and trades by month",
        desc="シミュレーション結果 / simulated", categories=axis,
        series=[Series("不正アクセス件数 / Accesses", [_num(m.get("accesses")) for m in months], BLUE),
                Series("不正取引件数 / Trades", [_num(m.get("trades")) for m in months], ORANGE)],
        axis_format=fmt.format_count_short, value_format=fmt.format_count, whole=True, width=GRID_WIDTH)
    amounts = bar_chart(
        key="fsa-amounts", title="月別 売却金額・買付金額 / Sell and buy amounts by month",
        desc="シミュレーション結果（顧客の損失額ではない） / simulated (not customer losses)",
        categories=axis,
        series=[Series("売却金額 / Sell", [_num(m.get("sell_jpy")) for m in months], GREEN),
                Series("買付金額 / Buy", [_num(m.get("buy_jpy")) for m in months], PURPLE)],
        axis_format=fmt.format_yen_short, value_format=fmt.format_yen, width=GRID_WIDTH)
    return [counts, amounts]


def _attack_charts(rows: Sequence[AttackRow]) -> list[Markup]:
    if not rows:
        return []
    names = [r.ja for r in rows]
    accounts = bar_chart(
        key="attack-accounts", title="攻撃の種類別 口座の結果 / Victim accounts by attack kind",
        desc="防いだ口座と不正取引が行われた口座 / protected vs traded by attackers", categories=names,
        series=[Series("防いだ / Protected", [r.accounts_protected for r in rows], BLUE),
                Series("不正取引あり / Traded by attackers", [r.accounts_with_fraud_trades for r in rows],
                       VERMILLION)],
        axis_format=fmt.format_count_short, value_format=fmt.format_count, stacked=True, horizontal=True,
        whole=True, width=GRID_WIDTH)
    money = bar_chart(
        key="attack-money", title="攻撃の種類別 阻止額と損失額 / Money stopped and lost by attack kind",
        desc="攻撃者が動かそうとした金額の内訳 / what the attackers tried to move", categories=names,
        series=[Series("阻止 / Stopped", [r.money_stopped for r in rows], BLUE),
                Series("損失 / Lost", [r.money_lost for r in rows], VERMILLION)],
        axis_format=fmt.format_yen_short, value_format=fmt.format_yen_short, stacked=True, horizontal=True,
        width=GRID_WIDTH)
    return [accounts, money]


def _price_charts(prices: Mapping[str, Any]) -> list[dict[str, Any]]:
    charts = []
    for index, (symbol, raw) in enumerate(prices.items()):
        entry = _dict(raw)
        currency = str(entry.get("currency") or "JPY")
        points: list[tuple[str, float]] = []
        for point in entry.get("points") or []:
            if isinstance(point, list | tuple) and len(point) == 2 and _opt(point[1]) is not None:
                points.append((str(point[0]), float(point[1])))
        if not points:
            continue
        kept = downsample(points, PRICE_POINTS_MAX)
        stamps = [_jst(ts) for ts, _ in kept]
        ticks = [(i, f"{s.month}/{s.day}") for i, s in enumerate(stamps)
                 if s is not None and (i == 0 or stamps[i - 1] is None or stamps[i - 1].date() != s.date())]
        first, last = points[0][1], points[-1][1]
        peak = max(v for _, v in points)
        title = f"{symbol} {entry.get('name') or ''} 株価 / price".replace("  ", " ")
        price = functools.partial(fmt.format_price, currency=currency)
        chart = line_chart(
            key=f"price-{index}", title=title,
            desc=f"始値 {price(first)}, 高値 {price(peak)}, 終値 {price(last)} / first, peak, last",
            series=[Series(str(symbol), [v for _, v in kept], BLUE)], x_ticks=ticks,
            point_labels=[s.strftime("%m/%d %H:%M") if s else "" for s in stamps],
            axis_format=price, value_format=price, width=GRID_WIDTH)
        charts.append({"symbol": str(symbol), "name": str(entry.get("name") or ""), "svg": chart,
                       "first": price(first), "peak": price(peak), "last": price(last),
                       "rise": fmt.format_change(peak / first - 1) if first > 0 else fmt.DASH})
    return charts


def _jst(ts: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return stamp.astimezone(JST) if stamp.tzinfo else stamp


def _evaluation_view(evaluation: Mapping[str, Any]) -> dict[str, Any] | None:
    if not evaluation:
        return None
    overall, friction = _dict(evaluation.get("overall")), _dict(evaluation.get("friction"))
    rows = []
    for kind, raw in _dict(evaluation.get("by_attack")).items():
        ja, en = fmt.attack_labels(str(kind))
        rows.append({"ja": ja, "en": en, **_dict(raw)})
    return {"overall": overall, "friction": friction, "by_attack": rows}


def _single_headline(s: Summary) -> dict[str, str]:
    ja = f"{s.name}: 損失 {fmt.format_yen(s.money_lost)}"
    en = f"Money lost {fmt.format_yen(s.money_lost)}"
    if s.money_attempted > 0:
        ja += f"（試行 {fmt.format_yen(s.money_attempted)} の {fmt.format_share(s.stopped_share)} を阻止）"
        en += (f" ({fmt.format_share(s.stopped_share)} of {fmt.format_yen(s.money_attempted)}"
               " attempted stopped)")
    return {"ja": ja, "en": en}


def _single_context(metrics: Mapping[str, Any]) -> dict[str, Any]:
    months = _months(metrics)
    attacks = _attack_rows(_dict(metrics.get("by_attack")))
    summary = summarise(metrics)
    config = _dict(metrics.get("config"))
    fsa_months = {m.month for m in FSA_2025}
    return {
        "summary": summary,
        "headline": _single_headline(summary),
        "policy_labels": fmt.policy_labels(summary.policy),
        "config": config,
        "run": _dict(metrics.get("run")),
        "months": [fmt.month_labels(str(m.get("month", ""))) for m in months],
        "month_codes": [str(m.get("month", "")) for m in months],
        "fsa_rows": _fsa_table(months),
        "attempts_row": TableRow("（参考）攻撃者のログイン試行", "Attacker login attempts",
                                 tuple(fmt.format_count(m.get("attempts")) for m in months),
                                 fmt.format_count(sum(_num(m.get("attempts")) for m in months))),
        "fsa_charts": _fsa_charts(months),
        "fsa_reference": [(m, fmt.month_labels(m.month)) for m in FSA_2025],
        "fsa_reference_total": FSA_2025_TOTAL,
        "fsa_sources": _fsa_sources(),
        "fsa_overlap": any(str(m.get("month", "")) in fsa_months for m in months),
        "attacks": attacks,
        "attack_charts": _attack_charts(attacks),
        "friction": _dict(metrics.get("friction")),
        "profit": _dict(metrics.get("profit")),
        "profit_chart": _profit_chart(_dict(metrics.get("profit"))),
        "prices": _price_charts(_dict(metrics.get("prices"))),
        "evaluation": _evaluation_view(_dict(metrics.get("evaluation"))),
    }


def _profit_chart(profit: Mapping[str, Any]) -> Markup | None:
    keys = [("beneficiary_buys_jpy", "受益者口座の買付"), ("beneficiary_sells_jpy", "受益者口座の売却"),
            ("attacker_profit_jpy", "攻撃者の利益")]
    present = [(label, _num(profit.get(key))) for key, label in keys if key in profit]
    if not present:
        return None
    return bar_chart(key="profit", title="攻撃者の利益 / Attackers' profit",
                     desc="受益者（攻撃者）口座の売買と利益 / the crew's own accounts",
                     categories=[label for label, _ in present],
                     series=[Series("円 / yen", [v for _, v in present], ORANGE)],
                     axis_format=fmt.format_yen_short, value_format=fmt.format_yen, horizontal=True)


# ------------------------------------------------------------------------- compare


@dataclass(frozen=True, slots=True)
class ConfigRow:
    summary: Summary
    ja: str
    en: str
    href: str
    vs_baseline: float | None
    gain: Gain | None
    accounts_stopped_share: float | None


def _baseline(summaries: Sequence[Summary]) -> Summary | None:
    """The 2024 baseline without the risk engine, else the first configuration."""
    for s in summaries:
        if s.policy == BASELINE_POLICY and not s.risk:
            return s
    return summaries[0] if summaries else None


@dataclass(frozen=True, slots=True)
class Gain:
    """What a configuration buys over the baseline: yen of loss avoided and the
    friction events it adds for legitimate customers to get there."""

    saved: float
    added_friction: float

    @property
    def per_friction(self) -> float | None:
        """Yen saved per added friction event; None when it adds none."""
        return self.saved / self.added_friction if self.added_friction > 0 else None


def _gain(s: Summary, base: Summary | None) -> Gain | None:
    if base is None or s is base:
        return None
    return Gain(base.money_lost - s.money_lost, s.friction_events - base.friction_events)


def _most_efficient(summaries: Iterable[Summary], base: Summary | None) -> tuple[Summary, Gain] | None:
    """The configuration that avoids the most loss per friction event it adds over the
    baseline (the baseline's own friction and stops come free with doing nothing).
    Saving money with no added friction beats any ratio; ties keep the earlier one."""
    best, best_key = None, (-1.0, -1.0)
    for s in summaries:
        gain = _gain(s, base)
        if gain is None or gain.saved <= 0:
            continue
        ratio = gain.per_friction
        key = (1.0, gain.saved) if ratio is None else (0.0, ratio)
        if key > best_key:
            best, best_key = (s, gain), key
    return best


def _compare_headlines(summaries: Sequence[Summary], base: Summary | None) -> list[dict[str, str]]:
    lines = []
    efficient = _most_efficient(summaries, base)
    if efficient is not None and base is not None:
        best, gain = efficient
        ratio = gain.per_friction
        lines.append({
            "ja": f"摩擦あたりの阻止額が最大: {best.name} — {base.name}より損失 "
                  f"{fmt.format_yen(gain.saved)} 減、"
                  + (f"追加の摩擦1件あたり {fmt.format_yen(ratio)}" if ratio is not None
                     else "摩擦の増加なし"),
            "en": f"Most money stopped per unit of friction: {best.name} — {fmt.format_yen(gain.saved)} "
                  f"less lost than {base.name}, "
                  + (f"{fmt.format_yen(ratio)} per added challenge, hold or freeze" if ratio is not None
                     else "with no added friction"),
        })
    if summaries:
        # The lowest loss; among equal losses the least friction.
        lowest = min(summaries, key=lambda s: (s.money_lost, s.friction_events))
        change = _change(lowest, base)
        versus = f" ({fmt.format_change(change)} vs {base.name})" if base and change is not None else ""
        lines.append({"ja": f"損失最小: {lowest.name}: 損失 {fmt.format_yen(lowest.money_lost)}{versus}",
                      "en": f"Lowest loss: {lowest.name}, {fmt.format_yen(lowest.money_lost)}{versus}"})
    if base is not None:
        lines.append({"ja": f"基準 {base.name}: 損失 {fmt.format_yen(base.money_lost)}、"
                            f"攻撃者の利益 {fmt.format_yen(base.profit)}",
                      "en": f"Baseline {base.name}: {fmt.format_yen(base.money_lost)} lost, "
                            f"attackers' profit {fmt.format_yen(base.profit)}"})
    pairs = _risk_pairs(summaries)
    if pairs:
        helped = sum(1 for off, on in pairs if on.money_lost < off.money_lost)
        extra = statistics.median((on.challenges_per_1000 or 0) - (off.challenges_per_1000 or 0)
                                  for off, on in pairs)
        lines.append({"ja": f"リスクエンジン: {len(pairs)}方針中{helped}方針で損失減、"
                            f"認証要求は1,000セッションあたり中央値 {extra:+.1f}件",
                      "en": f"Risk engine: lower loss under {helped} of {len(pairs)} policies, "
                            f"median {extra:+.1f} challenges per 1,000 sessions"})
    return lines


def _risk_pairs(summaries: Sequence[Summary]) -> list[tuple[Summary, Summary]]:
    off = {s.policy: s for s in summaries if not s.risk}
    return [(off[s.policy], s) for s in summaries if s.risk and s.policy in off]


def _change(s: Summary, base: Summary | None) -> float | None:
    if base is None or base.money_lost <= 0:
        return None
    return s.money_lost / base.money_lost - 1


def _by_policy_chart(key: str, title: str, desc: str, summaries: Sequence[Summary],
                     value: Any) -> Markup:
    """Bars grouped by policy, risk engine off and on side by side."""
    policies = list(dict.fromkeys(s.policy or s.name for s in summaries))
    table = {(s.policy or s.name, s.risk): value(s) for s in summaries}
    series = [Series(label, [table.get((p, risk)) or 0.0 for p in policies], colour)
              for risk, label, colour in ((False, "リスクエンジンなし / Risk engine off", ORANGE),
                                          (True, "リスクエンジンあり / Risk engine on", BLUE))
              if any(s.risk == risk for s in summaries)]
    return bar_chart(key=key, title=title, desc=desc, categories=[fmt.policy_labels(p)[0] for p in policies],
                     series=series, axis_format=fmt.format_yen_short, value_format=fmt.format_yen_short,
                     horizontal=True)


def _heatmap(configs: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    kinds: dict[str, None] = {}
    for metrics in configs:
        kinds.update(dict.fromkeys(str(k) for k in _dict(metrics.get("by_attack"))))
    rows = []
    for name, metrics in zip(names, configs, strict=True):
        by_kind = {r.kind: r for r in _attack_rows(_dict(metrics.get("by_attack")))}
        cells = []
        for kind in kinds:
            row = by_kind.get(kind)
            share = row.stopped_share if row else None
            background, colour = fmt.heat_colours(share)
            cells.append({"share": fmt.format_share(share, 0) if row else fmt.DASH,
                          "lost": fmt.format_yen_short(row.money_lost) if row else "",
                          "background": background, "colour": colour,
                          "title": (f"{name} / {kind}: 阻止率 {fmt.format_share(share)}, "
                                    f"損失 {fmt.format_yen(row.money_lost)}") if row else f"{name} / {kind}"})
        rows.append({"name": name, "cells": cells})
    legend = [{"label": fmt.format_share(v, 0), "background": fmt.heat_colours(v)[0],
               "colour": fmt.heat_colours(v)[1]} for v in (0, 0.25, 0.5, 0.75, 1)]
    return {"kinds": [fmt.attack_labels(k) for k in kinds], "rows": rows, "legend": legend}


def _compare_context(metrics: Mapping[str, Any]) -> dict[str, Any]:
    configs = [_dict(c) for c in metrics.get("configs") or []]
    summaries = [summarise(c) for c in configs]
    base = _baseline(summaries)
    rows = []
    for s, c in zip(summaries, configs, strict=True):
        ja, en = fmt.policy_labels(s.policy)
        overall = _dict(_dict(c.get("evaluation")).get("overall"))
        rows.append(ConfigRow(s, ja, en, f"./{quote(s.name, safe='+')}/{REPORT_FILE}", _change(s, base),
                              _gain(s, base), _opt(overall.get("accounts_stopped_before_first_order_share"))))
    names = [s.name for s in summaries]
    charts = []
    if summaries:
        charts = [
            _by_policy_chart("compare-loss", "構成別 損失額 / Money lost by configuration",
                             "方針ごとにリスクエンジンなし・ありを並べる / "
                             "each policy with the risk engine off and on",
                             summaries, lambda s: s.money_lost),
            bar_chart(key="compare-friction", title="構成別 正規顧客への摩擦 / Friction per configuration",
                      desc="認証要求・保留拒否は1,000件あたり、凍結は1万口座あたり / "
                           "challenges and holds per 1,000, frozen accounts per 10,000",
                      categories=names,
                      series=[Series("認証要求 / Challenges per 1,000 sessions",
                                     [s.challenges_per_1000 or 0 for s in summaries], SKY),
                              Series("保留・拒否 / Holds, denials per 1,000 orders",
                                     [s.holds_per_1000 or 0 for s in summaries], ORANGE),
                              Series("凍結 / Frozen per 10,000 customers",
                                     [s.frozen_per_10000 or 0 for s in summaries], VERMILLION)],
                      axis_format=fmt.format_count_short, value_format=fmt.format_rate, horizontal=True),
            _by_policy_chart("compare-profit", "構成別 攻撃者の利益 / Attackers' profit by configuration",
                             "受益者口座の売買差額 / the crew's own accounts", summaries,
                             lambda s: s.profit or 0.0),
        ]
    return {
        "run": _dict(metrics.get("run")),
        "rows": rows,
        "baseline": base,
        "headlines": _compare_headlines(summaries, base),
        "charts": charts,
        "heatmap": _heatmap(configs, names),
        "has_evaluation": any(r.accounts_stopped_share is not None for r in rows),
    }


# -------------------------------------------------------------------------- render


@functools.cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("kabuguard.sim", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(
        yen=fmt.format_yen, yen_short=fmt.format_yen_short, count=fmt.format_count, share=fmt.format_share,
        rate=fmt.format_rate, change=fmt.format_change,
    )
    env.globals.update(attack_labels=fmt.attack_labels, policy_labels=fmt.policy_labels)
    return env


def render_report(metrics: Mapping[str, Any]) -> str:
    """The HTML page of one configuration's metrics (the metrics.json shape of
    kabuguard.sim.run); parts the metrics lack are left out, not faked."""
    return _environment().get_template("report.html").render(**_single_context(metrics))


def render_compare_report(metrics: Mapping[str, Any]) -> str:
    """The HTML page comparing ``metrics["configs"]`` (each a configuration's metrics)."""
    return _environment().get_template("compare_report.html").render(**_compare_context(metrics))


def _write(out: Path, html: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / REPORT_FILE
    path.write_text(html, encoding="utf-8", newline="\n")
    return path


def write_report(out: Path, metrics: dict) -> Path:
    """Write ``out/report.html`` for one configuration; returns its path."""
    return _write(Path(out), render_report(metrics))


def write_compare_report(out: Path, metrics: dict) -> Path:
    """Write ``out/report.html`` comparing every configuration, linking to each
    configuration's own ``out/<name>/report.html``; returns its path."""
    return _write(Path(out), render_compare_report(metrics))
