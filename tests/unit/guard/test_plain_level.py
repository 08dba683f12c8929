"""Guard.plain_level: the shortcut the stream guard takes must be exactly what check says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kabuguard.domain.assurance import Level
from kabuguard.domain.events import Channel, RequestContext
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import Actor, Decision, Outcome
from kabuguard.guard.policy import load_policy
from kabuguard.guard.services import Guard, RiskResult

NOW = datetime(2025, 11, 4, 1, 0, tzinfo=UTC)
PRESETS = ("baseline_2024", "email_otp_mandatory", "emoji_all_trades", "jsda_2025_mandatory",
           "jsda_2025_recommended")
AGES = (timedelta(0), timedelta(minutes=3), timedelta(hours=11))


def _check(guard: Guard, action: Action, channel: Channel, level: Level,
           age: timedelta, risk: RiskResult) -> Decision:
    actor = Actor("A1", level, NOW - age, session_id="s1")
    return guard.check(action, actor, RequestContext(ip="192.0.2.1", channel=channel), now=NOW,
                       strongest_enrolled=Level.PASSWORD, risk=risk)


@pytest.mark.parametrize("preset", PRESETS)
def test_at_or_above_the_plain_level_check_allows_outright_at_any_age(preset: str) -> None:
    guard = Guard(load_policy(preset))
    plain_somewhere = False
    for action in Action:
        for channel in Channel:
            plain = guard.plain_level(action, channel)
            if plain is None:
                continue
            for level in Level:
                for age in AGES:
                    decision = _check(guard, action, channel, level, age, RiskResult(score=1.5))
                    if level >= plain:
                        plain_somewhere = True
                        assert decision.outcome is Outcome.ALLOW, (action, channel, level)
                        assert decision.reasons == () and decision.effects == ()
                        assert decision.sources == (f"policy:{guard.policy.name}",)
                    else:
                        assert decision.outcome is Outcome.CHALLENGE
    assert plain_somewhere


def test_no_plain_level_where_freshness_or_a_confirmation_per_action_rules() -> None:
    guard = Guard(load_policy("emoji_all_trades"))
    # A confirmation for every order: a session's level is never enough on its own.
    assert guard.plain_level(Action.ORDER, Channel.WEB) is None
    assert _check(guard, Action.ORDER, Channel.WEB, Level.PHISHING_RESISTANT, AGES[2],
                  RiskResult()).outcome is Outcome.CHALLENGE
    mandatory = Guard(load_policy("email_otp_mandatory"))
    # A code no older than 5 minutes for a withdrawal: it depends on the session's age.
    assert mandatory.plain_level(Action.WITHDRAWAL, Channel.WEB) is None
    assert mandatory.plain_level(Action.LOGIN, Channel.WEB) is Level.OTP
    assert mandatory.plain_level(Action.ORDER, Channel.WEB) is Level.OTP
