"""Event bus: the in-process transport and the outbox relay that feeds it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update

from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.store.database import Database

log = structlog.get_logger(__name__)

Handler = Callable[[dict[str, Any]], None]


class InProcessBus:
    """Delivers each event to every subscriber in the publishing thread."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []
        self._lock = threading.Lock()

    def subscribe(self, handler: Handler) -> None:
        with self._lock:
            self._handlers.append(handler)

    def publish(self, event: dict[str, Any]) -> None:
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception:  # one bad subscriber must not stop the others
                log.exception("bus.handler_failed", event_id=event.get("id"))


class OutboxRelay:
    """Moves committed outbox rows to the bus in commit order, at least once."""

    def __init__(self, db: Database, bus: InProcessBus, *, clock: Clock = utcnow) -> None:
        self._db, self._bus, self._clock = db, bus, clock

    def relay_once(self, *, limit: int = 500) -> int:
        with self._db.read() as session:
            rows = session.execute(
                select(OutboxEvent.seq, OutboxEvent.payload)
                .where(OutboxEvent.published_at.is_(None))
                .order_by(OutboxEvent.seq).limit(limit)
            ).all()
        if not rows:
            return 0
        for _seq, payload in rows:
            self._bus.publish(json.loads(payload))
        stamp: datetime = self._clock()
        with self._db.write() as session:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.seq.in_([seq for seq, _ in rows]))
                .values(published_at=stamp)
            )
        return len(rows)
