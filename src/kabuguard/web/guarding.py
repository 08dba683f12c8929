"""Routes declare their sensitive action; the guard decides before the route runs.

``guarded_web(Action.BANK_ACCOUNT_CHANGE)`` / ``guarded_api(...)`` are dependencies that
read the session, ask ``Guard.check`` and raise StepUpRequired / ActionDenied /
ActionHeld, which ``web/errors.py`` turns into the answer.

An order and a withdrawal are judged on their own fields too (the risk engine's rules
read an order's symbol, side and notional, a withdrawal's amount), which exist only
once the route has read its form or body. Their routes take ``checked_web(action)`` /
``checked_api(action)`` instead: the dependency checks the policy at once (a step-up the
policy asks for comes before anything else), and hands the route an ``ActionCheck``
that it calls with the fields before acting: policy and risk together, the one
decision that counts. ``tests/functional/test_guard_coverage.py`` walks every route and
fails when one that changes money, holdings, credentials or contacts has no such
dependency (after warehouse's ``require_reauth``), or when an order or withdrawal route
is not field-checked.

What the risk engine adds is acted on here (``act_on_risk``): a revoked session ends,
a frozen account is frozen, a notice goes out, and every refusal by risk is audited.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request

from kabuguard.broker.freezes import REASON as FROZEN_REASON
from kabuguard.container import Services
from kabuguard.domain.assurance import Level
from kabuguard.domain.events import Channel, RequestContext
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import (
    AccountFrozen,
    ActionDenied,
    ActionHeld,
    ActionRestricted,
    Actor,
    Decision,
    Outcome,
    StepUpRequired,
)
from kabuguard.guard.services import RiskResult
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.notify.interfaces import NoticeKind
from kabuguard.risk.online import step_up_methods
from kabuguard.web.deps import get_api_session, get_services, get_web_session
from kabuguard.web.security import request_context

GuardDependency = Callable[..., Awaitable[Decision]]
# Judged on their own fields by the route (``checked_web`` / ``checked_api``).
FIELD_CHECKED = frozenset({Action.ORDER, Action.WITHDRAWAL})
# The policy alone, at the dependency of a field-checked route: the engine's answer
# comes with the fields.
_RISK_LATER = RiskResult()
RISK_ACTOR = "risk"


def actor_of(services: Services, session: SessionInfo) -> Actor:
    """The guard's actor for a session: what it proved, and the account's bars (a
    recovery's cooling-off, a freeze)."""
    restrictions = session.restrictions
    frozen = services.freezes.restrictions(session.account_id)
    if frozen:
        restrictions = (*restrictions, *frozen)
    return Actor(session.account_id, Level(session.auth_level), session.authenticated_at,
                 session_id=session.public_id, restrictions=restrictions,
                 step_up_at=session.step_up_at, step_up_action=session.step_up_action)


def _context(request: Request, session: SessionInfo, actor: Actor, action: Action,
             channel: Channel, now: datetime) -> RequestContext:
    methods = step_up_methods(actor, action, now)
    if methods:
        # The action's event carries the step-up made for it (web/security.py).
        request.state.action_methods = methods
    return request_context(request, channel=channel, session=session.public_id)


def _needs_acting(decision: Decision) -> bool:
    return "risk" in decision.sources and (
        bool(decision.effects) or decision.outcome in (Outcome.HOLD, Outcome.DENY))


async def enforce(services: Services, request: Request, session: SessionInfo,
                  action: Action, channel: Channel, *, risk_later: bool = False) -> Decision:
    """Ask the guard for this session and raise unless the action may go ahead.

    Async on purpose: the check itself is pure computation, and a sync dependency would
    cost a thread-pool hop on every guarded request (measured on the order path). The
    database work, needed only when a password is not enough, runs in a thread: the
    customer's methods, and spending a step-up on an action the policy wants
    confirmed every time (``max_age: 0s``); and acting on the risk engine's answer.

    A challenge lists the customer's methods that answer it (``methods``), so that an
    app knows which step-up to offer without another call. ``risk_later``: the policy
    only (a field-checked route asks again with its fields).
    """
    identity = services.identity
    now = identity.clock()
    actor = actor_of(services, session)
    context = _context(request, session, actor, action, channel, now)
    requirement = services.guard.policy.requirement(action, channel)
    strongest = Level.PASSWORD
    if requirement.level > Level.PASSWORD:
        strongest = await anyio.to_thread.run_sync(identity.strongest_enrolled,
                                                   session.customer_id)
    decision = services.guard.check(action, actor, context, now=now,
                                    strongest_enrolled=strongest,
                                    risk=_RISK_LATER if risk_later else None)
    if decision.outcome is Outcome.ALLOW and requirement.once and session.step_up_at:
        spent = await anyio.to_thread.run_sync(functools.partial(
            identity.spend_step_up, session.public_id, seen=session.step_up_at))
        if not spent:  # a parallel request took it first
            decision = replace(decision, outcome=Outcome.CHALLENGE,
                               required_level=requirement.level,
                               reasons=(*decision.reasons, "confirmation_per_action"))
    if _needs_acting(decision):
        await anyio.to_thread.run_sync(act_on_risk, services, session, decision, context)
    if decision.outcome is Outcome.CHALLENGE:
        methods = await anyio.to_thread.run_sync(identity.methods_for, session.customer_id,
                                                 decision)
        raise StepUpRequired(decision, methods=methods)
    raise_unless_allowed(services, decision)
    return decision


def raise_unless_allowed(services: Services, decision: Decision, *,
                         hold_stored: bool = False) -> None:
    """Raise the error a HOLD or DENY decision answers (a challenge is the caller's:
    it lists the customer's methods). ``hold_stored``: the caller stores a held action
    itself (an order, a withdrawal), so HOLD returns."""
    if decision.outcome is Outcome.HOLD and not hold_stored:
        raise ActionHeld(decision)
    if decision.outcome is not Outcome.DENY:
        return
    if FROZEN_REASON in decision.reasons or any(
            e["type"] == "freeze_account" for e in decision.effects):
        raise AccountFrozen(decision, phone=services.settings.support_phone)
    if decision.restricted_until:
        # A restriction (a recovery's cooling-off) says until when, not just "no".
        raise ActionRestricted(decision)
    denied = ActionDenied(decision)
    if any(e["type"] == "revoke_session" for e in decision.effects):
        denied.params["reason"] = "risk_session_revoked"  # web/i18n words it
    raise denied


def act_on_risk(services: Services, session: SessionInfo, decision: Decision,
                context: RequestContext, *, hold_stored: bool = False) -> None:
    """Carry out what the risk engine decided beside the outcome (EVENTS.md decision
    ``actions``): end the session (``revoke_session``), freeze the account
    (``freeze_account``), tell the customer (``notify``; a revoked session is told
    too). A risk refusal or hold is audited with its reasons, unless the caller
    stores the held action itself (``hold_stored``: the held order or withdrawal, with
    its event, is the record). Sync: DB work."""
    account = session.account_id
    notices: list[str] = []
    for effect in decision.effects:
        kind = effect.get("type")
        if kind == "revoke_session":
            ended = services.identity.end_session(
                effect.get("session") or session.public_id, actor=RISK_ACTOR,
                reasons=decision.reasons, context=context)
            if ended:
                notices.append("session_revoked")
        elif kind == "freeze_account":
            # The freeze queues its own notice, with the number to call.
            services.freezes.freeze(effect.get("account") or account, actor=RISK_ACTOR,
                                    reasons=decision.reasons, ip=context.ip)
        elif kind == "notify":
            notices.append(str(effect.get("template") or "unusual_activity"))
    refused = decision.outcome is Outcome.DENY or (decision.outcome is Outcome.HOLD
                                                   and not hold_stored)
    if not (notices or refused):
        return
    now = services.identity.clock()
    with services.db.write() as db_session:
        if refused:
            services.journal.record_admin(
                db_session, ts=now, actor=RISK_ACTOR, action=f"risk_{decision.outcome.label}",
                subject=account, payload={"decision": decision.to_dict(),
                                          "session": session.public_id, "ip": context.ip})
        for reason in dict.fromkeys(notices):
            services.notifier.queue(
                db_session, customer_id=session.customer_id, kind=NoticeKind.SECURITY_ALERT,
                params={"at": now.isoformat(), "reason": reason}, now=now,
                dedupe_key=f"risk:{session.public_id}:{reason}:{now.isoformat()}")


@dataclass(slots=True)
class ActionCheck:
    """The guard once more, with the action's own fields (``FIELD_CHECKED``): call it
    after reading the form or body and before acting. Raises StepUpRequired,
    ActionDenied (AccountFrozen, ...) as ``enforce``; returns the decision, ALLOW or
    HOLD (the caller stores a held order or withdrawal as held: 202)."""

    services: Services
    request: Request
    session: SessionInfo
    action: Action
    channel: Channel

    def __call__(self, fields: Mapping[str, Any]) -> Decision:
        services, session = self.services, self.session
        identity = services.identity
        now = identity.clock()
        actor = actor_of(services, session)
        context = _context(self.request, session, actor, self.action, self.channel, now)
        decision = services.guard.check(
            self.action, actor, context, now=now, fields=fields,
            strongest_enrolled=lambda: identity.strongest_enrolled(session.customer_id))
        if _needs_acting(decision):
            act_on_risk(services, session, decision, context, hold_stored=True)
        if decision.outcome is Outcome.CHALLENGE:
            raise StepUpRequired(decision,
                                 methods=identity.methods_for(session.customer_id, decision))
        raise_unless_allowed(services, decision, hold_stored=True)
        return decision


def guarded_web(action: Action) -> GuardDependency:
    _not_field_checked(action)

    async def dependency(request: Request,
                         session: Annotated[SessionInfo, Depends(get_web_session)],
                         services: Annotated[Services, Depends(get_services)]) -> Decision:
        return await enforce(services, request, session, action, Channel.WEB)

    dependency.guarded_action = action  # type: ignore[attr-defined]
    return dependency


def guarded_api(action: Action) -> GuardDependency:
    _not_field_checked(action)

    async def dependency(request: Request,
                         session: Annotated[SessionInfo, Depends(get_api_session)],
                         services: Annotated[Services, Depends(get_services)]) -> Decision:
        return await enforce(services, request, session, action, _api_channel(session))

    dependency.guarded_action = action  # type: ignore[attr-defined]
    return dependency


def checked_web(action: Action) -> Callable[..., Awaitable[ActionCheck]]:
    """For the site's order and withdrawal routes: the policy now, the rest with the
    fields (``ActionCheck``)."""

    async def dependency(request: Request,
                         session: Annotated[SessionInfo, Depends(get_web_session)],
                         services: Annotated[Services, Depends(get_services)]) -> ActionCheck:
        await enforce(services, request, session, action, Channel.WEB, risk_later=True)
        return ActionCheck(services, request, session, action, Channel.WEB)

    dependency.guarded_action = action  # type: ignore[attr-defined]
    dependency.fields_checked = True  # type: ignore[attr-defined]
    return dependency


def checked_api(action: Action) -> Callable[..., Awaitable[ActionCheck]]:
    """As ``checked_web``, for the JSON API."""

    async def dependency(request: Request,
                         session: Annotated[SessionInfo, Depends(get_api_session)],
                         services: Annotated[Services, Depends(get_services)]) -> ActionCheck:
        channel = _api_channel(session)
        await enforce(services, request, session, action, channel, risk_later=True)
        return ActionCheck(services, request, session, action, channel)

    dependency.guarded_action = action  # type: ignore[attr-defined]
    dependency.fields_checked = True  # type: ignore[attr-defined]
    return dependency


def is_held(decision: Decision) -> bool:
    """An ``ActionCheck`` answer the route stores as held instead of executing."""
    return decision.outcome is Outcome.HOLD


def _api_channel(session: SessionInfo) -> Channel:
    return Channel.APP if session.channel == "app" else Channel.API


def _not_field_checked(action: Action) -> None:
    if action in FIELD_CHECKED:
        msg = f"{action} is judged on its fields: use checked_web/checked_api"
        raise ValueError(msg)


OrderCheckWeb = Annotated[ActionCheck, Depends(checked_web(Action.ORDER))]
WithdrawalCheckWeb = Annotated[ActionCheck, Depends(checked_web(Action.WITHDRAWAL))]
OrderCheckApi = Annotated[ActionCheck, Depends(checked_api(Action.ORDER))]
WithdrawalCheckApi = Annotated[ActionCheck, Depends(checked_api(Action.WITHDRAWAL))]
