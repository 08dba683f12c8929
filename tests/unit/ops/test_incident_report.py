"""犯罪発生報告書 drafts: the fields a report needs, from the case's events."""

from __future__ import annotations

from datetime import UTC, datetime

from kabuguard.ops.fraud import FraudSet, Verdict, went_through
from kabuguard.ops.fsa_stats import monthly_figures
from kabuguard.ops.incident import (
    Case,
    Compensation,
    CompensationStatus,
    Firm,
    Measure,
    build_incident_report,
    render_incident_html,
)

NOW = datetime(2025, 4, 20, 3, 0, tzinfo=UTC)
CONFIRMED = datetime(2025, 4, 12, 1, 0, tzinfo=UTC)


def _e(i, ts, kind, account="A", session="s1", **fields):
    return {"id": i, "ts": f"2025-04-{ts}+09:00", "type": kind, "account": account, "session": session,
            "channel": "web", "ip": "203.0.113.7", "device": "dev-x", "user_agent": None, **fields}


EVENTS = [
    _e("own", "09T08:00:00.000", "login", session="s0", outcome="success", methods=["password"]),
    _e("l1", "10T09:00:00.000", "login", outcome="success", methods=["password", "email_otp"],
       ip_country="CN"),
    _e("o1", "10T09:01:00.000", "order", side="sell", symbol="7203", quantity=500,
       notional_jpy=1_500_000, ip_country="CN"),
    _e("o2", "10T09:02:00.000", "order", side="buy", symbol="9999", quantity=5000,
       notional_jpy=1_000_000, ip_country="CN"),
    _e("o3", "10T09:03:00.000", "order", side="buy", symbol="9999", quantity=5000,
       notional_jpy=2_000_000, ip_country="CN"),  # held
    _e("w1", "10T09:04:00.000", "withdrawal", amount_jpy=300_000),  # after the freeze: stopped
    _e("rep", "11T10:00:00.000", "customer_report", session=None, report="not_me", channel="call_center"),
    _e("b1", "10T11:00:00.000", "order", account="B", session="sb", side="buy", symbol="9999",
       quantity=10, notional_jpy=9),  # another account: not in the case
]
EVENTS.sort(key=lambda e: e["ts"])
DECISIONS = {e["id"]: {"decision": "allow", "actions": []} for e in EVENTS}
DECISIONS["o3"] = {"decision": "hold", "actions": [{"type": "freeze_account"},
                                                   {"type": "notify", "template": "frozen"}]}
FRAUD = FraudSet({i: Verdict(True, "analyst_fraud", CONFIRMED, attack="realtime_phishing")
                  for i in ("l1", "o1", "o2", "o3", "w1", "b1")})


def _report(**kw):
    through = went_through(EVENTS, DECISIONS)
    return build_incident_report(
        Case("INC-2025-001", ("A",), title=kw.pop("title", "")), EVENTS, FRAUD, now=NOW,
        firm=Firm("かぶガード証券", "関東財務局長（金商）第0000号"), decisions=DECISIONS,
        through=through, **kw)


def test_the_report_has_the_fields_a_report_needs():
    call = Measure("顧客へ電話で連絡し、パスワードを再設定", datetime(2025, 4, 11, 2, tzinfo=UTC),
                   "オペレーター 佐藤")
    r = _report(compensation=Compensation(CompensationStatus.OFFERED, 500_000, "原状回復"),
                measures=[call])
    assert r.occurred_from.isoformat() == "2025-04-10T09:00:00+09:00"
    assert r.occurred_to.isoformat() == "2025-04-10T09:04:00+09:00"
    # The guard held an order and froze the account before the customer called.
    assert r.discovered_at.isoformat() == "2025-04-10T09:03:00+09:00"
    assert "口座凍結" in r.discovery_basis
    assert (r.customers_affected, r.accounts) == (1, ("A",))
    assert (r.accesses, r.trades, r.sells, r.buys) == (1, 2, 1, 1)
    assert (r.sell_jpy, r.buy_jpy) == (1_500_000, 1_000_000)
    assert (r.withdrawals, r.stopped_events, r.stopped_jpy) == (0, 2, 2_300_000)
    assert r.attacks == ("リアルタイムフィッシング",)
    assert r.countries == (("CN", 4),)
    assert r.login_methods == ("パスワード＋メールOTP",)
    texts = [m.text for m in r.measures]
    assert texts[:3] == ["不正な注文を保留", "口座 A を凍結", "口座 A の顧客へ通知"]
    assert texts[-1] == "顧客へ電話で連絡し、パスワードを再設定"
    assert r.compensation.status.label_ja == "補償案を提示済み"


def test_its_counts_are_the_fsa_statistics_of_the_same_events():
    r = _report()
    through = went_through(EVENTS, DECISIONS)
    case_only = FraudSet({i: FRAUD.verdict(i) for i in ("l1", "o1", "o2", "o3", "w1")})
    [april] = monthly_figures(EVENTS, case_only, through=through)
    assert (r.accesses, r.trades, r.sell_jpy, r.buy_jpy) == (
        april.accesses, april.trades, april.sell_jpy, april.buy_jpy)


def test_without_decisions_the_customer_report_or_the_verdict_dates_discovery():
    r = build_incident_report(Case("c", ("A",)), EVENTS, FRAUD, now=NOW, firm=Firm("x"))
    assert r.discovered_at.isoformat() == "2025-04-11T10:00:00+09:00"
    assert r.discovery_basis == "顧客からの申告（身に覚えのない取引）"
    no_report = [e for e in EVENTS if e["id"] != "rep"]
    r = build_incident_report(Case("c", ("A",)), no_report, FRAUD, now=NOW, firm=Firm("x"))
    assert (r.discovered_at, r.discovery_basis) == (CONFIRMED, "分析担当者による不正の確認")
    assert r.trades == 3  # every event went through: no decisions to say otherwise


def test_a_case_can_name_its_events():
    r = build_incident_report(Case("c", ("A",), event_ids=frozenset({"o1"})), EVENTS, FraudSet(),
                              now=NOW, firm=Firm("x"))
    assert (r.trades, r.sell_jpy, r.accesses) == (1, 1_500_000, 1)


def test_html_is_japanese_print_ready_and_escaped():
    html = render_incident_html(_report(title="<script>alert(1)</script>",
                                        prevention=["パスキーの必須化"]))
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    for text in ("犯罪発生報告書（案）", "2025年4月10日 09:00", "認知の端緒", "被害顧客数",
                 "¥1,500,000（0.1億円未満）",
                 "リアルタイムフィッシング", "補償の状況", "講じた措置", "パスキーの必須化",
                 "関東財務局長（金商）第0000号", "@page { size: A4"):
        assert text in html, text
    assert html.count("<tr><td>2025年4月10日") == 5  # the annex: the case's five fraudulent events
    assert "阻止" in html and "成立" in html
