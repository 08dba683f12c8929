"""``Guard.check``: the one choke point every sensitive action passes through."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from kabuguard.domain.assurance import Level
from kabuguard.domain.events import Channel, RequestContext
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import Actor, Decision, Outcome
from kabuguard.guard.policy import LastStrong, Policy


@dataclass(frozen=True, slots=True)
class RiskResult:
    """What a risk engine adds to the policy's answer (after river's ``score_one``)."""

    outcome: Outcome = Outcome.ALLOW
    required_level: Level | None = None
    score: float = 0.0
    reasons: tuple[str, ...] = ()
    # Side effects the engine takes with its answer (EVENTS.md decision ``actions``:
    # freeze_account, restrict_symbol, revoke_session, notify).
    effects: tuple[dict[str, Any], ...] = ()
    # Rules that ran in shadow mode and would have fired: reported, never acted on.
    shadow: tuple[str, ...] = ()


class RiskScorer(Protocol):
    """Scores an action before it executes. ``fields`` are the action's own values
    where the caller has them (an order's symbol, side, quantity and notional; a
    withdrawal's amount; ...), in the interchange format's names (EVENTS.md)."""

    def score(self, action: Action, actor: Actor, context: RequestContext, *,
              now: datetime, fields: Mapping[str, Any] | None = None) -> RiskResult: ...


class NullRisk:
    """No risk engine yet: policy alone decides (the risk issue plugs in here)."""

    def score(self, action: Action, actor: Actor, context: RequestContext, *,
              now: datetime, fields: Mapping[str, Any] | None = None) -> RiskResult:
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
              now: datetime,
              strongest_enrolled: Level | Callable[[], Level] = Level.PASSWORD,
              risk: RiskResult | None = None,
              fields: Mapping[str, Any] | None = None) -> Decision:
        """Decide whether ``actor`` may do ``action`` now.

        A ``Restriction`` of the actor covering ``action`` denies it until it ends,
        whatever the level (``Decision.restricted_until`` says when).

        ``strongest_enrolled`` is the best level among the customer's registered
        methods: when the policy asks for more, the interim alternative applies while
        its published date has not passed, else the customer must enrol first. It may be
        a function: it is then called only when the actor's level falls short (a look-up
        the common case, a password login under a password policy, does not pay for).

        ``risk``: a result the caller has already scored for this very event (the
        stream guard, which scores the interchange event with the engine); when None,
        the guard asks its own ``RiskScorer``, with the action's ``fields`` when the
        caller has them (``RiskScorer``).

        Returns a Decision; never raises for a known action.
        """
        req = self.policy.requirement(action, context.channel)
        source = f"policy:{self.policy.name}"
        # An account restriction comes first: no authentication lifts it, so asking
        # for a step-up that would then be refused anyway only wastes the customer's time.
        barring = ([r for r in actor.restrictions if r.covers(action, now)]
                   if actor.restrictions else None)
        if barring:
            last = max(barring, key=lambda r: r.until)
            return Decision(Outcome.DENY, action, reasons=(last.reason,),
                            sources=("restriction",), policy=self.policy.name,
                            restricted_until=last.until)
        if req.deny:
            return Decision(Outcome.DENY, action, reasons=("channel_denied",),
                            sources=(source,), policy=self.policy.name)
        required, reasons, sources = req.level, [], [source]
        enrolled = _once(strongest_enrolled)
        interim = self.policy.interim
        if ((actor.level is None or actor.level < required) and interim is not None
                and enrolled() < required
                and action in interim.actions and now.date() <= interim.until
                and enrolled() >= interim.level):
            required = interim.level
            reasons.append("interim_alternative")
        if risk is None:
            risk = self.risk.score(action, actor, context, now=now, fields=fields)
        if risk.outcome is not Outcome.ALLOW or risk.required_level or risk.reasons:
            sources.append("risk")
            reasons.extend(risk.reasons)
        if risk.required_level is not None and risk.required_level > required:
            required = risk.required_level
        outcome = risk.outcome
        if (outcome is Outcome.CHALLENGE and action is Action.LOGIN
                and risk.required_level is not None and actor.level is not None
                and actor.level >= risk.required_level):
            # A login proves its level itself: a passkey login from an unusual place
            # is the passkey the engine asks for (asking again would loop). An action's
            # rules say ``event_level < 3`` for the step-up made for it.
            outcome = Outcome.ALLOW
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
        if outcome is Outcome.CHALLENGE and enrolled() < required:
            reasons.append("enrolment_required")
        return Decision(outcome, action,
                        required_level=required if outcome is Outcome.CHALLENGE else None,
                        reasons=tuple(reasons), sources=tuple(sources),
                        effects=risk.effects, policy=self.policy.name)

    def plain_level(self, action: Action, channel: Channel) -> Level | None:
        """The level from which ``check`` allows ``action`` on ``channel`` outright, however
        old the session's authentication: for an actor at that level or above, with no
        restriction, and a risk result that adds nothing (ALLOW, no level, no reason, no
        effect), ``check`` returns ALLOW with no reasons and the policy as sole source.
        None when only ``check`` can tell (the channel is denied, or the requirement has
        a freshness rule: ``max_age``, a confirmation per action).

        For callers deciding a stream of events (``risk/stream_guard.py``), which skip
        building the Actor, context and Decision of that common case."""
        req = self.policy.requirement(action, channel)
        if req.deny or req.max_age is not None:
            return None
        return req.level

    def check_last_strong_removal(self, actor: Actor, *, method_level: Level,
                                  now: datetime) -> Decision:
        """The policy's ``mfa_removal`` rule for removing the customer's last method at
        their strongest level (``method_level``: PHISHING_RESISTANT for the last passkey,
        OTP for the authenticator app of a customer without one). It comes on top of
        the ``mfa_remove`` requirement the route has already passed through ``check``
        (risk scored there once), so it adds no risk score of its own.

        Returns DENY (reason ``last_strong_forbidden``) when the policy forbids it;
        CHALLENGE at ``method_level`` when the session's latest proof is weaker, or older
        than ``mfa_removal.max_age``; else ALLOW, and the caller removes at once or
        schedules as ``policy.mfa_removal.last_strong`` says. Never raises."""
        rule = self.policy.mfa_removal
        source = f"policy:{self.policy.name}"
        if rule.last_strong is LastStrong.FORBID:
            return Decision(Outcome.DENY, Action.MFA_REMOVE,
                            reasons=("last_strong_method", "last_strong_forbidden"),
                            sources=(source,), policy=self.policy.name)
        reasons = ["last_strong_method"]
        if actor.level is None or actor.level < method_level:
            reasons.append("level_too_low")
        elif actor.authenticated_at is None or now - actor.authenticated_at > rule.max_age:
            reasons.append("stale_authentication")
        if len(reasons) > 1:
            return Decision(Outcome.CHALLENGE, Action.MFA_REMOVE, required_level=method_level,
                            reasons=tuple(reasons), sources=(source,),
                            policy=self.policy.name)
        return Decision(Outcome.ALLOW, Action.MFA_REMOVE, reasons=tuple(reasons),
                        sources=(source,), policy=self.policy.name)

def _once(level: Level | Callable[[], Level]) -> Callable[[], Level]:
    """``level`` as a function that computes it at most once.

    >>> calls = []
    >>> f = _once(lambda: calls.append(1) or Level.OTP)
    >>> f(), f(), len(calls)
    (<Level.OTP: 2>, <Level.OTP: 2>, 1)
    """
    if isinstance(level, Level):
        return lambda: level
    cache: list[Level] = []

    def get() -> Level:
        if not cache:
            cache.append(level())
        return cache[0]
    return get
