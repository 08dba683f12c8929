"""The outbox as operators see it: the list (with the dead letters) and the re-queue.

Used by ``kabuguard notify list/retry`` and, later, by the operations console. The list
never shows a message, its parameters or a full address: addresses are masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update

from kabuguard.crypto import FieldCipher, KeyError_
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import InvalidInput, NotFound
from kabuguard.notify.interfaces import Medium, NoticeStatus
from kabuguard.notify.models import Notice
from kabuguard.store.database import Database


def mask_address(medium: str, address: str) -> str:
    """Enough to tell addresses apart, too little to use one.

    >>> mask_address("email", "hanako@example.jp"), mask_address("sms", "09012345678")
    ('ha***@e***.jp', '*******5678')
    >>> mask_address("push", "1000001"), mask_address("email", "x")
    ('account 1000001', '***')
    """
    if medium == Medium.PUSH:
        return f"account {address}"
    if medium == Medium.SMS:
        return "*" * max(0, len(address) - 4) + address[-4:]
    local, at, domain = address.partition("@")
    if not at:
        return "***"
    host, _, tld = domain.rpartition(".")
    return f"{local[:2]}***@{(host or domain)[:1]}***.{tld}" if host else f"{local[:2]}***@***"


@dataclass(frozen=True, slots=True)
class NoticeSummary:
    id: str
    customer_id: str
    kind: str
    medium: str
    address: str  # masked
    language: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class NoticeOutbox:
    def __init__(self, db: Database, *, cipher: FieldCipher, clock: Clock = utcnow) -> None:
        self.db, self.cipher, self.clock = db, cipher, clock

    def list(self, *, status: str | None = None, customer_id: str | None = None,
             limit: int = 50) -> list[NoticeSummary]:
        """The newest notices first, optionally of one status or customer."""
        if status is not None and status not in set(NoticeStatus):
            raise InvalidInput(f"Unknown status '{status[:20]}': use "
                               f"{', '.join(NoticeStatus)}.", field="status")
        query = select(Notice).order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit)
        if status is not None:
            query = query.where(Notice.status == status)
        if customer_id is not None:
            query = query.where(Notice.customer_id == customer_id)
        with self.db.read() as session:
            rows = list(session.scalars(query))
        return [NoticeSummary(
            id=n.id, customer_id=n.customer_id, kind=n.kind, medium=n.medium,
            address=self._masked(n), language=n.language, status=n.status,
            attempts=n.attempts, next_attempt_at=n.next_attempt_at, last_error=n.last_error,
            created_at=n.created_at, sent_at=n.sent_at) for n in rows]

    def _masked(self, notice: Notice) -> str:
        try:
            return mask_address(notice.medium, self.cipher.decrypt(notice.address_enc))
        except KeyError_:
            return "(cannot decrypt)"

    def counts(self) -> dict[str, int]:
        with self.db.read() as session:
            return {status: count for status, count in session.execute(
                select(Notice.status, func.count()).group_by(Notice.status))}

    def retry(self, notice_id: str) -> None:
        """Put a dead notice back in the queue, due now, with its attempts reset."""
        with self.db.write() as session:
            changed = session.execute(
                update(Notice).where(Notice.id == notice_id,
                                     Notice.status == str(NoticeStatus.DEAD))
                .values(status=str(NoticeStatus.PENDING), attempts=0,
                        next_attempt_at=self.clock())
                .execution_options(synchronize_session=False)).rowcount
            if changed:
                return
            exists = session.scalar(select(Notice.status).where(Notice.id == notice_id))
        if exists is None:
            raise NotFound(f"No notice {notice_id[:40]}.", notice=notice_id[:40])
        raise InvalidInput(f"Notice {notice_id[:40]} is {exists}, not dead: only dead "
                           "notices are re-queued.", field="notice")

    def retry_all_dead(self) -> int:
        """Re-queue every dead notice; returns how many."""
        with self.db.write() as session:
            return session.execute(
                update(Notice).where(Notice.status == str(NoticeStatus.DEAD))
                .values(status=str(NoticeStatus.PENDING), attempts=0,
                        next_attempt_at=self.clock())
                .execution_options(synchronize_session=False)).rowcount
