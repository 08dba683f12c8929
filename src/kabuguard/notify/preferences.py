"""Which media carry which kind of notice for a customer (通知設定).

Rules, in order:

- E-mail carries every kind by default. For a MANDATORY kind (everything that tells of
  a login from a new device, a lock, a change of credentials, contacts or bank account,
  a withdrawal, a recovery) e-mail cannot be switched off: an intruder's first move
  would be to silence the messages that give them away. Routine kinds (LOGIN, ORDER,
  EXECUTION) can be switched off entirely.
- SMS is on by default for the kinds in ``SMS_BY_DEFAULT``: the changes that precede
  a theft, on a second channel that someone who controls the mailbox does not.
  The customer may switch it off (e-mail still goes) or on for any other kind.
- App push is on by default for every kind; the push gateway knows whether the customer
  has the app.
- SMS and push only go where the firm configured a channel for them
  (``KABUGUARD_SMS_WEBHOOK_URL``, ``KABUGUARD_PUSH_WEBHOOK_URL``), and SMS only to a
  registered phone. One-time codes and emoji challenges (``DIRECT``) always name their
  medium and are not listed in the settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import InvalidInput, UnknownAccount
from kabuguard.domain.events import RequestContext
from kabuguard.identity.models import Customer
from kabuguard.journal import Journal
from kabuguard.notify.interfaces import DIRECT, MANDATORY, Medium, NoticeKind
from kabuguard.notify.models import NoticePreference
from kabuguard.store.database import Database

SMS_BY_DEFAULT: frozenset[NoticeKind] = frozenset({
    NoticeKind.NEW_DEVICE, NoticeKind.ACCOUNT_LOCKED, NoticeKind.MFA_CHANGE,
    NoticeKind.MFA_REMOVAL_SCHEDULED, NoticeKind.CONTACT_CHANGE,
    NoticeKind.PASSWORD_CHANGE, NoticeKind.BANK_ACCOUNT_CHANGE, NoticeKind.WITHDRAWAL,
    NoticeKind.RECOVERY_REQUESTED, NoticeKind.RECOVERY_COMPLETED,
})
# The order of the settings page: what a customer most wants to see first.
SETTABLE: tuple[NoticeKind, ...] = tuple(k for k in NoticeKind if k not in DIRECT)


@dataclass(frozen=True, slots=True)
class Choice:
    """The customer's switches for one kind (``email`` is forced on when mandatory)."""

    kind: NoticeKind
    email: bool
    sms: bool
    push: bool

    @property
    def mandatory(self) -> bool:
        return self.kind in MANDATORY

    def to_dict(self) -> dict[str, Any]:
        return {"kind": str(self.kind), "mandatory": self.mandatory, "email": self.email,
                "sms": self.sms, "push": self.push}


def default_choice(kind: NoticeKind) -> Choice:
    """
    >>> default_choice(NoticeKind.WITHDRAWAL)
    Choice(kind=<NoticeKind.WITHDRAWAL: 'withdrawal'>, email=True, sms=True, push=True)
    >>> default_choice(NoticeKind.ORDER).sms
    False
    """
    return Choice(kind, email=True, sms=kind in SMS_BY_DEFAULT, push=True)


def choice_of(kind: NoticeKind, row: NoticePreference | None) -> Choice:
    if row is None:
        return default_choice(kind)
    return Choice(kind, email=row.email or kind in MANDATORY, sms=row.sms, push=row.push)


def media_for(choice: Choice, *, has_phone: bool, configured: frozenset[Medium]) -> list[Medium]:
    """The media a notice of this kind goes to, e-mail first.

    >>> media_for(default_choice(NoticeKind.WITHDRAWAL), has_phone=True,
    ...           configured=frozenset({Medium.EMAIL, Medium.SMS}))
    [<Medium.EMAIL: 'email'>, <Medium.SMS: 'sms'>]
    >>> media_for(Choice(NoticeKind.ORDER, False, False, True), has_phone=False,
    ...           configured=frozenset({Medium.EMAIL}))
    []
    """
    media = []
    if choice.email or choice.mandatory:
        media.append(Medium.EMAIL)
    if choice.sms and has_phone and Medium.SMS in configured:
        media.append(Medium.SMS)
    if choice.push and Medium.PUSH in configured:
        media.append(Medium.PUSH)
    return media


class NotificationPreferences:
    """Reads and changes the switches; ``SqlNotifier`` asks ``media(...)`` when a notice
    is queued with ``media=None``."""

    def __init__(self, db: Database, *, journal: Journal, configured: Iterable[Medium],
                 clock: Clock = utcnow) -> None:
        self.db, self.journal, self.clock = db, journal, clock
        # E-mail is always there: an unconfigured mail server parks notices as dead
        # letters (visible, retryable) instead of losing them silently.
        self.configured = frozenset(configured) | {Medium.EMAIL}

    def media(self, session: Session, customer: Customer, kind: NoticeKind) -> list[Medium]:
        # One query per customer and transaction, not per notice: an order that fills
        # at once queues two (ORDER, EXECUTION), and most customers have no rows at
        # all, which a primary-key get would ask the database about every time.
        cache = session.info.setdefault("kabuguard.notice_preferences", {})
        rows = cache.get(customer.id)
        if rows is None:
            rows = cache[customer.id] = {r.kind: r for r in session.scalars(
                select(NoticePreference).where(NoticePreference.customer_id == customer.id))}
        row = rows.get(str(kind))
        return media_for(choice_of(kind, row), has_phone=bool(customer.phone_enc),
                         configured=self.configured)

    def settings(self, customer_id: str) -> dict[str, Any]:
        """What the settings page and ``GET /api/v1/notification-settings`` show."""
        with self.db.read() as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                raise UnknownAccount(f"No account {customer_id}.", account=customer_id)
            rows = {r.kind: r for r in session.scalars(
                select(NoticePreference).where(NoticePreference.customer_id == customer_id))}
            has_phone = bool(customer.phone_enc)
        return {
            "available": {"email": True,
                          "sms": has_phone and Medium.SMS in self.configured,
                          "push": Medium.PUSH in self.configured},
            "settings": [choice_of(k, rows.get(str(k))).to_dict() for k in SETTABLE],
        }

    def update(self, customer_id: str, changes: Mapping[str, Mapping[str, object]], *,
               context: RequestContext) -> dict[str, Any]:
        """Apply ``{kind: {"email"|"sms"|"push": bool}}`` (media left out keep their
        value). Everything is checked before anything is written: InvalidInput for an
        unknown kind or medium, a non-boolean, or switching off e-mail for a mandatory
        kind. Audited; returns the new settings."""
        clean = _validate(changes)
        now = self.clock()
        with self.db.write() as session:
            if session.get(Customer, customer_id) is None:
                raise UnknownAccount(f"No account {customer_id}.", account=customer_id)
            for kind, switches in clean.items():
                row = session.get(NoticePreference, (customer_id, str(kind)))
                current = choice_of(kind, row)
                values = {"email": current.email, "sms": current.sms, "push": current.push,
                          **switches}
                if row is None:
                    session.add(NoticePreference(customer_id=customer_id, kind=str(kind),
                                                 updated_at=now, **values))
                else:
                    row.email, row.sms, row.push = values["email"], values["sms"], values["push"]
                    row.updated_at = now
            self.journal.record_admin(
                session, ts=now, actor=f"customer:{customer_id}",
                action="notification_settings_change", subject=customer_id,
                payload={"changes": {str(k): v for k, v in clean.items()}, "ip": context.ip,
                         "channel": str(context.channel)})
        return self.settings(customer_id)


def _validate(changes: Mapping[str, Mapping[str, object]]) -> dict[NoticeKind, dict[str, bool]]:
    """
    >>> _validate({"order": {"email": False}})
    {<NoticeKind.ORDER: 'order'>: {'email': False}}
    >>> _validate({"withdrawal": {"email": False}})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kabuguard.domain.errors.InvalidInput: E-mail notices of withdrawal cannot be switched off...
    """
    if not isinstance(changes, Mapping) or not changes:
        raise InvalidInput("Send at least one notice kind to change.", field="settings")
    clean: dict[NoticeKind, dict[str, bool]] = {}
    for raw_kind, switches in changes.items():
        try:
            kind = NoticeKind(raw_kind)
        except ValueError:
            raise InvalidInput(f"Unknown notice kind '{str(raw_kind)[:40]}'.",
                               field="kind") from None
        if kind in DIRECT:
            raise InvalidInput(f"Notices of {kind} always go where you asked for them.",
                               field="kind", kind=str(kind))
        if not isinstance(switches, Mapping):
            raise InvalidInput("Each kind takes an object of media and true/false.",
                               field="settings", kind=str(kind))
        entry: dict[str, bool] = {}
        for medium, value in switches.items():
            if medium not in ("email", "sms", "push"):
                raise InvalidInput(f"Unknown medium '{str(medium)[:20]}': use email, sms or "
                                   "push.", field="medium", kind=str(kind))
            if not isinstance(value, bool):
                raise InvalidInput("Each medium is switched with true or false.",
                                   field="medium", kind=str(kind))
            if medium == "email" and not value and kind in MANDATORY:
                raise InvalidInput(
                    f"E-mail notices of {kind.value.replace('_', ' ')} cannot be switched off: "
                    "they warn you of changes an intruder would make.",
                    field="mandatory_email", kind=str(kind))
            entry[medium] = value
        clean[kind] = entry
    return clean

