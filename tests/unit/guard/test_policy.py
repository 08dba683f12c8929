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
