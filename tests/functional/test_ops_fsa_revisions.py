"""A late case changes a past month of the FSA statistics, and the revision is
recorded with what changed and why (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from itertools import count

import orjson
from sqlalchemy import select

from kabuguard.audit.models import AuditRecord
from kabuguard.ops.fraud import load_stream, load_verdicts
from kabuguard.ops.fsa_revisions import FsaReports, figures_from_db, revisions_csv
from kabuguard.ops.fsa_stats import month_range, monthly_figures
from kabuguard.ops.incident import Case, Firm, incident_report_from_db
from kabuguard.risk.models import RiskEvent, RiskFeedback

_seq = count(1)


def _event(session, event_id, ts, kind, account, *, decision="allow", sess=None, **fields):
    body = {"id": event_id, "ts": ts, "type": kind, "account": account, "session": sess,
            "channel": "web", "ip": "203.0.113.9", "device": None, "user_agent": None, **fields}
    session.add(RiskEvent(
        id=event_id, seq=next(_seq), ts=datetime.fromisoformat(ts), received_at=datetime.fromisoformat(ts),
        type=kind, account=account, decision=decision, event_json=orjson.dumps(body).decode(),
        decision_json=orjson.dumps({"id": event_id, "decision": decision, "actions": []}).decode()))


def _verdict(session, event_id, kind, at, note=None):
    session.add(RiskFeedback(id=f"fb-{event_id}-{kind}", seq=next(_seq), event_id=event_id, kind=kind,
                             note=note, actions_json="[]", created_at=at))


def _report(services, clock, note=None):
    with services.db.read() as session:
        figures, fraud = figures_from_db(session, months=month_range("2025-04", "2025-05"))
    reports = FsaReports(journal=services.journal, clock=clock)
    with services.db.write() as session:
        return reports.record_run(session, figures, fraud=fraud, actor="ops:test",
                                  source="risk_feedback", note=note)


def test_a_late_case_revises_the_past_month_and_says_why(services, clock):
    with services.db.write() as session:
        # April: account A hijacked (login, a sell, a buy); B's sell is not yet known as fraud.
        _event(session, "a-login", "2025-04-10T09:00:00.000+09:00", "login", "A", sess="sa",
               login_id="a", outcome="success", methods=["password", "email_otp"])
        _event(session, "a-sell", "2025-04-10T09:02:00.000+09:00", "order", "A", sess="sa",
               side="sell", symbol="7203", quantity=100, notional_jpy=30_000_000)
        _event(session, "a-buy", "2025-04-10T09:03:00.000+09:00", "order", "A", sess="sa",
               side="buy", symbol="9999", quantity=1000, notional_jpy=25_000_000)
        _event(session, "b-sell", "2025-04-20T13:00:00.000+09:00", "order", "B", sess="sb",
               side="sell", symbol="7203", quantity=500, notional_jpy=150_000_000)
        # a fraudulent order the guard held: never counted
        _event(session, "a-held", "2025-04-10T09:04:00.000+09:00", "order", "A", sess="sa",
               decision="hold", side="buy", symbol="9999", quantity=1000, notional_jpy=99_000_000)
        # May: account C
        _event(session, "c-buy", "2025-05-02T10:00:00.000+09:00", "order", "C", sess="sc",
               side="buy", symbol="9999", quantity=10, notional_jpy=1_000_000)
        for eid in ("a-login", "a-sell", "a-buy", "a-held", "c-buy"):
            _verdict(session, eid, "analyst_fraud", datetime(2025, 5, 2, tzinfo=UTC))

    clock.now = datetime(2025, 5, 8, 1, 0, tzinfo=UTC)
    first = {r.month: r for r in _report(services, clock)}
    april = first["2025-04"]
    assert (april.revision, april.changed) == (1, True)
    assert april.figures.values() == {"firms": 1, "accesses": 1, "trades": 2,
                                      "sell_jpy": 30_000_000, "buy_jpy": 25_000_000}
    assert first["2025-05"].figures.trades == 1

    # Weeks later the customer of B complains and an analyst confirms B's sell.
    with services.db.write() as session:
        _verdict(session, "b-sell", "analyst_fraud", datetime(2025, 5, 20, tzinfo=UTC),
                 note="顧客からの申告で判明")
    clock.now = datetime(2025, 6, 6, 1, 0, tzinfo=UTC)
    second = {r.month: r for r in _report(services, clock, note="6月更新")}
    april2, may2 = second["2025-04"], second["2025-05"]
    assert (april2.revision, april2.changed, april2.previous_revision) == (2, True, 1)
    assert {(c.field, c.old, c.new) for c in april2.fields} == {
        ("accesses", 1, 2), ("trades", 2, 3), ("sell_jpy", 30_000_000, 180_000_000)}
    assert [c.event_id for c in april2.added] == ["b-sell"]
    assert april2.added[0].late and april2.late_count == 1
    assert "前回改訂後に確認された事案 1件" in april2.reason()
    assert (may2.revision, may2.changed) == (1, False)  # May did not move

    # A wrong verdict corrected: B's sell was the customer's after all.
    with services.db.write() as session:
        _verdict(session, "b-sell", "analyst_legit", datetime(2025, 6, 10, tzinfo=UTC))
    clock.now = datetime(2025, 7, 7, 1, 0, tzinfo=UTC)
    april3 = {r.month: r for r in _report(services, clock)}["2025-04"]
    assert april3.revision == 3
    assert [c.event_id for c in april3.removed] == ["b-sell"]
    assert "不正ではないと訂正" in april3.reason()

    reports = FsaReports()
    with services.db.read() as session:
        history = reports.history(session, month="2025-04")
        latest = {f.month: f for f in reports.latest(session)}
        runs = session.execute(select(AuditRecord).where(AuditRecord.action == "ops:fsa_report_run")
                               ).scalars().all()
        assert services.audit.verify(session).ok
    assert [r.revision for r in history] == [1, 2, 3]
    assert history[1].added[0].note == "顧客からの申告で判明"  # read back from the stored revision
    assert latest["2025-04"].trades == 2
    assert len(runs) == 3

    rows = list(csv.reader(io.StringIO(revisions_csv(history))))
    assert rows[0][:7] == ["対象月", "版", "改訂日時（JST）", "項目", "改訂前", "改訂後", "理由"]
    assert rows[1][:4] == ["2025年4月", "1", "2025-05-08 10:00 JST", "（初回報告）"]
    sell = ["2025年4月", "2", "2025-06-06 10:00 JST", "売却金額", "約0.3億円", "約2億円"]
    assert sell in [r[:6] for r in rows]


def test_a_month_whose_cases_are_all_cleared_is_revised_to_zero(services, clock):
    with services.db.write() as session:
        _event(session, "x", "2025-04-03T10:00:00.000+09:00", "order", "X", sess="sx",
               side="buy", symbol="9999", quantity=1, notional_jpy=10)
        _verdict(session, "x", "analyst_fraud", datetime(2025, 4, 4, tzinfo=UTC))
    reports = FsaReports(clock=clock)
    with services.db.read() as session:
        stream, fraud = load_stream(session), load_verdicts(session)
    with services.db.write() as session:
        reports.record_run(session, monthly_figures(stream.events, fraud), fraud=fraud,
                           actor="t", source="t")
    with services.db.write() as session:
        _verdict(session, "x", "analyst_legit", datetime(2025, 4, 9, tzinfo=UTC))
    with services.db.read() as session:
        fraud = load_verdicts(session)
    assert monthly_figures(stream.events, fraud) == []  # nothing left to show
    with services.db.write() as session:
        [april] = reports.record_run(session, [], fraud=fraud, actor="t", source="t",
                                     period=("2025-04", "2025-04"))
    assert (april.revision, april.figures.trades) == (2, 0)
    assert [c.event_id for c in april.removed] == ["x"]


def test_an_incident_report_from_the_database(services):
    with services.db.write() as session:
        _event(session, "p-login", "2025-04-10T09:00:00.000+09:00", "login", "P", sess="sp",
               login_id="p", outcome="success", methods=["password", "sms_otp"])
        _event(session, "p-sell", "2025-04-10T09:02:00.000+09:00", "order", "P", sess="sp",
               side="sell", symbol="7203", quantity=100, notional_jpy=30_000_000)
        _event(session, "p-held", "2025-04-10T09:04:00.000+09:00", "order", "P", sess="sp",
               decision="hold", side="buy", symbol="9999", quantity=1000, notional_jpy=99_000_000)
        _event(session, "q-sell", "2025-04-10T09:05:00.000+09:00", "order", "Q", sess="sq",
               side="sell", symbol="7203", quantity=100, notional_jpy=1)
        for eid in ("p-login", "p-sell", "p-held", "q-sell"):
            _verdict(session, eid, "analyst_fraud", datetime(2025, 4, 11, tzinfo=UTC))
    with services.db.read() as session:
        report = incident_report_from_db(session, Case("INC-1", ("P",)),
                                         now=datetime(2025, 4, 12, tzinfo=UTC), firm=Firm("かぶガード証券"))
    assert (report.accounts, report.accesses, report.trades, report.sell_jpy) == (("P",), 1, 1, 30_000_000)
    assert (report.stopped_events, report.stopped_jpy) == (1, 99_000_000)
    assert report.discovered_at == datetime(2025, 4, 10, 0, 4, tzinfo=UTC)
    assert [m.text for m in report.measures] == ["不正な注文を保留"]
    assert report.login_methods == ("パスワード＋SMS OTP",)
