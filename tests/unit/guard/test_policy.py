"""Policy files: the presets load, and a bad file is refused with its line and reason."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kabuguard.domain.events import Channel
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import PolicyError
from kabuguard.guard.policy import PRESETS, load_policy, parse_policy
from kabuguard.identity.methods import Level
from kabuguard.settings import ConfigError, load_settings

ALL_ACTIONS = "\n".join(f"  {a.value}: {{level: password}}" for a in Action)
GOOD = f"version: 1\nname: test\nactions:\n{ALL_ACTIONS}\n"


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_and_names_every_action(name):
    policy = load_policy(name)
    assert policy.name == name
    assert set(policy.actions) == set(Action)


def test_jsda_mandatory_requires_passkeys_where_the_guideline_says():
    policy = load_policy("jsda_2025_mandatory")
    for action in (Action.LOGIN, Action.WITHDRAWAL, Action.BANK_ACCOUNT_CHANGE):
        assert policy.requirement(action, Channel.WEB).level is Level.PHISHING_RESISTANT
        # Every channel, the backup site included, gets the same rule.
        assert policy.requirement(action, Channel.BACKUP_SITE).level is Level.PHISHING_RESISTANT
    assert policy.requirement(Action.WITHDRAWAL, Channel.WEB).max_age == timedelta(minutes=5)
    assert policy.interim is not None
    assert "パスキー" in policy.interim.notice_ja
    recommended = load_policy("jsda_2025_recommended")
    assert recommended.requirement(Action.ORDER, Channel.APP).level is Level.PHISHING_RESISTANT


def test_emoji_preset_challenges_every_order():
    assert load_policy("emoji_all_trades").actions[Action.ORDER].max_age == timedelta(0)
    assert load_policy("emoji_all_trades").actions[Action.ORDER].once
    assert not load_policy("email_otp_mandatory").actions[Action.WITHDRAWAL].once


@pytest.mark.parametrize(("name", "methods", "shape"), [
    ("baseline_2024", ["totp", "email_otp", "sms_otp"], None),
    ("email_otp_mandatory", ["email_otp", "sms_otp", "totp"], None),
    ("emoji_all_trades", ["emoji"], (2, 10)),
    ("emoji_all_trades_4of15", ["emoji"], (4, 15)),
    ("jsda_2025_mandatory", ["totp", "email_otp", "sms_otp"], None),
    ("jsda_2025_recommended", ["totp", "email_otp", "sms_otp"], None),
])
def test_presets_name_the_otp_methods_they_offer(name, methods, shape):
    policy = load_policy(name)
    assert [str(m) for m in policy.otp_methods] == methods
    assert (None if policy.emoji is None else (policy.emoji.k, policy.emoji.n)) == shape


def test_otp_methods_default_to_the_authenticator_app_and_emoji_to_2_of_10():
    assert [str(m) for m in parse_policy(GOOD).otp_methods] == ["totp"]
    assert parse_policy(GOOD).emoji is None
    policy = parse_policy(GOOD + "otp_methods: [emoji, email_otp]\n")
    assert (policy.emoji.k, policy.emoji.n) == (2, 10)
    policy = parse_policy(GOOD + "otp_methods: [emoji]\nemoji: {pick: 3, of: 12}\n")
    assert (policy.emoji.name, len(policy.emoji.alphabet) >= 12) == ("3of12", True)
    assert parse_policy(GOOD + "otp_methods: []\n").otp_methods == ()


END = 3 + len(Action) + 1  # the first line after the actions


@pytest.mark.parametrize(("extra", "line", "needle"), [
    ("otp_methods: totp\n", END, "must be a list"),
    ("otp_methods: [totp, passkey]\n", END, "'passkey' is not an otp method"),
    ("otp_methods: [totp, app_push]\n", END, "'app_push' is not an otp method"),
    ("otp_methods:\n  - email_otp\n  - email_otp\n", END + 2, "appears twice"),
    ("emoji: {pick: 2, of: 10}\n", END, "emoji is not in otp_methods"),
    ("otp_methods: [emoji]\nemoji: {pick: 2}\n", END + 1, "needs 'of'"),
    ("otp_methods: [emoji]\nemoji: {pick: two, of: 10}\n", END + 1, "whole number"),
    ("otp_methods: [emoji]\nemoji: {pick: 2, of: 10, ttl: 5m}\n", END + 1,
     "unknown field 'ttl'"),
    ("otp_methods: [emoji]\nemoji: {pick: 11, of: 10}\n", END + 1, "k <= n"),
    ("otp_methods: [emoji]\nemoji: {pick: 2, of: 99}\n", END + 1, "alphabet size"),
    ("otp_methods: [emoji]\nemoji: 2of10\n", END + 1, "must be a mapping"),
])
def test_bad_otp_methods_and_emoji_are_refused_with_line(extra, line, needle):
    with pytest.raises(PolicyError) as info:
        parse_policy(GOOD + extra, source="p.yaml")
    assert needle in str(info.value)
    assert str(info.value).startswith(f"p.yaml:{line}:"), str(info.value)


@pytest.mark.parametrize(("text", "line", "needle"), [
    ("", None, "empty"),
    ("version: 1\nname: x\nactions: [\n", 4, "not valid YAML"),
    (GOOD.replace("version: 1", "version: 7"), 1, "unsupported version"),
    (GOOD.replace("  withdrawal: {level: password}", "  withdrawal: {level: strong}"),
     3 + [a.value for a in Action].index("withdrawal") + 1, "unknown level 'strong'"),
    (GOOD.replace("  deposit: {level: password}", "  deposit: {level: password, max_age: 5 min}"),
     3 + [a.value for a in Action].index("deposit") + 1, "not a duration"),
    (GOOD.replace("  deposit: {level: password}", "  deposit: {level: password, ttl: 5m}"),
     3 + [a.value for a in Action].index("deposit") + 1, "unknown field 'ttl'"),
    (GOOD.replace("  recovery: {level: password}\n", ""), 4, "actions missing from the policy: recovery"),
    (GOOD + "  transfer: {level: password}\n", 3 + len(Action) + 1, "unknown action 'transfer'"),
    (GOOD.replace("  order: {level: password}", "  order: {level: password}\n  order: {level: otp}"),
     3 + [a.value for a in Action].index("order") + 2, "appears twice"),
    (GOOD.replace("login: {level: password}", "login: {level: otp}")
     + "channels:\n  backup_site:\n    login: {level: password}\n", 3 + len(Action) + 3,
     "weaker than the policy"),
    (GOOD + "interim:\n  until: someday\n  level: otp\n  actions: [login]\n"
     "  notice_ja: x\n  notice_en: y\n", 3 + len(Action) + 2, "until must be a date"),
    (GOOD + "interim:\n  until: 2026-03-31\n  level: otp\n  actions: [login]\n",
     3 + len(Action) + 1, "published schedule"),
])
def test_bad_policy_files_are_refused_with_line_and_reason(text, line, needle):
    with pytest.raises(PolicyError) as info:
        parse_policy(text, source="p.yaml")
    message = str(info.value)
    assert needle in message
    if line is not None:
        assert message.startswith(f"p.yaml:{line}:"), message


def test_channel_may_be_stricter_or_denied():
    text = GOOD + ("channels:\n  backup_site:\n    login: deny\n"
                   "  call_center:\n    withdrawal: {level: otp, max_age: 1m}\n")
    policy = parse_policy(text)
    assert policy.requirement(Action.LOGIN, Channel.BACKUP_SITE).deny
    assert policy.requirement(Action.WITHDRAWAL, Channel.CALL_CENTER).level is Level.OTP
    assert policy.requirement(Action.WITHDRAWAL, Channel.WEB).level is Level.PASSWORD


def test_unknown_policy_and_bad_file_refused_at_start(tmp_path):
    with pytest.raises(ConfigError, match="neither a preset"):
        load_settings(policy="nonexistent_preset")
    bad = tmp_path / "policy.yaml"
    bad.write_text(GOOD.replace("version: 1", "version: x"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"policy\.yaml:1: unsupported version"):
        load_settings(policy=str(bad))
