"""Tables of the decision API: the API keys of the firm's own systems, the event log
(every event decided over HTTP with its decision) and the feedback on those events.

The event log is also the engine's memory across restarts: ``DecisionLog`` rebuilds
the stream guard's state by deciding the stored events again, in ``seq`` order (the
order they were decided in), with the feedback interleaved at its own ``seq``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kabuguard.store.base import Base
from kabuguard.store.types import UTCDateTime

FEEDBACK_KINDS = ("challenge_passed", "challenge_failed", "customer_report",
                  "analyst_fraud", "analyst_legit")


class ApiKey(Base):
    """A key a firm's system sends as ``Authorization: Bearer kg_<prefix>_<secret>``.

    Only the SHA-256 of the whole key is stored: the secret is 256 random bits, so a
    fast hash loses nothing against guessing (argon2id's cost exists for passwords a
    person chose) and keeps checking a key to microseconds per request."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    # Shown to people (CLI, console) so they can tell keys apart; not a secret.
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    # Space-separated, e.g. "events:write feedback:write".
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(120))
    # Updated at most once a minute per key and process (not on every request).
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


EVENT_SOURCES = ("api", "app")


class RiskEvent(Base):
    """One event decided, with the answer given (the event log): sent to the decision
    API (``source`` "api") or recorded by kabuguard's own web app and API ("app": its
    journaled events after commit, and the attempts its guard refused)."""

    __tablename__ = "risk_events"
    __table_args__ = (Index("ix_risk_events_account_ts", "account", "ts"),
                      CheckConstraint("source IN ('api', 'app')", name="source"))

    # The event's own id (EVENTS.md): a retry with the same id gets the stored answer.
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    # The order of decision, shared with risk_feedback: the rebuild follows it.
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(30))
    account: Mapped[str | None] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(10))
    # The event as received and the decisions.jsonl object answered, as JSON text.
    event_json: Mapped[str] = mapped_column(Text)
    decision_json: Mapped[str] = mapped_column(Text)
    api_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))
    source: Mapped[str] = mapped_column(String(10), default="api", server_default="api")


class RiskFeedback(Base):
    """What followed a decided event: a challenge's outcome, a customer's report, an
    analyst's verdict (the operations console reads these)."""

    __tablename__ = "risk_feedback"
    __table_args__ = (
        CheckConstraint("kind IN ('challenge_passed', 'challenge_failed', 'customer_report', "
                        "'analyst_fraud', 'analyst_legit')", name="kind"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("risk_events.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)
    # The side effects the feedback had on the engine's state (JSON list).
    actions_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    api_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"))


class RiskDeskAction(Base):
    """A change the operations desk made to the engine's state (an account unfrozen or
    frozen, a symbol restricted or its restriction lifted): kept in the log's order
    (``seq``, shared with events and feedback) so a rebuild replays it at its place."""

    __tablename__ = "risk_desk_actions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    # The decisions.jsonl ``actions`` shape: {"type": "unfreeze_account", "account": …}.
    action_json: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(120))
