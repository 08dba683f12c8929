"""One-time codes by e-mail or SMS and the emoji challenge, against the database: the
second step of a password login, and the step-up of a session before an action.

The checks themselves are in ``identity/onetime.py`` and ``identity/emoji.py``; this
module keeps the rest of what makes them safe to use:

- a code is bound to what may answer it: the login challenge the password step
  returned, or the session that asked for the step-up (``binding``, a hash);
- only a keyed hash is stored, and the plaintext leaves once, inside the notice queued
  in the same transaction (encrypted in the outbox, never logged);
- a code expires (``CODE_TTL``, capped by the login challenge's own expiry), is
  single-use, and dies after ``MAX_CODE_ATTEMPTS`` wrong answers (``MAX_EMOJI_ATTEMPTS``
  for the emoji, whose blind guess is far likelier: 1/90 for 2 of 10). Attempts are
  counted before each comparison, so parallel requests cannot exceed the limit;
- sending is paced per customer (``RESEND_INTERVAL`` between two, ``SENDS_PER_HOUR``),
  across logins and step-ups, so neither guessing nor mail-bombing scales; a new code
  replaces the pending one of the same login or session.

All of these are phishable (``Level.OTP``): a real-time relay forwards them (CASE.md).
The JSDA guideline accepts them only as the interim alternative (J-M2) or where a
firm's policy asks for no more; the policy names which ones this deployment offers
(``otp_methods``) and the emoji's shape.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kabuguard.domain.errors import Conflict, InvalidInput, KabuguardError
from kabuguard.domain.events import Event, EventType, RequestContext
from kabuguard.domain.ids import new_id
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import ActionDenied, Actor, Outcome, StepUpRequired
from kabuguard.identity.emoji import EmojiPreset, issue_emoji_challenge, verify_emoji
from kabuguard.identity.interfaces import (
    EmojiPickInvalid,
    LoginFailed,
    LoginResult,
    MethodNotOffered,
    SessionInfo,
    TooManyAttempts,
    WrongCode,
)
from kabuguard.identity.methods import Level, Method
from kabuguard.identity.models import AuthChallenge, Customer, LoginRecord, OutOfBandChallenge
from kabuguard.identity.onetime import issue_code, normalize_code, verify_code
from kabuguard.identity.services import IdentityService
from kabuguard.notify.interfaces import Medium, NoticeKind, Notifier, NullNotifier

log = structlog.get_logger(__name__)

CODE_TTL = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5
MAX_EMOJI_ATTEMPTS = 3
RESEND_INTERVAL = timedelta(seconds=60)
SENDS_PER_HOUR = 5
LOGIN_PURPOSE = "login"
# The emoji goes by e-mail, as Rakuten sent it: the grid is on the screen, the answer
# in the mailbox.
MEDIUM: dict[Method, Medium] = {Method.EMAIL_OTP: Medium.EMAIL, Method.SMS_OTP: Medium.SMS,
                                Method.EMOJI: Medium.EMAIL}
OUT_OF_BAND = tuple(MEDIUM)


class CodeResendThrottled(KabuguardError):
    """Too soon after the last code, or too many codes this hour."""

    status = 429
    code = "otp_resend_throttled"

    def __init__(self, *, retry_after: timedelta) -> None:
        seconds = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(f"A code was sent recently. You can ask for another in {seconds} "
                         "seconds.", retry_after_seconds=seconds)
        self.retry_after_seconds = seconds


class NoCodeRequested(Conflict):
    """No live code for this login or session: none was sent, or it was used, burnt
    or replaced by a newer one."""

    code = "otp_not_requested"

    def __init__(self) -> None:
        super().__init__("There is no code waiting for an answer. Request a new one.")


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the customer's screen needs after a code or emoji challenge went out:
    never the code or the answer."""

    challenge_id: str
    method: Method
    medium: Medium
    purpose: str
    expires_at: datetime
    attempts_left: int
    # The emoji challenge only: the grid to pick from, in the order shown, and how many.
    grid: tuple[str, ...] | None = None
    pick: int | None = None

    def minutes_left(self, now: datetime) -> int:
        """Whole minutes until it expires, rounded up (as the notice says it)."""
        return self.minutes_between(now, self.expires_at)

    @staticmethod
    def minutes_between(now: datetime, expires_at: datetime) -> int:
        return max(1, math.ceil((expires_at - now) / timedelta(minutes=1)))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": str(self.method), "medium": str(self.medium), "purpose": self.purpose,
            "expires_at": self.expires_at.isoformat(), "attempts_left": self.attempts_left,
            "resend_after_seconds": int(RESEND_INTERVAL.total_seconds())}
        if self.grid is not None:
            out.update(grid=list(self.grid), pick=self.pick)
        return out


def derive_code_key(data_key: str) -> bytes:
    """The HMAC key for stored codes, derived from the data key (a leaked table of
    pending codes is of no use without it)."""
    return hashlib.sha256(b"kabuguard one-time codes v1|" + data_key.encode()).digest()


def _binding(kind: str, value: str) -> str:
    # The login challenge id is a bearer secret: only its hash is stored beside the code.
    return hashlib.sha256(f"{kind}|{value}".encode()).hexdigest()


class OutOfBandService:
    def __init__(self, identity: IdentityService, *, key: bytes,
                 notifier: Notifier | None = None, ttl: timedelta = CODE_TTL) -> None:
        self.identity, self.key, self.ttl = identity, key, ttl
        self.notifier: Notifier = notifier or NullNotifier()
        self.db, self.journal, self.clock = identity.db, identity.journal, identity.clock

    @property
    def emoji_preset(self) -> EmojiPreset | None:
        """The policy's emoji shape (None when it offers no emoji challenge)."""
        return self.identity.guard.policy.emoji

    # -- the login's second step ------------------------------------------------------
    def send_for_login(self, *, login_challenge: str, method: str,
                       context: RequestContext) -> Delivery:
        """Send a code (or emoji) for the login that returned ``login_challenge``.

        Raises LoginFailed when that login expired or was used, MethodNotOffered,
        StepUpRequired/ActionDenied when a one-time code cannot complete this login
        (the policy wants a passkey), CodeResendThrottled."""
        now = self.clock()
        self.identity.throttle.check(context.ip, now)
        customer_id, login_expires = self._live_login(login_challenge, now)
        chosen = self._offered(customer_id, method)
        decision, _scope = self.identity.second_step_decision(
            customer_id, level=Level.OTP, context=context, now=now)
        if decision.outcome is Outcome.CHALLENGE:
            raise StepUpRequired(decision, methods=self.identity.methods_for(customer_id,
                                                                             decision))
        if decision.outcome is not Outcome.ALLOW:
            raise ActionDenied(decision)
        return self._send(customer_id=customer_id, binding=_binding("login", login_challenge),
                          method=chosen, purpose=LOGIN_PURPOSE, not_after=login_expires,
                          context=context, now=now)

    def methods_for_login(self, login_challenge: str) -> list[str]:
        """The ``otp``-level methods the customer of this login can complete it with
        (a passkey login is a ceremony of its own). Raises LoginFailed once the login
        expired or was used."""
        customer_id, _ = self._live_login(login_challenge, self.clock())
        return [str(m) for m in self.identity.second_factors(customer_id)
                if m in (Method.TOTP, *OUT_OF_BAND)]

    def pending_for_login(self, login_challenge: str) -> Delivery | None:
        """The code waiting for an answer on this login, if any (to show the form again)."""
        return self._pending(_binding("login", login_challenge))

    def login(self, *, login_challenge: str, answer: str | Sequence[str],
              context: RequestContext) -> LoginResult:
        """Complete the login with the code (or the emoji picked, in order) and open
        a session at the ``otp`` level. A wrong answer leaves the login open for
        another try until the code's attempts are used up; it is recorded as a
        ``bad_second_factor`` login.

        Raises LoginFailed (the login expired or was used), NoCodeRequested,
        CodeFormatInvalid / EmojiPickInvalid (not counted), WrongCode / WrongEmoji,
        CodeExpired, TooManyAttempts, or StepUpRequired / ActionDenied from the guard."""
        now = self.clock()
        customer_id, _ = self._live_login(login_challenge, now)
        row = self._check_answer(_binding("login", login_challenge), customer_id=customer_id,
                                 answer=answer, context=context, login=True)
        # Single use of the login itself: a parallel answer loses here.
        self.identity.take_login_challenge(login_challenge)
        decision, scope = self.identity.second_step_decision(
            customer_id, level=Level.OTP, context=context, now=now)
        if decision.outcome is not Outcome.ALLOW:
            raise (StepUpRequired(decision) if decision.outcome is Outcome.CHALLENGE
                   else ActionDenied(decision))
        with self.db.write() as session:
            self._consume(session, row.id, now)
            customer = session.get(Customer, customer_id)
            assert customer is not None  # noqa: S101 - the login challenge names it
            self.identity.reset_failures(session, customer_id, reverified=False, now=now)
            return self.identity.open_session(
                session, customer_id, login_token=self.identity.cipher.token("login",
                                                                             customer.login_id),
                level=Level.OTP, methods=["password", row.method], context=context, now=now,
                scope=scope)

    # -- step-up ------------------------------------------------------------------------
    def send_for_step_up(self, info: SessionInfo, *, method: str, action: str,
                         context: RequestContext) -> Delivery:
        """Send a code (or emoji) to confirm ``action`` in this session. The notice
        names the action, so a customer asked for a "login" code while an intruder
        withdraws can tell.

        Raises InvalidInput for an unknown action, MethodNotOffered (also when a
        one-time code is not enough for the action: it needs a passkey),
        CodeResendThrottled."""
        try:
            wanted = Action(action)
        except ValueError:
            raise InvalidInput("Unknown action.", field="action") from None
        now = self.clock()
        chosen = self._offered(info.customer_id, method)
        # Would a fresh otp step-up for this action let it through? If not, a code
        # would only be a useless message (and one more for a phisher to relay).
        hypothetical = Actor(info.account_id, Level.OTP, now, session_id=info.public_id,
                             step_up_at=now, step_up_action=str(wanted))
        decision = self.identity.guard.check(
            wanted, hypothetical, context, now=now,
            strongest_enrolled=self.identity.strongest_enrolled(info.customer_id))
        if decision.outcome is Outcome.CHALLENGE:
            raise MethodNotOffered(str(chosen), "This action needs a passkey; a one-time "
                                                "code is not enough.")
        return self._send(customer_id=info.customer_id,
                          binding=_binding("session", info.public_id), method=chosen,
                          purpose=str(wanted), not_after=None, context=context, now=now)

    def pending_for_step_up(self, info: SessionInfo) -> Delivery | None:
        return self._pending(_binding("session", info.public_id))

    def step_up(self, info: SessionInfo, token: str, *, answer: str | Sequence[str],
                context: RequestContext) -> tuple[str, SessionInfo]:
        """Check the answer and raise the session to the ``otp`` level for the action
        the code was sent for; returns the session's new token.

        Raises NoCodeRequested, CodeFormatInvalid / EmojiPickInvalid (not counted),
        WrongCode / WrongEmoji, CodeExpired, TooManyAttempts, SessionInvalid."""
        row = self._check_answer(_binding("session", info.public_id),
                                 customer_id=info.customer_id, answer=answer, context=context,
                                 login=False)
        now = self.clock()
        with self.db.write() as session:
            self._consume(session, row.id, now)
            new_token, fresh = self.identity.raise_session_level(
                session, token, level=Level.OTP, now=now, action=row.purpose)
            self.journal.record_admin(session, ts=now, actor=f"customer:{info.customer_id}",
                                      action="step_up", subject=info.customer_id,
                                      payload={"method": row.method, "for": row.purpose,
                                               "session": info.public_id, "ip": context.ip})
        return new_token, fresh

    # -- shared -----------------------------------------------------------------------------
    def _live_login(self, login_challenge: str, now: datetime) -> tuple[str, datetime]:
        """The customer and expiry of a login waiting for its second step, without
        using it up; LoginFailed otherwise."""
        with self.db.read() as session:
            row = session.get(AuthChallenge, login_challenge[:40])
            if (row is None or row.purpose != "login_second_factor" or row.customer_id is None
                    or row.consumed_at is not None or row.expires_at <= now):
                raise LoginFailed("This login has expired. Please log in again.")
            return row.customer_id, row.expires_at

    def _offered(self, customer_id: str, method: str) -> Method:
        try:
            chosen = Method(method)
        except ValueError:
            raise MethodNotOffered(method) from None
        if chosen not in OUT_OF_BAND or chosen not in self.identity.second_factors(customer_id):
            raise MethodNotOffered(method)
        return chosen

    def _send(self, *, customer_id: str, binding: str, method: Method, purpose: str,
              not_after: datetime | None, context: RequestContext, now: datetime) -> Delivery:
        expires_at = now + self.ttl if not_after is None else min(now + self.ttl, not_after)
        with self.db.write() as session:
            # Locks the customer's row: two parallel sends are paced one after the other.
            session.execute(select(Customer.id).where(Customer.id == customer_id)
                            .with_for_update())
            self._check_pace(session, customer_id, now)
            # One live code per login or session: a newer one replaces it, so resending
            # never multiplies the codes an attacker may guess at.
            session.execute(update(OutOfBandChallenge).where(
                OutOfBandChallenge.binding == binding,
                OutOfBandChallenge.consumed_at.is_(None)).values(consumed_at=now))
            row = OutOfBandChallenge(id=new_id("oob"), customer_id=customer_id,
                                     binding=binding, method=str(method), purpose=purpose,
                                     created_at=now, expires_at=expires_at, attempts=0)
            params: dict[str, Any] = {
                "purpose": purpose,
                "expires_minutes": Delivery.minutes_between(now, expires_at)}
            if method is Method.EMOJI:
                assert self.emoji_preset is not None  # noqa: S101 - offered means shaped
                challenge = issue_emoji_challenge(self.emoji_preset, now=now,
                                                  ttl=expires_at - now, key=self.key)
                row.secret_hash, row.grid = challenge.answer_hash, "".join(challenge.grid)
                kind, params["emojis"] = NoticeKind.EMOJI_CHALLENGE, list(challenge.answer)
            else:
                issued = issue_code(purpose=purpose, now=now, ttl=expires_at - now,
                                    key=self.key)
                row.secret_hash = issued.code_hash
                kind, params["code"] = NoticeKind.ONE_TIME_CODE, issued.code
            session.add(row)
            self.notifier.queue(session, customer_id=customer_id, kind=kind, params=params,
                                now=now, media=[MEDIUM[method]])
            self.journal.record_admin(
                session, ts=now, actor=f"customer:{customer_id}", action="second_factor_sent",
                subject=customer_id, payload={"method": str(method), "purpose": purpose,
                                              "challenge": row.id, "ip": context.ip})
        log.info("second_factor.sent", method=str(method), purpose=purpose, challenge=row.id)
        return self._delivery(row)

    @staticmethod
    def _check_pace(session: Session, customer_id: str, now: datetime) -> None:
        hour = timedelta(hours=1)
        recent = session.execute(
            select(OutOfBandChallenge.created_at).where(
                OutOfBandChallenge.customer_id == customer_id,
                OutOfBandChallenge.created_at > now - hour)
            .order_by(OutOfBandChallenge.created_at.desc())).scalars().all()
        if recent and now - recent[0] < RESEND_INTERVAL:
            raise CodeResendThrottled(retry_after=RESEND_INTERVAL - (now - recent[0]))
        if len(recent) >= SENDS_PER_HOUR:
            raise CodeResendThrottled(retry_after=recent[SENDS_PER_HOUR - 1] + hour - now)

    def _pending(self, binding: str) -> Delivery | None:
        now = self.clock()
        with self.db.read() as session:
            row = self._latest(session, binding)
        if (row is None or row.consumed_at is not None or row.expires_at <= now
                or row.attempts >= self._max_attempts(row.method)):
            return None
        return self._delivery(row)

    @staticmethod
    def _latest(session: Session, binding: str) -> OutOfBandChallenge | None:
        return session.execute(
            select(OutOfBandChallenge).where(OutOfBandChallenge.binding == binding)
            .order_by(OutOfBandChallenge.created_at.desc(), OutOfBandChallenge.id.desc())
            .limit(1)).scalar_one_or_none()

    def _delivery(self, row: OutOfBandChallenge) -> Delivery:
        method = Method(row.method)
        grid = tuple(row.grid) if row.grid is not None else None
        return Delivery(challenge_id=row.id, method=method, medium=MEDIUM[method],
                        purpose=row.purpose, expires_at=row.expires_at,
                        attempts_left=self._max_attempts(row.method) - row.attempts, grid=grid,
                        pick=self.emoji_preset.k if grid is not None and self.emoji_preset
                        else None)

    @staticmethod
    def _max_attempts(method: str) -> int:
        return MAX_EMOJI_ATTEMPTS if method == Method.EMOJI else MAX_CODE_ATTEMPTS

    def _check_answer(self, binding: str, *, customer_id: str, answer: str | Sequence[str],
                      context: RequestContext, login: bool) -> OutOfBandChallenge:
        """Count one attempt, then compare. Returns the row when the answer is right
        (the caller consumes it in its own transaction); raises otherwise. An entry
        that cannot be an answer at all (letters, a pick not on the grid) is refused
        without counting: it guesses nothing."""
        now = self.clock()
        with self.db.read() as session:
            row = self._latest(session, binding)
        if row is None or row.customer_id != customer_id:
            raise NoCodeRequested
        max_attempts = self._max_attempts(row.method)
        if row.consumed_at is not None:
            if row.attempts >= max_attempts:
                raise TooManyAttempts(max_attempts=max_attempts)
            raise NoCodeRequested
        self._check_form(row, answer)
        if row.expires_at > now:
            with self.db.write() as session:
                counted = session.execute(update(OutOfBandChallenge).where(
                    OutOfBandChallenge.id == row.id, OutOfBandChallenge.consumed_at.is_(None),
                    OutOfBandChallenge.attempts < max_attempts)
                    .values(attempts=OutOfBandChallenge.attempts + 1)).rowcount
                attempts = session.execute(select(OutOfBandChallenge.attempts).where(
                    OutOfBandChallenge.id == row.id)).scalar_one()
            if not counted:
                raise TooManyAttempts(max_attempts=max_attempts)
            before = attempts - 1
        else:
            before = row.attempts  # verify raises CodeExpired before comparing anything
        try:
            if row.method == Method.EMOJI:
                verify_emoji(picked=list(answer), grid=tuple(row.grid or ""),
                             answer_hash=row.secret_hash, expires_at=row.expires_at,
                             attempts=before, now=now, key=self.key, max_attempts=max_attempts)
            else:
                verify_code(given=str(answer), code_hash=row.secret_hash, purpose=row.purpose,
                            expires_at=row.expires_at, attempts=before, now=now, key=self.key,
                            max_attempts=max_attempts)
        except WrongCode as exc:
            self._reject(row, exc, burn=before + 1 >= max_attempts, customer_id=customer_id,
                         context=context, login=login, now=now)
            raise
        return row

    @staticmethod
    def _check_form(row: OutOfBandChallenge, answer: str | Sequence[str]) -> None:
        if row.method == Method.EMOJI:
            if isinstance(answer, str):
                raise EmojiPickInvalid(reason="empty")
            picks = [pick.strip().replace("\ufe0f", "") for pick in answer]
            if not picks:
                raise EmojiPickInvalid(reason="empty")
            if any(pick not in (row.grid or "") or len(pick) != 1 for pick in picks):
                raise EmojiPickInvalid(reason="not_on_grid")
            if len(set(picks)) != len(picks):
                raise EmojiPickInvalid(reason="duplicate")
        else:
            normalize_code(answer if isinstance(answer, str) else "")

    def _reject(self, row: OutOfBandChallenge, exc: WrongCode, *, burn: bool, customer_id: str,
                context: RequestContext, login: bool, now: datetime) -> None:
        """Audit a wrong answer (never what was entered); burn the code at its last
        attempt. At login it is also a ``bad_second_factor`` login for the risk
        engine and the customer's login history."""
        with self.db.write() as session:
            if burn:
                session.execute(update(OutOfBandChallenge).where(
                    OutOfBandChallenge.id == row.id, OutOfBandChallenge.consumed_at.is_(None))
                    .values(consumed_at=now))
            self.journal.record_admin(
                session, ts=now, actor=f"customer:{customer_id}",
                action="second_factor_rejected", subject=customer_id,
                payload={"method": row.method, "purpose": row.purpose, "error": exc.code,
                         "attempts_left": exc.attempts_left, "burnt": burn,
                         "challenge": row.id, "ip": context.ip})
            if login:
                customer = session.get(Customer, customer_id)
                session.add(LoginRecord(customer_id=customer_id, ts=now, ip=context.ip,
                                        user_agent=context.user_agent,
                                        channel=str(context.channel),
                                        outcome="bad_second_factor", success=False))
                self.journal.record(session, Event(
                    new_id("evt"), now, EventType.LOGIN, customer_id, context,
                    {"login_id": self.identity.cipher.token("login", customer.login_id)
                     if customer else "", "outcome": "bad_second_factor",
                     "methods": ["password", row.method]}), actor="anonymous")
        log.warning("second_factor.rejected", method=row.method, purpose=row.purpose,
                    error=exc.code, attempts_left=exc.attempts_left, challenge=row.id)

    @staticmethod
    def _consume(session: Session, challenge_id: str, now: datetime) -> None:
        """Single use: of two parallel right answers, one finds the code taken."""
        taken = session.execute(update(OutOfBandChallenge).where(
            OutOfBandChallenge.id == challenge_id, OutOfBandChallenge.consumed_at.is_(None))
            .values(consumed_at=now)).rowcount
        if not taken:
            raise NoCodeRequested
