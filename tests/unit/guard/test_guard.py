"""Guard.check: policy level, freshness, interim alternative, enrolment, risk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kabuguard.domain.events import Channel, RequestContext
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import Actor, Outcome
from kabuguard.guard.policy import load_policy
from kabuguard.guard.services import Guard, RiskResult
from kabuguard.identity.methods import Level

NOW = datetime(2025, 11, 4, 1, 0, tzinfo=UTC)
WEB = RequestContext(ip="192.0.2.1", channel=Channel.WEB)


def actor(level: Level | None, minutes_ago: float = 0) -> Actor:
    at = NOW - timedelta(minutes=minutes_ago) if level else None
    return Actor("1000001", level, at)


def test_baseline_allows_everything_with_a_password():
    guard = Guard(load_policy("baseline_2024"))
    for action in Action:
        decision = guard.check(action, actor(Level.PASSWORD, 600), WEB, now=NOW)
        assert decision.outcome is Outcome.ALLOW, action


def test_mandatory_preset_challenges_withdrawal_for_a_password_session():
    guard = Guard(load_policy("jsda_2025_mandatory"))
    d = guard.check(Action.WITHDRAWAL, actor(Level.PASSWORD), WEB, now=NOW,
                    strongest_enrolled=Level.PHISHING_RESISTANT)
    assert d.outcome is Outcome.CHALLENGE
    assert d.required_level is Level.PHISHING_RESISTANT
    assert "level_too_low" in d.reasons
    assert d.to_dict() == {"decision": "challenge", "level": "phishing_resistant",
                           "reasons": ["level_too_low"], "actions": []}


def test_freshness():
    guard = Guard(load_policy("jsda_2025_mandatory"))
    fresh = guard.check(Action.WITHDRAWAL, actor(Level.PHISHING_RESISTANT, 4), WEB, now=NOW,
                        strongest_enrolled=Level.PHISHING_RESISTANT)
    stale = guard.check(Action.WITHDRAWAL, actor(Level.PHISHING_RESISTANT, 6), WEB, now=NOW,
                        strongest_enrolled=Level.PHISHING_RESISTANT)
    assert fresh.outcome is Outcome.ALLOW
    assert stale.outcome is Outcome.CHALLENGE
    assert stale.reasons == ("stale_authentication",)
    # Orders ride on the session under the mandatory preset...
    assert guard.check(Action.ORDER, actor(Level.PASSWORD, 300), WEB,
                       now=NOW).outcome is Outcome.ALLOW
    # ... and need a recent passkey under the recommended one.
    rec = Guard(load_policy("jsda_2025_recommended"))
    assert rec.check(Action.ORDER, actor(Level.PHISHING_RESISTANT, 11), WEB, now=NOW,
                     strongest_enrolled=Level.PHISHING_RESISTANT).outcome is Outcome.CHALLENGE


def test_interim_alternative_until_the_published_date():
    guard = Guard(load_policy("jsda_2025_mandatory"))
    before = guard.check(Action.WITHDRAWAL, actor(Level.OTP, 1), WEB, now=NOW,
                         strongest_enrolled=Level.OTP)
    assert before.outcome is Outcome.ALLOW
    assert "interim_alternative" in before.reasons
    after = guard.check(Action.WITHDRAWAL, actor(Level.OTP, 1), WEB,
                        now=datetime(2026, 4, 1, 1, tzinfo=UTC), strongest_enrolled=Level.OTP)
    assert after.outcome is Outcome.CHALLENGE
    assert after.required_level is Level.PHISHING_RESISTANT
    assert "enrolment_required" in after.reasons
    # A customer who has a passkey gets no interim discount.
    with_key = guard.check(Action.WITHDRAWAL, actor(Level.OTP, 1), WEB, now=NOW,
                           strongest_enrolled=Level.PHISHING_RESISTANT)
    assert with_key.outcome is Outcome.CHALLENGE


def test_password_only_customer_is_told_to_enrol():
    guard = Guard(load_policy("jsda_2025_mandatory"))
    d = guard.check(Action.LOGIN, actor(Level.PASSWORD), WEB, now=NOW)
    assert d.outcome is Outcome.CHALLENGE
    assert d.required_level is Level.PHISHING_RESISTANT
    assert "enrolment_required" in d.reasons


def test_backup_site_gets_the_same_rule():
    guard = Guard(load_policy("jsda_2025_mandatory"))
    backup = RequestContext(ip="192.0.2.1", channel=Channel.BACKUP_SITE)
    assert guard.check(Action.LOGIN, actor(Level.PASSWORD), backup,
                       now=NOW).outcome is Outcome.CHALLENGE


class FixedRisk:
    def __init__(self, result: RiskResult) -> None:
        self.result = result

    def score(self, action, actor, context, *, now, fields=None):
        return self.result


@pytest.mark.parametrize(("risk", "expected", "level"), [
    (RiskResult(), Outcome.ALLOW, None),
    (RiskResult(required_level=Level.OTP, reasons=("new_device",)), Outcome.CHALLENGE, Level.OTP),
    (RiskResult(required_level=Level.PASSWORD), Outcome.ALLOW, None),
    (RiskResult(outcome=Outcome.HOLD, reasons=("sell_all_after_new_login",)), Outcome.HOLD, None),
    (RiskResult(outcome=Outcome.DENY, reasons=("known_bad_ip",)), Outcome.DENY, None),
])
def test_risk_can_only_make_it_stricter(risk, expected, level):
    guard = Guard(load_policy("baseline_2024"), risk=FixedRisk(risk))
    d = guard.check(Action.ORDER, actor(Level.PASSWORD), WEB, now=NOW)
    assert d.outcome is expected
    assert d.required_level is level
    for reason in risk.reasons:
        assert reason in d.reasons


def test_once_only_actions_need_a_step_up_of_their_own_each_time():
    """``max_age: 0s`` (Rakuten 2025: a challenge for every single order): a login or an
    old step-up is not enough; a step-up made moments ago for this action (or for none
    in particular) is, until it is spent."""
    guard = Guard(load_policy("emoji_all_trades"))
    just_logged_in = Actor("1000001", Level.OTP, NOW)
    d = guard.check(Action.ORDER, just_logged_in, WEB, now=NOW, strongest_enrolled=Level.OTP)
    assert (d.outcome, d.reasons) == (Outcome.CHALLENGE, ("confirmation_per_action",))
    assert d.required_level is Level.OTP

    def stepped_up(seconds_ago: float, action: str | None) -> Actor:
        at = NOW - timedelta(seconds=seconds_ago)
        return Actor("1000001", Level.OTP, at, step_up_at=at, step_up_action=action)

    for actor_, outcome in [(stepped_up(1, "order"), Outcome.ALLOW),
                            (stepped_up(1, None), Outcome.ALLOW),
                            (stepped_up(1, "withdrawal"), Outcome.CHALLENGE),
                            (stepped_up(121, "order"), Outcome.CHALLENGE)]:
        assert guard.check(Action.ORDER, actor_, WEB, now=NOW,
                           strongest_enrolled=Level.OTP).outcome is outcome
    # A fresh step-up at too low a level is still too low.
    weak = Actor("1000001", Level.PASSWORD, NOW, step_up_at=NOW, step_up_action="order")
    assert guard.check(Action.ORDER, weak, WEB, now=NOW,
                       strongest_enrolled=Level.OTP).reasons == ("level_too_low",)
