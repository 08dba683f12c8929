from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kabuguard.store.base import Base
from kabuguard.store.types import UTCDateTime


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    login_id: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(120))
    # Encrypted at rest (crypto.FieldCipher); never logged.
    email_enc: Mapped[str] = mapped_column(Text)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(2), default="ja")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Consecutive failed password logins; at the limit, password login locks until the
    # customer re-verifies (a passkey login does, and resets the count).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    password_locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # After an account recovery: until then withdrawals, bank account and contact
    # changes and MFA removals are refused on every channel (identity/cooling_off.py).
    recovery_cooling_off_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The customer's own lock (自己ロック, identity/self_lock.py): every session ends,
    # and a login opens only an unlock session until the customer re-verifies.
    self_locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the customer's login id and current password were found in a leaked
    # combo list (identity/leaked.py): the next login needs a second factor and its
    # session may only change the password; the change clears it.
    password_reset_required_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A server-side session. The cookie holds a random token; only its SHA-256 is
    stored, so a copy of the table does not let anyone log in."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    device: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(20))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the session has proven (identity.methods.Level) and when it last did: the
    # guard compares both with the policy's level and freshness for each action.
    auth_level: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A policy can want a confirmation for every single order (``max_age: 0s``): the
    # latest step-up, and the action it was made for, until an action spends it.
    step_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    step_up_action: Mapped[str | None] = mapped_column(String(30))
    # None: a full session. "unlock": opened while the account was self-locked; it can
    # do nothing but unlock (identity/self_lock.py).
    scope: Mapped[str | None] = mapped_column(String(20))


class LoginRecord(Base):
    """Every login attempt, for the customer's login history and "previous login"."""

    __tablename__ = "login_records"
    __table_args__ = (Index("ix_login_records_customer_ts", "customer_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    channel: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(30))
    success: Mapped[bool] = mapped_column(Boolean)
    # The methods used, comma-separated interchange spellings ("password,totp").
    methods: Mapped[str | None] = mapped_column(String(60))


class Passkey(Base):
    """A registered WebAuthn credential (discoverable, user-verified). Removed passkeys
    keep their row (``removed_at``) for the audit trail but can no longer sign in."""

    __tablename__ = "passkeys"

    credential_id: Mapped[str] = mapped_column(String(400), primary_key=True)  # base64url
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE key
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    backup_eligible: Mapped[bool] = mapped_column(Boolean)
    backed_up: Mapped[bool] = mapped_column(Boolean)
    transports: Mapped[str] = mapped_column(String(100), default="")
    aaguid: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthChallenge(Base):
    """A single-use challenge (WebAuthn challenge or a one-time code's hash), bound to
    its purpose and, for step-up, to the session that asked for it."""

    __tablename__ = "auth_challenges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customers.id"))
    session_hash: Mapped[str | None] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(20))
    secret: Mapped[str] = mapped_column(String(200))  # WebAuthn challenge (b64url) or code hash
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TotpAuthenticator(Base):
    """An authenticator app (RFC 6238). Usable once confirmed with a first code;
    ``last_used_step`` refuses a code's second use."""

    __tablename__ = "totp_authenticators"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    secret_enc: Mapped[str] = mapped_column(Text)
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryRequest(Base):
    """An account recovery in progress (lost phone): started with the password, proven
    with a code sent to the registered e-mail. Only the code's keyed hash is stored
    (``identity/onetime.py``) and the new phone number is encrypted. ``status``:
    pending -> completed, or pending -> failed (attempts used up) / expired /
    superseded (a newer request) / refused (the guard said no)."""

    __tablename__ = "recovery_requests"
    __table_args__ = (Index("ix_recovery_requests_customer_created", "customer_id",
                            "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(12))
    code_hash: Mapped[str] = mapped_column(String(64))
    new_phone_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ip: Mapped[str] = mapped_column(String(45))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cooling_off_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
class OutOfBandChallenge(Base):
    """A one-time code or emoji challenge sent by e-mail or SMS (``identity/outofband.py``).

    Only a keyed hash of the code (or of grid and answer) is kept. ``binding`` ties it
    to what may answer it: a hash of the login challenge, or of the session's public
    id for a step-up. ``attempts`` is counted before each comparison; the row is
    consumed on success, on the last failed attempt, or when a newer one replaces it.
    The rows also pace resending (per customer, by ``created_at``)."""

    __tablename__ = "oob_challenges"
    __table_args__ = (Index("ix_oob_challenges_customer_created", "customer_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    binding: Mapped[str] = mapped_column(String(64), index=True)
    method: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(40))
    secret_hash: Mapped[str] = mapped_column(String(64))
    # The emoji grid in the order shown (single code points, so no separator).
    grid: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
class PendingMfaRemoval(Base):
    """A removal of the customer's last strong method, waiting out the policy's
    cooling-off (identity/removal.py). The method keeps working until ``effective_at``;
    the customer may cancel until then. Exactly one of ``cancelled_at`` and ``done_at``
    ends it; neither set means pending."""

    __tablename__ = "mfa_pending_removals"
    __table_args__ = (Index("ix_mfa_pending_removals_effective_at", "effective_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    method: Mapped[str] = mapped_column(String(20))  # "passkey" or "totp" (Method)
    # Passkey credential id (base64url) or the authenticator app's row id.
    credential: Mapped[str] = mapped_column(String(400))
    name: Mapped[str | None] = mapped_column(String(60))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where the request came from: the ``mfa_change`` event that marks the removal
    # taking effect carries it, so the risk engine sees who asked, not the scheduler.
    requested_ip: Mapped[str] = mapped_column(String(45))
    requested_channel: Mapped[str] = mapped_column(String(20))
    requested_session: Mapped[str | None] = mapped_column(String(40))


class LeakedCredentialMatch(Base):
    """A line of an imported combo list whose password verified against a customer's
    stored hash. No plaintext is kept: ``fingerprint`` is a keyed hash of the pair
    (``FieldCipher.token``), unique, so importing the same list again adds nothing."""

    __tablename__ = "leaked_credential_matches"
    __table_args__ = (Index("ix_leaked_matches_customer_status", "customer_id", "status"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    source: Mapped[str] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    line_number: Mapped[int] = mapped_column(BigInteger)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    # open -> resolved (the customer changed the password).
    status: Mapped[str] = mapped_column(String(10), default="open")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
