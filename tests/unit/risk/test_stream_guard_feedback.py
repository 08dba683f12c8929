"""StreamGuard.feedback: what the firm tells the engine after a decision (the decision
API's POST /api/v1/feedback) changes what later events of the stream get."""

from __future__ import annotations

from datetime import datetime, timedelta

from factories.events import ACCOUNTS, Stream
from kabuguard.guard.policy import load_policy
from kabuguard.risk.stream_guard import StreamGuard


def guard(policy: str = "email_otp_mandatory") -> StreamGuard:
    return StreamGuard(load_policy(policy), {}, ACCOUNTS, risk=False)


def _ts(event: dict) -> float:
    return datetime.fromisoformat(event["ts"]).timestamp()


def test_a_failed_challenge_stops_the_session_it_was_asked_in() -> None:
    g, s = guard(), Stream()
    g.decide(s.login(["password", "email_otp"]))
    challenged = s.withdrawal(after=timedelta(minutes=20))
    assert g.decide(challenged)["decision"] == "challenge"
    actions = g.feedback(challenged, "challenge_failed", _ts(challenged))
    assert actions == [{"type": "revoke_session", "session": "s1"}]
    assert g.decide(s.order())["reasons"] == ["session_stopped"]
    # Told twice, nothing more happens.
    assert g.feedback(challenged, "challenge_failed", _ts(challenged)) == []


def test_without_feedback_the_same_session_carries_on() -> None:
    """The contrast to the test above: the stream's own rule reads a later action of a
    challenged session as a passed challenge."""
    g, s = guard(), Stream()
    g.decide(s.login(["password", "email_otp"]))
    g.decide(s.withdrawal(after=timedelta(minutes=20)))
    assert g.decide(s.order())["decision"] == "allow"


def test_a_passed_challenge_counts_at_once() -> None:
    g, s = guard(), Stream()
    login = s.login(["password"], outcome="success")
    assert g.decide(login)["decision"] == "challenge"
    assert (g.sessions["s1"].level, g.sessions["s1"].pending_level) == (1, 2)
    assert g.feedback(login, "challenge_passed", _ts(login)) == []
    # The otp the login asked for is now what the session has proven.
    assert (g.sessions["s1"].level, g.sessions["s1"].pending_level) == (2, 0)
    assert g.decide(s.order())["decision"] == "allow"


def test_a_customer_report_on_an_event_freezes_its_account() -> None:
    g, s = guard("baseline_2024"), Stream()
    login = s.login(["password"])
    g.decide(login)
    order = s.order()
    assert g.decide(order)["decision"] == "allow"
    actions = g.feedback(order, "customer_report", _ts(order))
    assert {"type": "freeze_account", "account": "A1"} in actions
    assert {"type": "revoke_session", "session": "s1"} in actions
    assert g.decide(s.login(["password"], session="s2"))["reasons"] == ["account_frozen"]
    # Another customer is untouched.
    assert g.decide(s.login(["password"], account="A2", session="s3"))["decision"] == "allow"


def test_analyst_verdicts_change_no_decision() -> None:
    g, s = guard("baseline_2024"), Stream()
    login = s.login(["password"])
    g.decide(login)
    for kind in ("analyst_fraud", "analyst_legit"):
        assert g.feedback(login, kind, _ts(login)) == []
    assert g.decide(s.order())["decision"] == "allow"
