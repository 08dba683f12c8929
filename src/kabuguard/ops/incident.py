"""犯罪発生報告書 (crime occurrence report) drafts, one per incident.

FSA supervisory guideline (2025-10-15, JP-RULES.md §2 F-12): a firm that learns of
unauthorised access or trading reports it to the FSA / Local Finance Bureau. The form
(様式) itself was not found (JP-RULES.md §2, "NOT FOUND"), so the draft carries the
provisional fields listed there, mirroring the FSA statistics: dates of occurrence and
discovery, counts of unauthorised accesses and trades, sell and buy amounts, method,
customers affected, compensation status and the measures taken; it says on its face
that it is a draft to fit to the official form.

The figures are counted as :mod:`kabuguard.ops.fsa_stats` counts them, over the case's
confirmed fraudulent events; measures come from the guard's decisions on the case's
accounts (freezes, revoked sessions, symbol restrictions, notices, held orders) and
from what the operator adds.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy.orm import Session

from kabuguard.domain.events import JST
from kabuguard.ops.fraud import FraudSet, load_stream, load_verdicts, parse_ts, went_through
from kabuguard.ops.fsa_stats import access_key, format_oku
from kabuguard.sim import report_format as fmt

TIMELINE_MAX = 200  # rows in the annex; the evidence bundle holds every event

EVENT_LABELS: Mapping[str, str] = {
    "login": "ログイン", "logout": "ログアウト", "order": "注文", "withdrawal": "出金",
    "bank_account_change": "出金先口座の変更", "contact_change": "連絡先の変更",
    "password_change": "パスワードの変更", "mfa_change": "多要素認証の変更",
    "recovery": "アカウント復旧", "deposit": "入金", "customer_report": "顧客からの申告",
}
OUTCOME_LABELS: Mapping[str, str] = {
    "success": "成功", "bad_password": "パスワード誤り", "bad_second_factor": "追加認証の失敗",
    "locked": "ロック中", "unknown_user": "存在しないID",
}
CHANNEL_LABELS: Mapping[str, str] = {
    "web": "ウェブサイト", "app": "スマートフォンアプリ", "api": "API",
    "backup_site": "バックアップサイト", "call_center": "コールセンター",
}
METHOD_LABELS: Mapping[str, str] = {
    "password": "パスワード", "email_otp": "メールOTP", "sms_otp": "SMS OTP", "totp": "認証アプリ",
    "emoji": "絵文字認証", "app_push": "アプリ承認", "phone_call": "電話番号認証",
    "passkey": "パスキー", "pki": "PKI",
}


class CompensationStatus(StrEnum):
    """Where the customer's compensation stands (CASE.md "Compensation")."""

    NOT_STARTED = "not_started"
    UNDER_REVIEW = "under_review"
    OFFERED = "offered"
    AGREED = "agreed"
    PAID = "paid"
    DECLINED = "declined"

    @property
    def label_ja(self) -> str:
        return {"not_started": "未着手", "under_review": "検討中", "offered": "補償案を提示済み",
                "agreed": "顧客と合意済み", "paid": "支払済み",
                "declined": "補償の対象外と判断"}[self.value]


@dataclass(frozen=True, slots=True)
class Case:
    """An incident: the accounts taken over and, optionally, the events it covers
    (None: every confirmed fraudulent event of those accounts)."""

    id: str
    accounts: tuple[str, ...]
    title: str = ""
    event_ids: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Compensation:
    status: CompensationStatus = CompensationStatus.NOT_STARTED
    amount_jpy: int | None = None
    rule: str = ""  # e.g. "原状回復", "買付損失の50%＋見舞金1万円"
    note: str = ""


@dataclass(frozen=True, slots=True)
class Measure:
    """Something done about the incident, when, and who or what did it."""

    text: str
    at: datetime | None = None
    by: str = ""  # "自動（不正検知）", an operator's name


@dataclass(frozen=True, slots=True)
class Firm:
    name: str
    registration: str = ""  # 金融商品取引業者登録番号, e.g. 関東財務局長（金商）第○号
    contact: str = ""  # 担当部署・担当者・連絡先


@dataclass(frozen=True, slots=True)
class TimelineRow:
    at: datetime
    account: str
    kind: str
    detail: str
    channel: str
    ip: str
    went_through: bool


@dataclass(frozen=True, slots=True)
class IncidentReport:
    """Everything the draft shows; :func:`render_incident_html` prints it."""

    case: Case
    firm: Firm
    prepared_at: datetime
    prepared_by: str
    occurred_from: datetime | None
    occurred_to: datetime | None
    discovered_at: datetime | None
    discovery_basis: str
    accounts: tuple[str, ...]
    accesses: int
    trades: int
    sells: int
    buys: int
    sell_jpy: int
    buy_jpy: int
    withdrawals: int
    withdrawal_jpy: int
    stopped_events: int
    stopped_jpy: int
    attacks: tuple[str, ...]
    channels: tuple[str, ...]
    countries: tuple[tuple[str, int], ...]
    login_methods: tuple[str, ...]
    actions: tuple[str, ...]
    symbols_bought: tuple[tuple[str, int], ...]
    compensation: Compensation
    measures: tuple[Measure, ...]
    prevention: tuple[str, ...]
    timeline: tuple[TimelineRow, ...]
    timeline_total: int

    @property
    def customers_affected(self) -> int:
        return len(self.accounts)


@dataclass(slots=True)
class _Counts:
    sessions: set[str] = field(default_factory=set)
    trades: int = 0
    sells: int = 0
    buys: int = 0
    sell_jpy: int = 0
    buy_jpy: int = 0
    withdrawals: int = 0
    withdrawal_jpy: int = 0
    stopped: int = 0
    stopped_jpy: int = 0
    accounts: set[str] = field(default_factory=set)
    bought: Counter[str] = field(default_factory=Counter)


def build_incident_report(
    case: Case, events: Iterable[Mapping[str, Any]], fraud: FraudSet, *, now: datetime,
    firm: Firm, prepared_by: str = "", decisions: Mapping[str, Mapping[str, Any]] | None = None,
    through: Container[str] | None = None, compensation: Compensation | None = None,
    measures: Sequence[Measure] = (), prevention: Sequence[str] = (),
) -> IncidentReport:
    """The draft for ``case`` from the stream ``events`` (time order; other accounts'
    events are skipped), the verdicts ``fraud``, the ``decisions`` made on the events
    and the ids that went through (:func:`kabuguard.ops.fraud.went_through`; None: all)."""
    accounts = frozenset(case.accounts)
    decisions = decisions or {}
    counts = _Counts()
    fraud_events: list[tuple[Mapping[str, Any], bool]] = []
    reports: list[tuple[datetime, str]] = []
    auto: list[Measure] = []
    for e in events:
        if e.get("account") not in accounts:
            continue
        event_id = e["id"]
        is_case = (case.event_ids is not None and event_id in case.event_ids) or (
            case.event_ids is None and fraud.is_fraud(event_id))
        if e["type"] == "customer_report":
            reports.append((parse_ts(e["ts"]), str(e.get("report", ""))))
        decision = decisions.get(event_id)
        if is_case:
            ok = through is None or event_id in through
            fraud_events.append((e, ok))
            _count(counts, e, ok)
        if decision is not None and (is_case or fraud_events):
            auto.extend(_measures_from(e, decision, is_case))
    first = parse_ts(fraud_events[0][0]["ts"]) if fraud_events else None
    last = parse_ts(fraud_events[-1][0]["ts"]) if fraud_events else None
    discovered_at, basis = _discovery(fraud_events, fraud, reports, decisions, first)
    verdicts = [fraud.verdict(e["id"]) for e, _ in fraud_events]
    attacks = sorted({v.attack for v in verdicts if v is not None and v.attack})
    countries = Counter(str(e["ip_country"]) for e, _ in fraud_events if e.get("ip_country"))
    login_methods = sorted({"＋".join(METHOD_LABELS.get(m, m) for m in e.get("methods") or ())
                            for e, ok in fraud_events
                            if e["type"] == "login" and e.get("outcome") == "success" and ok
                            and e.get("methods")})
    timeline = [_timeline_row(e, ok) for e, ok in fraud_events[:TIMELINE_MAX]]
    return IncidentReport(
        case=case, firm=firm, prepared_at=now, prepared_by=prepared_by,
        occurred_from=first, occurred_to=last, discovered_at=discovered_at,
        discovery_basis=basis, accounts=tuple(sorted(counts.accounts)),
        accesses=len(counts.sessions), trades=counts.trades, sells=counts.sells, buys=counts.buys,
        sell_jpy=counts.sell_jpy, buy_jpy=counts.buy_jpy, withdrawals=counts.withdrawals,
        withdrawal_jpy=counts.withdrawal_jpy, stopped_events=counts.stopped,
        stopped_jpy=counts.stopped_jpy,
        attacks=tuple(fmt.attack_labels(a)[0] for a in attacks),
        channels=tuple(sorted({CHANNEL_LABELS.get(str(e.get("channel")), str(e.get("channel")))
                               for e, _ in fraud_events})),
        countries=tuple(countries.most_common()),
        login_methods=tuple(login_methods),
        actions=tuple(sorted({EVENT_LABELS.get(e["type"], e["type"]) for e, _ in fraud_events})),
        symbols_bought=tuple(counts.bought.most_common(10)),
        compensation=compensation or Compensation(),
        measures=tuple(sorted([*_merge(auto), *measures],
                              key=lambda m: (m.at is None, m.at or now))),
        prevention=tuple(prevention), timeline=tuple(timeline),
        timeline_total=len(fraud_events))


def incident_report_from_db(session: Session, case: Case, *, now: datetime, firm: Firm,
                            prepared_by: str = "", compensation: Compensation | None = None,
                            measures: Sequence[Measure] = (),
                            prevention: Sequence[str] = ()) -> IncidentReport:
    """The draft for ``case`` from what the firm holds: the accounts' events and
    decisions (decision API log and outbox) and the analysts' verdicts."""
    stream = load_stream(session, accounts=case.accounts)
    through = went_through(stream.events, stream.decisions,
                           challenge_outcomes=stream.challenge_outcomes)
    return build_incident_report(
        case, stream.events, load_verdicts(session), now=now, firm=firm, prepared_by=prepared_by,
        decisions=stream.decisions, through=through, compensation=compensation,
        measures=measures, prevention=prevention)


def _count(c: _Counts, e: Mapping[str, Any], ok: bool) -> None:
    kind = e["type"]
    money = int(e.get("notional_jpy") or 0) if kind == "order" else (
        int(e.get("amount_jpy") or 0) if kind == "withdrawal" else 0)
    if e.get("account"):
        c.accounts.add(e["account"])
    if not ok:
        c.stopped += 1
        c.stopped_jpy += money
        return
    if kind == "login" and e.get("outcome") != "success":
        return
    key = access_key(e)
    if key is not None:
        c.sessions.add(key)
    if kind == "order":
        c.trades += 1
        if e.get("side") == "sell":
            c.sells, c.sell_jpy = c.sells + 1, c.sell_jpy + money
        else:
            c.buys, c.buy_jpy = c.buys + 1, c.buy_jpy + money
            c.bought[str(e.get("symbol"))] += money
    elif kind == "withdrawal":
        c.withdrawals, c.withdrawal_jpy = c.withdrawals + 1, c.withdrawal_jpy + money


def _discovery(fraud_events: Sequence[tuple[Mapping[str, Any], bool]], fraud: FraudSet,
               reports: Sequence[tuple[datetime, str]],
               decisions: Mapping[str, Mapping[str, Any]],
               first: datetime | None) -> tuple[datetime | None, str]:
    """The earliest moment the firm knew: a stopping decision or freeze on a case
    event, the customer's report, or an analyst's confirmation."""
    candidates: list[tuple[datetime, str]] = []
    for e, _ in fraud_events:
        d = decisions.get(e["id"])
        if d is not None and (d.get("decision") in ("hold", "deny") or any(
                a.get("type") == "freeze_account" for a in d.get("actions") or ())):
            candidates.append((parse_ts(e["ts"]), "不正検知による保留・拒否又は口座凍結"))
            break
    if first is not None:
        candidates.extend((at, f"顧客からの申告（{_report_label(kind)}）")
                          for at, kind in reports if at >= first)
    confirmed = [v.confirmed_at for e, _ in fraud_events
                 if (v := fraud.verdict(e["id"])) is not None and v.confirmed_at is not None]
    if confirmed:
        candidates.append((min(confirmed), "分析担当者による不正の確認"))
    if not candidates:
        return None, "記録なし（手入力してください）"
    return min(candidates, key=lambda c: c[0])


def _report_label(kind: str) -> str:
    return {"not_me": "身に覚えのない取引", "suspicious_email": "不審なメール",
            "self_lock": "顧客自身によるログイン停止"}.get(kind, kind or "内容不明")


def _measures_from(e: Mapping[str, Any], decision: Mapping[str, Any], is_case: bool) -> list[Measure]:
    at = parse_ts(e["ts"])
    by = "自動（不正検知）"
    out = []
    if is_case and decision.get("decision") in ("hold", "deny"):
        verb = "保留" if decision["decision"] == "hold" else "拒否"
        out.append(Measure(f"不正な{EVENT_LABELS.get(e['type'], e['type'])}を{verb}", at, by))
    for action in decision.get("actions") or ():
        kind = action.get("type")
        account = action.get("account") or e.get("account")
        if kind == "freeze_account":
            out.append(Measure(f"口座 {account} を凍結", at, by))
        elif kind == "unfreeze_account":
            out.append(Measure(f"口座 {account} の凍結を解除", at, by))
        elif kind == "revoke_session":
            out.append(Measure("不正に利用されたセッションを無効化", at, by))
        elif kind == "restrict_symbol":
            symbol = action.get("symbol") or e.get("symbol")
            out.append(Measure(f"銘柄 {symbol} の買付を制限", at, by))
        elif kind == "notify":
            out.append(Measure(f"口座 {account} の顧客へ通知", at, by))
    return out


def _merge(measures: Sequence[Measure]) -> list[Measure]:
    """The same measure repeated (a notice per event) once, at its first time, with
    the count."""
    first: dict[str, Measure] = {}
    count: Counter[str] = Counter()
    for m in measures:
        count[m.text] += 1
        first.setdefault(m.text, m)
    return [Measure(f"{t}（{count[t]}件）" if count[t] > 1 else t, m.at, m.by)
            for t, m in first.items()]


def _timeline_row(e: Mapping[str, Any], ok: bool) -> TimelineRow:
    kind = e["type"]
    if kind == "order":
        side = "売" if e.get("side") == "sell" else "買"
        detail = f"{e.get('symbol')} {side} {e.get('quantity', '')}株 ¥{int(e.get('notional_jpy') or 0):,}"
    elif kind == "withdrawal":
        detail = f"¥{int(e.get('amount_jpy') or 0):,}"
    elif kind == "login":
        detail = OUTCOME_LABELS.get(str(e.get("outcome")), str(e.get("outcome", "")))
    else:
        detail = str(e.get("field") or e.get("change") or e.get("stage") or "")
    return TimelineRow(parse_ts(e["ts"]), str(e.get("account")), EVENT_LABELS.get(kind, kind),
                       detail, CHANNEL_LABELS.get(str(e.get("channel")), str(e.get("channel"))),
                       str(e.get("ip", "")), ok)


# -------------------------------------------------------------------------- render


def format_jst(ts: datetime | None) -> str:
    """
    >>> from datetime import UTC
    >>> format_jst(datetime(2025, 4, 8, 1, 5, tzinfo=UTC)), format_jst(None)
    ('2025年4月8日 10:05', '—')
    """
    if ts is None:
        return fmt.DASH
    j = ts.astimezone(JST)
    return f"{j.year}年{j.month}月{j.day}日 {j:%H:%M}"


@functools.cache
def _environment() -> Environment:
    env = Environment(loader=PackageLoader("kabuguard.ops", "templates"), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters.update(jst=format_jst, yen=fmt.format_yen, oku=format_oku, count=fmt.format_count)
    return env


def render_incident_html(report: IncidentReport) -> str:
    """The draft as one self-contained, print-ready HTML page (A4, Japanese)."""
    return _environment().get_template("incident_report.html").render(r=report)
