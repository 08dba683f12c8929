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
