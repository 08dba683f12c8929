"""Customers, password login and server-side sessions.

The identity issue adds passkeys, OTP, step-up and the guard on top of this; the
session and login-record tables are already shaped for it (device, channel, revocation).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kabuguard.crypto import FieldCipher
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import InvalidInput, NotFound, UnknownAccount
from kabuguard.domain.events import Event, EventType, RequestContext
from kabuguard.domain.ids import new_id
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import (
    ActionDenied,
    Actor,
    Decision,
    Outcome,
    Restriction,
    StepUpRequired,
)
from kabuguard.guard.services import Guard
from kabuguard.identity.breached import BreachedPasswords
from kabuguard.identity.cooling_off import restrictions_for
from kabuguard.identity.interfaces import (
    ENROL_SCOPE,
    UNLOCK_SCOPE,
    AccountLocked,
    LeakedPasswordNoSecondFactor,
    LoginFailed,
    LoginResult,
    SessionInfo,
    SessionInvalid,
    WeakPassword,
)
from kabuguard.identity.leaked import (
    REASON_NO_SECOND_FACTOR,
    leaked_login_decision,
    resolve_matches,
    second_factors,
    was_leaked,
)
from kabuguard.identity.methods import METHOD_LEVEL, Level, Method, level_of
from kabuguard.identity.models import (
    AuthChallenge,
    Customer,
    LoginRecord,
    WebSession,
)
from kabuguard.identity.passwords import PasswordService
from kabuguard.identity.throttle import FailureThrottle
from kabuguard.journal import Journal
from kabuguard.store.database import Database

LOGIN_ID_RE = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
PHONE_RE = re.compile(r"^\+?[0-9]{10,15}$")
MIN_PASSWORD = 10
LOCK_AFTER = 5
LOGIN_CHALLENGE_TTL = timedelta(minutes=5)
LOGIN_FAILED_MESSAGE = ("The login id or password is incorrect, or password login is locked "
                        "after repeated failures. A passkey login still works.")


ENROL_REASON = "enrolment_only"


def _enrolment_only(decision: Decision) -> bool:
    """A login the policy refuses only because the customer has no passkey yet."""
    return (decision.outcome is Outcome.CHALLENGE
            and decision.required_level is Level.PHISHING_RESISTANT
            and "enrolment_required" in decision.reasons)


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_phone(phone: str) -> str:
    """Strip spaces and hyphens; keep a leading +.

    >>> normalize_phone("090-1234-5678")
    '09012345678'
    """
    return re.sub(r"[\s\-()]", "", phone)


def validate_email(email: str) -> str:
    email = email.strip()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise InvalidInput("The e-mail address is not valid.", field="email")
    return email


def validate_phone(phone: str) -> str:
    phone = normalize_phone(phone)
    if not PHONE_RE.match(phone):
        raise InvalidInput("The phone number must have 10 to 15 digits.", field="phone")
    return phone


class IdentityService:
    def __init__(self, db: Database, *, cipher: FieldCipher, journal: Journal,
                 guard: Guard, passwords: PasswordService, session_idle: timedelta,
                 session_absolute: timedelta, throttle: FailureThrottle | None = None,
                 lock_after: int = LOCK_AFTER, breached: BreachedPasswords | None = None,
                 clock: Clock = utcnow) -> None:
        self.db, self.cipher, self.journal, self.guard = db, cipher, journal, guard
        self.passwords, self.clock = passwords, clock
        self.session_idle, self.session_absolute = session_idle, session_absolute
        self.throttle = throttle or FailureThrottle()
        self.lock_after = lock_after
        self.breached = breached or BreachedPasswords()

    # -- customers -----------------------------------------------------------------
    def create_customer(self, session: Session, *, customer_id: str, login_id: str,
                        password: str, name: str, email: str, phone: str | None,
                        language: str = "ja") -> Customer:
        """Add a customer in the caller's transaction (the broker opens the account)."""
        if not LOGIN_ID_RE.match(login_id):
            raise InvalidInput("The login id must be 3-64 letters, digits, '.', '_' or '-'.",
                               field="login_id")
        self.check_password(password)
        if session.execute(select(Customer.id).where(Customer.login_id == login_id)).first():
            raise InvalidInput("That login id is already taken.", field="login_id")
        customer = Customer(
            id=customer_id, login_id=login_id, password_hash=self.passwords.hash(password),
            name=name.strip()[:120] or login_id,
            email_enc=self.cipher.encrypt(validate_email(email)),
            phone_enc=self.cipher.encrypt(validate_phone(phone)) if phone else None,
            language=language if language in ("ja", "en") else "ja",
            created_at=self.clock(),
        )
        session.add(customer)
        self.journal.record_admin(session, ts=customer.created_at, actor="system",
                                  action="customer_create", subject=customer_id,
                                  payload={"login_id": self.cipher.token("login", login_id)})
        return customer

    def check_password(self, password: str) -> None:
        """Length rules, then the breach corpus (NIST SP 800-63B). Raises WeakPassword."""
        self.check_password_strength(password)
        self.breached.check(password)

    @staticmethod
    def check_password_strength(password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise WeakPassword(f"The password must have at least {MIN_PASSWORD} characters.",
                               field="password")
        if len(password) > 256:
            raise WeakPassword("The password must have at most 256 characters.",
                               field="password")

    def profile(self, customer_id: str) -> dict[str, str | None]:
        with self.db.read() as session:
            c = session.get(Customer, customer_id)
            if c is None:
                raise UnknownAccount(f"No account {customer_id}.", account=customer_id)
            return {
                "name": c.name, "login_id": c.login_id, "language": c.language,
                "email": self.cipher.decrypt(c.email_enc),
                "phone": self.cipher.decrypt(c.phone_enc) if c.phone_enc else None,
            }

    def change_contact(self, customer_id: str, *, field: str, value: str,
                       context: RequestContext) -> None:
        """Change e-mail or phone: encrypted, evented, audited, in one transaction."""
        if field == "email":
            clean = validate_email(value)
        elif field == "phone":
            clean = validate_phone(value)
        else:
            raise InvalidInput("Only email or phone can be changed here.", field="field")
        now = self.clock()
        with self.db.write() as session:
            self.apply_contact_change(session, customer_id, field=field, clean=clean,
                                      context=context, now=now)

    def apply_contact_change(self, session: Session, customer_id: str, *, field: str,
                             clean: str, context: RequestContext, now: datetime) -> None:
        """Store an already validated e-mail or phone in the caller's transaction, with
        its ``contact_change`` event (the notices to the old and new contact follow
        from the event). Account recovery moves the phone through here too."""
        c = session.get(Customer, customer_id)
        if c is None:
            raise UnknownAccount(f"No account {customer_id}.", account=customer_id)
        # The previous address gets the notice too (someone who changes the e-mail
        # must not silence the warning with it); it is handed to the notifier in
        # memory and stored nowhere in clear.
        previous_enc = c.email_enc if field == "email" else c.phone_enc
        previous = self.cipher.decrypt(previous_enc) if previous_enc else None
        if field == "email":
            c.email_enc = self.cipher.encrypt(clean)
        else:
            c.phone_enc = self.cipher.encrypt(clean)
        self.journal.record(
            session,
            Event(new_id("evt"), now, EventType.CONTACT_CHANGE, customer_id, context,
                  {"field": field}),
            actor=f"customer:{customer_id}",
            audit_extra={"new_value_token": self.cipher.token(field, clean)},
            notice_hints={"previous_address": previous} if previous != clean else None,
        )

    # -- login and sessions ----------------------------------------------------------
    def login_password(self, *, login_id: str, password: str,
                       context: RequestContext) -> LoginResult:
        """Check the password and open a session.

        Raises LoginFailed with the same message whether the id or the password was
        wrong; the unknown-id path still runs one argon2 verification (timing).
        """
        now = self.clock()
        customer, ok, locked = self._verify_password(login_id=login_id, password=password,
                                                     context=context, now=now)
        login_token = self.cipher.token("login", login_id)
        if ok and customer is not None and customer.self_locked_at is not None:
            self._refuse_self_locked(customer.id, login_token, context, now)
        decision = None
        if ok and customer is not None:
            # The guard decides whether a password is enough to log in here, from this
            # channel (a backup site gets no weaker rule: the policy forbids it).
            decision = self._password_login_decision(customer, context, now)
        with self.db.write() as session:
            if decision is not None and not decision.allowed:
                assert customer is not None  # noqa: S101 - a decision implies a customer
                session.add(LoginRecord(customer_id=customer.id, ts=now, ip=context.ip,
                                        user_agent=context.user_agent,
                                        channel=str(context.channel),
                                        outcome="second_factor_required", success=False,
                                        methods="password"))
                self.journal.record_admin(
                    session, ts=now, actor=f"customer:{customer.id}", action="login_refused",
                    subject=customer.id, payload={"decision": decision.to_dict(),
                                                  "ip": context.ip})
                failed = False
            elif not ok or customer is None:
                self._record_password_failure(session, customer, locked=locked,
                                              login_token=login_token, context=context,
                                              now=now)
                failed = True
            else:
                failed = False
                if self.passwords.needs_rehash(customer.password_hash):
                    fresh = session.get(Customer, customer.id)
                    if fresh is not None:
                        fresh.password_hash = self.passwords.hash(password)
                if customer.failed_logins:
                    self.reset_failures(session, customer.id, reverified=False, now=now)
                result = self.open_session(session, customer.id, login_token=login_token,
                                           level=Level.PASSWORD, methods=["password"],
                                           context=context, now=now)
        if decision is not None and not decision.allowed:
            # No session is issued: the second step completes the login, with a passkey
            # (username-less) or, where the policy allows it, an authenticator-app code
            # sent with this single-use login challenge.
            if REASON_NO_SECOND_FACTOR in decision.reasons:
                raise LeakedPasswordNoSecondFactor
            if decision.outcome is not Outcome.CHALLENGE:
                raise ActionDenied(decision)
            assert customer is not None  # noqa: S101 - a decision implies a customer
            # ``unusual``: the risk engine raised the level (the page then says why, and
            # how a customer without a passkey gets one: from the usual device).
            raise StepUpRequired(decision, login_challenge=self._login_challenge(customer.id, now),
                                 methods=self.methods_for(customer.id, decision),
                                 unusual=self._risk_raised(decision, context))
        if failed:
            raise LoginFailed(LOGIN_FAILED_MESSAGE)
        return result

    def _verify_password(self, *, login_id: str, password: str, context: RequestContext,
                         now: datetime) -> tuple[Customer | None, bool, bool]:
        """The throttle, then one argon2 verification whether or not the id exists
        (timing). Returns the customer (None for an unknown id), whether the password
        is right and usable, and whether password login is locked. Raises
        LoginThrottled."""
        self.throttle.check(context.ip, now)
        with self.db.read() as session:
            customer = session.execute(
                select(Customer).where(Customer.login_id == login_id)
            ).scalar_one_or_none()
        ok = self.passwords.verify(customer.password_hash if customer else None, password)
        # A locked account answers exactly like a wrong password (same message, same
        # work): the lock must not tell an attacker that the login id exists.
        locked = customer is not None and customer.password_locked_at is not None
        return customer, ok and not locked, locked

    def _record_password_failure(self, session: Session, customer: Customer | None, *,
                                 locked: bool, login_token: str, context: RequestContext,
                                 now: datetime) -> None:
        """A wrong id or password (or a locked account): counted towards the lock and
        the address's throttle, kept in the login history and sent as a failed
        ``login`` event, wherever the password was typed."""
        outcome = ("locked" if locked else "bad_password") if customer else "unknown_user"
        if customer is not None and not locked:
            self._count_failure(session, customer.id, context, now)
        self.throttle.record_failure(context.ip, now)
        session.add(LoginRecord(customer_id=customer.id if customer else None, ts=now,
                                ip=context.ip, user_agent=context.user_agent,
                                channel=str(context.channel), outcome=outcome,
                                success=False, methods="password"))
        self.journal.record(session, Event(
            new_id("evt"), now, EventType.LOGIN, customer.id if customer else None,
            context, {"login_id": login_token, "outcome": outcome,
                      "methods": ["password"]}), actor="anonymous")

    def check_password_attempt(self, *, login_id: str, password: str,
                               context: RequestContext) -> Customer:
        """The first step of a login, for flows other than login that start from the
        password (account recovery): the same throttle, lockout and failure records.

        Returns the customer. Raises LoginFailed with the login's own message for an
        unknown id, a wrong password or a locked account alike (no enumeration), and
        LoginThrottled."""
        now = self.clock()
        customer, ok, locked = self._verify_password(login_id=login_id, password=password,
                                                     context=context, now=now)
        if ok and customer is not None:
            return customer
        with self.db.write() as session:
            self._record_password_failure(session, customer, locked=locked,
                                          login_token=self.cipher.token("login", login_id),
                                          context=context, now=now)
        raise LoginFailed(LOGIN_FAILED_MESSAGE)

    def _refuse_self_locked(self, customer_id: str, login_token: str,
                            context: RequestContext, now: datetime) -> None:
        """The password was right but the customer has locked the account: record the
        refusal, then raise what the login page shows. A customer whose strongest
        method is the authenticator app gets the login's second step (its session will
        be unlock-only); one with a passkey is told to log in with it; one with neither
        is sent to the support desk (a password alone must not undo the lock)."""
        strongest = self.strongest_registered(customer_id)
        with self.db.write() as session:
            session.add(LoginRecord(customer_id=customer_id, ts=now, ip=context.ip,
                                    user_agent=context.user_agent,
                                    channel=str(context.channel), outcome="self_locked",
                                    success=False, methods="password"))
            self.journal.record(session, Event(
                new_id("evt"), now, EventType.LOGIN, customer_id, context,
                {"login_id": login_token, "outcome": "locked", "methods": ["password"]}),
                actor="anonymous", audit_extra={"self_locked": True})
        if strongest is Level.OTP:
            decision = Decision(Outcome.CHALLENGE, Action.LOGIN, required_level=Level.OTP,
                                reasons=("self_locked",), sources=("self_lock",),
                                policy=self.guard.policy.name)
            raise StepUpRequired(decision, account_locked=True,
                                 login_challenge=self._login_challenge(customer_id, now))
        raise AccountLocked(unlock="passkey" if strongest is Level.PHISHING_RESISTANT
                            else "support")

    def _password_login_decision(self, customer: Customer, context: RequestContext,
                                 now: datetime) -> Decision:
        decision = self.guard.check(
            Action.LOGIN, Actor(customer.id, Level.PASSWORD, now), context, now=now,
            strongest_enrolled=lambda: self.strongest_enrolled(customer.id))
        if customer.password_reset_required_at is not None:
            # The password is on sale (identity/leaked.py): whatever the policy says,
            # it no longer logs in alone.
            with self.db.read() as session:
                has_app, has_passkey = second_factors(session, customer.id)
            decision = leaked_login_decision(decision, has_app=has_app,
                                             has_passkey=has_passkey)
        if (_enrolment_only(decision) and not self._risk_raised(decision, context)
                and self.strongest_enrolled(customer.id) >= Level.OTP):
            # No passkey yet where the policy wants one and no interim applies any
            # more: the second factor the customer has opens a session that can only
            # register the passkey (identity.interfaces.ENROL_SCOPE).
            decision = replace(decision, required_level=Level.OTP,
                               reasons=(*decision.reasons, ENROL_REASON))
        return decision

    def second_step_decision(self, customer_id: str, *, level: Level,
                             context: RequestContext, now: datetime
                             ) -> tuple[Decision, str | None]:
        """The guard's answer to a login's second step at ``level``, and the session
        scope it allows: ``ENROL_SCOPE`` when only a passkey the customer does not
        have yet would do (the session may then register one and nothing else)."""
        decision = self.guard.check(
            Action.LOGIN, Actor(customer_id, level, now), context, now=now,
            strongest_enrolled=lambda: self.strongest_enrolled(customer_id))
        if (_enrolment_only(decision) and level >= Level.OTP
                and not self._risk_raised(decision, context)):
            return replace(decision, outcome=Outcome.ALLOW, required_level=None,
                           reasons=(*decision.reasons, ENROL_REASON)), ENROL_SCOPE
        return decision, None

    def _risk_raised(self, decision: Decision, context: RequestContext) -> bool:
        """The risk engine, not the policy, asked for more than the policy's level
        (an unusual login). Then no enrolment-only session is offered: whoever
        relayed a password and a one-time code would register their own passkey with
        it. The customer is told to log in with a passkey, or from their usual device
        to register one, or to call."""
        policy_level = self.guard.policy.requirement(Action.LOGIN, context.channel).level
        return decision.required_level is not None and decision.required_level > policy_level

    def lift_enrolment_scope(self, session: Session, token: str) -> None:
        """The customer registered a passkey: their enrolment-only session becomes a
        normal one (still at the level it proved; a passkey step-up raises it)."""
        ws = session.get(WebSession, _hash_token(token))
        if ws is not None and ws.scope == ENROL_SCOPE:
            ws.scope = None

    def _count_failure(self, session: Session, customer_id: str, context: RequestContext,
                       now: datetime) -> None:
        """One more consecutive failure; at the limit, password login locks (JSDA:
        アカウント・ロックの自動発動). Passkey login stays open, so an attacker who
        locks the password cannot lock the customer out."""
        session.execute(update(Customer).where(Customer.id == customer_id)
                        .values(failed_logins=Customer.failed_logins + 1))
        failures = session.execute(select(Customer.failed_logins)
                                   .where(Customer.id == customer_id)).scalar_one()
        if failures >= self.lock_after:
            session.execute(update(Customer).where(Customer.id == customer_id,
                                                   Customer.password_locked_at.is_(None))
                            .values(password_locked_at=now))
            self.journal.record_admin(session, ts=now, actor="system",
                                      action="password_login_locked", subject=customer_id,
                                      payload={"failures": failures, "ip": context.ip})

    def reset_failures(self, session: Session, customer_id: str, *, reverified: bool,
                       now: datetime) -> None:
        """After a successful login: clear the count; a phishing-resistant login is the
        re-verification that also reopens a locked password login."""
        customer = session.get(Customer, customer_id)
        if customer is None:
            return
        customer.failed_logins = 0
        if reverified and customer.password_locked_at is not None:
            customer.password_locked_at = None
            self.journal.record_admin(session, ts=now, actor=f"customer:{customer_id}",
                                      action="password_login_unlocked", subject=customer_id,
                                      payload={"by": "passkey"})

    def methods_for(self, customer_id: str, decision: Decision) -> list[str]:
        """The customer's methods that answer a challenge ``decision``, as the API lists
        them (``passkey``, ``totp``, ``email_otp``, ...): those that reach its level."""
        needed = decision.required_level or Level.PASSWORD
        return [str(m) for m in self.second_factors(customer_id) if METHOD_LEVEL[m] >= needed]

    def _login_challenge(self, customer_id: str, now: datetime) -> str:
        with self.db.write() as session:
            # The id (128 random bits) is what the client holds; the code it must send
            # with it is checked against the customer's app, so nothing else is stored.
            row = AuthChallenge(id=new_id("lgn"), customer_id=customer_id, session_hash=None,
                                purpose="login_second_factor", method="totp",
                                secret="",
                                created_at=now, expires_at=now + LOGIN_CHALLENGE_TTL,
                                attempts=0)
            session.add(row)
        return row.id

    def burn_challenge(self, challenge_id: str, *, purpose: str) -> AuthChallenge | None:
        """Mark a challenge used in a transaction of its own, so that it stays used even
        when the answer then fails (single use), and return it; None when it is unknown,
        expired, already used or was issued for another purpose."""
        now = self.clock()
        with self.db.write() as session:
            taken = session.execute(
                update(AuthChallenge)
                .where(AuthChallenge.id == challenge_id, AuthChallenge.consumed_at.is_(None),
                       AuthChallenge.purpose == purpose, AuthChallenge.expires_at > now)
                .values(consumed_at=now, attempts=AuthChallenge.attempts + 1)).rowcount
            return session.get(AuthChallenge, challenge_id) if taken else None

    def take_login_challenge(self, challenge_id: str) -> str:
        """Burn a login challenge and return its customer; raise LoginFailed when it is
        unknown, used or expired."""
        row = self.burn_challenge(challenge_id, purpose="login_second_factor")
        if row is None or row.customer_id is None:
            raise LoginFailed("This login has expired. Please log in again.")
        return row.customer_id

    def open_session(self, session: Session, customer_id: str, *, login_token: str,
                     level: Level, methods: list[str], context: RequestContext,
                     now: datetime, scope: str | None = None) -> LoginResult:
        """Start a session after a successful login ceremony, in the caller's
        transaction: the session row, the login record and the ``login`` event.

        The customer's row is locked first (``self_lock`` takes the same lock): a login
        racing a self-lock either finishes before it, and the lock ends its session, or
        after it, and gets an unlock-only session."""
        customer = session.get(Customer, customer_id, with_for_update=True)
        if customer is not None and customer.self_locked_at:
            scope = UNLOCK_SCOPE
        previous = session.execute(
            select(LoginRecord).where(LoginRecord.customer_id == customer_id,
                                      LoginRecord.success.is_(True))
            .order_by(LoginRecord.ts.desc(), LoginRecord.id.desc()).limit(1)
        ).scalar_one_or_none()
        token = secrets.token_urlsafe(32)
        web_session = WebSession(
            token_hash=_hash_token(token), public_id=new_id("ses"), customer_id=customer_id,
            csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
            ip=context.ip, user_agent=context.user_agent, device=context.device,
            channel=str(context.channel), auth_level=int(level), authenticated_at=now,
            scope=scope,
        )
        session.add(web_session)
        customer = session.get(Customer, customer_id)
        reset_required = customer is not None and customer.password_reset_required_at is not None
        session.add(LoginRecord(customer_id=customer_id, ts=now, ip=context.ip,
                                user_agent=context.user_agent, channel=str(context.channel),
                                outcome={UNLOCK_SCOPE: "unlock_only",
                                         ENROL_SCOPE: "enrol_only"}.get(scope or "", "success"),
                                success=True,
                                methods=",".join(methods)[:60]))
        ctx = RequestContext(ip=context.ip, channel=context.channel,
                             session=web_session.public_id, device=context.device,
                             user_agent=context.user_agent)
        self.journal.record(session, Event(
            new_id("evt"), now, EventType.LOGIN, customer_id, ctx,
            {"login_id": login_token, "outcome": "success", "methods": methods},
        ), actor=f"customer:{customer_id}")
        return LoginResult(
            token=token, session=self._info(web_session, password_change_required=reset_required),
            previous_login_at=previous.ts if previous else None,
            previous_login_ip=previous.ip if previous else None,
            previous_login_user_agent=previous.user_agent if previous else None,
        )

    def raise_session_level(self, session: Session, token: str, *, level: Level,
                            now: datetime, action: str | None = None) -> tuple[str, SessionInfo]:
        """After a step-up: record the level and time, and give the session a new token
        (the old cookie stops working, so a token captured before the step-up cannot
        ride on it). Returns the new token and the session.

        ``action`` is what the step-up was for, when the ceremony knows it: an action a
        policy wants confirmed every time (``max_age: 0s``) can spend only a step-up
        made for it (or for nothing in particular)."""
        ws = session.get(WebSession, _hash_token(token))
        if ws is None or ws.revoked_at is not None:
            raise SessionInvalid("Your session has ended. Please log in again.")
        new_token = secrets.token_urlsafe(32)
        ws.token_hash = _hash_token(new_token)
        # The session records its latest proof, not its best one: freshness is about
        # the latest, and a PASSKEY session that steps up with a one-time code is, from
        # then on, as strong as what it proved last.
        ws.auth_level = int(level)
        ws.authenticated_at = now
        ws.last_seen_at = now
        ws.step_up_at, ws.step_up_action = now, action
        customer = session.get(Customer, ws.customer_id)
        return new_token, self._info(ws, password_change_required=customer is not None
                                     and customer.password_reset_required_at is not None)

    def spend_step_up(self, public_id: str, *, seen: datetime) -> bool:
        """Use up the session's step-up ``seen`` on the one action it allowed, with a
        compare-and-set: of two parallel requests riding on it, only one passes.
        Returns False when it was already spent (or replaced by a newer one)."""
        with self.db.write() as session:
            return bool(session.execute(
                update(WebSession).where(WebSession.public_id == public_id,
                                         WebSession.step_up_at == seen)
                .values(step_up_at=None, step_up_action=None)).rowcount)

    def resolve_session(self, token: str | None, *, device: str | None = None,
                        context: RequestContext | None = None) -> SessionInfo:
        """The live session for a cookie or bearer token; raise SessionInvalid otherwise.

        Idle and absolute timeouts apply; ``last_seen_at`` is refreshed at most once a
        minute so that reads do not turn into writes on every request. A session opened
        on a device is bound to it: presented with another device id (or none), it is
        what an infostealer replaying a stolen cookie looks like, so the session is
        revoked on the spot and audited.
        """
        if not token:
            raise SessionInvalid("Please log in.")
        now = self.clock()
        with self.db.read() as session:
            # The account's cooling-off (for the guard and the site's banner) and the
            # leaked-password flag (it restricts every session of the customer, even
            # ones opened before it was set) come with the session in the same query.
            found = session.execute(
                select(WebSession, Customer.recovery_cooling_off_until,
                       Customer.password_reset_required_at)
                .join(Customer, Customer.id == WebSession.customer_id)
                .where(WebSession.token_hash == _hash_token(token))).first()
            ws = found[0] if found else None
            if ws is None or ws.revoked_at is not None:
                raise SessionInvalid("Your session has ended. Please log in again.")
            if now - ws.created_at > self.session_absolute or now - ws.last_seen_at > self.session_idle:
                raise SessionInvalid("Your session timed out. Please log in again.")
            info = self._info(ws, restrictions=restrictions_for(found[1], now=now),
                              password_change_required=found[2] is not None)
            bound_device = ws.device
            stale = now - ws.last_seen_at > timedelta(minutes=1)
        if bound_device and not (device and hmac.compare_digest(bound_device, device)):
            self._revoke_stolen(token, presented=device, context=context, now=now)
            raise SessionInvalid("Your session has ended. Please log in again.")
        if stale:
            with self.db.write() as session:
                fresh = session.get(WebSession, _hash_token(token))
                if fresh is not None:
                    fresh.last_seen_at = now
        return info

    def _revoke_stolen(self, token: str, *, presented: str | None,
                       context: RequestContext | None, now: datetime) -> None:
        with self.db.write() as session:
            ws = session.get(WebSession, _hash_token(token))
            if ws is None or ws.revoked_at is not None:
                return
            ws.revoked_at = now
            self.journal.record_admin(
                session, ts=now, actor="system", action="session_revoked_device_mismatch",
                subject=ws.customer_id,
                payload={"session": ws.public_id, "bound_device": ws.device,
                         "presented_device": presented,
                         "ip": context.ip if context else None,
                         "user_agent": context.user_agent if context else None})

    def logout(self, token: str, *, context: RequestContext) -> None:
        now = self.clock()
        with self.db.write() as session:
            ws = session.get(WebSession, _hash_token(token))
            if ws is None or ws.revoked_at is not None:
                return
            ws.revoked_at = now
            self.journal.record(session, Event(new_id("evt"), now, EventType.LOGOUT,
                                               ws.customer_id, context, {}),
                                actor=f"customer:{ws.customer_id}")

    def second_factors(self, customer_id: str) -> list[Method]:
        """The methods beyond the password this customer can use now: a passkey when
        one is registered, then the policy's ``otp_methods`` in its order, each when
        usable (an app once confirmed, e-mail codes and emoji always, since every
        customer has an e-mail address, SMS codes when a phone is registered)."""
        with self.db.read() as session:
            has_app, has_passkey = second_factors(session, customer_id)
            contact = session.execute(
                select(Customer.phone_enc, Customer.password_reset_required_at,
                       Customer.self_locked_at)
                .where(Customer.id == customer_id)).first()
        has_phone = contact is not None and contact[0] is not None
        # A customer whose password is on sale (identity/leaked.py), or who locked the
        # account fearing someone has it (identity/self_lock.py), gets no code sent to
        # the mailbox or phone on file: the infostealer logs that carry a password
        # often carry the mailbox session too. Only registered authenticators remain.
        codes_allowed = contact is None or (contact[1] is None and contact[2] is None)
        usable = {Method.TOTP: has_app, Method.EMAIL_OTP: codes_allowed,
                  Method.SMS_OTP: has_phone and codes_allowed,
                  Method.EMOJI: codes_allowed}
        found = [Method.PASSKEY] if has_passkey else []
        found += [m for m in self.guard.policy.otp_methods if usable.get(m, False)]
        return found

    def strongest_enrolled(self, customer_id: str) -> Level:
        """The best level among the customer's usable methods (the guard's interim and
        enrolment rules depend on it); an offered e-mail code counts at ``otp``."""
        methods = self.second_factors(customer_id)
        return level_of(methods) if methods else Level.PASSWORD

    def strongest_registered(self, customer_id: str) -> Level:
        """The best level among the authenticators the customer registered (a passkey,
        a confirmed app), leaving out codes sent to the e-mail address or phone on
        file. A self-lock is undone only with these: the customer locked the account
        because someone may hold the password, and an infostealer that took the
        password often holds the mailbox too."""
        methods = [m for m in self.second_factors(customer_id)
                   if m in (Method.PASSKEY, Method.TOTP)]
        return level_of(methods) if methods else Level.PASSWORD

    def previous_login(self, customer_id: str, *, before: datetime) -> LoginRecord | None:
        """The last successful login strictly before ``before`` (a session's start)."""
        with self.db.read() as session:
            return session.execute(
                select(LoginRecord).where(LoginRecord.customer_id == customer_id,
                                          LoginRecord.success.is_(True),
                                          LoginRecord.ts < before)
                .order_by(LoginRecord.ts.desc(), LoginRecord.id.desc()).limit(1)
            ).scalar_one_or_none()

    # -- password and sessions the customer manages -------------------------------------
    def change_password(self, info: SessionInfo, *, current: str, new: str,
                        context: RequestContext) -> int:
        """Replace the password after checking the current one; every other session of
        the customer ends (whoever else holds one is out). Returns how many ended."""
        now = self.clock()
        with self.db.read() as session:
            customer = session.get(Customer, info.customer_id)
        if customer is None or not self.passwords.verify(customer.password_hash, current):
            raise InvalidInput("The current password is not correct.", field="current_password")
        if new == current:
            raise WeakPassword("The new password must differ from the current one.",
                               field="new_password")
        self.check_password(new)
        with self.db.read() as session:
            leaked = was_leaked(session, self.cipher, info.customer_id, new)
        if leaked:
            raise WeakPassword("This password was found in a list of leaked credentials "
                               "for your account. Please choose another one.",
                               field="new_password")
        new_hash = self.passwords.hash(new)
        with self.db.write() as session:
            fresh = session.get(Customer, info.customer_id)
            assert fresh is not None  # noqa: S101 - read above
            fresh.password_hash = new_hash
            fresh.failed_logins = 0
            ended = self._revoke_sessions(session, info.customer_id, now,
                                          keep=info.public_id)
            # A leaked password is out of use now: its matches are resolved and the
            # session's restriction lifts.
            resolved = resolve_matches(session, info.customer_id, now=now)
            extra: dict[str, int] = {"sessions_ended": ended}
            if resolved:
                extra["leaked_matches_resolved"] = resolved
            self.journal.record(session, Event(
                new_id("evt"), now, EventType.PASSWORD_CHANGE, info.account_id, context, {}),
                actor=f"customer:{info.customer_id}", audit_extra=extra)
        return ended

    def list_sessions(self, customer_id: str) -> list[WebSession]:
        now = self.clock()
        with self.db.read() as session:
            rows = session.execute(
                select(WebSession).where(WebSession.customer_id == customer_id,
                                         WebSession.revoked_at.is_(None))
                .order_by(WebSession.last_seen_at.desc())
            ).scalars().all()
        return [ws for ws in rows if now - ws.created_at <= self.session_absolute
                and now - ws.last_seen_at <= self.session_idle]

    def revoke_session(self, customer_id: str, public_id: str, *,
                       context: RequestContext) -> None:
        """End one of the customer's own sessions (NotFound for anyone else's)."""
        now = self.clock()
        with self.db.write() as session:
            ws = session.execute(select(WebSession).where(
                WebSession.public_id == public_id, WebSession.customer_id == customer_id,
                WebSession.revoked_at.is_(None))).scalar_one_or_none()
            if ws is None:
                raise NotFound("No such session.", session=public_id[:40])
            ws.revoked_at = now
            self.journal.record_admin(session, ts=now, actor=f"customer:{customer_id}",
                                      action="session_revoked", subject=customer_id,
                                      payload={"session": public_id, "ip": context.ip})

    def end_session(self, public_id: str, *, actor: str, reasons: tuple[str, ...],
                    context: RequestContext | None = None) -> bool:
        """End a session the guard's risk engine found used by someone else (a stolen
        cookie replayed from another network), with an audit record. Returns False
        when it had ended already."""
        now = self.clock()
        with self.db.write() as session:
            ws = session.execute(select(WebSession).where(
                WebSession.public_id == public_id,
                WebSession.revoked_at.is_(None))).scalar_one_or_none()
            if ws is None:
                return False
            ws.revoked_at = now
            self.journal.record_admin(
                session, ts=now, actor=actor, action="session_revoked_by_risk",
                subject=ws.customer_id,
                payload={"session": public_id, "reasons": list(reasons),
                         "ip": context.ip if context else None,
                         "user_agent": context.user_agent if context else None})
        return True

    def logout_everywhere(self, customer_id: str, *, context: RequestContext) -> int:
        """End every session of the customer, this one included."""
        now = self.clock()
        with self.db.write() as session:
            ended = self._revoke_sessions(session, customer_id, now, keep=None)
            self.journal.record_admin(session, ts=now, actor=f"customer:{customer_id}",
                                      action="logout_everywhere", subject=customer_id,
                                      payload={"sessions_ended": ended, "ip": context.ip})
        return ended

    def revoke_all_sessions(self, session: Session, customer_id: str, *,
                            now: datetime) -> int:
        """End every session of the customer in the caller's transaction (account
        recovery: whoever held one is out). Returns how many ended."""
        return self._revoke_sessions(session, customer_id, now, keep=None)

    @staticmethod
    def _revoke_sessions(session: Session, customer_id: str, now: datetime, *,
                         keep: str | None) -> int:
        query = update(WebSession).where(WebSession.customer_id == customer_id,
                                         WebSession.revoked_at.is_(None))
        if keep is not None:
            query = query.where(WebSession.public_id != keep)
        return session.execute(query.values(revoked_at=now)).rowcount

    def login_history(self, customer_id: str, *, since: datetime, limit: int = 500,
                      offset: int = 0) -> list[LoginRecord]:
        """The customer's login attempts since ``since``, newest first, a page at a time."""
        with self.db.read() as session:
            return list(session.execute(
                select(LoginRecord).where(LoginRecord.customer_id == customer_id,
                                          LoginRecord.ts >= since)
                .order_by(LoginRecord.ts.desc(), LoginRecord.id.desc())
                .limit(limit).offset(offset)
            ).scalars())

    @staticmethod
    def _info(ws: WebSession, *, restrictions: tuple[Restriction, ...] = (),
              password_change_required: bool = False) -> SessionInfo:
        return SessionInfo(public_id=ws.public_id, customer_id=ws.customer_id,
                           account_id=ws.customer_id, csrf_token=ws.csrf_token,
                           created_at=ws.created_at, channel=ws.channel,
                           auth_level=ws.auth_level, authenticated_at=ws.authenticated_at,
                           restrictions=restrictions, step_up_at=ws.step_up_at,
                           step_up_action=ws.step_up_action, scope=ws.scope,
                           password_change_required=password_change_required)
