"""SqlNotifier: queues notices as rows in the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kabuguard.crypto import FieldCipher
from kabuguard.domain.ids import new_id
from kabuguard.identity.models import Customer
from kabuguard.notify.interfaces import Medium, NoticeKind, NoticeStatus
from kabuguard.notify.models import Notice
from kabuguard.notify.preferences import NotificationPreferences


class SqlNotifier:
    """``media=None`` follows the customer's notification settings
    (``notify.preferences``); without a preferences service every notice goes by
    e-mail. An explicit ``media=`` and ``extra_addresses`` are always queued: the
    caller asked for them, and a medium with no channel configured becomes a dead
    letter that says so rather than a message silently never sent."""

    def __init__(self, cipher: FieldCipher, *,
                 preferences: NotificationPreferences | None = None) -> None:
        self._cipher = cipher
        self.preferences = preferences

    def queue(self, session: Session, *, customer_id: str, kind: NoticeKind,
              params: Mapping[str, Any], now: datetime,
              media: Sequence[Medium] | None = None,
              extra_addresses: Sequence[tuple[Medium, str]] = (),
              dedupe_key: str | None = None) -> int:
        if dedupe_key is not None and session.scalar(
                select(Notice.id).where(Notice.dedupe_key == dedupe_key)) is not None:
            return 0
        # Held for the transaction: the session's identity map keeps objects only while
        # something refers to them, so the next notice would select the row again.
        customers = session.info.setdefault("kabuguard.notice_customers", {})
        customer = customers.get(customer_id) or session.get(Customer, customer_id)
        if customer is None:
            return 0
        customers[customer_id] = customer
        addresses = self._addresses(customer, self._media(session, customer, kind, media))
        # Extra addresses are named by the caller (the previous phone after a change,
        # the old phone after a recovery), like explicit media: always queued, so an
        # unconfigured gateway shows up as a dead letter instead of a silent gap.
        for raw_medium, address in extra_addresses:
            medium = Medium(raw_medium)
            if (medium, address) not in addresses:
                addresses.append((medium, address))
        body = self._cipher.encrypt(json.dumps(dict(params), ensure_ascii=False))
        for n, (medium, address) in enumerate(addresses):
            session.add(Notice(
                id=new_id("ntc"), customer_id=customer_id, kind=str(kind),
                medium=str(medium), language=customer.language or "ja",
                address_enc=self._cipher.encrypt(address), params_enc=body,
                status=str(NoticeStatus.PENDING), attempts=0, next_attempt_at=now,
                created_at=now,
                dedupe_key=(f"{dedupe_key}#{n}" if n and dedupe_key else dedupe_key),
            ))
        return len(addresses)

    def _media(self, session: Session, customer: Customer, kind: NoticeKind,
               media: Sequence[Medium] | None) -> list[Medium]:
        if media is not None:
            return [Medium(m) for m in media]
        if self.preferences is None:
            return [Medium.EMAIL]
        return self.preferences.media(session, customer, NoticeKind(kind))

    def _addresses(self, customer: Customer,
                   media: Sequence[Medium]) -> list[tuple[Medium, str]]:
        found: list[tuple[Medium, str]] = []
        for medium in media:
            if medium is Medium.EMAIL:
                found.append((medium, self._cipher.decrypt(customer.email_enc)))
            elif medium is Medium.SMS and customer.phone_enc:
                found.append((medium, self._cipher.decrypt(customer.phone_enc)))
            elif medium is Medium.PUSH:
                # App push goes to the customer's installations via the push webhook,
                # which knows them by account id.
                found.append((medium, customer.id))
        return found

    def decode(self, notice: Notice) -> tuple[str, dict[str, Any]]:
        """The address and parameters of a queued notice (for the dispatcher)."""
        return (self._cipher.decrypt(notice.address_enc),
                json.loads(self._cipher.decrypt(notice.params_enc)))
