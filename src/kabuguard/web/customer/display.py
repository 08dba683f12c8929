"""How personal data and records are shown on the customer's pages: masked contact
details, a short browser name for the login history, the order status words."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kabuguard.domain.events import JST
from kabuguard.domain.useragent import browser_label
from kabuguard.identity.models import LoginRecord

__all__ = [
    "CANCELLABLE",
    "CASH_KINDS",
    "HISTORY_MONTHS",
    "ORDER_STATUSES",
    "browser_label",
    "cooling_off_hours",
    "history_row",
    "mask_email",
    "mask_phone",
    "months_ago",
]

# Order statuses of broker.models.Order, in the words Japanese brokers use.
ORDER_STATUSES = ("new", "queued", "open", "filled", "cancelled", "rejected")
CANCELLABLE = frozenset({"queued", "open", "held"})
# Kinds of broker.models.CashMovement.
CASH_KINDS = ("deposit", "withdrawal", "buy", "sell")
# The login history a customer sees: the last three months (JSDA: customers check
# their own logins for ones that were not theirs).
HISTORY_MONTHS = 3


def mask_email(email: str | None) -> str:
    """Enough for the customer to recognise their address, too little to harvest it.

    >>> mask_email("hanako@example.jp"), mask_email("a@b.jp"), mask_email(None)
    ('ha****@example.jp', 'a*@b.jp', '—')
    """
    if not email:
        return "—"
    local, _, domain = email.partition("@")
    shown = local[:2] if len(local) > 2 else local[:1]
    return f"{shown}{'*' * max(1, min(len(local) - len(shown), 6))}@{domain}"


def mask_phone(phone: str | None) -> str:
    """
    >>> mask_phone("09012345678"), mask_phone(None)
    ('*******5678', '—')
    """
    if not phone:
        return "—"
    return "*" * max(0, len(phone) - 4) + phone[-4:]


def months_ago(now: datetime, months: int) -> datetime:
    """The same JST day ``months`` calendar months earlier (clamped to the month's
    end), as the start of a "last 3 months" history.

    >>> from datetime import UTC
    >>> months_ago(datetime(2025, 5, 31, 3, 0, tzinfo=UTC), 3).isoformat()
    '2025-02-28T03:00:00+00:00'
    """
    local = now.astimezone(JST)
    month_index = local.year * 12 + local.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    next_month = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=JST)
    last_day = (next_month - timedelta(days=1)).day
    return local.replace(year=year, month=month, day=min(local.day, last_day)).astimezone(
        now.tzinfo)


def cooling_off_hours(period: timedelta) -> int:
    """
    >>> cooling_off_hours(timedelta(days=3))
    72
    """
    return int(period.total_seconds() // 3600)


def history_row(record: LoginRecord) -> dict[str, Any]:
    """One line of the login history as the security page and the API show it."""
    return {"at": record.ts, "outcome": record.outcome, "success": record.success,
            "methods": record.methods.split(",") if record.methods else [],
            "ip": record.ip, "device": browser_label(record.user_agent),
            "user_agent": record.user_agent, "channel": record.channel}
