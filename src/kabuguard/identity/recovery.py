"""Account recovery for a customer who lost the phone (or the passkey device).

Recovery is the classic bypass of strong authentication: in 2025 criminals phished
passwords and relayed one-time codes in real time, and "I lost my phone" is the story
that asks the firm to skip the second factor. The protection is layered, because what a
recovery can prove is weak by nature (a password and a code, both phishable):

1. **Re-verification.** ``start`` takes the login id, the password and the new mobile
   number. The password goes through the login's own throttle, lockout and failure
   records (``IdentityService.check_password_attempt``), and an unknown id, a wrong
   password and a locked account get the login's one answer, after the same argon2
   work (no enumeration, comparable timing). A locked account stays locked: recovery
   is not a way round the lock. A new e-mail address is *not* accepted here: the
   registered e-mail is the channel that re-verifies, so it cannot be the thing that
   changes. An 8-digit code (single use, keyed hash at rest, constant-time compare,
   5 attempts, 30 minutes) goes to the registered e-mail only.
2. **Notices to the old contacts at once.** With the code, a warning without any code
   goes by SMS to the phone on file (the one said to be lost: if it is not lost, its
   owner learns at once that someone is at work). At completion, a notice goes to the
   e-mail, the new phone and the old phone (``extra_addresses``).
3. **The guard.** ``Guard.check(Action.RECOVERY)`` decides at the level the flow proved
   (``otp`` once the code is right). The JSDA presets ask ``otp`` for recovery: asking a
   passkey would make recovery impossible for exactly the people it is for, and whoever
   still has a passkey logs in with it. A policy may still deny recovery on a channel
   (e.g. a backup site) or ask more, and then online recovery is refused.
4. **Cooling-off** (``KABUGUARD_RECOVERY_COOLING_OFF``, 72 hours by default): until it
   ends, withdrawals, bank account changes, contact changes and MFA removals are
   refused on every channel by the guard (``identity/cooling_off.py`` says why each),
   and the site shows a banner with the date. Orders stay allowed: the risk engine (a
   later issue) watches them.

At completion, in one transaction: the phone moves to the new number through
``IdentityService.apply_contact_change`` (the same path, the same ``contact_change``
event and so the same central notice to old and new numbers as any contact change);
the authenticator app is removed (it lived on the lost phone, and whoever holds that
phone could otherwise keep passing ``otp``); passkeys are kept and listed for the
customer to review (a synced passkey may survive the loss of one device, and removing
them is what an intruder would want); every session ends (whoever rode the old phone's
sessions is out); and a new session opens at the ``otp`` level, so the customer can
enrol a new passkey at once (without one, the JSDA presets would not let them log in
again after the interim period).

Improvements over the first design: a newer request supersedes the pending one (one
live code per account), and at most ``max_requests_per_day`` requests per account per
day, so someone who has the password cannot flood the customer's inbox and phone or
try codes without end; the code has 8 digits, not 6, since it alone opens a recovery.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kabuguard.domain.errors import Forbidden, KabuguardError, Unauthorized
from kabuguard.domain.events import Event, EventType, RequestContext
from kabuguard.domain.ids import new_id
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import ActionDenied, ActionHeld, Actor, Decision, Outcome
from kabuguard.identity.interfaces import (
    CodeExpired,
    CodeFormatInvalid,
    LoginResult,
    TooManyAttempts,
    WrongCode,
)
from kabuguard.identity.methods import Level
from kabuguard.identity.models import Customer, RecoveryRequest, TotpAuthenticator
from kabuguard.identity.onetime import issue_code, verify_code
from kabuguard.identity.services import IdentityService, validate_phone
from kabuguard.notify.interfaces import Medium, NoticeKind, Notifier, NullNotifier

CODE_PURPOSE = "recovery"
CODE_DIGITS = 8
REQUEST_TTL = timedelta(minutes=30)
MAX_ATTEMPTS = 5
MAX_REQUESTS_PER_DAY = 5
DEFAULT_COOLING_OFF = timedelta(hours=72)


def derive_code_key(secret: str) -> bytes:
    """The HMAC key for recovery codes, separate from the data key it comes from."""
    return hashlib.sha256(b"kabuguard recovery code v1|" + secret.encode()).digest()


class RecoveryInvalid(Unauthorized):
    """The request is unknown, already completed, superseded or dead: start again."""

    code = "recovery_invalid"

    def __init__(self) -> None:
        super().__init__("This recovery request is no longer valid. Please start again.")


class RecoveryNotAvailable(Forbidden):
    """The policy asks more for recovery than a recovery can prove (a code by e-mail)."""

    code = "recovery_not_available"

    def __init__(self) -> None:
        super().__init__("Online account recovery is not available for this account. "
                         "Please call us.")


class TooManyRecoveries(KabuguardError):
    status = 429
    code = "recovery_rate_limited"

    def __init__(self, *, limit: int) -> None:
        super().__init__(f"Too many recovery requests for this account today ({limit}). "
                         "Please call us.", limit=limit)


@dataclass(frozen=True, slots=True)
class RecoveryStarted:
    request_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RecoveryCompleted:
    login: LoginResult
    cooling_off_until: datetime
    phone_changed: bool
    authenticator_apps_removed: int
    sessions_ended: int


class RecoveryService:
    def __init__(self, identity: IdentityService, *, code_key: bytes,
                 cooling_off: timedelta = DEFAULT_COOLING_OFF,
                 notifier: Notifier | None = None, ttl: timedelta = REQUEST_TTL,
                 max_attempts: int = MAX_ATTEMPTS,
                 max_requests_per_day: int = MAX_REQUESTS_PER_DAY) -> None:
        if cooling_off <= timedelta(0):
            msg = "the recovery cooling-off must be positive"
            raise ValueError(msg)
        self.identity = identity
        self.db, self.cipher, self.journal = identity.db, identity.cipher, identity.journal
        self.code_key, self.cooling_off, self.ttl = code_key, cooling_off, ttl
        self.notifier: Notifier = notifier or NullNotifier()
        self.max_attempts, self.max_requests_per_day = max_attempts, max_requests_per_day

    # -- start -------------------------------------------------------------------------
    def start(self, *, login_id: str, password: str, new_phone: str,
              context: RequestContext) -> RecoveryStarted:
        """Check the password and send a code to the registered e-mail, a warning to
        the phone on file, and record the ``recovery`` ``requested`` event.

        Returns the request's id (what the client sends back with the code) and expiry.
        Raises InvalidInput for a malformed phone number (before the password is tried,
        so a typo costs no attempt); LoginFailed (the login's message) for an unknown id,
        a wrong password or a locked account alike; LoginThrottled; TooManyRecoveries;
        ActionDenied / ActionHeld / RecoveryNotAvailable when the guard says no.
        """
        phone = validate_phone(new_phone)
        customer = self.identity.check_password_attempt(login_id=login_id,
                                                        password=password, context=context)
        now = self.identity.clock()
        decision = self._ask_guard(customer.id, Level.PASSWORD, context, now)
        if decision.outcome is Outcome.CHALLENGE and (
                decision.required_level is None or decision.required_level <= Level.OTP):
            pass  # expected: the e-mail code below is the challenge
        elif not decision.allowed:
            self._refuse(decision, customer.id, context, now)
        issued = issue_code(purpose=CODE_PURPOSE, now=now, ttl=self.ttl, digits=CODE_DIGITS,
                            key=self.code_key)
        with self.db.write() as session:
            recent = session.scalar(select(func.count()).select_from(RecoveryRequest).where(
                RecoveryRequest.customer_id == customer.id,
                RecoveryRequest.created_at > now - timedelta(days=1)))
            if (recent or 0) >= self.max_requests_per_day:
                raise TooManyRecoveries(limit=self.max_requests_per_day)
            # One live code per account: an older request dies with the new one.
            session.execute(update(RecoveryRequest).where(
                RecoveryRequest.customer_id == customer.id,
                RecoveryRequest.status == "pending").values(status="superseded"))
            row = RecoveryRequest(
                id=new_id("rcv"), customer_id=customer.id, status="pending",
                code_hash=issued.code_hash, new_phone_enc=self.cipher.encrypt(phone),
                created_at=now, expires_at=issued.expires_at, attempts=0, ip=context.ip)
            session.add(row)
            at = now.isoformat()
            # The code goes to the registered e-mail only; the phone on file (said to be
            # lost) gets a warning without it, so that its owner learns at once.
            self.notifier.queue(session, customer_id=customer.id,
                                kind=NoticeKind.RECOVERY_REQUESTED,
                                params={"at": at, "code": issued.code}, now=now,
                                media=[Medium.EMAIL])
            self.notifier.queue(session, customer_id=customer.id,
                                kind=NoticeKind.RECOVERY_REQUESTED, params={"at": at},
                                now=now, media=[Medium.SMS])
            self.journal.record(
                session, Event(new_id("evt"), now, EventType.RECOVERY, customer.id, context,
                               {"stage": "requested"}),
                actor=f"customer:{customer.id}",
                audit_extra={"request": row.id,
                             "new_phone_token": self.cipher.token("phone", phone)})
        return RecoveryStarted(request_id=row.id, expires_at=row.expires_at)

    # -- complete ------------------------------------------------------------------------
    def complete(self, *, request_id: str, code: str,
                 context: RequestContext) -> RecoveryCompleted:
        """Check the e-mail code, ask the guard at the ``otp`` level and recover the
        account (see the module docstring); returns the new session and the end of the
        cooling-off.

        Raises RecoveryInvalid (unknown, used, superseded or dead request),
        CodeFormatInvalid, WrongCode (with ``attempts_left``; the last wrong try kills
        the request), TooManyAttempts, CodeExpired, and ActionDenied / ActionHeld /
        RecoveryNotAvailable when the guard says no (the request is then closed).
        """
        with self.db.read() as session:
            found = session.get(RecoveryRequest, request_id[:40])
            customer_id = found.customer_id if found is not None else None
        if found is None or customer_id is None or found.status != "pending":
            raise RecoveryInvalid
        strongest = self.identity.strongest_enrolled(customer_id)
        now = self.identity.clock()
        failure: KabuguardError | None = None
        result: RecoveryCompleted | None = None
        with self.db.write() as session:
            # Locked: two parallel tries with one request count as two attempts.
            row = session.get(RecoveryRequest, found.id, with_for_update=True)
            failure = self._check_code(row, code, now)
            if failure is None and row is not None:
                decision = self._ask_guard(customer_id, Level.OTP, context, now,
                                           strongest=strongest)
                if decision.allowed:
                    result = self._recover(session, row, context, now)
                else:
                    row.status = "refused"
                    failure = self._refusal(decision)
                    self.journal.record_admin(
                        session, ts=now, actor=f"customer:{customer_id}",
                        action="recovery_refused", subject=customer_id,
                        payload={"request": row.id, "decision": decision.to_dict(),
                                 "ip": context.ip})
        # Raised after the commit: a wrong try counts even though the answer is an error.
        if failure is not None:
            raise failure
        assert result is not None  # noqa: S101 - no failure means the recovery ran
        return result

    def _check_code(self, row: RecoveryRequest | None, code: str,
                    now: datetime) -> KabuguardError | None:
        """Verify the code against the locked row, recording the outcome on it;
        returns the error to raise after the commit, or None when the code is right."""
        if row is None or row.status != "pending":
            return RecoveryInvalid()
        try:
            verify_code(given=code, code_hash=row.code_hash, purpose=CODE_PURPOSE,
                        expires_at=row.expires_at, attempts=row.attempts, now=now,
                        key=self.code_key, max_attempts=self.max_attempts)
        except CodeFormatInvalid as exc:
            return exc  # not a code at all: no comparison was made, no attempt spent
        except CodeExpired as exc:
            row.status = "expired"
            return exc
        except TooManyAttempts as exc:
            row.status = "failed"
            return exc
        except WrongCode as exc:
            row.attempts += 1
            if exc.attempts_left == 0:
                row.status = "failed"
            return exc
        return None

    def _recover(self, session: Session, row: RecoveryRequest, context: RequestContext,
                 now: datetime) -> RecoveryCompleted:
        customer = session.get(Customer, row.customer_id)
        assert customer is not None  # noqa: S101 - a request belongs to a customer
        cid = customer.id
        old_phone = self.cipher.decrypt(customer.phone_enc) if customer.phone_enc else None
        new_phone = self.cipher.decrypt(row.new_phone_enc)
        phone_changed = new_phone != old_phone
        if phone_changed:
            self.identity.apply_contact_change(session, cid, field="phone", clean=new_phone,
                                               context=context, now=now)
        apps = list(session.execute(select(TotpAuthenticator).where(
            TotpAuthenticator.customer_id == cid,
            TotpAuthenticator.removed_at.is_(None))).scalars())
        for app in apps:
            app.removed_at = now
        removed = sum(1 for app in apps if app.confirmed_at is not None)
        if removed:
            self.journal.record(session, Event(
                new_id("evt"), now, EventType.MFA_CHANGE, cid, context,
                {"change": "remove", "method": "totp"}), actor=f"customer:{cid}",
                audit_extra={"by": "recovery"})
        ended = self.identity.revoke_all_sessions(session, cid, now=now)
        self.identity.reset_failures(session, cid, reverified=False, now=now)
        # A second recovery during the cooling-off never shortens it.
        until = now + self.cooling_off
        if customer.recovery_cooling_off_until is not None:
            until = max(until, customer.recovery_cooling_off_until)
        customer.recovery_cooling_off_until = until
        row.status, row.completed_at, row.cooling_off_until = "completed", now, until
        self.journal.record(
            session, Event(new_id("evt"), now, EventType.RECOVERY, cid, context,
                           {"stage": "completed"}),
            actor=f"customer:{cid}",
            audit_extra={"request": row.id, "phone_changed": phone_changed,
                         "authenticator_apps_removed": removed, "sessions_ended": ended,
                         "cooling_off_until": until.isoformat()})
        extra = [(Medium.SMS, old_phone)] if old_phone and phone_changed else []
        self.notifier.queue(session, customer_id=cid, kind=NoticeKind.RECOVERY_COMPLETED,
                            params={"at": now.isoformat(), "blocked_until": until.isoformat()},
                            now=now, media=[Medium.EMAIL, Medium.SMS], extra_addresses=extra)
        login = self.identity.open_session(
            session, cid, login_token=self.cipher.token("login", customer.login_id),
            level=Level.OTP, methods=["password", "email_otp"], context=context, now=now)
        return RecoveryCompleted(login=login, cooling_off_until=until,
                                 phone_changed=phone_changed,
                                 authenticator_apps_removed=removed, sessions_ended=ended)

    # -- the guard -----------------------------------------------------------------------
    def _ask_guard(self, customer_id: str, level: Level, context: RequestContext,
                   now: datetime, *, strongest: Level | None = None) -> Decision:
        if strongest is None:
            strongest = self.identity.strongest_enrolled(customer_id)
        return self.identity.guard.check(
            Action.RECOVERY, Actor(customer_id, level, now), context, now=now,
            strongest_enrolled=strongest)

    @staticmethod
    def _refusal(decision: Decision) -> KabuguardError:
        """The error for a decision that is not ``allow``. A challenge means the policy
        wants more than a recovery can prove: no step-up can help, so it is a refusal."""
        if decision.outcome is Outcome.HOLD:
            return ActionHeld(decision)
        if decision.outcome is Outcome.DENY:
            return ActionDenied(decision)
        return RecoveryNotAvailable()

    def _refuse(self, decision: Decision, customer_id: str, context: RequestContext,
                now: datetime) -> None:
        with self.db.write() as session:
            self.journal.record_admin(session, ts=now, actor=f"customer:{customer_id}",
                                      action="recovery_refused", subject=customer_id,
                                      payload={"decision": decision.to_dict(),
                                               "ip": context.ip})
        raise self._refusal(decision)
