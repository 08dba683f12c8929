"""Tables of the operations package: the FSA monthly report's runs and, per run, a
snapshot of every month it covered (the revision history, JP-RULES.md §3 R-4)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kabuguard.store.base import Base
from kabuguard.store.types import UTCDateTime, Yen


class FsaReportRun(Base):
    """One computation of the monthly statistics (by an operator or a schedule)."""

    __tablename__ = "fsa_report_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(120))
    # Where the verdicts came from: "risk_feedback", "labels:<file>", ...
    source: Mapped[str] = mapped_column(String(200))
    first_month: Mapped[str] = mapped_column(String(7))
    last_month: Mapped[str] = mapped_column(String(7))
    note: Mapped[str | None] = mapped_column(Text)


class FsaMonthSnapshot(Base):
    """A month's five figures as one run computed them.

    ``revision`` counts the distinct sets of figures reported for the month (1 for the
    first); it goes up only when a figure changed, and then ``changes_json`` says what
    changed and why (the events newly confirmed or cleared since the last revision),
    and ``event_ids_json`` keeps the events counted, for the next comparison."""

    __tablename__ = "fsa_month_snapshots"
    __table_args__ = (
        UniqueConstraint("run_id", "month"),
        Index("ix_fsa_month_snapshots_month_revision", "month", "revision"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("fsa_report_runs.id"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    revision: Mapped[int] = mapped_column(Integer)
    changed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    firms: Mapped[int] = mapped_column(Integer)
    accesses: Mapped[int] = mapped_column(Integer)
    trades: Mapped[int] = mapped_column(Integer)
    sell_jpy: Mapped[int] = mapped_column(Yen)
    buy_jpy: Mapped[int] = mapped_column(Yen)
    firm_names_json: Mapped[str] = mapped_column(Text)
    event_ids_json: Mapped[str | None] = mapped_column(Text)
    changes_json: Mapped[str | None] = mapped_column(Text)
