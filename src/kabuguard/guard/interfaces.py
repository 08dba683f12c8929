"""Decisions of the guard and the errors that carry them to the web layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from kabuguard.domain.assurance import Level
from kabuguard.domain.errors import Forbidden, InvalidInput, Unauthorized
from kabuguard.domain.events import format_ts_jst
from kabuguard.guard.actions import Action


class Outcome(IntEnum):
    """Ordered by severity, so combining policy and risk is ``max`` (after ezrules)."""

    ALLOW = 0
    CHALLENGE = 1
    HOLD = 2
    DENY = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Restriction:
    """A bar on some actions of an account until a time, whatever the session proves
    (the cooling-off after an account recovery): no step-up lifts it, only time or the
    operations desk. ``reason`` names it in decisions and in the customer's message."""

    reason: str
    actions: frozenset[Action]
    until: datetime

    def covers(self, action: Action, now: datetime) -> bool:
        return action in self.actions and now < self.until


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: the account and what its session has proven, and when.

    ``level`` is the highest assurance the session reached and ``authenticated_at``
    when it last did so (for freshness); None before any authentication (login).
    ``restrictions`` are the account's current bars (``Restriction``).
    ``step_up_at``/``step_up_action`` serve the actions a policy wants confirmed
    every single time (``max_age: 0s``)."""

    account_id: str | None
    level: Level | None
    authenticated_at: datetime | None
    session_id: str | None = None
    restrictions: tuple[Restriction, ...] = ()
    # The session's latest step-up not yet spent on a once-only action
    # (``Requirement.once``), and the action it was made for (None: any).
    step_up_at: datetime | None = None
    step_up_action: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    action: Action
    required_level: Level | None = None
    reasons: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    effects: tuple[dict[str, Any], ...] = field(default=())
    policy: str = ""
    # Set when a Restriction refused the action: when it lifts.
    restricted_until: datetime | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    def to_dict(self) -> dict[str, Any]:
        """The ``decisions.jsonl`` shape of EVENTS.md (without the event id)."""
        out: dict[str, Any] = {"decision": self.outcome.label, "reasons": list(self.reasons),
                               "actions": list(self.effects)}
        if self.outcome is Outcome.CHALLENGE and self.required_level is not None:
            out["level"] = self.required_level.label
        return out


class PolicyError(ValueError):
    """A policy file cannot be used; the message names the file, line and reason."""


class StepUpRequired(Unauthorized):
    """The action needs a higher or fresher authentication than the session has."""

    code = "step_up_required"

    def __init__(self, decision: Decision, **extra: Any) -> None:
        level = decision.required_level.label if decision.required_level else "password"
        super().__init__(
            f"This action ({decision.action}) needs a fresh '{level}' authentication.",
            action=str(decision.action), level=level, reasons=list(decision.reasons),
            **extra)
        self.decision = decision


class ActionDenied(Forbidden):
    code = "action_denied"

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"This action ({decision.action}) is not allowed.",
                         action=str(decision.action), reasons=list(decision.reasons))
        self.decision = decision


class ActionHeld(Forbidden):
    """Queued for review by the operations desk instead of executing now."""

    status = 202
    code = "action_held"

    def __init__(self, decision: Decision, **extra: Any) -> None:
        # ``extra``: what was stored for review (the held order or withdrawal).
        super().__init__(f"This action ({decision.action}) is held for review.",
                         action=str(decision.action), reasons=list(decision.reasons),
                         **extra)
        self.decision = decision


class ActionRestricted(ActionDenied):
    """Refused because the account is under a Restriction until ``until`` (ISO-8601
    UTC in params; the web layer shows it in JST). ``reason`` names the restriction."""

    code = "action_restricted"

    def __init__(self, decision: Decision) -> None:
        until = decision.restricted_until
        reason = decision.reasons[0] if decision.reasons else "restricted"
        when = format_ts_jst(until) if until else "later"
        Forbidden.__init__(
            self, f"This action ({decision.action}) is not possible until {when} "
                  f"({reason.replace('_', ' ')}).",
            action=str(decision.action), reasons=list(decision.reasons), reason=reason,
            until=until.isoformat() if until else None)
        self.decision = decision


class AccountFrozen(ActionDenied):
    """Refused because the account is frozen (the risk engine's ``freeze`` outcome or
    the operations desk): only the desk lifts it, after confirming the customer by
    phone, so the message gives the number to call (never a link)."""

    code = "account_frozen"

    def __init__(self, decision: Decision, *, phone: str) -> None:
        Forbidden.__init__(
            self, f"This account is frozen for your protection. Please call customer "
                  f"support on {phone} to confirm your identity and lift it.",
            action=str(decision.action), reasons=list(decision.reasons), phone=phone)
        self.decision = decision


class UnknownAction(InvalidInput):
    code = "unknown_action"
