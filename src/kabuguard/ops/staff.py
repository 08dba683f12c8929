"""Staff of the operations console: accounts, roles, passkey-only login, sessions.

Staff are not customers: their own tables, their own passkeys, their own session
cookie. There is no password anywhere: an admin (or ``kabuguard staff create``) makes
an account and hands over a one-time enrolment code, valid 24 hours, with which the
person registers a passkey; from then on they log in with it (WebAuthn through
``identity/webauthn.py``, user verification required). Every login, enrolment and
refusal is audited.

Roles (who may do what is ``ROLE_PERMISSIONS``):

- ``analyst``: triages alerts, works cases, freezes accounts, asks for unfreezes,
  proposes compensation;
- ``supervisor``: an analyst who also decides: approves another person's unfreeze and
  compensation, resets second factors after re-verification;
- ``admin``: a supervisor who also manages staff;
- ``auditor``: reads everything, changes nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from kabuguard.domain.events import RequestContext
from kabuguard.domain.ids import new_id
from kabuguard.identity.webauthn import (
    CEREMONY_TIMEOUT,
    MalformedCredential,
    PasskeyInvalid,
    RelyingParty,
    authentication_options,
    b64url_decode,
    b64url_encode,
    credential_id_of,
    registration_options,
    verify_authentication,
    verify_registration,
)
from kabuguard.journal import Journal
from kabuguard.ops.console_models import (
    Staff,
    StaffChallenge,
    StaffEnrolment,
    StaffPasskey,
    StaffSession,
)
from kabuguard.store.database import Database

ENROLMENT_VALIDITY = timedelta(hours=24)
# Shorter than a customer's: a console session can freeze accounts and release money.
SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=10)
MAX_PASSKEYS = 5
REASON_MIN, REASON_MAX = 2, 2000


class Role(StrEnum):
    ANALYST = "analyst"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AUDITOR = "auditor"


class Permission(StrEnum):
    VIEW = "view"  # every page, every report and download
    WORK = "work"  # triage, verdicts, freeze, revoke, holds, restrictions, contacts, proposals
    DECIDE = "decide"  # approve unfreezes and compensation, reset MFA, file reports
    MANAGE_STAFF = "manage_staff"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AUDITOR: frozenset({Permission.VIEW}),
    Role.ANALYST: frozenset({Permission.VIEW, Permission.WORK}),
    Role.SUPERVISOR: frozenset({Permission.VIEW, Permission.WORK, Permission.DECIDE}),
    Role.ADMIN: frozenset(Permission),
}


def may(role: Role | str, permission: Permission) -> bool:
    """
    >>> may("auditor", Permission.VIEW), may("auditor", Permission.WORK)
    (True, False)
    >>> may(Role.SUPERVISOR, Permission.DECIDE), may("analyst", Permission.DECIDE)
    (True, False)
    """
    return permission in ROLE_PERMISSIONS[Role(role)]


# -- errors ------------------------------------------------------------------------------


class StaffSessionInvalid(Unauthorized):
    """No console session, or it expired or was revoked: log in again."""

    code = "staff_session_invalid"


class ConsoleForbidden(Forbidden):
    """The staff member's role does not allow this."""

    code = "console_forbidden"


class EnrolmentInvalid(Unauthorized):
    """The enrolment code is unknown, expired or used."""

    code = "staff_enrolment_invalid"


class ConsoleChallengeInvalid(PasskeyInvalid):
    code = "challenge_invalid"

    def __init__(self) -> None:
        super().__init__("challenge", "This sign-in request has expired or was already "
                                      "used. Please start again.")


# -- what the console passes around --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaffInfo:
    id: str
    name: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None
    passkeys: int = 0


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A live console session: who, with which role, and the token its forms carry."""

    public_id: str
    staff_id: str
    name: str
    role: Role
    csrf_token: str

    def may(self, permission: Permission) -> bool:
        return may(self.role, permission)


@dataclass(frozen=True, slots=True)
class Operator:
    """Who does a console action, and why: what every audit record of the desk holds."""

    staff_id: str
    name: str
    role: Role
    reason: str
    ip: str | None = None

    @property
    def actor(self) -> str:
        return f"staff:{self.staff_id}"

    def may(self, permission: Permission) -> bool:
        return may(self.role, permission)


def check_reason(reason: str | None) -> str:
    """The written reason every console action needs, trimmed.

    >>> check_reason("  customer called  ")
    'customer called'
    >>> check_reason("x")
    Traceback (most recent call last):
    ...
    kabuguard.domain.errors.InvalidInput: Write why (at least 2 characters).
    """
    text = (reason or "").strip()
    if len(text) < REASON_MIN:
        raise InvalidInput("Write why (at least 2 characters).", field="reason")
    if len(text) > REASON_MAX:
        raise InvalidInput(f"The reason may have at most {REASON_MAX} characters.",
                           field="reason")
    return text


def audit_desk(journal: Journal, session: Session, operator: Operator, *, action: str,
               subject: str | None, now: datetime, **details: Any) -> None:
    """The audit record of a console action, in the caller's transaction: who (id,
    name, role), what (``action`` on ``subject`` with ``details``) and why."""
    journal.record_admin(session, ts=now, actor=operator.actor, action=f"console:{action}",
                         subject=subject,
                         payload={"staff": operator.staff_id, "name": operator.name,
                                  "role": str(operator.role), "reason": operator.reason,
                                  "ip": operator.ip, **details})


# -- the codes -------------------------------------------------------------------------------

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def new_enrolment_code() -> str:
    """16 characters (80 bits) in groups of four, easy to read out and type.

    >>> code = new_enrolment_code(); len(code), code.count("-")
    (19, 3)
    """
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def normalize_code(code: str) -> str:
    """
    >>> normalize_code(" abcd-efgh jkmn-pqrs ")
    'ABCDEFGHJKMNPQRS'
    """
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class StaffService:
    """Staff accounts, their passkeys and console sessions."""

    def __init__(self, db: Database, *, journal: Journal, rp: RelyingParty,
                 clock: Clock = utcnow) -> None:
        self.db, self.journal, self.rp, self.clock = db, journal, rp, clock

    # -- accounts ----------------------------------------------------------------------

    def create(self, *, name: str, role: Role | str, created_by: str) -> tuple[StaffInfo, str]:
        """A new staff member and their first enrolment code (shown once)."""
        clean = " ".join(name.split())
        if not 1 <= len(clean) <= 80:
            raise InvalidInput("A name of 1 to 80 characters is needed.", field="name")
        try:
            role = Role(role)
        except ValueError:
            raise InvalidInput(f"role must be one of {', '.join(Role)}", field="role") from None
        now = self.clock()
        with self.db.write() as session:
            if session.scalar(select(Staff.id).where(Staff.name == clean)) is not None:
                raise Conflict(f"A staff member named {clean!r} exists already.", field="name")
            staff = Staff(id=new_id("stf"), name=clean, role=role.value, created_at=now,
                          created_by=created_by)
            session.add(staff)
            session.flush()
            code = self._issue(session, staff.id, created_by, now)
            self.journal.record_admin(session, ts=now, actor=created_by,
                                      action="console:staff_created", subject=staff.id,
                                      payload={"name": clean, "role": role.value})
        return self._info(staff, 0), code

    def issue_enrolment(self, staff_id: str, *, by: str) -> str:
        """A new one-time code for ``staff_id`` (a lost device); earlier unused codes die."""
        now = self.clock()
        with self.db.write() as session:
            staff = session.get(Staff, staff_id)
            if staff is None or staff.disabled_at is not None:
                raise NotFound("No such active staff member.", field="staff_id")
            session.execute(update(StaffEnrolment).where(
                StaffEnrolment.staff_id == staff_id, StaffEnrolment.used_at.is_(None))
                .values(used_at=now))
            code = self._issue(session, staff_id, by, now)
            self.journal.record_admin(session, ts=now, actor=by,
                                      action="console:enrolment_issued", subject=staff_id,
                                      payload={})
        return code

    def _issue(self, session: Session, staff_id: str, by: str, now: datetime) -> str:
        code = new_enrolment_code()
        session.add(StaffEnrolment(id=new_id("enr"), staff_id=staff_id,
                                   code_hash=_hash(normalize_code(code)), created_at=now,
                                   created_by=by, expires_at=now + ENROLMENT_VALIDITY))
        return code

    def disable(self, staff_id: str, *, by: str, reason: str) -> None:
        """No more logins; every session of theirs ends now."""
        now = self.clock()
        with self.db.write() as session:
            staff = session.get(Staff, staff_id)
            if staff is None:
                raise NotFound("No such staff member.", field="staff_id")
            if staff.disabled_at is not None:
                return
            staff.disabled_at = now
            session.execute(update(StaffSession).where(
                StaffSession.staff_id == staff_id, StaffSession.revoked_at.is_(None))
                .values(revoked_at=now))
            self.journal.record_admin(session, ts=now, actor=by, action="console:staff_disabled",
                                      subject=staff_id, payload={"reason": reason})

    def list(self) -> list[StaffInfo]:
        with self.db.read() as session:
            rows = session.execute(select(Staff).order_by(Staff.created_at)).scalars().all()
            counts: dict[str, int] = {}
            for sid in session.execute(select(StaffPasskey.staff_id).where(
                    StaffPasskey.removed_at.is_(None))).scalars():
                counts[sid] = counts.get(sid, 0) + 1
        return [self._info(s, counts.get(s.id, 0)) for s in rows]

    def get(self, staff_id: str) -> StaffInfo | None:
        with self.db.read() as session:
            staff = session.get(Staff, staff_id)
            return self._info(staff) if staff is not None else None

    @staticmethod
    def _info(staff: Staff, passkeys: int = 0) -> StaffInfo:
        return StaffInfo(staff.id, staff.name, Role(staff.role), staff.created_at,
                         staff.disabled_at, passkeys)

    # -- ceremonies --------------------------------------------------------------------

    def _challenge(self, session: Session, purpose: str, challenge: bytes,
                   enrolment_id: str | None = None) -> str:
        now = self.clock()
        row = StaffChallenge(id=new_id("schl"), purpose=purpose, enrolment_id=enrolment_id,
                             challenge=b64url_encode(challenge), created_at=now,
                             expires_at=now + CEREMONY_TIMEOUT)
        session.add(row)
        return row.id

    def _burn(self, session: Session, challenge_id: str, purpose: str) -> StaffChallenge:
        """Single use: the row is consumed by the first answer, right or wrong."""
        now = self.clock()
        burnt = session.execute(update(StaffChallenge).where(
            StaffChallenge.id == challenge_id[:40], StaffChallenge.purpose == purpose,
            StaffChallenge.consumed_at.is_(None), StaffChallenge.expires_at > now)
            .values(consumed_at=now)).rowcount
        if burnt != 1:
            raise ConsoleChallengeInvalid
        row = session.get(StaffChallenge, challenge_id[:40])
        assert row is not None  # noqa: S101 - just updated
        return row

    def _enrolment(self, session: Session, code: str) -> tuple[StaffEnrolment, Staff]:
        found = session.execute(select(StaffEnrolment).where(
            StaffEnrolment.code_hash == _hash(normalize_code(code)))).scalar_one_or_none()
        now = self.clock()
        staff = session.get(Staff, found.staff_id) if found is not None else None
        if (found is None or staff is None or found.used_at is not None
                or found.expires_at <= now or staff.disabled_at is not None):
            raise EnrolmentInvalid("This enrolment code is unknown, expired or used. "
                                   "Ask an administrator for a new one.")
        return found, staff

    def enrol_begin(self, code: str, *, context: RequestContext) -> dict[str, Any]:
        """Options to register a passkey with an enrolment code. A wrong code is
        audited (it is guessed or leaked)."""
        try:
            with self.db.write() as session:
                enrolment, staff = self._enrolment(session, code)
                existing = session.execute(select(StaffPasskey.credential_id).where(
                    StaffPasskey.staff_id == staff.id,
                    StaffPasskey.removed_at.is_(None))).scalars().all()
                if len(existing) >= MAX_PASSKEYS:
                    raise Conflict(f"At most {MAX_PASSKEYS} passkeys per staff member.")
                options, challenge = registration_options(
                    self.rp, user_id=staff.id.encode(), user_name=f"{staff.name} (console)",
                    display_name=staff.name,
                    exclude_credential_ids=[b64url_decode(c) for c in existing])
                cid = self._challenge(session, "enrol", challenge, enrolment.id)
        except EnrolmentInvalid:
            self._refused("enrol", None, "enrolment_invalid", context)
            raise
        return {"challenge_id": cid, "publicKey": options}

    def enrol_finish(self, *, challenge_id: str, code: str, credential: dict[str, Any],
                     name: str, context: RequestContext) -> tuple[str, ConsoleSession]:
        """Register the passkey, spend the code, and open a console session."""
        label = " ".join(name.split())[:60] or "passkey"
        now = self.clock()
        staff_id = None
        try:
            with self.db.write() as session:
                row = self._burn(session, challenge_id, "enrol")
                enrolment, staff = self._enrolment(session, code)
                staff_id = staff.id
                if row.enrolment_id != enrolment.id:
                    raise ConsoleChallengeInvalid
                reg = verify_registration(self.rp, credential=credential,
                                          expected_challenge=b64url_decode(row.challenge))
                cred_id = b64url_encode(reg.credential_id)
                if session.get(StaffPasskey, cred_id) is not None:
                    raise Conflict("This passkey is already registered.")
                session.add(StaffPasskey(
                    credential_id=cred_id, staff_id=staff.id, public_key=reg.public_key,
                    sign_count=reg.sign_count, backup_eligible=reg.backup_eligible,
                    backed_up=reg.backed_up, transports=",".join(reg.transports),
                    aaguid=reg.aaguid, name=label, created_at=now))
                enrolment.used_at = now
                self.journal.record_admin(session, ts=now, actor=f"staff:{staff.id}",
                                          action="console:passkey_enrolled", subject=staff.id,
                                          payload={"credential": cred_id[:16], "name": label,
                                                   "ip": context.ip})
                return self._open(session, staff, context, now)
        except (PasskeyInvalid, MalformedCredential, EnrolmentInvalid) as exc:
            self._refused("enrol", staff_id, getattr(exc, "code", "error"), context)
            raise

    def login_begin(self) -> dict[str, Any]:
        """Options for a username-less passkey login."""
        options, challenge = authentication_options(self.rp)
        with self.db.write() as session:
            cid = self._challenge(session, "login", challenge)
        return {"challenge_id": cid, "publicKey": options}

    def login_finish(self, *, challenge_id: str, credential: dict[str, Any],
                     context: RequestContext) -> tuple[str, ConsoleSession]:
        """Verify the assertion against a staff passkey (a customer's passkey is not
        one) and open a console session; every refusal is audited."""
        now = self.clock()
        owner = None
        try:
            with self.db.write() as session:
                row = self._burn(session, challenge_id, "login")
                cred_id = b64url_encode(credential_id_of(credential))
                passkey = session.get(StaffPasskey, cred_id)
                if passkey is None or passkey.removed_at is not None:
                    raise PasskeyInvalid("unknown_credential",
                                         "This passkey is not registered for the console.")
                owner = passkey.staff_id
                staff = session.get(Staff, passkey.staff_id)
                if staff is None or staff.disabled_at is not None:
                    raise PasskeyInvalid("staff_disabled", "This staff account is disabled.")
                result = verify_authentication(
                    self.rp, credential=credential,
                    expected_challenge=b64url_decode(row.challenge),
                    stored_public_key=passkey.public_key, stored_sign_count=passkey.sign_count,
                    stored_backup_eligible=passkey.backup_eligible,
                    expected_user_handle=staff.id.encode())
                passkey.sign_count = result.new_sign_count
                passkey.backed_up = result.backed_up
                passkey.last_used_at = now
                self.journal.record_admin(session, ts=now, actor=f"staff:{staff.id}",
                                          action="console:login", subject=staff.id,
                                          payload={"ip": context.ip,
                                                   "user_agent": context.user_agent})
                return self._open(session, staff, context, now)
        except (PasskeyInvalid, MalformedCredential) as exc:
            self._refused("login", owner, getattr(exc, "code", "error"), context,
                          detail=getattr(exc, "reason", ""))
            raise

    def _refused(self, purpose: str, staff_id: str | None, error: str,
                 context: RequestContext, detail: str = "") -> None:
        """Audited in a transaction of its own: the ceremony's has rolled back."""
        with self.db.write() as session:
            self.journal.record_admin(
                session, ts=self.clock(), actor=f"staff:{staff_id}" if staff_id else "anonymous",
                action="console:passkey_refused", subject=staff_id,
                payload={"purpose": purpose, "error": error, "detail": detail,
                         "ip": context.ip})

    # -- sessions --------------------------------------------------------------------

    def _open(self, session: Session, staff: Staff, context: RequestContext,
              now: datetime) -> tuple[str, ConsoleSession]:
        token = secrets.token_urlsafe(32)
        row = StaffSession(token_hash=_hash(token), public_id=new_id("sss"), staff_id=staff.id,
                           csrf_token=secrets.token_urlsafe(32), created_at=now,
                           last_seen_at=now, ip=context.ip[:45],
                           user_agent=(context.user_agent or "")[:400] or None)
        session.add(row)
        return token, ConsoleSession(row.public_id, staff.id, staff.name, Role(staff.role),
                                     row.csrf_token)

    def resolve(self, token: str | None) -> ConsoleSession:
        """The live session of a console cookie; StaffSessionInvalid otherwise. The
        last-seen time is written at most once a minute."""
        if not token or len(token) > 100:
            raise StaffSessionInvalid("Log in to the console.")
        now = self.clock()
        with self.db.read() as session:
            found = session.execute(
                select(StaffSession, Staff).join(Staff, Staff.id == StaffSession.staff_id)
                .where(StaffSession.token_hash == _hash(token))).first()
        if found is None:
            raise StaffSessionInvalid("Log in to the console.")
        row, staff = found
        if (row.revoked_at is not None or staff.disabled_at is not None
                or now - row.created_at > SESSION_ABSOLUTE
                or now - row.last_seen_at > SESSION_IDLE):
            raise StaffSessionInvalid("The console session has ended. Log in again.")
        if now - row.last_seen_at > timedelta(minutes=1):
            with self.db.write() as session:
                session.execute(update(StaffSession).where(
                    StaffSession.token_hash == row.token_hash).values(last_seen_at=now))
        return ConsoleSession(row.public_id, staff.id, staff.name, Role(staff.role),
                              row.csrf_token)

    def logout(self, token: str, *, context: RequestContext) -> None:
        now = self.clock()
        with self.db.write() as session:
            row = session.get(StaffSession, _hash(token))
            if row is None or row.revoked_at is not None:
                return
            row.revoked_at = now
            self.journal.record_admin(session, ts=now, actor=f"staff:{row.staff_id}",
                                      action="console:logout", subject=row.staff_id,
                                      payload={"ip": context.ip})


def require(operator: Operator | ConsoleSession, permission: Permission) -> None:
    """Raise ConsoleForbidden unless the role allows ``permission``."""
    if not may(operator.role, permission):
        raise ConsoleForbidden(f"The {operator.role} role may not do this.",
                               permission=str(permission))
