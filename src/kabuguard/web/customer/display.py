"""How personal data and records are shown on the customer's pages: masked contact
details, a short browser name for the login history, the order status words."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from kabuguard.domain.events import JST
from kabuguard.identity.models import LoginRecord

# Order statuses of broker.models.Order, in the words Japanese brokers use.
ORDER_STATUSES = ("new", "queued", "open", "filled", "cancelled", "rejected")
CANCELLABLE = frozenset({"queued", "open"})
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


_BROWSERS = (
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"OPR/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"),
    ("curl", r"curl/(\d+)"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
    ("Windows", "Windows"), ("macOS", "Mac OS X"), ("ChromeOS", "CrOS"), ("Linux", "Linux"),
)


def browser_label(user_agent: str | None) -> str:
    """A short name for a User-Agent, as a person would say it.

    >>> browser_label("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    ...               "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
    'Chrome 124 / Windows'
    >>> browser_label("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    ...               "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
    'Safari 17 / iPhone'
    >>> browser_label(None), browser_label("testclient")
    ('—', 'testclient')
    """
    if not user_agent:
        return "—"
    browser = next((f"{name} {m.group(1)}" for name, pattern in _BROWSERS
                    if (m := re.search(pattern, user_agent))), None)
    system = next((name for name, needle in _SYSTEMS if needle in user_agent), None)
    if browser is None:
        return user_agent[:40]
    return f"{browser} / {system}" if system else browser


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
