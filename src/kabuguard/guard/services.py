"""``Guard.check``: the one choke point every sensitive action passes through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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


class Guard:
    def __init__(self, policy: Policy, *, risk: RiskScorer | None = None) -> None:
        self.policy = policy
        self.risk = risk or NullRisk()

    def check(self, action: Action, actor: Actor, context: RequestContext, *,
              now: datetime, strongest_enrolled: Level = Level.PASSWORD) -> Decision:
        """Decide whether ``actor`` may do ``action`` now.

        A ``Restriction`` of the actor covering ``action`` denies it until it ends,
        whatever the level (``Decision.restricted_until`` says when).

        ``strongest_enrolled`` is the best level among the customer's registered
        methods: when the policy asks for more, the interim alternative applies while
        its published date has not passed, else the customer must enrol first.

        Returns a Decision; never raises for a known action.
        """
        req = self.policy.requirement(action, context.channel)
        source = f"policy:{self.policy.name}"
        # An account restriction comes first: no authentication lifts it, so asking
        # for a step-up that would then be refused anyway only wastes the customer's time.
        barring = [r for r in actor.restrictions if r.covers(action, now)]
        if barring:
            last = max(barring, key=lambda r: r.until)
            return Decision(Outcome.DENY, action, reasons=(last.reason,),
                            sources=("restriction",), policy=self.policy.name,
                            restricted_until=last.until)
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
        elif req.max_age is not None and (
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
