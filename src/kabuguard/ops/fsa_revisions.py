"""Revision history of the FSA monthly statistics (JP-RULES.md §3 R-4: the FSA revises
its published figures at every update, and a firm's figures change when a case is
confirmed late).

Every report run stores a snapshot of each month it covers. A month's figures that
differ from its latest revision make a new revision, stored with the fields that
changed (before and after) and why: the events counted now and not before (confirmed
fraud since, with the time and source of the verdict: a *late case* when it came after
the previous revision), and those no longer counted (cleared as legitimate). The run
is recorded in the audit chain.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.events import format_ts_jst
from kabuguard.domain.ids import new_id
from kabuguard.journal import Journal
from kabuguard.ops.fraud import FraudSet, load_stream, load_verdicts, went_through
from kabuguard.ops.fsa_stats import (
    FIELD_LABELS,
    FIELDS,
    MonthFigures,
    format_oku,
    month_header,
    monthly_figures,
)
from kabuguard.ops.models import FsaMonthSnapshot, FsaReportRun

# Enough to name the cases behind a revision; the full set stays in event_ids_json.
MAX_LISTED = 100


@dataclass(frozen=True, slots=True)
class FieldChange:
    field: str
    old: int
    new: int


@dataclass(frozen=True, slots=True)
class CaseChange:
    """An event counted now and not before (``added``), or the other way round."""

    event_id: str
    source: str | None = None
    confirmed_at: datetime | None = None
    note: str | None = None
    late: bool = False  # confirmed after the previous revision was made


@dataclass(frozen=True, slots=True)
class MonthRevision:
    """A month's snapshot in one run. ``changed``: it starts a new revision (the first
    report of the month included); then ``fields``, ``added``, ``removed`` say how it
    differs from ``previous_revision``."""

    month: str
    revision: int
    changed: bool
    figures: MonthFigures
    run_id: str
    created_at: datetime
    fields: tuple[FieldChange, ...] = ()
    added: tuple[CaseChange, ...] = ()
    added_count: int = 0
    removed: tuple[CaseChange, ...] = ()
    removed_count: int = 0
    previous_revision: int | None = None
    previous_at: datetime | None = None
    note: str | None = None

    @property
    def late_count(self) -> int:
        return sum(1 for c in self.added if c.late)

    def reason(self) -> str:
        """Why this revision exists, in Japanese, for the report and the CSV."""
        if self.previous_revision is None:
            return "初回報告"
        parts = []
        if self.added_count:
            late = f"（うち前回改訂後に確認された事案 {self.late_count}件）" if self.late_count else ""
            parts.append(f"新たに不正と確認・計上された事象 {self.added_count}件{late}")
        if self.removed_count:
            parts.append(f"不正ではないと訂正され計上から除いた事象 {self.removed_count}件")
        if not parts:
            parts.append("計上対象の事象は同じだが、元データの金額等が変わった")
        when = format_ts_jst(self.previous_at) if self.previous_at else "不明"
        text = f"第{self.previous_revision}版（{when}）からの改訂: " + "、".join(parts) + "。"
        return text + (f" 備考: {self.note}" if self.note else "")


def figures_from_db(session: Session, *, months: Sequence[str] = ()) -> tuple[list[MonthFigures], FraudSet]:
    """The monthly figures of everything the firm holds (the decision API's log and the
    outbox), by the analysts' verdicts, and those verdicts (for ``record_run``)."""
    stream = load_stream(session)
    fraud = load_verdicts(session)
    through = went_through(stream.events, stream.decisions,
                           challenge_outcomes=stream.challenge_outcomes)
    return monthly_figures(stream.events, fraud, through=through, months=months), fraud


class FsaReports:
    """Records report runs and reads the revision history."""

    def __init__(self, *, journal: Journal | None = None, clock: Clock = utcnow) -> None:
        self.journal, self.clock = journal, clock

    def record_run(self, session: Session, figures: Sequence[MonthFigures], *,
                   fraud: FraudSet | None = None, actor: str, source: str,
                   note: str | None = None,
                   period: tuple[str, str] | None = None) -> list[MonthRevision]:
        """Store a run: one snapshot per month of ``period`` (default: the first to the
        last month of ``figures``) and return them, oldest month first.

        A month reported before and absent from ``figures`` within the period is
        recorded as zeros (its cases were all cleared). ``fraud`` gives the verdicts'
        sources and times to the revision's reasons."""
        if not figures and period is None:
            return []
        by_month = {f.month: f for f in figures}
        first, last = period or (min(by_month), max(by_month))
        latest = self._latest_revisions(session, first, last)
        months = sorted({m for m in by_month if first <= m <= last} | set(latest))
        now = self.clock()
        run = FsaReportRun(id=new_id("fsarun"), created_at=now, created_by=actor, source=source,
                           first_month=first, last_month=last, note=note)
        session.add(run)
        session.flush()  # the snapshots' foreign key needs the run row first
        out = []
        for month in months:
            current = by_month.get(month) or MonthFigures(month)
            revision = _compare(current, latest.get(month), fraud, run.id, now, note)
            out.append(revision)
            session.add(_row(revision))
        if self.journal is not None:
            self.journal.record_admin(
                session, ts=now, actor=actor, action="ops:fsa_report_run", subject=None,
                payload={"run": run.id, "source": source, "first_month": first,
                         "last_month": last,
                         "revisions": {r.month: r.revision for r in out if r.changed}})
        return out

    def history(self, session: Session, *, month: str | None = None) -> list[MonthRevision]:
        """Every revision (first reports included), by month then revision."""
        query = select(FsaMonthSnapshot).where(FsaMonthSnapshot.changed.is_(True))
        if month is not None:
            query = query.where(FsaMonthSnapshot.month == month)
        rows = session.execute(query.order_by(FsaMonthSnapshot.month,
                                              FsaMonthSnapshot.revision)).scalars().all()
        return [_from_row(r) for r in rows]

    def latest(self, session: Session) -> list[MonthFigures]:
        """The latest revision of every month reported, oldest month first."""
        latest = self._latest_revisions(session, "0000-00", "9999-99")
        return [_from_row(latest[m]).figures for m in sorted(latest)]

    @staticmethod
    def _latest_revisions(session: Session, first: str, last: str) -> dict[str, FsaMonthSnapshot]:
        rows = session.execute(
            select(FsaMonthSnapshot)
            .where(FsaMonthSnapshot.changed.is_(True), FsaMonthSnapshot.month >= first,
                   FsaMonthSnapshot.month <= last)
            .order_by(FsaMonthSnapshot.month, FsaMonthSnapshot.revision)
        ).scalars().all()
        return {r.month: r for r in rows}  # the last of each month wins


def _compare(current: MonthFigures, previous: FsaMonthSnapshot | None, fraud: FraudSet | None,
             run_id: str, now: datetime, note: str | None) -> MonthRevision:
    if previous is None:
        return MonthRevision(current.month, 1, True, current, run_id, now, note=note)
    before = _figures(previous)
    old, new = before.values(), current.values()
    if old == new:
        return MonthRevision(current.month, previous.revision, False, current, run_id, now)
    fields = tuple(FieldChange(f, old[f], new[f]) for f in FIELDS if old[f] != new[f])
    added_ids = sorted(current.event_ids - before.event_ids)
    removed_ids = sorted(before.event_ids - current.event_ids)
    return MonthRevision(
        current.month, previous.revision + 1, True, current, run_id, now, fields=fields,
        added=tuple(_case(i, fraud, previous.created_at) for i in added_ids[:MAX_LISTED]),
        added_count=len(added_ids),
        removed=tuple(_case(i, fraud, previous.created_at) for i in removed_ids[:MAX_LISTED]),
        removed_count=len(removed_ids), previous_revision=previous.revision,
        previous_at=previous.created_at, note=note)


def _case(event_id: str, fraud: FraudSet | None, since: datetime) -> CaseChange:
    verdict = fraud.verdict(event_id) if fraud is not None else None
    if verdict is None:
        return CaseChange(event_id)
    at = verdict.confirmed_at
    return CaseChange(event_id, verdict.source, at, verdict.note, late=at is not None and at > since)


def _figures(row: FsaMonthSnapshot) -> MonthFigures:
    ids = frozenset(json.loads(row.event_ids_json)) if row.event_ids_json else frozenset()
    return MonthFigures(row.month, row.firms, row.accesses, row.trades, row.sell_jpy, row.buy_jpy,
                        frozenset(json.loads(row.firm_names_json)), ids)


def _case_json(c: CaseChange) -> dict[str, Any]:
    return {"id": c.event_id, "source": c.source,
            "confirmed_at": c.confirmed_at.isoformat() if c.confirmed_at else None,
            "note": c.note, "late": c.late}


def _case_from(d: dict[str, Any]) -> CaseChange:
    at = d.get("confirmed_at")
    return CaseChange(d["id"], d.get("source"), datetime.fromisoformat(at) if at else None,
                      d.get("note"), bool(d.get("late")))


def _row(r: MonthRevision) -> FsaMonthSnapshot:
    f = r.figures
    changes = None
    if r.changed:
        changes = json.dumps({
            "fields": [{"field": c.field, "old": c.old, "new": c.new} for c in r.fields],
            "added": [_case_json(c) for c in r.added], "added_count": r.added_count,
            "removed": [_case_json(c) for c in r.removed], "removed_count": r.removed_count,
            "previous_revision": r.previous_revision,
            "previous_at": r.previous_at.isoformat() if r.previous_at else None,
            "note": r.note}, ensure_ascii=False, separators=(",", ":"))
    return FsaMonthSnapshot(
        id=new_id("fsasnap"), run_id=r.run_id, month=r.month, revision=r.revision,
        changed=r.changed, created_at=r.created_at, firms=f.firms, accesses=f.accesses,
        trades=f.trades, sell_jpy=f.sell_jpy, buy_jpy=f.buy_jpy,
        firm_names_json=json.dumps(sorted(f.firm_names), ensure_ascii=False),
        # Kept on revisions only: an unchanged month's ids are its revision's.
        event_ids_json=json.dumps(sorted(f.event_ids)) if r.changed else None,
        changes_json=changes)


def _from_row(row: FsaMonthSnapshot) -> MonthRevision:
    figures = _figures(row)
    if not row.changes_json:
        return MonthRevision(row.month, row.revision, row.changed, figures, row.run_id,
                             row.created_at)
    c = json.loads(row.changes_json)
    prev_at = c.get("previous_at")
    return MonthRevision(
        row.month, row.revision, row.changed, figures, row.run_id, row.created_at,
        fields=tuple(FieldChange(d["field"], d["old"], d["new"]) for d in c["fields"]),
        added=tuple(_case_from(d) for d in c["added"]), added_count=c["added_count"],
        removed=tuple(_case_from(d) for d in c["removed"]), removed_count=c["removed_count"],
        previous_revision=c.get("previous_revision"),
        previous_at=datetime.fromisoformat(prev_at) if prev_at else None, note=c.get("note"))


def _value(field: str, value: int) -> str:
    return format_oku(value) if field.endswith("_jpy") else f"{value:,}"


def revisions_csv(revisions: Sequence[MonthRevision], *, exact_yen: bool = False) -> str:
    """The revision history as CSV: one row per changed figure (the first report of a
    month as one row), with the revision's reason. CRLF; write as ``utf-8-sig``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(["対象月", "版", "改訂日時（JST）", "項目", "改訂前", "改訂後", "理由",
                     "追加計上した事象", "計上から除いた事象"])

    def show(field: str, value: int) -> str:
        return str(value) if exact_yen and field.endswith("_jpy") else _value(field, value)

    for r in revisions:
        if not r.changed:
            continue
        head = [month_header(r.month), str(r.revision), format_ts_jst(r.created_at)]
        added = " ".join(c.event_id for c in r.added)
        removed = " ".join(c.event_id for c in r.removed)
        if not r.fields:
            writer.writerow([*head, "（初回報告）", "", "", r.reason(), added, removed])
        for c in r.fields:
            writer.writerow([*head, FIELD_LABELS[c.field], show(c.field, c.old),
                             show(c.field, c.new), r.reason(), added, removed])
    return buf.getvalue()
