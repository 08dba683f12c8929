"""The risk engine inside the app's own guard: online scoring before an action, and
the app's committed events feeding the same engine afterwards (issue 5: "scores every
event and sensitive action, both online (inside guard.check, before the action
executes) and offline, with the same code").

Both go through the app's one ``DecisionLog`` (the decision API's), so the site, the
JSON API and ``POST /api/v1/events`` see one state, rebuilt from the log on restart:

- ``OnlineRisk`` is the ``RiskScorer`` of the app's ``Guard``: it builds the
  interchange event the action would produce (EVENTS.md) from the guard's
  (action, actor, context, now) and the action's own fields where the caller has them,
  and asks ``StreamGuard.assess`` (read-only) for the risk answer;
- ``AppEventFeed`` is a ``Journal`` listener: every event the app journals is handed
  to ``DecisionLog.record_app_events`` once its transaction has committed, in order,
  so the engine learns the logins, orders, withdrawals and changes that happened.

The engine only reads here; acting on its answer (holding an order, revoking a
session, freezing the account) is the caller's: ``web/guarding.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from kabuguard.domain.assurance import Level
from kabuguard.domain.events import Event, RequestContext, format_ts
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import Actor
from kabuguard.guard.services import ONCE_WINDOW, RiskResult
from kabuguard.store.database import after_commit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from kabuguard.risk.decision_log import DecisionLog

# The interchange type of each action the engine scores (cancelling an order has none:
# it takes nothing out and the engine has no rule for it).
EVENT_TYPES: Mapping[Action, str] = {
    Action.LOGIN: "login", Action.ORDER: "order", Action.WITHDRAWAL: "withdrawal",
    Action.BANK_ACCOUNT_CHANGE: "bank_account_change",
    Action.CONTACT_CHANGE: "contact_change", Action.PASSWORD_CHANGE: "password_change",
    Action.MFA_ENROLL: "mfa_change", Action.MFA_REMOVE: "mfa_change",
    Action.RECOVERY: "recovery", Action.DEPOSIT: "deposit",
}
# A session keeps the level of its latest proof, not the method: one method of that
# level stands for it (the engine reads levels only: ``event_level``).
LEVEL_METHOD: Mapping[Level, str] = {Level.PASSWORD: "password", Level.OTP: "totp",
                                     Level.PHISHING_RESISTANT: "passkey"}
LOGIN_METHODS: Mapping[Level, tuple[str, ...]] = {
    Level.PASSWORD: ("password",), Level.OTP: ("password", "totp"),
    Level.PHISHING_RESISTANT: ("passkey",)}
_NO_RISK = RiskResult()


def step_up_methods(actor: Actor, action: Action, now: datetime) -> tuple[str, ...] | None:
    """The step-up the actor made for this very action just before it (the guard's
    own test for a once-only confirmation: made moments ago, for this action or for
    none in particular), as the event's ``methods``; None without one.

    >>> from datetime import UTC
    >>> t = datetime(2025, 4, 8, 1, 0, tzinfo=UTC)
    >>> a = Actor("A1", Level.PHISHING_RESISTANT, t, step_up_at=t, step_up_action="order")
    >>> step_up_methods(a, Action.ORDER, t), step_up_methods(a, Action.WITHDRAWAL, t)
    (('passkey',), None)
    >>> step_up_methods(a, Action.ORDER, t + timedelta(minutes=5)) is None
    True
    """
    at = actor.step_up_at
    if at is None or actor.level is None or not timedelta(0) <= now - at <= ONCE_WINDOW:
        return None
    if actor.step_up_action not in (None, str(action)):
        return None
    return (LEVEL_METHOD[actor.level],)


def build_event(action: Action, actor: Actor, context: RequestContext, *, now: datetime,
                fields: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The interchange event ``action`` would produce now (EVENTS.md), or None for an
    action without one. A login is one that succeeds with what the actor has proven;
    another action carries the step-up made for it (``step_up_methods``) and the
    action's own ``fields`` (order: symbol, side, quantity, order_type, limit_price,
    notional_jpy; withdrawal: amount_jpy, bank_account; mfa_change: method;
    contact_change: field). ``id`` is a placeholder: the event is not stored."""
    etype = EVENT_TYPES.get(action)
    if etype is None:
        return None
    event: dict[str, Any] = {
        "id": "online", "ts": format_ts(now), "_ts": now.timestamp(), "type": etype,
        "account": actor.account_id, "session": actor.session_id or context.session,
        "channel": str(context.channel), "ip": context.ip, "device": context.device,
        "user_agent": context.user_agent,
    }
    if action is Action.LOGIN:
        event.update(login_id="", outcome="success", session=None,
                     methods=list(LOGIN_METHODS.get(actor.level or Level.PASSWORD,
                                                    ("password",))))
    else:
        methods = context.methods or step_up_methods(actor, action, now)
        if methods:
            event["methods"] = list(methods)
        if action is Action.MFA_ENROLL:
            event["change"] = "enroll"
        elif action is Action.MFA_REMOVE:
            event["change"] = "remove"
    if fields:
        event.update(fields)
    return event


class OnlineRisk:
    """The app guard's ``RiskScorer``: the shared engine's answer for the would-be
    event (``build_event``), read-only. Thread-safe (the log's lock)."""

    def __init__(self, log: DecisionLog) -> None:
        self.log = log

    def score(self, action: Action, actor: Actor, context: RequestContext, *,
              now: datetime, fields: Mapping[str, Any] | None = None) -> RiskResult:
        event = build_event(action, actor, context, now=now, fields=fields)
        if event is None:
            return _NO_RISK
        return self.log.assess(event)


class AppEventFeed:
    """A ``Journal`` listener: the events of a transaction go to the decision log
    after it commits (never those of one that rolls back), in the order recorded."""

    def __init__(self, log: DecisionLog) -> None:
        self.log = log

    def __call__(self, session: Session, event: Event, _hints: Mapping[str, Any]) -> None:
        pending = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = []
            after_commit(session, lambda: self.log.record_app_events(pending))
        pending.append(event.to_interchange())


_PENDING = "kabuguard.risk.app_events"
