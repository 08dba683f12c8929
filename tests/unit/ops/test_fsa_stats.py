"""The FSA monthly figures equal a direct count from the events, in the FSA's layout."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from kabuguard.ops.fraud import FraudSet, went_through
from kabuguard.ops.fsa_stats import (
    FOOTNOTES,
    MonthFigures,
    format_oku,
    month_range,
    monthly_figures,
    to_csv,
    to_svg,
    total,
)

JST = ZoneInfo("Asia/Tokyo")
T0 = datetime(2025, 3, 31, 14, 0, tzinfo=UTC)  # 23:00 JST on 31 March: months turn over soon

KINDS = ("login", "login_fail", "order", "withdrawal", "logout", "contact_change")


@st.composite
def streams(draw):
    """Random events across JST month ends (times written in JST or UTC), a random
    set confirmed fraudulent, and optionally decisions that stop some of them."""
    n = draw(st.integers(0, 60))
    offsets = sorted(draw(st.lists(st.integers(0, 60 * 24 * 70), min_size=n, max_size=n)))
    events = []
    for i, minutes in enumerate(offsets):
        ts = T0 + timedelta(minutes=minutes)
        text = (ts.astimezone(JST).isoformat(timespec="milliseconds") if draw(st.booleans())
                else ts.isoformat().replace("+00:00", "Z"))
        kind = draw(st.sampled_from(KINDS))
        e = {"id": f"e{i}", "ts": text, "account": draw(st.sampled_from(["A", "B", "C"])),
             "session": draw(st.sampled_from([None, "s1", "s2", "s3", "s4"])),
             "channel": "web", "ip": "192.0.2.1", "device": None, "user_agent": None}
        if kind.startswith("login"):
            e.update(type="login", login_id="x",
                     outcome="success" if kind == "login" else "bad_password", methods=["password"])
        elif kind == "order":
            e.update(type="order", order_id=f"o{i}", symbol="7203",
                     side=draw(st.sampled_from(["buy", "sell"])), quantity=100,
                     order_type="market", limit_price=None,
                     notional_jpy=draw(st.integers(1, 10**9)))
        elif kind == "withdrawal":
            e.update(type="withdrawal", amount_jpy=draw(st.integers(1, 10**7)), bank_account="b")
        else:
            e["type"] = kind
            if kind == "contact_change":
                e["field"] = "email"
        events.append(e)
    fraud = {e["id"] for e in events if draw(st.booleans())}
    decisions = None
    if draw(st.booleans()):
        verdicts = st.sampled_from(["allow", "allow", "hold", "deny"])
        decisions = {e["id"]: {"id": e["id"], "decision": draw(verdicts), "actions": []}
                     for e in events}
    return events, fraud, decisions


def direct_count(events, fraud, decisions):
    """The definitions, counted another way: group what the fraudsters got done by
    session, take each session's earliest month, parse every time."""
    done, dead = [], set()  # sessions opened by a stopped login carry nothing (EVENTS.md)
    for e in events:
        stopped = decisions is not None and (decisions[e["id"]]["decision"] != "allow"
                                             or e["session"] in dead)
        if stopped and e["type"] == "login" and e["outcome"] == "success" and e["session"]:
            dead.add(e["session"])
        if e["id"] in fraud and not stopped and not (
                e["type"] == "login" and e["outcome"] != "success"):
            done.append(e)

    def month(e):
        return datetime.fromisoformat(e["ts"]).astimezone(JST).strftime("%Y-%m")

    by_session = defaultdict(list)
    for e in done:
        if e["session"] is not None or e["type"] == "login":  # recovery etc.: no access
            by_session[e["session"] or e["id"]].append(e)
    out = defaultdict(lambda: {"accesses": 0, "trades": 0, "sell_jpy": 0, "buy_jpy": 0, "firms": 0})
    for group in by_session.values():
        out[min(month(e) for e in group)]["accesses"] += 1
    for e in done:
        if e["type"] == "order":
            row = out[month(e)]
            row["trades"] += 1
            row["firms"] = 1
            row["sell_jpy" if e["side"] == "sell" else "buy_jpy"] += e["notional_jpy"]
    return {m: v for m, v in out.items()}


@settings(max_examples=300, deadline=None)
@given(streams())
def test_monthly_figures_equal_a_direct_count(stream):
    events, fraud, decisions = stream
    through = went_through(events, decisions)
    figures = monthly_figures(events, FraudSet.from_ids(fraud), through=through)
    got = {f.month: {k: v for k, v in f.values().items()} for f in figures}
    assert got == direct_count(events, fraud, decisions)
    # every event counted is one of the fraud ids that went through
    for f in figures:
        assert f.event_ids <= fraud


def test_a_stolen_session_is_one_access_and_a_refused_login_none():
    ev = [
        {"id": "l1", "ts": "2025-04-01T09:00:00.000+09:00", "type": "login", "outcome": "success",
         "session": "victim", "account": "A"},  # the customer's own login
        {"id": "o1", "ts": "2025-04-01T09:05:00.000+09:00", "type": "order", "side": "sell",
         "notional_jpy": 1_000_000, "session": "victim", "account": "A"},
        {"id": "o2", "ts": "2025-04-01T09:06:00.000+09:00", "type": "order", "side": "buy",
         "notional_jpy": 900_000, "session": "victim", "account": "A"},
        {"id": "l2", "ts": "2025-04-02T09:00:00.000+09:00", "type": "login", "outcome": "bad_password",
         "session": None, "account": "B"},
    ]
    [april] = monthly_figures(ev, FraudSet.from_ids(["o1", "o2", "l2"]))
    assert (april.accesses, april.trades, april.sell_jpy, april.buy_jpy) == (1, 2, 1_000_000, 900_000)


def test_the_month_is_japan_time():
    ev = [{"id": "o", "ts": "2025-04-30T15:30:00Z", "type": "order", "side": "buy",
           "notional_jpy": 5, "session": "s", "account": "A"}]
    [m] = monthly_figures(ev, FraudSet.from_ids(["o"]))
    assert m.month == "2025-05"


def test_firms_row_counts_firms_with_trades_and_the_total_counts_each_once():
    ev = [{"id": f"o{i}", "ts": f"2025-0{m}-01T10:00:00.000+09:00", "type": "order", "side": "buy",
           "notional_jpy": 1, "session": f"s{i}", "account": "A", "firm": firm}
          for i, (m, firm) in enumerate([(4, "X"), (4, "Y"), (5, "X")])]
    ev.append({"id": "l", "ts": "2025-06-01T10:00:00.000+09:00", "type": "login", "outcome": "success",
               "session": "z", "account": "A", "firm": "Z"})
    figures = monthly_figures(ev, FraudSet.from_ids([e["id"] for e in ev]))
    assert [f.firms for f in figures] == [2, 1, 0]  # an access without a trade is no firm
    assert total(figures).firms == 2


def test_went_through_follows_the_evaluation_rules():
    base = {"account": "A", "channel": "web", "ip": "192.0.2.1"}
    ev = [
        {**base, "id": "l", "ts": "2025-04-01T09:00:00.000+09:00", "type": "login",
         "outcome": "success", "session": "s"},
        {**base, "id": "c", "ts": "2025-04-01T09:01:00.000+09:00", "type": "order", "side": "sell",
         "symbol": "7203", "notional_jpy": 10, "session": "s"},  # challenged, then passed
        {**base, "id": "d", "ts": "2025-04-01T09:02:00.000+09:00", "type": "order", "side": "buy",
         "symbol": "9999", "notional_jpy": 10, "session": "s"},  # challenged, session ends
        {**base, "id": "f", "ts": "2025-04-01T09:03:00.000+09:00", "type": "withdrawal",
         "amount_jpy": 5, "session": "t"},  # after the freeze
    ]
    decisions = {
        "l": {"decision": "allow", "actions": []},
        "c": {"decision": "challenge", "level": "otp", "actions": []},
        "d": {"decision": "challenge", "level": "otp", "actions": [{"type": "freeze_account"}]},
        "f": {"decision": "allow", "actions": []},
    }
    assert went_through(ev, decisions) == {"l", "c"}
    # the challenge feedback overrides the inference; a label's can_pass overrides both
    assert went_through(ev, decisions, challenge_outcomes={"c": False}) == {"l"}
    assert went_through(ev, decisions, labels={"d": {"can_pass": ["otp"]}}) == {"l", "c", "d"}
    assert went_through(ev, None) == {"l", "c", "d", "f"}


def test_oku_rounding_as_the_fsa_prints_it():
    # The FSA's own table of 2025-05-08: 0.8, 1, 129, 1,481 (億円).
    assert [format_oku(y) for y in (80_000_000, 104_000_000, 12_940_000_000, 148_149_999_999)] == [
        "約0.8億円", "約1億円", "約129億円", "約1,481億円"]
    assert format_oku(14_950_000_000) == "約150億円"  # half up, not to even
    assert format_oku(4_999_999) == "0.1億円未満"
    assert format_oku(0) == "0億円"


def _rows(text):
    return list(csv.reader(io.StringIO(text)))


def test_csv_has_the_fsa_layout():
    figures = [MonthFigures("2025-03", 1, 1420, 687, 12_900_000_000, 12_800_000_000, frozenset({"x"})),
               MonthFigures("2025-04", 1, 4852, 2746, 148_100_000_000, 130_800_000_000, frozenset({"x"}))]
    text = to_csv(figures)
    assert "\r\n" in text
    rows = _rows(text)
    assert rows[0] == ["項目", "2025年3月", "2025年4月", "合計"]
    assert [r[0] for r in rows[1:6]] == ["不正取引が発生した証券会社数（社）", "不正アクセス件数",
                                         "不正取引件数", "売却金額", "買付金額"]
    assert rows[1][1:] == ["1", "1", "1"]
    assert rows[2][1:] == ["1,420", "4,852", "6,272"]
    assert rows[4][1:] == ["約129億円", "約1,481億円", "約1,610億円"]  # the total rounds the sum
    assert rows[6] == []
    assert [r[0][:2] for r in rows[7:]] == ["※1", "※2", "※3", "※4"]
    assert tuple(r[0] for r in rows[7:]) == FOOTNOTES
    exact = _rows(to_csv(figures, exact_yen=True))
    assert exact[4][0] == "売却金額（円）"
    assert exact[4][1:] == ["12900000000", "148100000000", "161000000000"]


def test_svg_chart_is_standalone_and_stable():
    figures = monthly_figures([], FraudSet(), months=month_range("2025-01", "2025-04"))
    figures[3] = MonthFigures("2025-04", 1, 10, 5, 300_000_000, 200_000_000)
    svg = to_svg(figures, revised={"2025-04"})
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert svg == to_svg(figures, revised={"2025-04"})
    assert "2025年4月※" in svg and "2025年3月※" not in svg
    assert "約3億円" in svg  # the amounts' tooltips print as the table does
    assert "顧客の損失額と一致しない" in svg


def test_month_range_rejects_a_bad_month():
    import pytest

    with pytest.raises(ValueError, match="2025-13"):
        month_range("2025-01", "2025-13")
