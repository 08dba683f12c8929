"""Routes declare their sensitive action; the guard decides before the route runs.

``guarded_web(Action.WITHDRAWAL)`` / ``guarded_api(...)`` are dependencies that read the
session, ask ``Guard.check`` and raise StepUpRequired / ActionDenied / ActionHeld, which
``web/errors.py`` turns into the answer. ``tests/functional/test_guard_coverage.py``
walks every route and fails when one that changes money, holdings, credentials or
contacts has no such dependency (after warehouse's ``require_reauth``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Annotated

import anyio
from fastapi import Depends, Request

from kabuguard.container import Services
from kabuguard.domain.assurance import Level
from kabuguard.domain.events import Channel
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import (
    ActionDenied,
    ActionHeld,
    ActionRestricted,
    Actor,
    Decision,
    Outcome,
    StepUpRequired,
)
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.web.deps import get_api_session, get_services, get_web_session
from kabuguard.web.security import request_context

GuardDependency = Callable[..., Awaitable[Decision]]


async def enforce(services: Services, request: Request, session: SessionInfo,
                  action: Action, channel: Channel) -> Decision:
    """Ask the guard for this session and raise unless the action may go ahead.

    Async on purpose: the check itself is pure computation, and a sync dependency would
    cost a thread-pool hop on every guarded request (measured on the order path). The
    database work, needed only when a password is not enough, runs in a thread: the
    customer's methods, and spending a step-up on an action the policy wants
    confirmed every time (``max_age: 0s``).

    A challenge lists the customer's methods that answer it (``methods``), so that an
    app knows which step-up to offer without another call.
    """
    actor = Actor(session.account_id, Level(session.auth_level), session.authenticated_at,
                  session_id=session.public_id, restrictions=session.restrictions,
                  step_up_at=session.step_up_at, step_up_action=session.step_up_action)
    context = request_context(request, channel=channel, session=session.public_id)
    identity = services.identity
    requirement = services.guard.policy.requirement(action, channel)
    strongest = Level.PASSWORD
    if requirement.level > Level.PASSWORD:
        strongest = await anyio.to_thread.run_sync(identity.strongest_enrolled,
                                                   session.customer_id)
    decision = services.guard.check(action, actor, context, now=identity.clock(),
                                    strongest_enrolled=strongest)
    if decision.outcome is Outcome.ALLOW and requirement.once and session.step_up_at:
        spent = await anyio.to_thread.run_sync(functools.partial(
            identity.spend_step_up, session.public_id, seen=session.step_up_at))
        if not spent:  # a parallel request took it first
            decision = replace(decision, outcome=Outcome.CHALLENGE,
                               required_level=requirement.level,
                               reasons=(*decision.reasons, "confirmation_per_action"))
    if decision.outcome is Outcome.CHALLENGE:
        methods = await anyio.to_thread.run_sync(identity.methods_for, session.customer_id,
                                                 decision)
        raise StepUpRequired(decision, methods=methods)
    if decision.outcome is Outcome.HOLD:
        raise ActionHeld(decision)
    if decision.outcome is Outcome.DENY:
        # A restriction (a recovery's cooling-off) says until when, not just "no".
        raise ActionRestricted(decision) if decision.restricted_until else ActionDenied(decision)
    return decision


def guarded_web(action: Action) -> GuardDependency:
    async def dependency(request: Request,
                         session: Annotated[SessionInfo, Depends(get_web_session)],
                         services: Annotated[Services, Depends(get_services)]) -> Decision:
        return await enforce(services, request, session, action, Channel.WEB)

    dependency.guarded_action = action  # type: ignore[attr-defined]
    return dependency


def guarded_api(action: Action) -> GuardDependency:
    async def dependency(request: Request,
                         session: Annotated[SessionInfo, Depends(get_api_session)],
                         services: Annotated[Services, Depends(get_services)]) -> Decision:
        channel = Channel.APP if session.channel == "app" else Channel.API
        return await enforce(services, request, session, action, channel)

    dependency.guarded_action = action  # type: ignore[attr-defined]
    return dependency
