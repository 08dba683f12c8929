"""The policy's ``mfa_removal`` section (parsed with line-numbered errors) and
``Guard.check_last_strong_removal``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import Actor, Outcome, PolicyError
from kabuguard.guard.policy import LastStrong, MfaRemoval, load_policy, parse_policy
from kabuguard.guard.services import Guard
from kabuguard.identity.methods import Level

ALL_ACTIONS = "\n".join(f"  {a.value}: {{level: password}}" for a in Action)
GOOD = f"version: 1\nname: test\nactions:\n{ALL_ACTIONS}\n"
SECTION_LINE = 3 + len(Action) + 1  # the "mfa_removal:" line appended to GOOD
NOW = datetime(2025, 11, 4, 1, 0, tzinfo=UTC)


def with_section(body: str) -> str:
    return GOOD + "mfa_removal:\n" + body


def test_the_section_parses():
    policy = parse_policy(with_section("  last_strong: cooling_off\n  cooling_off: 48h\n"
                                       "  max_age: 2m\n"))
    assert policy.mfa_removal == MfaRemoval(LastStrong.COOLING_OFF, timedelta(hours=48),
                                            timedelta(minutes=2))
    assert parse_policy(with_section("  last_strong: forbid\n")).mfa_removal.last_strong \
        is LastStrong.FORBID
    flow = parse_policy(GOOD + "mfa_removal: {last_strong: immediate}\n").mfa_removal
    assert flow.last_strong is LastStrong.IMMEDIATE


def test_absent_means_a_72_hour_cooling_off():
    rule = parse_policy(GOOD).mfa_removal
    assert (rule.last_strong, rule.cooling_off, rule.max_age) == (
        LastStrong.COOLING_OFF, timedelta(hours=72), timedelta(minutes=5))


@pytest.mark.parametrize(("name", "mode", "period"), [
    ("jsda_2025_mandatory", LastStrong.COOLING_OFF, timedelta(hours=72)),
    ("jsda_2025_recommended", LastStrong.COOLING_OFF, timedelta(hours=72)),
    ("email_otp_mandatory", LastStrong.COOLING_OFF, timedelta(hours=24)),
    ("emoji_all_trades", LastStrong.COOLING_OFF, timedelta(hours=24)),
    ("baseline_2024", LastStrong.IMMEDIATE, None),
])
def test_presets(name, mode, period):
    rule = load_policy(name).mfa_removal
    assert rule.last_strong is mode
    if period is not None:
        assert rule.cooling_off == period


@pytest.mark.parametrize(("body", "line", "needle"), [
    ("  last_strong: never\n", SECTION_LINE + 1, "unknown last_strong 'never'"),
    ("  cooling_off: 72h\n", SECTION_LINE, "mfa_removal needs 'last_strong'"),
    ("  last_strong: cooling_off\n", SECTION_LINE + 1, "needs a 'cooling_off' duration"),
    ("  last_strong: cooling_off\n  cooling_off: 3 days\n", SECTION_LINE + 2,
     "not a duration"),
    ("  last_strong: cooling_off\n  cooling_off: 0s\n", SECTION_LINE + 2,
     "must be longer than 0"),
    ("  last_strong: cooling_off\n  cooling_off: 31d\n", SECTION_LINE + 2,
     "at most 30d"),
    ("  last_strong: forbid\n  cooling_off: 72h\n", SECTION_LINE + 2,
     "cooling_off applies only with last_strong: cooling_off"),
    ("  last_strong: immediate\n  max_age: 2h\n", SECTION_LINE + 2, "at most 1h"),
    ("  last_strong: immediate\n  grace: 1h\n", SECTION_LINE + 2, "unknown field 'grace'"),
    ("  - immediate\n", SECTION_LINE + 1, "mfa_removal must be a mapping"),
    ("  last_strong: [forbid]\n", SECTION_LINE + 1, "last_strong must be a single value"),
])
def test_bad_sections_are_refused_with_line_and_reason(body, line, needle):
    with pytest.raises(PolicyError) as err:
        parse_policy(with_section(body), source="p.yaml")
    assert str(err.value).startswith(f"p.yaml:{line}: "), str(err.value)
    assert needle in str(err.value)


def guard(section: str) -> Guard:
    return Guard(parse_policy(GOOD + f"mfa_removal: {section}\n"))


def actor(level: Level, minutes_ago: float) -> Actor:
    return Actor("1000001", level, NOW - timedelta(minutes=minutes_ago))


def test_the_last_passkey_needs_a_fresh_passkey():
    g = guard("{last_strong: cooling_off, cooling_off: 72h}")
    ok = g.check_last_strong_removal(actor(Level.PHISHING_RESISTANT, 4),
                                     method_level=Level.PHISHING_RESISTANT, now=NOW)
    assert ok.outcome is Outcome.ALLOW and "last_strong_method" in ok.reasons
    stale = g.check_last_strong_removal(actor(Level.PHISHING_RESISTANT, 6),
                                        method_level=Level.PHISHING_RESISTANT, now=NOW)
    assert (stale.outcome, stale.required_level) == (Outcome.CHALLENGE,
                                                     Level.PHISHING_RESISTANT)
    assert "stale_authentication" in stale.reasons
    weak = g.check_last_strong_removal(actor(Level.OTP, 0),
                                       method_level=Level.PHISHING_RESISTANT, now=NOW)
    assert weak.outcome is Outcome.CHALLENGE and "level_too_low" in weak.reasons
    assert weak.action is Action.MFA_REMOVE


def test_the_last_app_needs_a_fresh_code_and_max_age_is_the_policys():
    g = guard("{last_strong: immediate, max_age: 1m}")
    assert g.check_last_strong_removal(actor(Level.OTP, 0.5), method_level=Level.OTP,
                                       now=NOW).outcome is Outcome.ALLOW
    late = g.check_last_strong_removal(actor(Level.OTP, 2), method_level=Level.OTP, now=NOW)
    assert (late.outcome, late.required_level) == (Outcome.CHALLENGE, Level.OTP)
    assert g.check_last_strong_removal(actor(Level.PASSWORD, 0), method_level=Level.OTP,
                                       now=NOW).outcome is Outcome.CHALLENGE


def test_forbid_denies_however_fresh():
    d = guard("{last_strong: forbid}").check_last_strong_removal(
        actor(Level.PHISHING_RESISTANT, 0), method_level=Level.PHISHING_RESISTANT, now=NOW)
    assert d.outcome is Outcome.DENY
    assert "last_strong_forbidden" in d.reasons
