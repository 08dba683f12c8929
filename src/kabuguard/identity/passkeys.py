"""Passkey ceremonies against the database: registration, username-less login and
step-up. WebAuthn itself is in ``identity/webauthn.py``; this module keeps the
challenges single-use and short-lived, stores and looks up credentials, and records
each outcome (event, audit) in the same transaction."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kabuguard.domain.errors import Conflict, InvalidInput
from kabuguard.domain.events import Event, EventType, RequestContext
from kabuguard.domain.ids import new_id
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import ActionDenied, Actor, Outcome, StepUpRequired
from kabuguard.identity.interfaces import LoginResult, SessionInfo
from kabuguard.identity.methods import Level
from kabuguard.identity.models import AuthChallenge, Customer, Passkey
from kabuguard.identity.services import IdentityService
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

MAX_PASSKEYS = 10
LOGIN_SEAL = "passkey_login"


class ChallengeInvalid(PasskeyInvalid):
    """Unknown, expired, already used, or issued for another purpose or session."""

    code = "challenge_invalid"

    def __init__(self) -> None:
        super().__init__("challenge", "This sign-in request has expired or was already "
                                      "used. Please start again.")


class PasskeyService:
    def __init__(self, identity: IdentityService, rp: RelyingParty) -> None:
        self.identity, self.rp = identity, rp
        self.db, self.journal, self.clock = identity.db, identity.journal, identity.clock

    # -- challenges --------------------------------------------------------------------
    def _new_challenge(self, session: Session, *, purpose: str, challenge: bytes,
                       customer_id: str | None, session_token: str | None) -> str:
        now = self.clock()
        row = AuthChallenge(id=new_id("chl"), customer_id=customer_id,
                            session_hash=_hash(session_token) if session_token else None,
                            purpose=purpose, method="passkey", secret=b64url_encode(challenge),
                            created_at=now, expires_at=now + CEREMONY_TIMEOUT, attempts=0)
        session.add(row)
        return row.id

    def _consume(self, challenge_id: str, *, purpose: str,
                 session_token: str | None) -> AuthChallenge:
        """Burn the challenge (``IdentityService.burn_challenge``) and return it; raise
        ChallengeInvalid when it is unknown, expired, used, or was issued for another
        purpose or session."""
        row = self.identity.burn_challenge(challenge_id, purpose=purpose)
        if row is None or (row.session_hash is not None
                           and row.session_hash != _hash(session_token or "")):
            raise ChallengeInvalid
        return row

    # -- registration ------------------------------------------------------------------
    def registration_begin(self, info: SessionInfo, token: str) -> dict[str, Any]:
        with self.db.write() as session:
            customer = session.get(Customer, info.customer_id)
            assert customer is not None  # noqa: S101 - a live session has its customer
            existing = self._active(session, info.customer_id)
            if len(existing) >= MAX_PASSKEYS:
                raise Conflict(f"At most {MAX_PASSKEYS} passkeys can be registered.",
                               field="passkey")
            options, challenge = registration_options(
                self.rp, user_id=info.customer_id.encode(), user_name=customer.login_id,
                display_name=customer.name,
                exclude_credential_ids=[b64url_decode(p.credential_id) for p in existing])
            cid = self._new_challenge(session, purpose="passkey_register", challenge=challenge,
                                      customer_id=info.customer_id, session_token=token)
        return {"challenge_id": cid, "publicKey": options}

    def registration_finish(self, info: SessionInfo, token: str, *, challenge_id: str,
                            credential: dict[str, Any], name: str,
                            context: RequestContext) -> dict[str, Any]:
        label = name.strip()[:60]
        if not label:
            raise InvalidInput("Give the passkey a name, such as the device it is on.",
                               field="name")
        row = self._consume(challenge_id, purpose="passkey_register", session_token=token)
        try:
            reg = verify_registration(self.rp, credential=credential,
                                      expected_challenge=b64url_decode(row.secret))
        except (PasskeyInvalid, MalformedCredential) as exc:
            self._audit_rejection(info.customer_id, "passkey_register", exc, context)
            raise
        now = self.clock()
        with self.db.write() as session:
            cred_id = b64url_encode(reg.credential_id)
            if session.get(Passkey, cred_id) is not None:
                raise Conflict("This passkey is already registered.", field="credential")
            session.add(Passkey(
                credential_id=cred_id, customer_id=info.customer_id, public_key=reg.public_key,
                sign_count=reg.sign_count, backup_eligible=reg.backup_eligible,
                backed_up=reg.backed_up, transports=",".join(reg.transports),
                aaguid=reg.aaguid, name=label, created_at=now))
            self.journal.record(session, Event(
                new_id("evt"), now, EventType.MFA_CHANGE, info.account_id, context,
                {"change": "enroll", "method": "passkey"}), actor=f"customer:{info.customer_id}",
                audit_extra={"credential": cred_id[:16]}, notice_hints={"name": label})
            self.identity.lift_enrolment_scope(session, token)
        return {"id": cred_id, "name": label, "created_at": now.isoformat(),
                "backed_up": reg.backed_up}

    def list(self, customer_id: str) -> list[dict[str, Any]]:
        with self.db.read() as session:
            return [{"id": p.credential_id, "name": p.name, "created_at": p.created_at.isoformat(),
                     "last_used_at": p.last_used_at.isoformat() if p.last_used_at else None,
                     "backed_up": p.backed_up}
                    for p in self._active(session, customer_id)]

    @staticmethod
    def _active(session: Session, customer_id: str) -> list[Passkey]:
        return list(session.execute(
            select(Passkey).where(Passkey.customer_id == customer_id,
                                  Passkey.removed_at.is_(None)).order_by(Passkey.created_at)
        ).scalars())

    # -- login (username-less) -----------------------------------------------------------
    def login_begin(self) -> dict[str, Any]:
        """Options for a username-less login. Nothing is stored: the challenge travels
        in a sealed, expiring ``challenge_id`` (the options are the unauthenticated,
        most-called step; a table row each would let anyone fill the table and costs a
        write transaction). Single use is enforced when it comes back (login_finish)."""
        options, challenge = authentication_options(self.rp)
        expires = int((self.clock() + CEREMONY_TIMEOUT).timestamp())
        nonce = new_id("chl").removeprefix("chl_")
        cid = self.identity.cipher.seal(
            LOGIN_SEAL, [nonce, b64url_encode(challenge), str(expires)])
        return {"challenge_id": cid, "publicKey": options}

    def login_finish(self, *, challenge_id: str, credential: dict[str, Any],
                     context: RequestContext) -> LoginResult:
        """Verify the assertion and open a session at the phishing-resistant level.
        The account is the credential's owner; the user handle must agree with it.

        One write transaction burns the challenge (a row keyed by its nonce: a second
        use finds it), checks the assertion and opens the session. When anything fails
        it rolls back, and the challenge is burnt again in the rejection's own
        transaction, so a refused answer cannot be retried either."""
        now = self.clock()
        nonce, challenge = None, b""
        try:
            nonce, challenge, expires_at = self._open_login_seal(challenge_id, now)
            with self.db.write() as session:
                if not _burn(session, nonce, expires_at=expires_at, now=now):
                    raise ChallengeInvalid
                passkey = self._verify(session, challenge, credential, context,
                                       customer_id=None)
                decision = self.identity.guard.check(
                    Action.LOGIN, Actor(passkey.customer_id, Level.PHISHING_RESISTANT, now),
                    context, now=now, strongest_enrolled=Level.PHISHING_RESISTANT)
                if decision.outcome is not Outcome.ALLOW:
                    raise (StepUpRequired(decision) if decision.outcome is Outcome.CHALLENGE
                           else ActionDenied(decision))
                customer = session.get(Customer, passkey.customer_id)
                assert customer is not None  # noqa: S101 - foreign key
                self.identity.reset_failures(session, customer.id, reverified=True, now=now)
                return self.identity.open_session(
                    session, customer.id,
                    login_token=self.identity.cipher.token("login", customer.login_id),
                    level=Level.PHISHING_RESISTANT, methods=["passkey"], context=context,
                    now=now)
        except Exception as exc:
            audited = isinstance(exc, PasskeyInvalid | MalformedCredential)
            if audited or nonce is not None:
                owner = getattr(exc, "audit_customer", None)
                with self.db.write() as session:
                    if nonce is not None:
                        _burn(session, nonce, expires_at=now + CEREMONY_TIMEOUT, now=now)
                    if audited:
                        self._record_rejection(session, owner, "passkey_login", exc, context)
            raise

    def _open_login_seal(self, challenge_id: str,
                         now: datetime) -> tuple[str, bytes, datetime]:
        fields = self.identity.cipher.unseal(LOGIN_SEAL, challenge_id)
        if fields is None or len(fields) != 3 or not fields[2].isdigit():
            raise ChallengeInvalid
        nonce, challenge, expires = fields
        expires_at = datetime.fromtimestamp(int(expires), tz=UTC)
        if expires_at <= now:
            raise ChallengeInvalid
        return nonce, b64url_decode(challenge), expires_at

    # -- step-up -------------------------------------------------------------------------
    def step_up_begin(self, info: SessionInfo, token: str) -> dict[str, Any]:
        with self.db.write() as session:
            keys = self._active(session, info.customer_id)
            if not keys:
                raise Conflict("No passkey is registered yet: register one first.",
                               field="passkey")
            options, challenge = authentication_options(
                self.rp, allow_credential_ids=[b64url_decode(p.credential_id) for p in keys])
            cid = self._new_challenge(session, purpose="passkey_step_up", challenge=challenge,
                                      customer_id=info.customer_id, session_token=token)
        return {"challenge_id": cid, "publicKey": options}

    def step_up_finish(self, info: SessionInfo, token: str, *, challenge_id: str,
                       credential: dict[str, Any],
                       context: RequestContext) -> tuple[str, SessionInfo]:
        """Verify and raise the session to the phishing-resistant level; returns the
        session's new token (the old one stops working)."""
        row = self._consume(challenge_id, purpose="passkey_step_up", session_token=token)
        now = self.clock()
        with (self._audited("passkey_step_up", info.customer_id, context),
              self.db.write() as session):
            self._verify(session, b64url_decode(row.secret), credential, context,
                         customer_id=info.customer_id)
            new_token, fresh = self.identity.raise_session_level(
                session, token, level=Level.PHISHING_RESISTANT, now=now)
            self.journal.record_admin(session, ts=now, actor=f"customer:{info.customer_id}",
                                      action="step_up", subject=info.customer_id,
                                      payload={"method": "passkey", "session": info.public_id,
                                               "ip": context.ip})
        return new_token, fresh

    def _verify(self, session: Session, challenge: bytes, credential: dict[str, Any],
                context: RequestContext, *, customer_id: str | None) -> Passkey:
        passkey = None
        try:
            cred_id = b64url_encode(credential_id_of(credential))
            passkey = session.get(Passkey, cred_id)
            if passkey is None or passkey.removed_at is not None or (
                    customer_id is not None and passkey.customer_id != customer_id):
                raise PasskeyInvalid("unknown_credential",
                                     "This passkey is not registered with us.")
            result = verify_authentication(
                self.rp, credential=credential, expected_challenge=challenge,
                stored_public_key=passkey.public_key, stored_sign_count=passkey.sign_count,
                stored_backup_eligible=passkey.backup_eligible,
                expected_user_handle=passkey.customer_id.encode())
        except (PasskeyInvalid, MalformedCredential) as exc:
            # Audited after this transaction has rolled back (see _audit_rejection).
            exc.audit_customer = passkey.customer_id if passkey else customer_id  # type: ignore[attr-defined]
            raise
        passkey.sign_count = result.new_sign_count
        passkey.backed_up = result.backed_up
        passkey.last_used_at = self.clock()
        return passkey

    @contextlib.contextmanager
    def _audited(self, purpose: str, customer_id: str | None,
                 context: RequestContext) -> Iterator[None]:
        """Audit a refused assertion once the ceremony's transaction has rolled back."""
        try:
            yield
        except (PasskeyInvalid, MalformedCredential) as exc:
            owner = getattr(exc, "audit_customer", None) or customer_id
            self._audit_rejection(owner, purpose, exc, context)
            raise

    def _audit_rejection(self, customer_id: str | None, purpose: str, exc: Exception,
                         context: RequestContext) -> None:
        """Every refused ceremony is audited, with its reason and never key material,
        in a transaction of its own (the ceremony's own has rolled back)."""
        with self.db.write() as session:
            self._record_rejection(session, customer_id, purpose, exc, context)

    def _record_rejection(self, session: Session, customer_id: str | None, purpose: str,
                          exc: Exception, context: RequestContext) -> None:
        payload = {"purpose": purpose, "error": getattr(exc, "code", "error"),
                   "reason": getattr(exc, "reason", ""), "ip": context.ip}
        self.journal.record_admin(
            session, ts=self.clock(),
            actor=f"customer:{customer_id}" if customer_id else "anonymous",
            action="passkey_rejected", subject=customer_id, payload=payload)


def _burn(session: Session, nonce: str, *, expires_at: datetime, now: datetime) -> bool:
    """Record a sealed login challenge as used; False when it already was. An insert
    that ignores a duplicate key (SQLite and PostgreSQL both have one) keeps the
    transaction usable, where catching an IntegrityError would abort it on PostgreSQL."""
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else pg_insert
    stmt = insert(AuthChallenge).values(
        id=f"chl_{nonce}", customer_id=None, session_hash=None, purpose="passkey_login",
        method="passkey", secret="", created_at=now, expires_at=expires_at, attempts=1,
        consumed_at=now).on_conflict_do_nothing(index_elements=["id"]).returning(AuthChallenge.id)
    return session.execute(stmt).scalar() is not None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
