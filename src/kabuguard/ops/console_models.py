"""Tables of the operations console (issue 6): the staff who use it, their passkeys
and sessions (kept apart from the customers' on purpose: a customer credential can
never open the console), the alert queue, cases per account with their contact log,
unfreeze requests with the identity re-verification they rest on, and symbol
restrictions for buys.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kabuguard.store.base import Base
from kabuguard.store.types import UTCDateTime

ROLES = ("analyst", "supervisor", "admin", "auditor")


class Staff(Base):
    """A member of the security, fraud or compliance team. No password column: staff
    authenticate with passkeys only."""

    __tablename__ = "staff"
    __table_args__ = (CheckConstraint(
        "role IN ('analyst', 'supervisor', 'admin', 'auditor')", name="role"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffPasskey(Base):
    __tablename__ = "staff_passkeys"

    credential_id: Mapped[str] = mapped_column(String(400), primary_key=True)  # base64url
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
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


class StaffEnrolment(Base):
    """A one-time code that lets a staff member register a passkey (the first one, or
    a replacement an admin issued). Only the code's SHA-256 is stored."""

    __tablename__ = "staff_enrolments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffChallenge(Base):
    """A WebAuthn challenge of a console ceremony: single use, five minutes."""

    __tablename__ = "staff_challenges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))  # login | enrol
    enrolment_id: Mapped[str | None] = mapped_column(ForeignKey("staff_enrolments.id"))
    challenge: Mapped[str] = mapped_column(String(200))  # base64url
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffSession(Base):
    """A console session; the cookie holds a random token, only its SHA-256 is here."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- alerts and cases ------------------------------------------------------------------

ALERT_SOURCES = ("engine", "cross_account", "customer_report")
ALERT_STATUSES = ("new", "triaged", "closed")


class Case(Base):
    """The desk's file on one account: its alerts, contacts and actions. At most one
    open case per account (the service keeps it so)."""

    __tablename__ = "cases"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="status"),
                      Index("ix_cases_account_status", "account", "status"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assignee: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    # Where the takeover began, as an analyst set it (None: the timeline's own guess).
    takeover_event_id: Mapped[str | None] = mapped_column(String(100))
    takeover_set_by: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Alert(Base):
    """Something the desk must look at: a risk decision that stopped or acted, a
    cross-account surge, a customer's "this wasn't me"."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("source IN ('engine', 'cross_account', 'customer_report')",
                        name="source"),
        CheckConstraint("status IN ('new', 'triaged', 'closed')", name="status"),
        Index("ix_alerts_status_created", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The decided event's id, or a digest of a cross-account alert: one alert each.
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(16))
    # hold | deny | freeze | revoke | restrict | cross_account | not_me
    kind: Mapped[str] = mapped_column(String(16))
    account: Mapped[str | None] = mapped_column(String(64), index=True)
    symbol: Mapped[str | None] = mapped_column(String(20))
    event_id: Mapped[str | None] = mapped_column(String(100))
    event_ts: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_type: Mapped[str | None] = mapped_column(String(30))
    decision: Mapped[str | None] = mapped_column(String(10))
    reasons_json: Mapped[str] = mapped_column(Text, default="[]")
    detail_json: Mapped[str] = mapped_column(Text, default="{}")
    status: Mapped[str] = mapped_column(String(8), default="new")
    assignee: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertCursor(Base):
    """How far the alert feed has read a source (the decision log's ``seq``, the
    count of the engine's cross-account alerts)."""

    __tablename__ = "alert_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)


CONTACT_CHANNELS = ("phone_out", "phone_in", "email", "letter", "in_person")


class CaseContact(Base):
    """One contact with the customer: who, when, how, what was said."""

    __tablename__ = "case_contacts"
    __table_args__ = (CheckConstraint(
        "channel IN ('phone_out', 'phone_in', 'email', 'letter', 'in_person')",
        name="channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(10))
    summary: Mapped[str] = mapped_column(Text)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff.id"))


# -- actions ---------------------------------------------------------------------------

ID_DOCUMENTS = ("drivers_licence", "my_number_card", "passport", "residence_card",
                "health_insurance_card")


class Reverification(Base):
    """How the customer's identity was re-verified before an account reopens or its
    second factors are reset (JSDA 2025: 凍結後の再開時の本人確認, J-M6)."""

    __tablename__ = "reverifications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(12))  # unfreeze | mfa_reset
    # Called back on the phone number registered before the incident (never one the
    # caller gives), and the identity document seen, with its kind.
    callback_registered_phone: Mapped[bool] = mapped_column(Boolean)
    id_document: Mapped[str] = mapped_column(String(24))
    notes: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UnfreezeRequest(Base):
    """Four eyes on reopening an account: an analyst asks, a different supervisor
    approves. The database refuses a decision by the requester."""

    __tablename__ = "unfreeze_requests"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        CheckConstraint("decided_by IS NULL OR decided_by <> requested_by", name="four_eyes"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), index=True)
    case_id: Mapped[str | None] = mapped_column(ForeignKey("cases.id"))
    reverification_id: Mapped[str] = mapped_column(ForeignKey("reverifications.id"))
    status: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(ForeignKey("staff.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("staff.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)


class SymbolRestriction(Base):
    """A symbol the firm's customers may not buy (or sell) until lifted: set by the
    desk, by a bulk import, or by the engine's cross-account detector."""

    __tablename__ = "symbol_restrictions"
    __table_args__ = (
        CheckConstraint("side IN ('buy', 'sell')", name="side"),
        CheckConstraint("source IN ('desk', 'import', 'engine')", name="source"),
        Index("ix_symbol_restrictions_symbol_side", "symbol", "side"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    source: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(120))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lift_reason: Mapped[str | None] = mapped_column(Text)
