"""Policy as data: which assurance level each action needs, and how fresh.

A policy is a versioned YAML file (presets ship in ``guard/presets/``). Loading checks
every entry and refuses a bad file with its path, line and reason, so a typo cannot
silently leave an action unprotected. Levels follow NIST SP 800-63B: ``password`` <
``otp`` (phishable: a real-time relay passes it) < ``phishing_resistant`` (passkey, PKI).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from importlib import resources
from pathlib import Path

import yaml
from yaml.nodes import Node, ScalarNode, SequenceNode

from kabuguard.domain.assurance import Level, Method
from kabuguard.domain.emoji_grids import EmojiPreset, emoji_preset
from kabuguard.domain.events import Channel
from kabuguard.domain.yaml_nodes import NodeReader
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import PolicyError

SUPPORTED_VERSIONS = (1,)
DURATION_RE = re.compile(r"^(\d+)\s*(s|m|h|d)$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True, slots=True)
class Requirement:
    level: Level
    # None: the session's own authentication counts however old (within its timeouts).
    # 0s: every single action needs a confirmation of its own (see ``once``).
    max_age: timedelta | None = None
    deny: bool = False

    @property
    def once(self) -> bool:
        """``max_age: 0s``: a step-up is good for one action only (Rakuten 2025: an
        emoji challenge for every single order). The guard accepts a step-up made
        moments before, once; ``web/guarding.py`` spends it."""
        return self.max_age == timedelta(0)


@dataclass(frozen=True, slots=True)
class Interim:
    """JSDA (2025): an alternative MFA is allowed only until phishing-resistant MFA is
    in place, with a concrete schedule published to customers (J-M2 in JP-RULES.md)."""

    until: date
    level: Level
    actions: frozenset[Action]
    notice_ja: str
    notice_en: str


# The phishable second factors this code can run (``identity/outofband.py`` and
# ``identity/authenticator_app.py``); app push and phone calls are not built.
OTP_METHODS = (Method.TOTP, Method.EMAIL_OTP, Method.SMS_OTP, Method.EMOJI)
# A policy without ``otp_methods`` offers what kabuguard offered before it had the
# others: an authenticator app.
DEFAULT_OTP_METHODS = (Method.TOTP,)
class LastStrong(StrEnum):
    """What removing the customer's last method at their strongest level does."""

    IMMEDIATE = "immediate"
    COOLING_OFF = "cooling_off"  # scheduled: takes effect after ``cooling_off``
    FORBID = "forbid"  # refused: the customer registers another one first


MAX_REMOVAL_COOLING_OFF = timedelta(days=30)
MAX_REMOVAL_STEP_UP_AGE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class MfaRemoval:
    """The ``mfa_removal`` section: removing the last passkey (or the last
    authenticator app of a customer without a passkey) is what an intruder does to
    keep the account, so it needs a fresh step-up at that method's own level (no older
    than ``max_age``) and then what ``last_strong`` says. Removing any other method
    only needs the policy's ``mfa_remove`` requirement.

    Absent from a file, the section means a 72-hour cooling-off: a forgotten section
    must not fall back to the weakest rule (as with a forgotten action)."""

    last_strong: LastStrong = LastStrong.COOLING_OFF
    cooling_off: timedelta = timedelta(hours=72)
    max_age: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    version: int
    description: str
    actions: dict[Action, Requirement]
    channels: dict[tuple[Action, Channel], Requirement] = field(default_factory=dict)
    interim: Interim | None = None
    source: str = ""
    # The ``otp``-level methods this deployment offers, in the order customers see
    # them, and the emoji challenge's shape when ``emoji`` is among them.
    otp_methods: tuple[Method, ...] = DEFAULT_OTP_METHODS
    emoji: EmojiPreset | None = None
    mfa_removal: MfaRemoval = field(default_factory=MfaRemoval)

    def requirement(self, action: Action, channel: Channel) -> Requirement:
        return self.channels.get((action, channel), self.actions[action])


def parse_duration(text: str) -> timedelta:
    """
    >>> parse_duration("5m"), parse_duration("0s"), parse_duration("12h")
    (datetime.timedelta(seconds=300), datetime.timedelta(0), datetime.timedelta(seconds=43200))
    """
    match = DURATION_RE.match(text.strip())
    if not match:
        msg = f"'{text}' is not a duration such as 30s, 5m, 12h or 1d"
        raise ValueError(msg)
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


class _Reader(NodeReader):
    """Walks the YAML node tree so every complaint can name its line."""

    def fail(self, node: Node, reason: str) -> PolicyError:
        return PolicyError(f"{self.source}:{node.start_mark.line + 1}: {reason}")

    def level(self, node: Node) -> Level:
        text = self.scalar(node, "level")
        try:
            return Level.from_label(text)
        except ValueError:
            raise self.fail(node, f"unknown level '{text}' (use password, otp or "
                                  "phishing_resistant)") from None

    def only(self, fields: dict[str, tuple[Node, Node]], allowed: set[str], what: str) -> None:
        for name, (key, _) in fields.items():
            if name not in allowed:
                raise self.fail(key, f"unknown field '{name}' in {what} "
                                     f"(allowed: {', '.join(sorted(allowed))})")

    def requirement(self, node: Node, what: str, *, allow_deny: bool) -> Requirement:
        if allow_deny and isinstance(node, ScalarNode) and node.value == "deny":
            return Requirement(level=Level.PHISHING_RESISTANT, deny=True)
        fields = self.mapping(node, what)
        self.only(fields, {"level", "max_age"}, what)
        if "level" not in fields:
            raise self.fail(node, f"{what} needs a level")
        max_age = None
        if "max_age" in fields and not _is_null(fields["max_age"][1]):
            raw = fields["max_age"][1]
            try:
                max_age = parse_duration(self.scalar(raw, "max_age"))
            except ValueError as exc:
                raise self.fail(raw, str(exc)) from None
        return Requirement(level=self.level(fields["level"][1]), max_age=max_age)


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag.endswith(":null")


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    """Parse and check a policy; raise PolicyError naming the line and the reason."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise PolicyError(f"{source}{line}: not valid YAML: "
                          f"{getattr(exc, 'problem', None) or exc}") from None
    if root is None:
        raise PolicyError(f"{source}: the policy file is empty")
    r = _Reader(source)
    top = r.mapping(root, "the policy")
    r.only(top, {"version", "name", "description", "actions", "channels", "interim",
                 "otp_methods", "emoji", "mfa_removal"}, "the policy")
    for required in ("version", "name", "actions"):
        if required not in top:
            raise r.fail(root, f"the policy needs '{required}'")  # the file's first line
    version_node = top["version"][1]
    version_text = r.scalar(version_node, "version")
    if not version_text.isdigit() or int(version_text) not in SUPPORTED_VERSIONS:
        raise r.fail(version_node, f"unsupported version '{version_text}' "
                                   f"(supported: {SUPPORTED_VERSIONS})")
    actions: dict[Action, Requirement] = {}
    for name, (key, value) in r.mapping(top["actions"][1], "actions").items():
        try:
            action = Action(name)
        except ValueError:
            raise r.fail(key, f"unknown action '{name}' (known: "
                              f"{', '.join(a.value for a in Action)})") from None
        actions[action] = r.requirement(value, f"action '{name}'", allow_deny=False)
    missing = [a.value for a in Action if a not in actions]
    if missing:
        # Every action must be stated: an action the file forgot must not fall back
        # to "allowed" (the class of bug behind the 2025 backup-site logins).
        raise r.fail(top["actions"][1], f"actions missing from the policy: {', '.join(missing)}")
    channels = _channels(r, top, actions)
    interim = _interim(r, *top["interim"]) if "interim" in top else None
    otp_methods = (_otp_methods(r, top["otp_methods"][1]) if "otp_methods" in top
                   else DEFAULT_OTP_METHODS)
    emoji = _emoji(r, top, otp_methods)
    removal = _mfa_removal(r, *top["mfa_removal"]) if "mfa_removal" in top else MfaRemoval()
    return Policy(name=r.scalar(top["name"][1], "name"), version=int(version_text),
                  description=(r.scalar(top["description"][1], "description")
                               if "description" in top else ""),
                  actions=actions, channels=channels, interim=interim, source=source,
                  otp_methods=otp_methods, emoji=emoji,
                  mfa_removal=removal)


def _otp_methods(r: _Reader, node: Node) -> tuple[Method, ...]:
    if not isinstance(node, SequenceNode):
        raise r.fail(node, "otp_methods must be a list such as [totp, email_otp, sms_otp]")
    out: list[Method] = []
    for item in node.value:
        name = r.scalar(item, "an otp method")
        if name not in {m.value for m in OTP_METHODS}:
            raise r.fail(item, f"'{name}' is not an otp method kabuguard offers "
                               f"(use {', '.join(m.value for m in OTP_METHODS)})")
        if Method(name) in out:
            raise r.fail(item, f"'{name}' appears twice in otp_methods")
        out.append(Method(name))
    return tuple(out)


def _emoji(r: _Reader, top: dict[str, tuple[Node, Node]],
           otp_methods: tuple[Method, ...]) -> EmojiPreset | None:
    if "emoji" not in top:
        return emoji_preset(pick=2, of=10) if Method.EMOJI in otp_methods else None
    key, node = top["emoji"]
    if Method.EMOJI not in otp_methods:
        # A shape for a challenge nobody is offered is a mistake worth naming.
        raise r.fail(key, "'emoji' is set but emoji is not in otp_methods")
    fields = r.mapping(node, "emoji")
    r.only(fields, {"pick", "of"}, "emoji")
    numbers = {}
    for name in ("pick", "of"):
        if name not in fields:
            raise r.fail(node, f"emoji needs '{name}' (for example {{pick: 2, of: 10}})")
        text = r.scalar(fields[name][1], name)
        if not text.isdigit():
            raise r.fail(fields[name][1], f"emoji {name} must be a whole number")
        numbers[name] = int(text)
    try:
        return emoji_preset(pick=numbers["pick"], of=numbers["of"])
    except ValueError as exc:
        raise r.fail(node, f"emoji: {exc}") from None


def _channels(r: _Reader, top: dict[str, tuple[Node, Node]],
              actions: dict[Action, Requirement]) -> dict[tuple[Action, Channel], Requirement]:
    out: dict[tuple[Action, Channel], Requirement] = {}
    if "channels" not in top:
        return out
    for cname, (ckey, cnode) in r.mapping(top["channels"][1], "channels").items():
        try:
            channel = Channel(cname)
        except ValueError:
            raise r.fail(ckey, f"unknown channel '{cname}'") from None
        for aname, (akey, anode) in r.mapping(cnode, f"channel '{cname}'").items():
            try:
                action = Action(aname)
            except ValueError:
                raise r.fail(akey, f"unknown action '{aname}'") from None
            req = r.requirement(anode, f"{cname}.{aname}", allow_deny=True)
            base = actions[action]
            # A channel may only be stricter than the default: a weaker back door is
            # exactly what let 2025's attackers in through a backup site.
            if not req.deny and (req.level < base.level or (
                    base.max_age is not None and (req.max_age is None
                                                  or req.max_age > base.max_age))):
                raise r.fail(anode, f"{cname}.{aname} is weaker than the policy's "
                                    f"'{aname}' requirement; channels may only be stricter")
            out[(action, channel)] = req
    return out


def _interim(r: _Reader, key: Node, node: Node) -> Interim:
    fields = r.mapping(node, "interim")
    r.only(fields, {"until", "level", "actions", "notice_ja", "notice_en"}, "interim")
    for required in ("until", "level", "actions", "notice_ja", "notice_en"):
        if required not in fields:
            raise r.fail(key, f"interim needs '{required}' (the guideline requires a "
                               "published schedule)")
    until_node = fields["until"][1]
    try:
        until = date.fromisoformat(r.scalar(until_node, "until"))
    except ValueError:
        raise r.fail(until_node, "until must be a date such as 2026-03-31") from None
    acts_node = fields["actions"][1]
    if not isinstance(acts_node, SequenceNode):
        raise r.fail(acts_node, "interim actions must be a list")
    acts = set()
    for item in acts_node.value:
        try:
            acts.add(Action(r.scalar(item, "action")))
        except ValueError:
            raise r.fail(item, f"unknown action '{item.value}'") from None
    return Interim(until=until, level=r.level(fields["level"][1]), actions=frozenset(acts),
                   notice_ja=r.scalar(fields["notice_ja"][1], "notice_ja"),
                   notice_en=r.scalar(fields["notice_en"][1], "notice_en"))


def _mfa_removal(r: _Reader, key: Node, node: Node) -> MfaRemoval:
    fields = r.mapping(node, "mfa_removal")
    r.only(fields, {"last_strong", "cooling_off", "max_age"}, "mfa_removal")
    if "last_strong" not in fields:
        raise r.fail(key, "mfa_removal needs 'last_strong' (cooling_off, forbid or immediate)")
    mode_node = fields["last_strong"][1]
    mode_text = r.scalar(mode_node, "last_strong")
    try:
        mode = LastStrong(mode_text)
    except ValueError:
        raise r.fail(mode_node, f"unknown last_strong '{mode_text}' (use "
                                f"{', '.join(m.value for m in LastStrong)})") from None
    defaults = MfaRemoval()
    cooling_off = defaults.cooling_off
    if mode is LastStrong.COOLING_OFF:
        if "cooling_off" not in fields:
            raise r.fail(mode_node, "last_strong: cooling_off needs a 'cooling_off' duration "
                                    "such as 72h")
        cooling_off = _bounded(r, fields["cooling_off"][1], "cooling_off",
                               above_zero=True, at_most=MAX_REMOVAL_COOLING_OFF)
    elif "cooling_off" in fields:
        # Stated but unused: most likely the file means a cooling-off and says otherwise.
        raise r.fail(fields["cooling_off"][0], f"cooling_off applies only with "
                                               f"last_strong: cooling_off (not {mode.value})")
    max_age = defaults.max_age
    if "max_age" in fields:
        max_age = _bounded(r, fields["max_age"][1], "max_age", above_zero=False,
                           at_most=MAX_REMOVAL_STEP_UP_AGE)
    return MfaRemoval(last_strong=mode, cooling_off=cooling_off, max_age=max_age)


def _bounded(r: _Reader, node: Node, what: str, *, above_zero: bool,
             at_most: timedelta) -> timedelta:
    try:
        value = parse_duration(r.scalar(node, what))
    except ValueError as exc:
        raise r.fail(node, str(exc)) from None
    if above_zero and value <= timedelta(0):
        raise r.fail(node, f"{what} must be longer than 0")
    if value > at_most:
        raise r.fail(node, f"{what} must be at most {_duration_text(at_most)}")
    return value


def _duration_text(value: timedelta) -> str:
    """
    >>> _duration_text(timedelta(days=30)), _duration_text(timedelta(hours=1))
    ('30d', '1h')
    """
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


PRESETS = ("baseline_2024", "email_otp_mandatory", "emoji_all_trades",
           "emoji_all_trades_4of15", "jsda_2025_mandatory", "jsda_2025_recommended")


def load_policy(name_or_path: str) -> Policy:
    """A shipped preset by name, or a policy file by path. Raises PolicyError."""
    if name_or_path in PRESETS:
        text = resources.files("kabuguard.guard").joinpath(
            f"presets/{name_or_path}.yaml").read_text(encoding="utf-8")
        return parse_policy(text, source=f"preset {name_or_path}")
    path = Path(name_or_path)
    if not path.is_file():
        msg = (f"policy '{name_or_path}' is neither a preset ({', '.join(PRESETS)}) "
               "nor a readable file")
        raise PolicyError(msg)
    return parse_policy(path.read_text(encoding="utf-8"), source=str(path))
