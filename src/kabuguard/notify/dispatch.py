"""The dispatcher: delivers queued notices, at least once, with retries.

One pass (``dispatch_once``) claims the due notices, renders each in the notice's
language, hands it to the channel of its medium and records the outcome:

- **Claiming.** A notice is taken with a conditional UPDATE (status pending, or a
  ``sending`` whose lease ran out, and due) that moves it to ``sending`` with a lease;
  the UPDATE's rowcount says which dispatcher won, so two workers (threads, processes,
  hosts) never send the same notice. It works the same on SQLite (writers serialized)
  and PostgreSQL (the loser's UPDATE waits for the row lock, then finds it taken). A
  dispatcher that dies mid-send leaves a ``sending`` notice that another takes over when
  the lease ends: a notice may then arrive twice, never zero times.
- **Retries.** A failed attempt goes back to pending after an exponential backoff
  (``retry_base`` doubling up to ``retry_max``); after ``max_attempts`` it is ``dead``
  (the dead-letter view: ``kabuguard notify list --status dead``, ``notify retry``).
  A failure that retrying cannot cure (no channel configured for the medium, a template
  that cannot render, an SMTP 5xx, a webhook 4xx) is dead at once.
- **Expiry.** A one-time code or emoji challenge that could not be delivered before
  it expired is dead, not sent late.

``last_error`` holds a short reason (the channel's DeliveryError, or a render error
naming the template), never an address, a code or a message body; nothing here logs a
body or a parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select, update

from kabuguard.domain.clock import Clock, utcnow
from kabuguard.identity.models import Customer
from kabuguard.notify.interfaces import (
    DIRECT,
    Channel,
    DeliveryError,
    Medium,
    NoticeStatus,
    OutgoingMessage,
)
from kabuguard.notify.models import Notice
from kabuguard.notify.render import Renderer, RenderError
from kabuguard.notify.services import SqlNotifier
from kabuguard.store.database import Database

log = structlog.get_logger(__name__)

SETTING_OF = {Medium.EMAIL: "KABUGUARD_SMTP_URL", Medium.SMS: "KABUGUARD_SMS_WEBHOOK_URL",
              Medium.PUSH: "KABUGUARD_PUSH_WEBHOOK_URL"}


def backoff(attempts: int, *, base: timedelta, cap: timedelta) -> timedelta:
    """The wait after the ``attempts``-th failure: base, 2×base, 4×base … up to cap.

    >>> [int(backoff(n, base=timedelta(seconds=30), cap=timedelta(minutes=5)).total_seconds())
    ...  for n in (1, 2, 3, 4, 5, 9)]
    [30, 60, 120, 240, 300, 300]
    """
    return min(base * (2 ** max(0, min(attempts - 1, 30))), cap)


@dataclass
class DispatchResult:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    claimed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.claimed)


class Dispatcher:
    def __init__(self, db: Database, *, notifier: SqlNotifier, renderer: Renderer,
                 channels: Mapping[Medium, Channel], max_attempts: int = 8,
                 retry_base: timedelta = timedelta(seconds=30),
                 retry_max: timedelta = timedelta(hours=1),
                 lease: timedelta = timedelta(minutes=5), clock: Clock = utcnow) -> None:
        self.db, self.notifier, self.renderer = db, notifier, renderer
        self.channels = dict(channels)
        self.max_attempts, self.retry_base, self.retry_max = max_attempts, retry_base, retry_max
        self.lease, self.clock = lease, clock

    def dispatch_once(self, *, now: datetime | None = None, limit: int = 100) -> DispatchResult:
        """Claim up to ``limit`` due notices and try each once. Returns the counts."""
        now = now or self.clock()
        result = DispatchResult()
        for notice_id in self.claim(now=now, limit=limit):
            result.claimed.append(notice_id)
            outcome = self._deliver(notice_id, now=now)
            if outcome is NoticeStatus.SENT:
                result.sent += 1
            elif outcome is NoticeStatus.DEAD:
                result.dead += 1
            else:
                result.retrying += 1
        return result

    def claim(self, *, now: datetime, limit: int) -> list[str]:
        """Take due notices for this dispatcher; the ids it won, oldest first."""
        due = _due(now)
        with self.db.read() as session:
            candidates = list(session.scalars(
                select(Notice.id).where(due).order_by(Notice.next_attempt_at, Notice.id)
                .limit(limit)))
        won = []
        lease_end = now + self.lease
        for notice_id in candidates:
            with self.db.write() as session:
                taken = session.execute(
                    update(Notice).where(Notice.id == notice_id, due)
                    .values(status=str(NoticeStatus.SENDING), next_attempt_at=lease_end)
                    .execution_options(synchronize_session=False)).rowcount
            if taken == 1:
                won.append(notice_id)
        return won

    def _deliver(self, notice_id: str, *, now: datetime) -> NoticeStatus:
        lease_end = now + self.lease
        with self.db.read() as session:
            notice = session.get(Notice, notice_id)
            if notice is None:
                return NoticeStatus.DEAD
            customer_name = session.scalar(
                select(Customer.name).where(Customer.id == notice.customer_id)) or ""
        try:
            medium = Medium(notice.medium)
            address, params = self.notifier.decode(notice)
            if _expired(notice, params, now):
                return self._fail(notice, DeliveryError("expired before it could be delivered",
                                                        permanent=True), now, lease_end)
            channel = self.channels.get(medium)
            if channel is None:
                return self._fail(notice, DeliveryError(
                    f"no {medium} channel is configured (set {SETTING_OF[medium]})",
                    permanent=True), now, lease_end)
            rendered = self.renderer.render(kind=notice.kind, language=notice.language,
                                            medium=medium, params=params,
                                            customer_name=customer_name)
            channel.send(OutgoingMessage(
                notice_id=notice.id, kind=notice.kind, medium=medium,
                language=notice.language, address=address, subject=rendered.subject,
                body=rendered.body), now=now)
        except RenderError as exc:
            return self._fail(notice, DeliveryError(f"render: {exc}", permanent=True),
                              now, lease_end)
        except DeliveryError as exc:
            return self._fail(notice, exc, now, lease_end)
        except Exception as exc:  # a bug in a channel: retried, and logged without data
            log.exception("notify.channel_crashed", notice=notice.id, medium=notice.medium)
            return self._fail(notice, DeliveryError(f"internal error ({type(exc).__name__})"),
                              now, lease_end)
        with self.db.write() as session:
            session.execute(
                update(Notice).where(Notice.id == notice.id,
                                     Notice.status == str(NoticeStatus.SENDING),
                                     Notice.next_attempt_at == lease_end)
                .values(status=str(NoticeStatus.SENT), sent_at=now, last_error=None,
                        attempts=Notice.attempts + 1)
                .execution_options(synchronize_session=False))
        log.info("notify.sent", notice=notice.id, kind=notice.kind, medium=notice.medium)
        return NoticeStatus.SENT

    def _fail(self, notice: Notice, error: DeliveryError, now: datetime,
              lease_end: datetime) -> NoticeStatus:
        attempts = notice.attempts + 1
        dead = error.permanent or attempts >= self.max_attempts
        status = NoticeStatus.DEAD if dead else NoticeStatus.PENDING
        next_at = now if dead else now + backoff(attempts, base=self.retry_base,
                                                 cap=self.retry_max)
        with self.db.write() as session:
            session.execute(
                update(Notice).where(Notice.id == notice.id,
                                     Notice.status == str(NoticeStatus.SENDING),
                                     Notice.next_attempt_at == lease_end)
                .values(status=str(status), attempts=attempts, next_attempt_at=next_at,
                        last_error=error.reason[:400])
                .execution_options(synchronize_session=False))
        log.warning("notify.failed", notice=notice.id, kind=notice.kind,
                    medium=notice.medium, attempts=attempts, reason=error.reason,
                    status=str(status))
        return status


def _due(now: datetime):
    return (or_(Notice.status == str(NoticeStatus.PENDING),
                Notice.status == str(NoticeStatus.SENDING))
            & (Notice.next_attempt_at <= now))


def _expired(notice: Notice, params: dict[str, object], now: datetime) -> bool:
    if notice.kind not in {str(k) for k in DIRECT}:
        return False
    minutes = params.get("expires_minutes")
    if not isinstance(minutes, int | float):
        return False
    return now > notice.created_at + timedelta(minutes=float(minutes))
