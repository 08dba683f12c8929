"""What the rest of kabuguard may ask of the notifier, and the kinds of notice.

A notice is queued in the caller's transaction (a transactional outbox for messages):
if the change rolls back, no message about it is ever sent; if it commits, the
dispatcher delivers it at least once, with retries, or parks it as a dead letter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.orm import Session


class Medium(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


class NoticeKind(StrEnum):
    """One template family per kind (ja and en). Kinds in ``MANDATORY`` cannot be
    switched off by the customer: an intruder's first move would be to silence them.

    Parameters of each kind (JSON values; times ISO-8601 UTC; optional ones in []):
    LOGIN/NEW_DEVICE: at, country (ISO alpha-2, "local" or "" unknown), device,
    [channel]; FAILED_LOGIN_BURST: at, count; ACCOUNT_LOCKED: at, reason
    ("password_failures" or another word, shown generically); MFA_CHANGE: at, change
    (enroll|remove), method, [name]; MFA_REMOVAL_SCHEDULED: at, method, [name],
    effective_at; CONTACT_CHANGE: at, field; PASSWORD_CHANGE: at; BANK_ACCOUNT_CHANGE:
    at, effective_at, [bank_name, number_last4]; WITHDRAWAL: at, amount_jpy; ORDER: at,
    symbol, side, quantity, order_type, [limit_price, currency, name, name_ja];
    EXECUTION: at, symbol, side, quantity, price (decimal string, instrument currency),
    [currency, amount_jpy, name, name_ja]; ONE_TIME_CODE: code, purpose,
    expires_minutes; EMOJI_CHALLENGE: emojis (list, in order), purpose,
    expires_minutes; RECOVERY_REQUESTED: at, [code]; RECOVERY_COMPLETED: at,
    blocked_until; SELF_LOCK: at; LEAKED_CREDENTIALS: at; SECURITY_ALERT: at, reason
    (``account_frozen``, ``session_revoked``, or a risk rule's id, shown generically:
    what the risk engine did or noticed). ``purpose`` words with their
    own text: login, step_up, withdrawal, bank_account_change, contact_change,
    password_change, mfa_enroll, mfa_remove, recovery, order (others read "your
    request"). tests/unit/notify/test_templates.py renders each with sample values."""

    LOGIN = "login"
    NEW_DEVICE = "new_device"
    FAILED_LOGIN_BURST = "failed_login_burst"
    ACCOUNT_LOCKED = "account_locked"
    MFA_CHANGE = "mfa_change"
    MFA_REMOVAL_SCHEDULED = "mfa_removal_scheduled"
    CONTACT_CHANGE = "contact_change"
    PASSWORD_CHANGE = "password_change"
    BANK_ACCOUNT_CHANGE = "bank_account_change"
    WITHDRAWAL = "withdrawal"
    ORDER = "order"
    EXECUTION = "execution"
    ONE_TIME_CODE = "one_time_code"
    EMOJI_CHALLENGE = "emoji_challenge"
    RECOVERY_REQUESTED = "recovery_requested"
    RECOVERY_COMPLETED = "recovery_completed"
    SELF_LOCK = "self_lock"
    LEAKED_CREDENTIALS = "leaked_credentials"
    SECURITY_ALERT = "security_alert"


MANDATORY: frozenset[NoticeKind] = frozenset(NoticeKind) - {
    NoticeKind.LOGIN, NoticeKind.ORDER, NoticeKind.EXECUTION,
}
# Kinds that always name their medium (the code goes where the customer asked for it),
# so the customer's notification settings do not list them.
DIRECT: frozenset[NoticeKind] = frozenset({NoticeKind.ONE_TIME_CODE,
                                           NoticeKind.EMOJI_CHALLENGE})


class NoticeStatus(StrEnum):
    """pending -> sending (claimed by one dispatcher, for a lease) -> sent; a failed
    attempt goes back to pending with a later ``next_attempt_at``, the last one to dead."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One rendered notice for one address: what a channel sends."""

    notice_id: str
    kind: str
    medium: Medium
    language: str
    address: str
    subject: str
    body: str


class DeliveryError(Exception):
    """A channel could not deliver. ``reason`` is short and holds no secret and no
    address ("SMTP 451", "connection refused"); ``permanent`` means retrying cannot
    help (the notice goes to the dead letters at once)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason[:400]
        self.permanent = permanent


class Channel(Protocol):
    """Delivers rendered messages of one medium. Raises DeliveryError."""

    def send(self, message: OutgoingMessage, *, now: datetime) -> None: ...


class Notifier(Protocol):
    def queue(self, session: Session, *, customer_id: str, kind: NoticeKind,
              params: Mapping[str, Any], now: datetime,
              media: Sequence[Medium] | None = None,
              extra_addresses: Sequence[tuple[Medium, str]] = (),
              dedupe_key: str | None = None) -> int:
        """Queue one notice per medium in ``session``'s transaction; return how many.

        ``media=None`` sends on the customer's usual media for ``kind``; a one-time code
        names its medium. ``extra_addresses`` also receive it (the previous e-mail
        address after a change). ``params`` may hold secrets such as a one-time code:
        they are stored encrypted and never logged. A repeated ``dedupe_key`` queues
        nothing (the outbox relay delivers events at least once)."""
        ...


class NullNotifier:
    """Sends nothing: for tools and tests that do not care about messages."""

    def queue(self, session: Session, *, customer_id: str, kind: NoticeKind,
              params: Mapping[str, Any], now: datetime,
              media: Sequence[Medium] | None = None,
              extra_addresses: Sequence[tuple[Medium, str]] = (),
              dedupe_key: str | None = None) -> int:
        return 0
