"""Events in the interchange format of shared/spec/EVENTS.md (v1).

Every state change builds one of these; it goes to the outbox in the same transaction
as the change and, from there, to the risk engine, the notifier and exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

JST = ZoneInfo("Asia/Tokyo")


class EventType(StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    ORDER = "order"
    WITHDRAWAL = "withdrawal"
    BANK_ACCOUNT_CHANGE = "bank_account_change"
    CONTACT_CHANGE = "contact_change"
    PASSWORD_CHANGE = "password_change"
    MFA_CHANGE = "mfa_change"
    RECOVERY = "recovery"
    DEPOSIT = "deposit"
    CUSTOMER_REPORT = "customer_report"


class Channel(StrEnum):
    WEB = "web"
    APP = "app"
    API = "api"
    BACKUP_SITE = "backup_site"
    CALL_CENTER = "call_center"


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Where an action came from: the common fields of every event."""

    ip: str
    channel: Channel = Channel.WEB
    session: str | None = None
    device: str | None = None
    user_agent: str | None = None
    # The step-up the actor completed for this very action just before it (method
    # names of EVENTS.md): the producer field ``methods`` of a non-login event
    # (docs/events.md), so the risk engine sees what the action itself proved.
    methods: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    ts: datetime
    type: EventType
    account: str | None
    context: RequestContext
    fields: dict[str, Any] = field(default_factory=dict)

    def to_interchange(self) -> dict[str, Any]:
        """The EVENTS.md JSON object (``ts`` in RFC 3339 with the JST offset).

        >>> from datetime import UTC
        >>> e = Event("e1", datetime(2025, 4, 3, 0, 15, tzinfo=UTC), EventType.DEPOSIT,
        ...           "A1", RequestContext(ip="127.0.0.1"), {"amount_jpy": 5})
        >>> e.to_interchange()["ts"]
        '2025-04-03T09:15:00.000+09:00'
        """
        ctx = self.context
        body = {
            "id": self.id,
            "ts": format_ts(self.ts),
            "type": str(self.type),
            "account": self.account,
            "session": ctx.session,
            "channel": str(ctx.channel),
            "ip": ctx.ip,
            "device": ctx.device,
            "user_agent": ctx.user_agent,
        }
        if ctx.methods:
            body["methods"] = list(ctx.methods)
        body.update(self.fields)  # a login's own ``methods`` (what it used) come last
        return body


def format_ts(ts: datetime) -> str:
    if ts.tzinfo is None:
        msg = "event timestamps must be timezone-aware"
        raise ValueError(msg)
    return ts.astimezone(JST).isoformat(timespec="milliseconds")


def format_ts_jst(ts: datetime) -> str:
    """A time for people, in JST.

    >>> from datetime import UTC
    >>> format_ts_jst(datetime(2025, 4, 11, 1, 0, tzinfo=UTC))
    '2025-04-11 10:00 JST'
    """
    return ts.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")
