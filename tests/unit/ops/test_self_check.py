"""The guideline self-check: items flip with the configuration that decides them."""

from __future__ import annotations

from datetime import date

import pytest

from kabuguard.guard.policy import load_policy
from kabuguard.ops.interfaces import ChecklistError
from kabuguard.ops.self_check import RunningConfig, load_checklist, running_config, self_check
from kabuguard.settings import load_settings


def _results(policy="jsda_2025_mandatory", today=date(2026, 6, 1), **settings):
    config = running_config(load_settings(policy=policy, **settings), today=today)
    return {r.item.id: r for r in self_check(config)}


def test_the_mandatory_preset_meets_what_the_2024_baseline_misses():
    base, jsda = _results("baseline_2024"), _results("jsda_2025_mandatory")
    for item in ("6.1-login", "6.1-withdrawal", "6.1-bank-account", "6.2-interim-schedule"):
        assert (base[item].status, jsda[item].status) == ("missing", "met"), item
    assert base["6.1-login"].decided_by == "KABUGUARD_POLICY=baseline_2024: login: password"
    assert jsda["6.1-login"].decided_by == "KABUGUARD_POLICY=jsda_2025_mandatory: login: phishing_resistant"
    assert "needs phishing_resistant for login" in base["6.1-login"].note


def test_order_mfa_is_recommended_until_the_recommended_preset():
    assert _results("jsda_2025_mandatory")["6.1-order"].status == "recommended"
    assert _results("jsda_2025_recommended")["6.1-order"].status == "met"


def test_the_interim_alternative_is_named_while_it_lasts():
    during = _results(today=date(2026, 1, 15))["6.1-login"]
    assert during.status == "met"
    assert "until 2026-03-31" in during.note and "otp" in during.note
    assert _results(today=date(2026, 4, 1))["6.1-login"].note == ""


def test_settings_decide_notices_and_behaviour_detection():
    off = _results(risk=False)
    assert off["6.6-behaviour-detection"].status == "missing"
    assert off["6.6-behaviour-detection"].decided_by == "KABUGUARD_RISK=False"
    assert _results()["6.5-notifications"].status == "missing"
    mailed = _results(smtp_url="smtp://user:secret@127.0.0.1:1025",
                      sms_webhook_url="https://sms.example/hook")
    assert mailed["6.5-notifications"].status == "met"
    assert mailed["6.5-second-channel"].status == "met"
    assert "secret" not in mailed["6.5-notifications"].decided_by  # URLs shown by scheme only


def test_phishing_items_wait_for_issue_7_and_flip_once_their_setting_exists():
    results = _results()
    assert results["6.7-dmarc-reject"].status == "missing"
    assert "issue 7" in results["6.7-dmarc-reject"].note
    assert results["6.7-genuine-site"].status == "recommended"  # only desirable
    config = running_config(load_settings(), today=date(2026, 6, 1))
    later = RunningConfig(config.policy, {**config.settings, "dmarc_policy": "reject"}, config.today)
    assert {r.item.id: r.status for r in self_check(later)}["6.7-dmarc-reject"] == "met"
    quarantine = RunningConfig(config.policy, {**config.settings, "dmarc_policy": "quarantine"},
                               config.today)
    assert {r.item.id: r.status for r in self_check(quarantine)}["6.7-dmarc-reject"] == "missing"


def test_built_in_items_say_what_enforces_them():
    r = _results()["6.7-no-login-links"]
    assert r.status == "met" and "notify/links.py" in r.decided_by


def test_lockout_follows_the_identity_setting():
    config = RunningConfig(load_policy("baseline_2024"), {}, date(2026, 1, 1), lock_after=0)
    assert {r.item.id: r.status for r in self_check(config)}["6.4-auto-lock"] == "missing"


def test_every_item_has_a_status_and_a_decider():
    for r in self_check(running_config(load_settings(), today=date(2026, 1, 1))):
        assert r.status in ("met", "missing", "recommended") and r.decided_by
        assert r.to_dict()["title_ja"]


@pytest.mark.parametrize(("body", "message"), [
    ("version: 1\nitems:\n  - {id: a, level: required, title_ja: x, title_en: x, check: {kind: eval}}",
     "check needs a kind"),
    ("version: 1\nitems:\n  - {id: a, level: must, title_ja: x, title_en: x, check: {kind: lockout}}",
     "level must be"),
    ("version: 1\nitems:\n  - {id: a, level: required, title_ja: x, title_en: x,"
     " check: {kind: policy_level, actions: [teleport], at_least: otp}}", "teleport"),
    ("version: 1\nitems:\n  - {id: a, level: required, title_ja: x, title_en: x, check: {kind: lockout}}\n"
     "  - {id: a, level: required, title_ja: x, title_en: x, check: {kind: lockout}}", "appears twice"),
    ("version: 1\nitems:\n  - {id: a, level: required, title_ja: x, title_en: x,"
     " check: {kind: setting, name: risk, truthy: true, exec: x}}", "unknown field"),
])
def test_a_bad_checklist_is_refused_naming_the_item(tmp_path, body, message):
    path = tmp_path / "c.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ChecklistError, match=message):
        load_checklist(path)


def test_the_shipped_checklist_covers_section_6():
    ids = [i.id for i in load_checklist()]
    assert {i.split("-")[0].split(".")[1] for i in ids} == {str(n) for n in range(1, 11)}
