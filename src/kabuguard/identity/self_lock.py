"""自己ロック (ログイン停止): the customer's own temporary lock of the account.

A customer who fears someone is inside stops everything at once, and only they can
undo it, with their strongest method (JSDA 2025 lists customer-side "ログイン一時利用停止"
among the measures; JP-RULES.md: re-opening needs re-verification).

Locking
    From a session (security page, API): at once, with no step-up. Locking only takes
    access away, so there is nothing for the guard to protect: an intruder who locks
    the account helps its owner. Without a session, with login id and password (for a
    customer who cannot or dare not log in): the password is checked as the login
    checks it (one message for a wrong id or password, the address throttle, the
    failure count towards the password lock), so the form is no oracle for either.

Locked
    ``Customer.self_locked_at`` is set and every session of the customer ends in the
    same transaction. ``IdentityService.open_session`` takes the same row lock, so a
    login racing the lock either ends before it (and the lock ends its session) or
    after it, and gets an *unlock-only* session (``WebSession.scope == "unlock"``). The
    web layer refuses such a session on every route but the unlock ones, so every
    guarded action is refused. A password alone is refused at login with what to do
    (``IdentityService._refuse_self_locked``).

Unlocking
    Re-verification with the customer's strongest enrolled method: a passkey login, or,
    for a customer without a passkey, the password and an authenticator-app code through
    the login's usual second step. Either opens the unlock-only session; ``unlock``
    then requires that session's proof to be at the customer's strongest enrolled level
    and no older than ``UNLOCK_MAX_AGE``: the login is the fresh step-up, and once it is
    stale the customer logs in again (which is the same step-up). A customer with
    neither a passkey nor an app cannot unlock online; the support desk re-verifies
    their identity (a password must not undo a lock meant against its thief).

Records
    The lock: a ``customer_report`` event (``report: self_lock``; EVENTS.md: the customer
    tells the firm something is wrong) with its audit record, and a ``SELF_LOCK`` notice
    by e-mail and SMS. The unlock: an audit record (``account_self_unlocked``); the login
    before it had its own event and notice.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from kabuguard.domain.errors import Conflict, Unauthorized
from kabuguard.domain.events import Event, EventType, RequestContext
from kabuguard.domain.ids import new_id
from kabuguard.identity.interfaces import (
    UNLOCK_SCOPE,
    AccountLocked,
    LoginFailed,
    SessionInfo,
    SessionInvalid,
)
from kabuguard.identity.methods import Level
from kabuguard.identity.models import Customer, WebSession
from kabuguard.identity.services import LOGIN_FAILED_MESSAGE, IdentityService
from kabuguard.notify.interfaces import Medium, NoticeKind, Notifier, NullNotifier

UNLOCK_MAX_AGE = timedelta(minutes=5)


class NotLocked(Conflict):
    code = "account_not_locked"


class UnlockExpired(Unauthorized):
    """The unlock session's re-verification is too old or too weak: log in again."""

    code = "unlock_expired"


class SelfLockService:
    def __init__(self, identity: IdentityService, *, notifier: Notifier | None = None) -> None:
        self.identity, self.notifier = identity, notifier or NullNotifier()
        self.db, self.journal, self.clock = identity.db, identity.journal, identity.clock

    def lock(self, customer_id: str, *, context: RequestContext, via: str = "session") -> int:
        """Lock the account now and end every session (the caller's too). Locking a
        locked account only ends sessions again. Returns how many sessions ended."""
        now = self.clock()
        with self.db.write() as session:
            customer = session.get(Customer, customer_id, with_for_update=True)
            if customer is None:
                raise SessionInvalid("Your session has ended. Please log in again.")
            newly = customer.self_locked_at is None
            if newly:
                customer.self_locked_at = now
            ended = self.identity._revoke_sessions(session, customer_id, now, keep=None)
            if newly:
                self._record_lock(session, customer_id, context=context, via=via,
                                  ended=ended, now=now)
        return ended

    def _record_lock(self, session: Session, customer_id: str, *, context: RequestContext,
                     via: str, ended: int, now: datetime) -> None:
        self.journal.record(session, Event(
            new_id("evt"), now, EventType.CUSTOMER_REPORT, customer_id, context,
            {"report": "self_lock"}), actor=f"customer:{customer_id}",
            audit_extra={"via": via, "sessions_ended": ended})
        # On both media: if someone else locked it, the customer hears of it at once.
        self.notifier.queue(session, customer_id=customer_id, kind=NoticeKind.SELF_LOCK,
                            params={"at": now.astimezone(UTC).isoformat()}, now=now,
                            media=[Medium.EMAIL, Medium.SMS],
                            dedupe_key=f"self_lock:{customer_id}:{now.isoformat()}")

    def lock_with_password(self, *, login_id: str, password: str,
                           context: RequestContext) -> None:
        """Lock without a session, proving the password. A wrong id or password (or a
        password-locked account) raises LoginFailed with the login's own message and
        counts as a failed login would; the throttle applies first."""
        now = self.clock()
        identity = self.identity
        identity.throttle.check(context.ip, now)
        with self.db.read() as session:
            customer = session.execute(
                select(Customer).where(Customer.login_id == login_id)).scalar_one_or_none()
        ok = identity.passwords.verify(customer.password_hash if customer else None, password)
        password_locked = customer is not None and customer.password_locked_at is not None
        if ok and customer is not None and not password_locked:
            self.lock(customer.id, context=context, via="password")
            return
        with self.db.write() as session:
            if customer is not None and not password_locked:
                identity._count_failure(session, customer.id, context, now)
            self.journal.record_admin(
                session, ts=now, actor="anonymous", action="self_lock_refused",
                subject=customer.id if customer else None,
                payload={"login_id": identity.cipher.token("login", login_id),
                         "ip": context.ip})
        identity.throttle.record_failure(context.ip, now)
        raise LoginFailed(LOGIN_FAILED_MESSAGE)

    def locked_at(self, customer_id: str) -> datetime | None:
        with self.db.read() as session:
            return session.execute(select(Customer.self_locked_at)
                                   .where(Customer.id == customer_id)).scalar_one_or_none()

    def unlock_method(self, customer_id: str) -> str:
        """How this customer unlocks: ``passkey``, ``app`` or ``support``."""
        return {Level.PHISHING_RESISTANT: "passkey", Level.OTP: "app"}.get(
            self.identity.strongest_registered(customer_id), "support")

    def unlock(self, info: SessionInfo, token: str, *,
               context: RequestContext) -> tuple[str, SessionInfo]:
        """Unlock from an unlock-only session whose proof is at the customer's
        strongest enrolled level and fresh; the session becomes a full one under a new
        token (the old one stops working). Raises NotLocked, UnlockExpired (the session
        is ended: log in again) or AccountLocked (no second factor: support desk)."""
        now = self.clock()
        strongest = self.identity.strongest_registered(info.customer_id)
        if strongest is Level.PASSWORD:
            raise AccountLocked(unlock="support")
        fresh = (info.auth_level >= strongest and info.authenticated_at is not None
                 and now - info.authenticated_at <= UNLOCK_MAX_AGE)
        result: tuple[str, SessionInfo] | None = None
        with self.db.write() as session:
            customer = session.get(Customer, info.customer_id, with_for_update=True)
            if customer is None or customer.self_locked_at is None:
                raise NotLocked("This account is not locked.")
            ws = session.get(WebSession, _hash(token))
            if ws is None or ws.revoked_at is not None or ws.scope != UNLOCK_SCOPE:
                raise SessionInvalid("Your session has ended. Please log in again.")
            if fresh:
                locked_since = customer.self_locked_at
                customer.self_locked_at = None
                ws.scope = None
                # A new token for the now full session (the unlock-only one's stops
                # working); the proof keeps its own level and time.
                result = self.identity.raise_session_level(
                    session, token, level=Level(ws.auth_level),
                    now=ws.authenticated_at or now)
                ws.last_seen_at = now
                self.journal.record_admin(
                    session, ts=now, actor=f"customer:{info.customer_id}",
                    action="account_self_unlocked", subject=info.customer_id,
                    payload={"locked_since": locked_since.isoformat(),
                             "level": ws.auth_level, "session": info.public_id,
                             "ip": context.ip})
            else:
                ws.revoked_at = now
                self.journal.record_admin(
                    session, ts=now, actor=f"customer:{info.customer_id}",
                    action="self_unlock_refused", subject=info.customer_id,
                    payload={"session": info.public_id, "level": info.auth_level,
                             "required": int(strongest), "ip": context.ip})
        if result is None:
            # Raised after the commit: the stale unlock session stays ended.
            raise UnlockExpired("Please log in again to unlock your account: the "
                                "confirmation must be recent and use your strongest method.")
        return result


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
