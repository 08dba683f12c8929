"""Decisions of the guard and the errors that carry them to the web layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any

from kabuguard.domain.errors import Forbidden, InvalidInput, Unauthorized
from kabuguard.guard.actions import Action
from kabuguard.identity.methods import Level


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
class Actor:
    """Who asks: the account and what its session has proven, and when.

    ``level`` is the highest assurance the session reached and ``authenticated_at``
    when it last did so (for freshness); None before any authentication (login).
    ``step_up_at``/``step_up_action`` serve the actions a policy wants confirmed
    every single time (``max_age: 0s``)."""

    account_id: str | None
    level: Level | None
    authenticated_at: datetime | None
    session_id: str | None = None
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

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"This action ({decision.action}) is held for review.",
                         action=str(decision.action), reasons=list(decision.reasons))
        self.decision = decision


class UnknownAction(InvalidInput):
    code = "unknown_action"
