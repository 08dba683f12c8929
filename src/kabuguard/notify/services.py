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
from kabuguard.notify.interfaces import Medium, NoticeKind
from kabuguard.notify.models import Notice


class SqlNotifier:
    def __init__(self, cipher: FieldCipher) -> None:
        self._cipher = cipher

    def queue(self, session: Session, *, customer_id: str, kind: NoticeKind,
              params: Mapping[str, Any], now: datetime,
              media: Sequence[Medium] | None = None,
              extra_addresses: Sequence[tuple[Medium, str]] = (),
              dedupe_key: str | None = None) -> int:
        if dedupe_key is not None and session.scalar(
                select(Notice.id).where(Notice.dedupe_key == dedupe_key)) is not None:
            return 0
        customer = session.get(Customer, customer_id)
        if customer is None:
            return 0
        addresses = self._addresses(customer, media)
        for extra in extra_addresses:
            if extra not in addresses:
                addresses.append(extra)
        body = self._cipher.encrypt(json.dumps(dict(params), ensure_ascii=False))
        for n, (medium, address) in enumerate(addresses):
            session.add(Notice(
                id=new_id("ntc"), customer_id=customer_id, kind=str(kind),
                medium=str(medium), language=customer.language or "ja",
                address_enc=self._cipher.encrypt(address), params_enc=body,
                status="pending", attempts=0, next_attempt_at=now, created_at=now,
                dedupe_key=(f"{dedupe_key}#{n}" if n and dedupe_key else dedupe_key),
            ))
        return len(addresses)

    def _addresses(self, customer: Customer,
                   media: Sequence[Medium] | None) -> list[tuple[Medium, str]]:
        wanted = list(media) if media is not None else [Medium.EMAIL]
        found: list[tuple[Medium, str]] = []
        for medium in wanted:
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
