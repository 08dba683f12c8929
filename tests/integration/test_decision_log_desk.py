"""The operations desk's changes to the engine (unfreeze, restrict, lift, revoke) are
kept in the decision log at their place: every process sees them, and a rebuild
decides every stored event exactly as it was decided."""

from __future__ import annotations

import orjson

from factories.events import ACCOUNTS, Stream
from kabuguard.guard.policy import load_policy
from kabuguard.risk.decision_log import DecisionLog
from kabuguard.risk.stream_guard import StreamGuard


def make_log(services) -> DecisionLog:
    policy = load_policy("email_otp_mandatory")
    return DecisionLog(services.db, make_guard=lambda: StreamGuard(policy, {}, ACCOUNTS, risk=False),
                       clock=services.identity.clock)


def decision(log: DecisionLog, event: dict) -> dict:
    return orjson.loads(log.decide([event], batch=False)[0].body)


def test_an_unfreeze_between_two_freezes_replays_in_its_place(services):
    log = make_log(services)
    log.load()
    s = Stream()
    decision(log, s.login(["password", "email_otp"]))
    decision(log, s.report())  # frozen
    assert decision(log, s.order())["reasons"] == ["account_frozen"]
    log.desk([{"type": "unfreeze_account", "account": "A1"}], actor="staff:s1")
    assert decision(log, s.login(["password", "email_otp"], session="s2"))["decision"] == "allow"
    decision(log, s.report())  # frozen again by the customer
    assert "A1" in log.guard.frozen
    # Another process, and a rebuild, agree event by event.
    other = make_log(services)
    report = other.load()
    assert report.differing == 0 and "A1" in other.guard.frozen
    assert log.load().differing == 0


def test_restrictions_and_revoked_sessions_reach_other_processes(services):
    log, other = make_log(services), make_log(services)
    log.load()
    other.load()
    s = Stream()
    decision(log, s.login(["password", "email_otp"]))
    log.desk([{"type": "restrict_symbol", "symbol": "7203", "side": "buy"},
              {"type": "revoke_session", "account": "A2"}], actor="staff:s1")
    # The other process reads the desk's actions from the log before deciding.
    assert decision(other, s.order())["reasons"] == ["symbol_restricted"]
    assert decision(other, s.order(side="sell"))["decision"] == "allow"
    log.desk([{"type": "lift_restriction", "symbol": "7203", "side": "buy"}], actor="staff:s1")
    assert decision(other, s.order())["decision"] == "allow"
    log.desk([{"type": "revoke_session", "account": "A1"}], actor="staff:s1")
    assert decision(other, s.order())["reasons"] == ["session_stopped"]
    assert make_log(services).load().differing == 0
