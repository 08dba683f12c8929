"""Routes declare their sensitive action; the guard decides before the route runs.

``guarded_web(Action.WITHDRAWAL)`` / ``guarded_api(...)`` are dependencies that read the
session, ask ``Guard.check`` and raise StepUpRequired / ActionDenied / ActionHeld, which
``web/errors.py`` turns into the answer. ``tests/functional/test_guard_coverage.py``
walks every route and fails when one that changes money, holdings, credentials or
contacts has no such dependency (after warehouse's ``require_reauth``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from kabuguard.container import Services
from kabuguard.domain.events import Channel
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import ActionDenied, ActionHeld, Actor, Decision, Outcome, StepUpRequired
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.identity.methods import Level
from kabuguard.web.deps import get_api_session, get_services, get_web_session
from kabuguard.web.security import request_context

GuardDependency = Callable[..., Decision]


def enforce(services: Services, request: Request, session: SessionInfo, action: Action,
            channel: Channel) -> Decision:
    """Ask the guard for this session and raise unless the action may go ahead."""
    actor = Actor(session.account_id, Level(session.auth_level), session.authenticated_at,
                  session_id=session.public_id)
    context = request_context(request, channel=channel, session=session.public_id)
    # What the customer has enrolled matters only when a password is not enough; the
    # look-up is skipped otherwise, keeping it off the order path under such policies.
    needs_more = services.guard.policy.requirement(action, channel).level > Level.PASSWORD
    strongest = (services.identity.strongest_enrolled(session.customer_id) if needs_more
                 else Level.PASSWORD)
    decision = services.guard.check(action, actor, context, now=services.identity.clock(),
                                    strongest_enrolled=strongest)
    if decision.outcome is Outcome.CHALLENGE:
        raise StepUpRequired(decision)
    if decision.outcome is Outcome.HOLD:
        raise ActionHeld(decision)
    if decision.outcome is Outcome.DENY:
        raise ActionDenied(decision)
    return decision


def guarded_web(action: Action) -> GuardDependency:
    def dependency(request: Request,
                   session: Annotated[SessionInfo, Depends(get_web_session)],
                   services: Annotated[Services, Depends(get_services)]) -> Decision:
        return enforce(services, request, session, action, Channel.WEB)

    dependency.guarded_action = action  # type: ignore[attr-defined]
    return dependency


def guarded_api(action: Action) -> GuardDependency:
    def dependency(request: Request,
                   session: Annotated[SessionInfo, Depends(get_api_session)],
                   services: Annotated[Services, Depends(get_services)]) -> Decision:
        channel = Channel.APP if session.channel == "app" else Channel.API
        return enforce(services, request, session, action, channel)

    dependency.guarded_action = action  # type: ignore[attr-defined]
    return dependency
