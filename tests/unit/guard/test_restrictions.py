"""Account restrictions in Guard.check: a bar no authentication lifts, until its time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kabuguard.domain.events import Channel, RequestContext
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import ActionRestricted, Actor, Outcome
from kabuguard.guard.policy import load_policy
from kabuguard.guard.services import Guard
from kabuguard.identity.cooling_off import BARRED_ACTIONS, restrictions_for
from kabuguard.identity.methods import Level

NOW = datetime(2025, 11, 4, 1, 0, tzinfo=UTC)
UNTIL = NOW + timedelta(hours=72)
WEB = RequestContext(ip="192.0.2.1", channel=Channel.WEB)


def restricted(level: Level = Level.PHISHING_RESISTANT) -> Actor:
    return Actor("1000001", level, NOW, restrictions=restrictions_for(UNTIL, now=NOW))


def test_barred_actions_are_denied_whatever_the_level():
    guard = Guard(load_policy("jsda_2025_mandatory"))
    for action in BARRED_ACTIONS:
        d = guard.check(action, restricted(), WEB, now=NOW,
                        strongest_enrolled=Level.PHISHING_RESISTANT)
        assert d.outcome is Outcome.DENY, action
        assert d.reasons == ("recovery_cooling_off",)
        assert d.sources == ("restriction",)
        assert d.restricted_until == UNTIL


def test_the_restriction_comes_before_a_step_up():
    # A password session would otherwise be asked for a passkey, then refused anyway.
    guard = Guard(load_policy("jsda_2025_mandatory"))
    d = guard.check(Action.WITHDRAWAL, restricted(Level.PASSWORD), WEB, now=NOW,
                    strongest_enrolled=Level.PHISHING_RESISTANT)
    assert d.outcome is Outcome.DENY


def test_other_actions_and_the_time_after_are_unaffected():
    guard = Guard(load_policy("baseline_2024"))
    for action in (Action.ORDER, Action.PASSWORD_CHANGE, Action.MFA_ENROLL, Action.RECOVERY):
        assert guard.check(action, restricted(), WEB, now=NOW).allowed, action
    assert guard.check(Action.WITHDRAWAL, restricted(), WEB, now=UNTIL).allowed
    assert guard.check(Action.WITHDRAWAL, restricted(), WEB,
                       now=UNTIL - timedelta(seconds=1)).outcome is Outcome.DENY


def test_the_refusal_says_until_when():
    guard = Guard(load_policy("baseline_2024"))
    exc = ActionRestricted(guard.check(Action.BANK_ACCOUNT_CHANGE, restricted(), WEB, now=NOW))
    assert exc.status == 403
    assert exc.to_dict()["error"] == "action_restricted"
    assert exc.params["until"] == UNTIL.isoformat()
    assert exc.params["reason"] == "recovery_cooling_off"
    assert "2025-11-07 10:00 JST" in exc.message


def test_recovery_asks_otp_in_the_jsda_presets():
    # What a lost-phone recovery can prove; a passkey holder needs no recovery.
    for name in ("jsda_2025_mandatory", "jsda_2025_recommended"):
        guard = Guard(load_policy(name))
        ok = guard.check(Action.RECOVERY, Actor("1", Level.OTP, NOW), WEB, now=NOW)
        assert ok.allowed, name
        d = guard.check(Action.RECOVERY, Actor("1", Level.PASSWORD, NOW), WEB, now=NOW)
        assert d.outcome is Outcome.CHALLENGE
        assert d.required_level is Level.OTP
