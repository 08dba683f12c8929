"""Guideline self-check: the JSDA/FSA checklist (JP-RULES.md §6) evaluated against the
running configuration.

The checklist is data (``ops/data/jsda_checklist.yaml``): each item names its clause,
whether the guideline requires it or only recommends it, and a check of a kind this
module knows (never code from the file). Each item comes out ``met``, ``missing`` (a
required item not met) or ``recommended`` (a desirable item not met), with the setting
that decided it and its value, so an operator knows what to change. Items that another
issue builds (the phishing defences of issue 7) are ``missing`` with a note naming it
until the setting or module they look for exists.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from kabuguard.domain.assurance import Level
from kabuguard.domain.clock import utcnow
from kabuguard.domain.events import JST
from kabuguard.guard.actions import Action
from kabuguard.guard.policy import Policy, load_policy
from kabuguard.identity.services import LOCK_AFTER
from kabuguard.notify.interfaces import NoticeKind
from kabuguard.ops.interfaces import ChecklistError
from kabuguard.settings import Settings

Status = Literal["met", "missing", "recommended"]
LEVELS = ("required", "recommended")
KINDS: Mapping[str, frozenset[str]] = {
    "policy_level": frozenset({"actions", "at_least"}),
    "interim_schedule": frozenset(),
    "lockout": frozenset(),
    "setting": frozenset({"name", "equals", "truthy", "pending_issue"}),
    "any_setting": frozenset({"names"}),
    "notifications": frozenset({"kinds", "channel_setting"}),
    "module": frozenset({"name", "pending_issue"}),
    "built_in": frozenset({"where"}),
}
STATUS_JA: Mapping[str, str] = {"met": "対応済", "missing": "未対応", "recommended": "推奨"}


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    id: str
    refs: tuple[str, ...]
    level: str
    title_ja: str
    title_en: str
    check: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RunningConfig:
    """What the checks read: the policy in force, the settings by name, today (JST)."""

    policy: Policy
    settings: Mapping[str, Any]
    today: date
    lock_after: int = LOCK_AFTER


@dataclass(frozen=True, slots=True)
class CheckResult:
    item: ChecklistItem
    status: Status
    decided_by: str  # the setting (or code) that decided it, with its value
    note: str = ""

    @property
    def status_ja(self) -> str:
        return STATUS_JA[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.item.id, "refs": list(self.item.refs), "level": self.item.level,
                "title_ja": self.item.title_ja, "title_en": self.item.title_en,
                "status": self.status, "decided_by": self.decided_by, "note": self.note}


def load_checklist(path: Path | None = None) -> list[ChecklistItem]:
    """The shipped checklist, or one at ``path``. Raises ChecklistError naming the
    item and what is wrong with it."""
    if path is None:
        text = resources.files("kabuguard.ops").joinpath("data/jsda_checklist.yaml").read_text(
            encoding="utf-8")
        source = "jsda_checklist.yaml"
    else:
        text, source = path.read_text(encoding="utf-8"), str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ChecklistError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("items"), list):
        raise ChecklistError(f"{source}: needs 'version: 1' and a list of 'items'")
    items, seen = [], set()
    for n, raw in enumerate(data["items"], 1):
        item = _item(raw, f"{source}: item {n}")
        if item.id in seen:
            raise ChecklistError(f"{source}: item '{item.id}' appears twice")
        seen.add(item.id)
        items.append(item)
    return items


def _item(raw: object, where: str) -> ChecklistItem:
    if not isinstance(raw, dict):
        raise ChecklistError(f"{where}: must be a mapping")
    for key in ("id", "level", "title_ja", "title_en", "check"):
        if key not in raw:
            raise ChecklistError(f"{where}: needs '{key}'")
    where = f"{where} ({raw['id']})"
    if raw["level"] not in LEVELS:
        raise ChecklistError(f"{where}: level must be one of {', '.join(LEVELS)}")
    check = raw["check"]
    if not isinstance(check, dict) or check.get("kind") not in KINDS:
        raise ChecklistError(f"{where}: check needs a kind among {', '.join(KINDS)}")
    unknown = set(check) - {"kind"} - KINDS[check["kind"]]
    if unknown:
        raise ChecklistError(f"{where}: unknown field(s) {', '.join(sorted(unknown))} "
                             f"for a {check['kind']} check")
    if check["kind"] == "policy_level":
        try:
            Level.from_label(str(check.get("at_least")))
            for name in check.get("actions") or ():
                Action(name)
        except ValueError as exc:
            raise ChecklistError(f"{where}: {exc}") from None
    if check["kind"] == "notifications":
        known = {k.value for k in NoticeKind}
        bad = [k for k in check.get("kinds") or () if k not in known]
        if bad:
            raise ChecklistError(f"{where}: unknown notice kind(s) {', '.join(bad)}")
    return ChecklistItem(str(raw["id"]), tuple(str(r) for r in raw.get("refs") or ()),
                         raw["level"], str(raw["title_ja"]), str(raw["title_en"]), check)


def running_config(settings: Settings, *, today: date | None = None) -> RunningConfig:
    """The configuration the process runs with (the policy it names, loaded)."""
    return RunningConfig(policy=load_policy(settings.policy), settings=dict(settings),
                         today=today or utcnow().astimezone(JST).date())


def self_check(config: RunningConfig,
               checklist: Sequence[ChecklistItem] | None = None) -> list[CheckResult]:
    """Every item of the checklist evaluated against ``config``, in the file's order."""
    return [_evaluate(item, config) for item in (checklist or load_checklist())]


def _evaluate(item: ChecklistItem, config: RunningConfig) -> CheckResult:
    check = item.check
    met, decided_by, note = _CHECKS[check["kind"]](check, config)
    if met:
        return CheckResult(item, "met", decided_by, note)
    return CheckResult(item, "missing" if item.level == "required" else "recommended",
                       decided_by, note)


Outcome = tuple[bool, str, str]


def _env(name: str) -> str:
    return f"KABUGUARD_{name.upper()}"


def _show(name: str, value: object) -> str:
    """A setting's value fit to show: URLs (which may hold passwords) by scheme only.

    >>> _show("smtp_url", "smtp://u:pw@h:25"), _show("smtp_url", None), _show("risk", True)
    ('smtp://… (set)', 'not set', 'True')
    """
    if value is None or value == "":
        return "not set"
    if name.endswith("_url"):
        return f"{str(value).split('://', 1)[0]}://… (set)"
    if isinstance(value, timedelta):
        return f"{value.total_seconds() / 3600:g}h"
    return str(value)


def _policy_level(check: Mapping[str, Any], config: RunningConfig) -> Outcome:
    policy, want = config.policy, Level.from_label(check["at_least"])
    parts, short, interim_used = [], [], []
    for name in check["actions"]:
        req = policy.actions[Action(name)]
        age = f" max_age {req.max_age.total_seconds() / 60:g}m" if req.max_age is not None else ""
        parts.append(f"{name}: {'deny' if req.deny else req.level.label}{age}")
        if req.deny or req.level >= want:
            interim = policy.interim
            if (interim is not None and Action(name) in interim.actions and interim.level < want
                    and config.today <= interim.until):
                interim_used.append(name)
            continue
        short.append(name)
    decided_by = f"{_env('policy')}={policy.name}: " + ", ".join(parts)
    note = ""
    if interim_used and not short:
        assert policy.interim is not None  # noqa: S101 - interim_used implies it
        note = (f"until {policy.interim.until} customers without a passkey may use "
                f"{policy.interim.level.label} instead (J-M2, schedule published)")
    elif short:
        note = f"needs {want.label} for {', '.join(short)}"
    return not short, decided_by, note


def _interim_schedule(_check: Mapping[str, Any], config: RunningConfig) -> Outcome:
    policy = config.policy
    strong = [a.value for a, r in policy.actions.items() if r.level >= Level.PHISHING_RESISTANT]
    interim = policy.interim
    decided_by = f"{_env('policy')}={policy.name}: interim " + (
        f"until {interim.until} ({interim.level.label})" if interim else "none")
    if not strong:
        return False, decided_by, ("no action needs phishing-resistant MFA, and no schedule "
                                   "for it is published")
    if interim is None:
        return True, decided_by, "phishing-resistant MFA is required outright; no interim"
    if not (interim.notice_ja.strip() and interim.notice_en.strip()):
        return False, decided_by, "the interim has no notice to customers"
    if config.today > interim.until:
        return True, decided_by, f"the interim ended on {interim.until}"
    return True, decided_by, f"customers are told: {interim.notice_ja}"


def _lockout(_check: Mapping[str, Any], config: RunningConfig) -> Outcome:
    n = config.lock_after
    return (n > 0, f"identity.services.LOCK_AFTER={n} (code)",
            f"password login locks after {n} consecutive failures; a passkey login still works"
            if n > 0 else "no lock")


def _setting(check: Mapping[str, Any], config: RunningConfig) -> Outcome:
    name = check["name"]
    issue = check.get("pending_issue")
    if name not in config.settings:
        note = (f"depends on issue {issue}: not built yet (no {_env(name)} setting)" if issue
                else f"kabuguard has no {_env(name)} setting yet")
        return False, f"{_env(name)}: no such setting", note
    value = config.settings[name]
    met = value == check["equals"] if "equals" in check else bool(value) == bool(check.get("truthy"))
    want = check["equals"] if "equals" in check else ("on" if check.get("truthy") else "off")
    return met, f"{_env(name)}={_show(name, value)}", "" if met else f"set it to {want}"


def _any_setting(check: Mapping[str, Any], config: RunningConfig) -> Outcome:
    names = check["names"]
    shown = ", ".join(f"{_env(n)}={_show(n, config.settings.get(n))}" for n in names)
    met = any(config.settings.get(n) for n in names)
    return met, shown, "" if met else f"set one of {', '.join(_env(n) for n in names)}"


def _notifications(check: Mapping[str, Any], config: RunningConfig) -> Outcome:
    known = {k.value for k in NoticeKind}
    absent = [k for k in check["kinds"] if k not in known]
    name = check["channel_setting"]
    value = config.settings.get(name)
    decided_by = f"{_env(name)}={_show(name, value)}"
    if absent:
        return False, decided_by, f"no notice for {', '.join(absent)}"
    if not value:
        return False, decided_by, "no e-mail channel: notices are parked as dead letters"
    return True, decided_by, "notices: " + ", ".join(check["kinds"])


def _module(check: Mapping[str, Any], _config: RunningConfig) -> Outcome:
    name = check["name"]
    try:
        present = importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # the parent package itself is absent
        present = False
    issue = check.get("pending_issue")
    note = "" if present else (f"depends on issue {issue}: not built yet" if issue else "absent")
    return present, f"module {name} ({'present' if present else 'absent'})", note


def _built_in(check: Mapping[str, Any], _config: RunningConfig) -> Outcome:
    return True, f"built in: {check['where']}", ""


_CHECKS = {"policy_level": _policy_level, "interim_schedule": _interim_schedule,
           "lockout": _lockout, "setting": _setting, "any_setting": _any_setting,
           "notifications": _notifications, "module": _module, "built_in": _built_in}
