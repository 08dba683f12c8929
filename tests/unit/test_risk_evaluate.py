"""kabuguard.risk.evaluate: each counting rule of EVENTS.md "How an evaluation counts",
in the direction it should go, on small hand-made streams; properties on random ones;
the ``kabuguard evaluate`` command."""

from __future__ import annotations

import json
import re

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kabuguard import cli
from kabuguard.cli import app
from kabuguard.risk.evaluate import EvaluationError, Evaluator, evaluate

TS = "2025-04-03T09:{:02d}:00+09:00"


class Stream:
    """Events with their labels and decisions, built in order (ids e1, e2, ...)."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.labels: dict[str, dict] = {}
        self.decisions: dict[str, dict] = {}

    def add(self, kind: str, *, account: str | None = "A1", session: str | None = "s1",
            fraud: bool | None = None, attack: str = "realtime_phishing",
            can_pass: tuple[str, ...] = ("otp",), decision: str = "allow",
            level: str | None = None, actions: tuple[dict, ...] = (), **fields) -> str:
        """Append an event; ``fraud`` None leaves it unlabelled. Returns its id."""
        event_id = f"e{len(self.events) + 1}"
        self.events.append({"id": event_id, "ts": TS.format(len(self.events)), "type": kind,
                            "account": account, "session": session, "channel": "web",
                            "ip": "203.0.113.9", "device": None, "user_agent": None, **fields})
        if fraud is not None:
            self.labels[event_id] = {"id": event_id, "fraud": fraud,
                                     "campaign": "c1" if fraud else None,
                                     "attack": attack if fraud else None, "can_pass": list(can_pass)}
        self.decisions[event_id] = {"id": event_id, "decision": decision, "level": level,
                                    "score": 0.0, "reasons": [], "actions": list(actions)}
        return event_id

    def login(self, **kw) -> str:
        kw.setdefault("outcome", "success")
        return self.add("login", login_id="u", methods=["password"], **kw)

    def order(self, notional: int = 100_000, side: str = "buy", symbol: str = "7203", **kw) -> str:
        return self.add("order", order_id="o", symbol=symbol, side=side, quantity=100,
                        order_type="market", limit_price=None, notional_jpy=notional, **kw)

    def withdrawal(self, amount: int, **kw) -> str:
        return self.add("withdrawal", amount_jpy=amount, bank_account="bank_x", **kw)

    def stopped(self) -> list[str]:
        """Ids of the events ``Evaluator.add`` reports stopped."""
        ev = Evaluator(self.labels, self.decisions)
        return [e["id"] for e in self.events if ev.add(e)]

    def result(self, **kw) -> dict:
        return evaluate(self.events, self.labels, self.decisions, **kw).to_dict()


FRAUD = {"fraud": True}
LEGIT = {"fraud": False, "can_pass": ("otp", "phishing_resistant")}


# --- what stops a fraudulent event ---------------------------------------------------

def test_allowed_fraud_is_counted_and_not_stopped():
    s = Stream()
    s.login(**FRAUD)
    s.order(300_000, **FRAUD)
    s.withdrawal(50_000, **FRAUD)
    s.add("deposit", amount_jpy=10_000_000, **FRAUD)  # not money taken
    o = s.result()["overall"]
    assert o == {"fraud_events": 4, "stopped_events": 0, "money_fraud_jpy": 350_000,
                 "money_stopped_jpy": 0, "money_stopped_share": 0.0, "compromised_accounts": 1,
                 "accounts_stopped_before_first_order": 0,
                 "accounts_stopped_before_first_order_share": 0.0}


@pytest.mark.parametrize("decision", ["hold", "deny"])
def test_a_hold_or_deny_stops_that_event_only(decision):
    s = Stream()
    s.login(**FRAUD)
    held = s.order(300_000, decision=decision, **FRAUD)
    s.order(200_000, **FRAUD)
    assert s.stopped() == [held]
    o = s.result()["overall"]
    assert (o["stopped_events"], o["money_stopped_jpy"], o["money_fraud_jpy"]) == (1, 300_000, 500_000)
    assert o["money_stopped_share"] == 0.6


@pytest.mark.parametrize(("level", "can_pass", "stopped"), [
    ("otp", ("otp",), False),                        # a real-time relay passes an OTP
    ("phishing_resistant", ("otp",), True),          # ... but not a passkey
    ("otp", (), True),                               # a replayed cookie passes nothing
    ("password", ("password",), False),
    ("phishing_resistant", ("password", "otp", "phishing_resistant"), False),
])
def test_a_challenge_stops_only_when_the_level_is_beyond_can_pass(level, can_pass, stopped):
    s = Stream()
    order = s.order(decision="challenge", level=level, fraud=True, can_pass=can_pass)
    assert s.stopped() == ([order] if stopped else [])


def test_a_session_opened_by_a_login_challenged_beyond_can_pass_carries_nothing():
    s = Stream()
    login = s.login(decision="challenge", level="phishing_resistant", fraud=True, can_pass=("otp",))
    later = [s.order(400_000, **FRAUD), s.withdrawal(100_000, **FRAUD),
             s.add("bank_account_change", bank_account="b", **FRAUD)]
    other = s.order(50_000, session="s2", **FRAUD)  # another session of the same account
    assert s.stopped() == [login, *later]
    o = s.result()["overall"]
    assert (o["money_stopped_jpy"], o["money_fraud_jpy"]) == (500_000, 550_000)
    assert other not in s.stopped()


def test_a_login_challenged_at_a_level_it_passes_leaves_its_session_open():
    s = Stream()
    s.login(decision="challenge", level="otp", fraud=True, can_pass=("otp",))
    s.order(**FRAUD)
    assert s.stopped() == []


def test_a_held_login_stops_its_session_but_a_failed_one_stops_no_session():
    s = Stream()
    s.login(decision="deny", outcome="bad_password", session="s1", **FRAUD)
    open_order = s.order(session="s1", **FRAUD)
    held = s.login(decision="hold", session="s2", **FRAUD)
    closed_order = s.order(session="s2", **FRAUD)
    assert s.stopped() == ["e1", held, closed_order]
    assert open_order not in s.stopped()


def test_a_freeze_stops_later_events_of_the_account_not_the_event_itself():
    s = Stream()
    freezing = s.order(100_000, actions=({"type": "freeze_account"},), **FRAUD)
    later = s.order(200_000, session="s9", **FRAUD)  # any session: the account is frozen
    login = s.login(session="s3", **FRAUD)
    elsewhere = s.order(300_000, account="A2", session="s7", **FRAUD)
    assert s.stopped() == [later, login]
    assert freezing not in s.stopped() and elsewhere not in s.stopped()


def test_a_freeze_before_stops_a_later_fraudulent_order_even_from_a_legitimate_event():
    s = Stream()
    s.add("customer_report", report="not_me", actions=({"type": "freeze_account"},), **LEGIT)
    order = s.order(**FRAUD)
    assert s.stopped() == [order]


def test_an_unfreeze_lifts_the_freeze():
    s = Stream()
    s.add("logout", actions=({"type": "freeze_account"},))
    stopped = s.order(**FRAUD)
    # The event that carries the unfreeze still falls under the freeze; the next one not.
    unfreezing = s.add("logout", actions=({"type": "unfreeze_account", "account": "A1"},))
    s.order(**FRAUD)
    assert s.stopped() == [stopped, unfreezing]


def test_an_action_naming_an_account_acts_on_that_account():
    s = Stream()
    s.add("logout", account="OPS", actions=({"type": "freeze_account", "account": "A2"},))
    a1 = s.order(account="A1", **FRAUD)
    a2 = s.order(account="A2", session="s2", **FRAUD)
    assert s.stopped() == [a2]
    assert a1 not in s.stopped()


def test_a_buy_restriction_stops_later_buys_of_the_symbol_by_anyone_but_not_sells():
    s = Stream()
    s.order(symbol="1234", side="buy",
            actions=({"type": "restrict_symbol", "side": "buy"},))  # its own symbol
    sell = s.order(symbol="1234", side="sell", **FRAUD)
    buy = s.order(symbol="1234", side="buy", account="A2", session="s2", **FRAUD)
    other = s.order(symbol="7203", side="buy", **FRAUD)
    s.add("logout", actions=({"type": "lift_restriction", "symbol": "1234", "side": "buy"},))
    after = s.order(symbol="1234", side="buy", **FRAUD)
    assert s.stopped() == [buy]
    assert {sell, other, after}.isdisjoint(s.stopped())


def test_a_restriction_without_side_covers_both_sides():
    s = Stream()
    s.add("logout", actions=({"type": "restrict_symbol", "symbol": "1234"},))
    ids = [s.order(symbol="1234", side=side, **FRAUD) for side in ("buy", "sell")]
    assert s.stopped() == ids


def test_a_revoked_session_carries_no_later_action():
    s = Stream()
    s.login(**FRAUD)
    s.order(actions=({"type": "revoke_session"},), **FRAUD)
    revoked = s.withdrawal(10_000, **FRAUD)
    other = s.order(session="s2", **FRAUD)
    s.add("logout", session="s5", actions=({"type": "revoke_session", "session": "s2"},))
    named = s.order(session="s2", **FRAUD)
    assert s.stopped() == [revoked, named]
    assert other not in s.stopped()


def test_notify_stops_nothing():
    s = Stream()
    s.order(actions=({"type": "notify", "template": "login_alert"},), **FRAUD)
    s.order(**FRAUD)
    assert s.stopped() == []


# --- accounts stopped before the first fraudulent order ------------------------------

@pytest.mark.parametrize(("script", "counted"), [
    # first fraudulent order stopped, a later one allowed: counted (the first is the rule)
    (["order:hold", "order:allow"], True),
    # first allowed, a later one stopped: not counted
    (["order:allow", "order:hold"], False),
    # no fraudulent order, the login stopped: counted
    (["login:deny"], True),
    # no fraudulent order and nothing stopped: not counted
    (["login:allow", "withdrawal:allow"], False),
    # a stopped login, then the attacker's next session trades freely: not counted
    (["login:deny", "login2:allow", "order2:allow"], False),
])
def test_accounts_stopped_before_their_first_fraudulent_order(script, counted):
    s = Stream()
    for step in script:
        kind, decision = step.split(":")
        session = "s2" if kind.endswith("2") else "s1"
        kind = kind.rstrip("2")
        if kind == "order":
            s.order(decision=decision, session=session, **FRAUD)
        elif kind == "login":
            s.login(decision=decision, session=session, **FRAUD)
        else:
            s.withdrawal(1_000, decision=decision, session=session, **FRAUD)
    o = s.result()["overall"]
    assert o["compromised_accounts"] == 1
    assert o["accounts_stopped_before_first_order"] == int(counted)
    assert o["accounts_stopped_before_first_order_share"] == float(counted)


def test_attacks_are_counted_apart_and_add_up_to_the_whole():
    s = Stream()
    s.login(fraud=True, attack="realtime_phishing", decision="hold")
    s.order(700_000, fraud=True, attack="infostealer_session", can_pass=(), account="A2",
            session="s2", decision="challenge", level="otp")
    s.order(300_000, fraud=True, attack="infostealer_session", can_pass=(), account="A3",
            session="s3")
    s.login(fraud=True, attack="credential_stuffing", account=None, session=None,
            outcome="unknown_user")
    r = s.result()
    assert list(r["by_attack"]) == ["credential_stuffing", "infostealer_session", "realtime_phishing"]
    info = r["by_attack"]["infostealer_session"]
    assert (info["fraud_events"], info["stopped_events"], info["money_stopped_jpy"]) == (2, 1, 700_000)
    assert (info["compromised_accounts"], info["accounts_stopped_before_first_order"]) == (2, 1)
    assert r["by_attack"]["credential_stuffing"]["compromised_accounts"] == 0  # no account named
    for key in ("fraud_events", "stopped_events", "money_fraud_jpy", "money_stopped_jpy"):
        assert sum(t[key] for t in r["by_attack"].values()) == r["overall"][key]
    assert r["overall"]["compromised_accounts"] == 3


def test_a_label_without_attack_counts_as_unknown():
    s = Stream()
    s.order(fraud=True)
    s.labels["e1"]["attack"] = None
    assert list(s.result()["by_attack"]) == ["unknown"]


# --- friction ------------------------------------------------------------------------

def test_friction_counts_legitimate_events_only():
    s = Stream()
    s.login(session="s1", decision="challenge", level="otp", **LEGIT)
    s.login(session="s2", **LEGIT)
    s.login(session="s2", **LEGIT)               # the same session once
    s.login(session="s9", outcome="bad_password", **LEGIT)  # opens no session
    s.order(session="s2", decision="challenge", level="phishing_resistant", **LEGIT)
    s.order(session="s2", decision="hold", **LEGIT)
    s.withdrawal(5_000, session="s2", decision="deny", **LEGIT)
    s.add("bank_account_change", bank_account="b", session="s2", decision="hold", **LEGIT)
    s.order(session="s2", **LEGIT)
    s.order(account="X", session="sx", decision="deny", **FRAUD)  # fraud: no friction
    f = s.result()["friction"]
    assert f["legit_sessions"] == 2
    assert f["challenges"] == 2 and f["challenges_per_1000_sessions"] == 1000.0
    assert f["legit_orders_withdrawals"] == 4
    # The held bank account change is friction too, counted apart from orders and
    # withdrawals (the rate's denominator).
    assert f["holds_denials"] == 2 and f["holds_denials_per_1000"] == 500.0
    assert f["other_holds_denials"] == 1
    assert f["legit_stopped_by_unpassable_challenge"] == 0


def test_a_challenge_the_customer_cannot_pass_counts_as_stopping_the_customer():
    s = Stream()
    s.order(decision="challenge", level="phishing_resistant", fraud=False, can_pass=("otp",))
    s.order(decision="challenge", level="otp", fraud=False, can_pass=("otp",))
    s.order(decision="challenge", level="otp")  # unlabelled: legitimate, can pass nothing
    assert s.result()["friction"]["legit_stopped_by_unpassable_challenge"] == 2
    assert s.stopped() == ["e1", "e3"]


def test_legitimate_accounts_frozen_are_counted_once_and_compromised_ones_not():
    s = Stream()
    for _ in range(2):
        s.add("logout", account="L1", actions=({"type": "freeze_account"},), **LEGIT)
    s.add("logout", account="L2", actions=({"type": "freeze_account", "account": "L3"},))
    s.order(account="V1", actions=({"type": "freeze_account"},), **FRAUD)
    s.add("logout", account="L4", **LEGIT)
    f = s.result(accounts={f"P{i}": {} for i in range(5)})["friction"]
    assert f["legit_accounts_frozen"] == 2                 # L1, L3; V1 was compromised
    assert f["legit_accounts"] == 4 + 5                    # L1..L4 and the 5 without events
    assert f["frozen_per_10000_accounts"] == pytest.approx(2 / 9 * 10_000)


def test_rates_without_a_denominator_are_none():
    r = Stream().result()
    assert r["overall"]["money_stopped_share"] is None
    assert r["overall"]["accounts_stopped_before_first_order_share"] is None
    assert r["friction"]["challenges_per_1000_sessions"] is None
    assert r["friction"]["holds_denials_per_1000"] is None
    assert r["friction"]["frozen_per_10000_accounts"] is None
    assert r["by_attack"] == {}


def test_an_event_without_a_decision_is_an_error_naming_it():
    s = Stream()
    s.order(**FRAUD)
    missing = s.order(**FRAUD)
    del s.decisions[missing]
    with pytest.raises(EvaluationError, match="no decision for event 'e2'"):
        s.result()


def test_the_result_is_json_and_has_the_agreed_keys():
    s = Stream()
    s.order(**FRAUD)
    r = s.result()
    assert json.loads(json.dumps(r)) == r
    assert set(r) == {"overall", "by_attack", "friction"}
    assert set(r["friction"]) == {
        "legit_sessions", "challenges", "challenges_per_1000_sessions", "legit_orders_withdrawals",
        "holds_denials", "holds_denials_per_1000",
        "other_holds_denials", "legit_accounts", "legit_accounts_frozen",
        "frozen_per_10000_accounts", "legit_stopped_by_unpassable_challenge"}


# --- properties on random streams -----------------------------------------------------

ACTIONS = st.sampled_from([
    {"type": "freeze_account"}, {"type": "unfreeze_account"}, {"type": "freeze_account", "account": "A2"},
    {"type": "restrict_symbol", "side": "buy"}, {"type": "restrict_symbol", "symbol": "X"},
    {"type": "lift_restriction", "symbol": "X", "side": "buy"}, {"type": "revoke_session"},
    {"type": "revoke_session", "session": "s2"}, {"type": "notify"}])


@st.composite
def streams(draw) -> Stream:
    s = Stream()
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["login", "order", "order", "withdrawal", "logout"]))
        decision = draw(st.sampled_from(["allow", "allow", "allow", "challenge", "hold", "deny"]))
        kw = {"account": draw(st.sampled_from(["A1", "A2", "A3"])),
              "session": draw(st.sampled_from(["s1", "s2", "s3", "s4"])),
              "fraud": draw(st.sampled_from([True, False, None])),
              "attack": draw(st.sampled_from(["p", "q"])),
              "can_pass": tuple(draw(st.sets(st.sampled_from(["password", "otp", "phishing_resistant"])))),
              "decision": decision,
              "level": (draw(st.sampled_from(["otp", "phishing_resistant"]))
                        if decision == "challenge" else None),
              "actions": tuple(draw(st.lists(ACTIONS, max_size=2)))}
        if kind == "login":
            s.login(outcome=draw(st.sampled_from(["success", "success", "bad_password"])), **kw)
        elif kind == "order":
            s.order(draw(st.integers(0, 10**7)), side=draw(st.sampled_from(["buy", "sell"])),
                    symbol=draw(st.sampled_from(["X", "Y"])), **kw)
        elif kind == "withdrawal":
            s.withdrawal(draw(st.integers(1, 10**7)), **kw)
        else:
            s.add(kind, **kw)
    return s


@settings(max_examples=75, deadline=None)
@given(streams())
def test_a_prefix_never_counts_more_than_the_whole(s):
    # Causal: an event's fate depends only on what came before it, so a prefix judges its
    # events as the whole stream does and the counts only grow as the stream goes on (the
    # per-account "before first order" count need not: a later order can undo it).
    whole = s.stopped()
    previous = None
    for n in range(len(s.events) + 1):
        prefix = Evaluator(s.labels, s.decisions)
        flags = [e["id"] for e in s.events[:n] if prefix.add(e)]
        assert flags == [i for i in whole if int(i[1:]) <= n]
        o = prefix.result().overall
        key = (o.fraud_events, o.stopped_events, o.money_fraud_jpy, o.money_stopped_jpy)
        if previous is not None:
            assert all(a <= b for a, b in zip(previous, key, strict=True))
        previous = key
    assert previous == tuple(s.result()["overall"][k] for k in (
        "fraud_events", "stopped_events", "money_fraud_jpy", "money_stopped_jpy"))


@settings(max_examples=75, deadline=None)
@given(streams(), st.data())
def test_stopping_an_event_or_adding_a_freeze_never_stops_less(s, data):
    if not s.events:
        return
    before = s.result()["overall"]
    stopped_before = set(s.stopped())
    target = data.draw(st.sampled_from(sorted(s.decisions)))
    change = data.draw(st.sampled_from(["hold", "freeze", "restrict", "revoke"]))
    d = s.decisions[target]
    if change == "hold":
        d["decision"], d["level"] = "hold", None
    else:
        d["actions"].append({"freeze": {"type": "freeze_account"},
                             "restrict": {"type": "restrict_symbol", "symbol": "X"},
                             "revoke": {"type": "revoke_session"}}[change])
    after = s.result()["overall"]
    assert stopped_before <= set(s.stopped())
    assert after["stopped_events"] >= before["stopped_events"]
    assert after["money_stopped_jpy"] >= before["money_stopped_jpy"]


@settings(max_examples=75, deadline=None)
@given(streams())
def test_counts_are_consistent(s):
    r = s.result()
    for t in [r["overall"], *r["by_attack"].values()]:
        assert 0 <= t["stopped_events"] <= t["fraud_events"]
        assert 0 <= t["money_stopped_jpy"] <= t["money_fraud_jpy"]
        assert 0 <= t["accounts_stopped_before_first_order"] <= t["compromised_accounts"]
    for key in ("fraud_events", "stopped_events", "money_fraud_jpy", "money_stopped_jpy"):
        assert sum(t[key] for t in r["by_attack"].values()) == r["overall"][key]
    fraud_ids = {i for i, label in s.labels.items() if label["fraud"]}
    assert len(set(s.stopped()) & fraud_ids) == r["overall"]["stopped_events"]
    f = r["friction"]
    assert f["legit_accounts_frozen"] <= f["legit_accounts"]
    assert f["legit_stopped_by_unpassable_challenge"] <= f["challenges"]


# --- the command ---------------------------------------------------------------------

runner = CliRunner()


def _write(path, records) -> str:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return str(path)


def _files(tmp_path, s: Stream) -> list[str]:
    return ["--events", _write(tmp_path / "events.jsonl", s.events),
            "--labels", _write(tmp_path / "labels.jsonl", s.labels.values()),
            "--decisions", _write(tmp_path / "decisions.jsonl", s.decisions.values())]


def _sample() -> Stream:
    s = Stream()
    s.login(decision="challenge", level="phishing_resistant", fraud=True, can_pass=("otp",))
    s.order(1_234_000, **FRAUD)
    s.login(session="s2", account="A2", **LEGIT)
    s.order(50_000, session="s2", account="A2", decision="hold", **LEGIT)
    return s


@pytest.fixture
def wide_consoles(monkeypatch):
    """The CLI's consoles are made at import, with whatever width the first importer
    had: fix it, so the tables and messages do not wrap whatever ran before."""
    monkeypatch.setattr(cli.out, "width", 200)
    monkeypatch.setattr(cli.err, "width", 200)


@pytest.mark.usefixtures("wide_consoles")
def test_the_command_prints_tables_and_writes_json(tmp_path):
    out = tmp_path / "eval.json"
    r = runner.invoke(app, ["evaluate", *_files(tmp_path, _sample()), "--json", str(out)],
                      env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    assert "fraud stopped" in r.output and "realtime_phishing" in r.output
    assert "1,234,000" in r.output and "100.0%" in r.output
    assert "friction on legitimate customers" in r.output
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written == _sample().result()
    assert written["overall"]["money_stopped_jpy"] == 1_234_000
    assert written["friction"]["holds_denials"] == 1


def test_the_command_takes_accounts_for_the_denominator(tmp_path):
    accounts = [{"account": f"P{i}", "opened": "2020-01-01", "methods_enrolled": ["password"],
                 "cash_jpy": 0, "holdings": [], "home_country": "JP"} for i in range(3)]
    out = tmp_path / "eval.json"
    r = runner.invoke(app, ["evaluate", *_files(tmp_path, _sample()), "--json", str(out),
                            "--accounts", _write(tmp_path / "accounts.jsonl", accounts)])
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text(encoding="utf-8"))["friction"]["legit_accounts"] == 1 + 3


@pytest.mark.usefixtures("wide_consoles")
def test_a_bad_line_exits_2_with_file_and_line(tmp_path):
    args = _files(tmp_path, _sample())
    path = tmp_path / "events.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace('"web"', '"WEB"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = runner.invoke(app, ["evaluate", *args])
    assert r.exit_code == 2
    message = re.sub(r"\s+", " ", r.output)
    assert "events.jsonl:3: field 'channel' must be one of web, app, api, backup_site, call_center " \
           "(got 'WEB')" in message


def test_a_missing_decision_exits_2_naming_the_event(tmp_path):
    s = _sample()
    del s.decisions["e3"]
    r = runner.invoke(app, ["evaluate", *_files(tmp_path, s)])
    assert r.exit_code == 2
    assert "no decision for event 'e3'" in r.output
