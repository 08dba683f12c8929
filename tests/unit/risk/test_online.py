"""Online scoring (risk/online.py): the would-be event of an action, the stream
guard's read-only answer for it, the guard meeting a login's risk challenge with the
login's own proof, and the journal's events handed over after commit only."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from factories.customers import make_customer
from factories.events import Stream
from factories.streams import HOSTING_IP, KOREA_IP, Brokerage, account
from kabuguard.domain.assurance import Level
from kabuguard.domain.events import Channel, Event, EventType, RequestContext
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import Actor, Outcome
from kabuguard.guard.policy import load_policy
from kabuguard.guard.services import Guard, RiskResult
from kabuguard.risk.event_check import Checked, check_event
from kabuguard.risk.online import AppEventFeed, build_event, step_up_methods
from kabuguard.web.api.decisions import build_decision_api

NOW = datetime(2026, 5, 11, 1, 0, tzinfo=UTC)
CTX = RequestContext(ip="192.0.2.10", channel=Channel.API, session="ses1", device="d1",
                     user_agent="UA")


# -- the would-be event ------------------------------------------------------------------


def test_a_login_is_built_with_what_the_actor_proved():
    for level, methods in ((Level.PASSWORD, ["password"]), (Level.OTP, ["password", "totp"]),
                           (Level.PHISHING_RESISTANT, ["passkey"])):
        event = build_event(Action.LOGIN, Actor("A1", level, NOW), CTX, now=NOW)
        assert event is not None
        assert (event["type"], event["outcome"], event["methods"]) == ("login", "success", methods)
        assert event["session"] is None  # the login's session does not exist yet
        assert isinstance(check_event({k: v for k, v in event.items() if k != "_ts"}), Checked)


def test_an_order_carries_its_fields_and_the_step_up_made_for_it():
    fields = {"order_id": "o1", "symbol": "7203", "side": "buy", "quantity": 100,
              "order_type": "market", "limit_price": None, "notional_jpy": 300_000}
    fresh = Actor("A1", Level.PHISHING_RESISTANT, NOW, session_id="ses1",
                  step_up_at=NOW - timedelta(seconds=30), step_up_action="order")
    event = build_event(Action.ORDER, fresh, CTX, now=NOW, fields=fields)
    assert event is not None
    assert event["methods"] == ["passkey"] and event["notional_jpy"] == 300_000
    assert (event["account"], event["session"], event["channel"]) == ("A1", "ses1", "api")
    assert isinstance(check_event({k: v for k, v in event.items() if k != "_ts"}), Checked)
    # A step-up for another action, or minutes old, is no confirmation of this one.
    other = Actor("A1", Level.OTP, NOW, step_up_at=NOW, step_up_action="withdrawal")
    stale = Actor("A1", Level.OTP, NOW, step_up_at=NOW - timedelta(minutes=3))
    for actor in (other, stale):
        event = build_event(Action.ORDER, actor, CTX, now=NOW, fields=fields)
        assert event is not None and "methods" not in event
    assert step_up_methods(Actor("A1", Level.OTP, NOW, step_up_at=NOW), Action.ORDER,
                           NOW) == ("totp",)


def test_mfa_changes_say_which_and_cancelling_an_order_has_no_event():
    actor = Actor("A1", Level.OTP, NOW)
    enroll = build_event(Action.MFA_ENROLL, actor, CTX, now=NOW, fields={"method": "passkey"})
    remove = build_event(Action.MFA_REMOVE, actor, CTX, now=NOW, fields={"method": "totp"})
    assert enroll is not None and remove is not None
    assert (enroll["type"], enroll["change"], remove["change"]) == ("mfa_change", "enroll",
                                                                   "remove")
    assert build_event(Action.CANCEL_ORDER, actor, CTX, now=NOW) is None


# -- the stream guard's read-only answer -------------------------------------------------


def _online(event: dict) -> dict:
    return {**event, "_ts": datetime.fromisoformat(event["ts"]).timestamp()}


def test_assess_answers_what_decide_would_and_changes_nothing():
    watched, plain = Brokerage([account("A")]), Brokerage([account("A")])
    for b in (watched, plain):
        assert b.login("A", "s1")["decision"] == "allow"
    # A stolen session used from Korea: the engine would revoke it ...
    order = {"id": "x", "ts": (watched.ts + timedelta(seconds=30)).isoformat(),
             "type": "order", "account": "A", "session": "s1", "channel": "web",
             "ip": KOREA_IP, "device": "dev-A", "user_agent": watched.events[0]["user_agent"],
             "order_id": "o", "symbol": "9999", "side": "buy", "quantity": 1000,
             "order_type": "market", "limit_price": None, "notional_jpy": 200_000}
    risk = watched.guard.assess(_online(order))
    assert risk.outcome is Outcome.DENY
    assert {"type": "revoke_session", "session": "s1"} in risk.effects
    assert "session_country_change" in risk.reasons
    # ... but asking changed nothing: the session lives, the detector saw no order,
    # and the same stream decides the same afterwards.
    assert watched.guard.engine.cross.symbols_tracked == 0
    assert "s1" in watched.guard.sessions and not watched.guard.stopped
    for b in (watched, plain):
        b.order("A", "s1", "9999", "buy", 1000, ip=KOREA_IP)
        b.order("A", "s1", "7203", "sell", 100)
    assert watched.decisions == plain.decisions
    assert watched.decisions[1]["decision"] == "deny"


def test_assess_reports_the_streams_own_stops():
    b = Brokerage([account("A"), account("B")])
    b.login("A", "s1")
    b.login("B", "s2")
    b.guard.frozen.add("B")
    b.guard.restricted.add(("9999", "buy"))
    b.guard.feedback({"session": "s1"}, "challenge_failed", b.ts.timestamp())
    base = {"ts": b.ts.isoformat(), "channel": "web", "ip": "192.0.2.10", "device": None,
            "user_agent": None, "id": "x", "type": "withdrawal", "amount_jpy": 1,
            "bank_account": "k"}
    assert b.guard.assess(_online({**base, "account": "A", "session": "s1"})).reasons == (
        "session_stopped",)
    assert b.guard.assess(_online({**base, "account": "B", "session": "s2"})).reasons == (
        "account_frozen",)
    buy = {**base, "type": "order", "account": "C", "session": None, "symbol": "9999",
           "side": "buy", "quantity": 100, "notional_jpy": 20_000}
    assert b.guard.assess(_online(buy)).outcome is Outcome.DENY


def test_assess_of_an_unusual_login_asks_for_a_passkey():
    b = Brokerage([account("A")])
    login = {"id": "x", "ts": (b.ts + timedelta(minutes=1)).isoformat(), "type": "login",
             "account": "A", "session": None, "channel": "web", "ip": HOSTING_IP,
             "device": "kit", "user_agent": None, "login_id": "", "outcome": "success",
             "methods": ["password", "email_otp"]}
    risk = b.guard.assess(_online(login))
    assert (risk.outcome, risk.required_level) == (Outcome.CHALLENGE, Level.PHISHING_RESISTANT)
    assert "risky_login" in risk.reasons
    assert b.guard.engine.logins.score("A", b.guard.engine.login_observation(login),
                                       NOW.timestamp()).new_device  # nothing learnt


# -- the guard: a login's risk challenge met by the login's own proof ---------------------


class Fixed:
    def __init__(self, result: RiskResult) -> None:
        self.result = result

    def score(self, action, actor, context, *, now, fields=None):
        return self.result


@pytest.mark.parametrize(("action", "actor", "expected"), [
    (Action.LOGIN, Actor("A1", Level.PHISHING_RESISTANT, NOW), Outcome.ALLOW),
    (Action.LOGIN, Actor("A1", Level.OTP, NOW), Outcome.CHALLENGE),
    # An action's rules exempt the step-up made for it themselves (``event_level``):
    # when one fires, a passkey session confirms this very order.
    (Action.ORDER, Actor("A1", Level.PHISHING_RESISTANT, NOW - timedelta(minutes=20)),
     Outcome.CHALLENGE),
])
def test_a_risk_challenge_is_met_by_the_logins_own_proof(action, actor, expected):
    challenge = RiskResult(Outcome.CHALLENGE, Level.PHISHING_RESISTANT, reasons=("rule",))
    guard = Guard(load_policy("email_otp_mandatory"), risk=Fixed(challenge))
    decision = guard.check(action, actor, CTX, now=NOW,
                           strongest_enrolled=Level.PHISHING_RESISTANT)
    assert decision.outcome is expected
    assert "rule" in decision.reasons


# -- the journal's events, after commit only ---------------------------------------------


class Log:
    def __init__(self) -> None:
        self.received: list[list[dict]] = []

    def record_app_events(self, events: list[dict]) -> int:
        self.received.append(list(events))
        return len(events)


def test_the_feed_hands_over_committed_events_in_order_and_never_rolled_back_ones(services):
    log = Log()
    services.journal.add_listener(AppEventFeed(log))  # type: ignore[arg-type]
    account_id = make_customer(services)
    assert log.received == []  # opening an account journals no customer event
    services.broker.deposit(account_id, 5_000, context=CTX)
    assert [[e["type"] for e in batch] for batch in log.received] == [["deposit"]]
    now = services.identity.clock()

    def record_two(prefix: str, *, fail: bool) -> None:
        with services.db.write() as session:
            for etype in (EventType.PASSWORD_CHANGE, EventType.LOGOUT):
                services.journal.record(
                    session, Event(f"{prefix}-{etype}", now, etype, account_id, CTX),
                    actor="test")
            if fail:
                raise RuntimeError  # rolled back: nothing reaches the engine

    with pytest.raises(RuntimeError):
        record_two("e", fail=True)
    assert len(log.received) == 1
    record_two("f", fail=False)
    assert [e["id"] for e in log.received[-1]] == ["f-password_change", "f-logout"]


def test_assess_does_not_wait_for_the_logs_writers(services):
    """The app's guard asks the engine from inside its own write transaction (a
    passkey login) while a writer of the decision log may hold the log and wait for
    the database (SQLite: one writer at a time): ``assess`` must not wait for the log's
    lock, or the two wait for each other for ever."""
    log = build_decision_api(services).log
    log.load()
    stream = Stream(prefix="w")
    online = {**stream.login(["password", "email_otp"]), "_ts": stream.ts.timestamp()}
    answers: list[RiskResult] = []
    with log.lock:  # a writer of the log, mid-write
        asker = threading.Thread(target=lambda: answers.append(log.assess(online)),
                                 daemon=True)
        asker.start()
        asker.join(timeout=10)
    assert len(answers) == 1
    log.decide([stream.login(["password", "email_otp"])], batch=False)  # the log still works
