"""``Guard.check``: the one choke point every sensitive action passes through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from kabuguard.domain.events import RequestContext
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import Actor, Decision, Outcome
from kabuguard.guard.policy import Policy
from kabuguard.identity.methods import Level


@dataclass(frozen=True, slots=True)
class RiskResult:
    """What a risk engine adds to the policy's answer (after river's ``score_one``)."""

    outcome: Outcome = Outcome.ALLOW
    required_level: Level | None = None
    score: float = 0.0
    reasons: tuple[str, ...] = ()


class RiskScorer(Protocol):
    def score(self, action: Action, actor: Actor, context: RequestContext, *,
              now: datetime) -> RiskResult: ...


class NullRisk:
    """No risk engine yet: policy alone decides (the risk issue plugs in here)."""

    def score(self, action: Action, actor: Actor, context: RequestContext, *,
              now: datetime) -> RiskResult:
        return RiskResult()


# How long a step-up made for a once-only action (``max_age: 0s``) waits for that
# action: the page or app resumes it at once, so a short time is plenty.
ONCE_WINDOW = timedelta(minutes=2)


def _unspent_step_up(actor: Actor, action: Action, now: datetime) -> bool:
    """A step-up made moments ago, for this action (or for none in particular), not
    yet spent. A login is no such step-up: under a policy asking for a confirmation
    per order, the first order after login asks too (Rakuten 2025)."""
    return (actor.step_up_at is not None and timedelta(0) <= now - actor.step_up_at <= ONCE_WINDOW
            and actor.step_up_action in (None, str(action)))


class Guard:
    def __init__(self, policy: Policy, *, risk: RiskScorer | None = None) -> None:
        self.policy = policy
        self.risk = risk or NullRisk()

    def check(self, action: Action, actor: Actor, context: RequestContext, *,
              now: datetime, strongest_enrolled: Level = Level.PASSWORD) -> Decision:
        """Decide whether ``actor`` may do ``action`` now.

        ``strongest_enrolled`` is the best level among the customer's registered
        methods: when the policy asks for more, the interim alternative applies while
        its published date has not passed, else the customer must enrol first.

        Returns a Decision; never raises for a known action.
        """
        req = self.policy.requirement(action, context.channel)
        source = f"policy:{self.policy.name}"
        if req.deny:
            return Decision(Outcome.DENY, action, reasons=("channel_denied",),
                            sources=(source,), policy=self.policy.name)
        required, reasons, sources = req.level, [], [source]
        interim = self.policy.interim
        if (strongest_enrolled < required and interim is not None
                and action in interim.actions and now.date() <= interim.until
                and strongest_enrolled >= interim.level):
            required = interim.level
            reasons.append("interim_alternative")
        risk = self.risk.score(action, actor, context, now=now)
        if risk.outcome is not Outcome.ALLOW or risk.required_level or risk.reasons:
            sources.append("risk")
            reasons.extend(risk.reasons)
        if risk.required_level is not None and risk.required_level > required:
            required = risk.required_level
        outcome = risk.outcome
        if actor.level is None or actor.level < required:
            outcome = max(outcome, Outcome.CHALLENGE)
            reasons.append("level_too_low")
        elif req.once and not _unspent_step_up(actor, action, now):
            outcome = max(outcome, Outcome.CHALLENGE)
            reasons.append("confirmation_per_action")
        elif not req.once and req.max_age is not None and (
                actor.authenticated_at is None
                or now - actor.authenticated_at > req.max_age):
            outcome = max(outcome, Outcome.CHALLENGE)
            reasons.append("stale_authentication")
        if outcome is Outcome.CHALLENGE and strongest_enrolled < required:
            reasons.append("enrolment_required")
        return Decision(outcome, action,
                        required_level=required if outcome is Outcome.CHALLENGE else None,
                        reasons=tuple(reasons), sources=tuple(sources),
                        policy=self.policy.name)
