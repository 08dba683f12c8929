"""Write the two records every state change owes, in the caller's transaction:
the interchange event (to the outbox) and the audit record (to the hash chain).

Listeners (the notifier's planner) see each recorded event in the same transaction,
so what they write (the notices about it) commits or rolls back with the change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.orm import Session

from kabuguard.audit.services import SqlAuditLog
from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.events import Event

# (session, event, hints): ``hints`` are facts the event does not carry and must not
# (the previous e-mail address after a change, in memory only, never stored in clear).
EventListener = Callable[[Session, Event, Mapping[str, Any]], None]


class Journal:
    def __init__(self, audit: SqlAuditLog, *, listeners: tuple[EventListener, ...] = ()) -> None:
        self.audit = audit
        self._listeners: list[EventListener] = list(listeners)

    def add_listener(self, listener: EventListener) -> None:
        self._listeners.append(listener)

    def record(self, session: Session, event: Event, *, actor: str,
               audit_extra: dict[str, Any] | None = None,
               notice_hints: Mapping[str, Any] | None = None) -> None:
        """Queue ``event`` and chain an audit record for it, then call the listeners in
        the same transaction. Call last before commit. A listener's error propagates
        (the change rolls back rather than commit without its notices)."""
        body = event.to_interchange()
        session.add(OutboxEvent(
            event_id=event.id, type=str(event.type), account=event.account, ts=event.ts,
            payload=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        ))
        self.audit.append(
            session, ts=event.ts, actor=actor, action=str(event.type),
            subject=event.account, payload={"event": body, **(audit_extra or {})},
        )
        for listener in self._listeners:
            listener(session, event, notice_hints or {})

    def record_admin(self, session: Session, *, ts: Any, actor: str, action: str,
                     subject: str | None, payload: dict[str, Any]) -> None:
        """An audit record for a change that has no customer-facing event."""
        self.audit.append(session, ts=ts, actor=actor, action=action, subject=subject,
                          payload=payload)
