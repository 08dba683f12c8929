"""Which notices an event calls for: a Journal listener, run in the transaction that
records the event, so the notices commit (or roll back) with the change.

- login success: NEW_DEVICE when the device was never seen for the customer (or sent
  no device id), else LOGIN;
- login bad_password: FAILED_LOGIN_BURST at the ``burst_at``-th consecutive failure,
  ACCOUNT_LOCKED when this failure engaged the password lock;
- mfa_change, password_change, bank_account_change, withdrawal, order: the notice of
  that name;
- contact_change: CONTACT_CHANGE, to the new address and to the previous one (handed
  over in the hints).

Executions have no event: the broker queues EXECUTION in the fill's transaction.
Recovery and customer reports are queued by their own services. Every notice carries
``dedupe_key`` = the event id, so an event seen twice queues its notices once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kabuguard.domain.events import Event, EventType
from kabuguard.domain.netinfo import IpRanges
from kabuguard.domain.useragent import browser_label
from kabuguard.identity.models import Customer, WebSession
from kabuguard.notify.interfaces import Medium, NoticeKind, Notifier

BURST_AT = 3
SymbolInfo = Callable[[str], Mapping[str, Any]]


def iso(ts: datetime) -> str:
    """
    >>> from datetime import timedelta, timezone
    >>> iso(datetime(2025, 4, 8, 10, 0, tzinfo=timezone(timedelta(hours=9))))
    '2025-04-08T01:00:00+00:00'
    """
    return ts.astimezone(UTC).isoformat()


def where_from(ranges: IpRanges, ip: str | None) -> str:
    """The login notice's country: ISO alpha-2, ``local`` or "" (unknown).

    >>> r = IpRanges.packaged()
    >>> where_from(r, "192.0.2.1"), where_from(r, "127.0.0.1"), where_from(r, "8.8.8.8")
    ('JP', 'local', '')
    """
    info = ranges.lookup(ip)
    return info.country or ("local" if info.kind == "local" else "")


class NoticePlanner:
    def __init__(self, notifier: Notifier, *, ip_ranges: IpRanges,
                 symbol_info: SymbolInfo | None = None, burst_at: int = BURST_AT) -> None:
        self.notifier, self.ip_ranges = notifier, ip_ranges
        self.symbol_info = symbol_info or (lambda _code: {})
        self.burst_at = burst_at

    def __call__(self, session: Session, event: Event, hints: Mapping[str, Any]) -> None:
        if event.account is None:
            return
        handler = {
            EventType.LOGIN: self._login,
            EventType.MFA_CHANGE: self._mfa_change,
            EventType.CONTACT_CHANGE: self._contact_change,
            EventType.PASSWORD_CHANGE: self._simple(NoticeKind.PASSWORD_CHANGE),
            EventType.BANK_ACCOUNT_CHANGE: self._bank_change,
            EventType.WITHDRAWAL: self._withdrawal,
            EventType.ORDER: self._order,
        }.get(event.type)
        if handler is not None:
            handler(session, event, hints)

    def _queue(self, session: Session, event: Event, kind: NoticeKind,
               params: dict[str, Any], *, key_suffix: str = "",
               extra: tuple[tuple[Medium, str], ...] = ()) -> None:
        assert event.account is not None  # noqa: S101 - checked in __call__
        self.notifier.queue(session, customer_id=event.account, kind=kind,
                            params={"at": iso(event.ts), **params}, now=event.ts,
                            extra_addresses=extra, dedupe_key=event.id + key_suffix)

    def _simple(self, kind: NoticeKind) -> Callable[[Session, Event, Mapping[str, Any]], None]:
        def handler(session: Session, event: Event, _hints: Mapping[str, Any]) -> None:
            self._queue(session, event, kind, {})
        return handler

    def _login(self, session: Session, event: Event, _hints: Mapping[str, Any]) -> None:
        outcome = event.fields.get("outcome")
        if outcome == "success":
            kind = (NoticeKind.LOGIN if self._device_seen(session, event)
                    else NoticeKind.NEW_DEVICE)
            ua = event.context.user_agent
            self._queue(session, event, kind, {
                "country": where_from(self.ip_ranges, event.context.ip),
                "device": browser_label(ua) if ua else "—",
                "channel": str(event.context.channel),
            })
        elif outcome == "bad_password":
            row = session.execute(select(Customer.failed_logins, Customer.password_locked_at)
                                  .where(Customer.id == event.account)).first()
            if row is None:
                return
            failures, locked_at = row
            if failures == self.burst_at:
                self._queue(session, event, NoticeKind.FAILED_LOGIN_BURST, {"count": failures})
            if locked_at is not None and locked_at == event.ts:
                # This very failure engaged the lock (identity _count_failure stamps it
                # with the login's time); later ones answer "locked" and add nothing.
                self._queue(session, event, NoticeKind.ACCOUNT_LOCKED,
                            {"reason": "password_failures"}, key_suffix=":locked")

    @staticmethod
    def _device_seen(session: Session, event: Event) -> bool:
        """A session of this customer was opened on this device before. No device id
        at all counts as unseen: an intruder must not dodge the notice by omitting it."""
        device = event.context.device
        if not device:
            return False
        query = select(WebSession.public_id).where(WebSession.customer_id == event.account,
                                                   WebSession.device == device)
        if event.context.session:
            query = query.where(WebSession.public_id != event.context.session)
        return session.execute(query.limit(1)).first() is not None

    def _mfa_change(self, session: Session, event: Event, hints: Mapping[str, Any]) -> None:
        params = {"change": event.fields.get("change", "enroll"),
                  "method": event.fields.get("method", "")}
        if hints.get("name"):
            params["name"] = str(hints["name"])
        self._queue(session, event, NoticeKind.MFA_CHANGE, params)

    def _contact_change(self, session: Session, event: Event, hints: Mapping[str, Any]) -> None:
        field = str(event.fields.get("field", ""))
        previous = hints.get("previous_address")
        extra: tuple[tuple[Medium, str], ...] = ()
        if previous and field in ("email", "phone"):
            extra = ((Medium.EMAIL if field == "email" else Medium.SMS, str(previous)),)
        self._queue(session, event, NoticeKind.CONTACT_CHANGE, {"field": field}, extra=extra)

    def _bank_change(self, session: Session, event: Event, hints: Mapping[str, Any]) -> None:
        effective = hints.get("effective_at")
        params: dict[str, Any] = {
            "effective_at": iso(effective) if isinstance(effective, datetime) else iso(event.ts)}
        for key in ("bank_name", "number_last4"):
            if hints.get(key):
                params[key] = str(hints[key])
        self._queue(session, event, NoticeKind.BANK_ACCOUNT_CHANGE, params)

    def _withdrawal(self, session: Session, event: Event, _hints: Mapping[str, Any]) -> None:
        self._queue(session, event, NoticeKind.WITHDRAWAL,
                    {"amount_jpy": event.fields.get("amount_jpy")})

    def _order(self, session: Session, event: Event, _hints: Mapping[str, Any]) -> None:
        f = event.fields
        if f.get("status") == "filled":
            # Filled on entry: the execution notice, queued with the fill in this same
            # transaction, tells the customer everything; a second message for the
            # same order only costs a row and trains customers to skim.
            return
        symbol = str(f.get("symbol", ""))
        params: dict[str, Any] = {
            "symbol": symbol, "side": f.get("side"), "quantity": f.get("quantity"),
            "order_type": f.get("order_type"),
            **{k: v for k, v in self.symbol_info(symbol).items() if v},
        }
        if f.get("limit_price") is not None:
            params["limit_price"] = str(f["limit_price"])
        self._queue(session, event, NoticeKind.ORDER, params)
