"""Write the two records every state change owes, in the caller's transaction:
the interchange event (to the outbox) and the audit record (to the hash chain)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from kabuguard.audit.services import SqlAuditLog
from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.events import Event


class Journal:
    def __init__(self, audit: SqlAuditLog) -> None:
        self.audit = audit

    def record(self, session: Session, event: Event, *, actor: str,
               audit_extra: dict[str, Any] | None = None) -> None:
        """Queue ``event`` and chain an audit record for it. Call last before commit."""
        body = event.to_interchange()
        session.add(OutboxEvent(
            event_id=event.id, type=str(event.type), account=event.account, ts=event.ts,
            payload=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        ))
        self.audit.append(
            session, ts=event.ts, actor=actor, action=str(event.type),
            subject=event.account, payload={"event": body, **(audit_extra or {})},
        )

    def record_admin(self, session: Session, *, ts: Any, actor: str, action: str,
                     subject: str | None, payload: dict[str, Any]) -> None:
        """An audit record for a change that has no customer-facing event."""
        self.audit.append(session, ts=ts, actor=actor, action=action, subject=subject,
                          payload=payload)
