from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kabuguard.store.base import Base
from kabuguard.store.types import UTCDateTime


class Notice(Base):
    """One message to one address: the notifier's outbox row.

    The address and the parameters (which may hold a one-time code) are encrypted with
    the data key; the body is rendered only at delivery, in the customer's language."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(40), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    medium: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(2))
    address_enc: Mapped[str] = mapped_column(Text)
    params_enc: Mapped[str] = mapped_column(Text)
    # pending -> sending -> sent, or back to pending, or dead after the last failed
    # attempt (interfaces.NoticeStatus). While ``sending``, ``next_attempt_at`` is the end
    # of the claiming dispatcher's lease: a dispatcher that died mid-send is taken over.
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A short reason without secrets ("SMTP 451", "connection refused").
    last_error: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)


class NoticePreference(Base):
    """A customer's choice of media for one kind of notice; no row means the default
    (notify.preferences). For a mandatory kind, e-mail stays on whatever this says."""

    __tablename__ = "notice_preferences"

    customer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean)
    sms: Mapped[bool] = mapped_column(Boolean)
    push: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
