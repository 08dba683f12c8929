"""The regulator's paperwork from the console: the FSA monthly table (runs, revisions,
CSV, chart), the crime occurrence report draft (犯罪発生報告書) of a case, and the
signed evidence bundle of an account. The domain is ``fsa_stats``/``fsa_revisions``,
``incident`` and ``evidence``; this wires them to the database, the audit chain (who
ran or exported what, and why) and the case's own facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from kabuguard.domain.clock import Clock, utcnow
from kabuguard.journal import Journal
from kabuguard.ops import incident
from kabuguard.ops.cases import CaseService
from kabuguard.ops.console_models import CaseContact, Staff
from kabuguard.ops.evidence import BundleSigner, build_bundle, collect_bundle
from kabuguard.ops.fsa_revisions import FsaReports, MonthRevision, figures_from_db, revisions_csv
from kabuguard.ops.fsa_stats import MonthFigures, to_csv
from kabuguard.ops.staff import Operator, Permission, audit_desk, require
from kabuguard.store.database import Database

FIRM_NAME = "かぶガード証券株式会社"
# An approved compensation is offered to the customer; a proposal is under review.
_COMPENSATION = {"approved": incident.CompensationStatus.OFFERED,
                 "proposed": incident.CompensationStatus.UNDER_REVIEW,
                 "draft": incident.CompensationStatus.UNDER_REVIEW}


@dataclass(frozen=True, slots=True)
class FsaView:
    figures: list[MonthFigures]
    history: list[MonthRevision]

    @property
    def revised_months(self) -> set[str]:
        return {r.month for r in self.history if r.previous_revision is not None}


class RegulatorReports:
    def __init__(self, db: Database, *, journal: Journal, cases: CaseService,
                 signer: BundleSigner, mac_key_id: str, support_phone: str,
                 clock: Clock = utcnow) -> None:
        self.db, self.journal, self.cases, self.clock = db, journal, cases, clock
        self.signer, self.mac_key_id, self.support_phone = signer, mac_key_id, support_phone
        self.fsa = FsaReports(journal=journal, clock=clock)

    # -- FSA monthly ------------------------------------------------------------------

    def fsa_view(self) -> FsaView:
        with self.db.read() as session:
            return FsaView(self.fsa.latest(session), self.fsa.history(session))

    def run_fsa(self, *, operator: Operator) -> list[MonthRevision]:
        """Compute the figures from everything held now (the analysts' verdicts) and
        record a run; months whose figures changed get a new revision."""
        require(operator, Permission.DECIDE)
        with self.db.write() as session:
            figures, fraud = figures_from_db(session)
            revisions = self.fsa.record_run(session, figures, fraud=fraud, actor=operator.actor,
                                            source="risk_feedback", note=operator.reason)
            audit_desk(self.journal, session, operator, action="fsa_report_run", subject=None,
                       now=self.clock(), months=[r.month for r in revisions],
                       revised=[r.month for r in revisions if r.changed])
        return revisions

    def fsa_csv(self, *, exact_yen: bool = False) -> str:
        return to_csv(self.fsa_view().figures, exact_yen=exact_yen)

    def revisions_csv(self) -> str:
        return revisions_csv(self.fsa_view().history)

    # -- incident report --------------------------------------------------------------

    def incident_html(self, case_id: str, *, operator: Operator,
                      compensation_status: str | None = None,
                      compensation_yen: int | None = None) -> str:
        """The draft of the crime occurrence report for the case's account, with the
        case's contacts as measures taken; provisional fields as the domain says."""
        require(operator, Permission.VIEW)
        detail = self.cases.get(case_id)
        account = detail.summary.account
        now = self.clock()
        with self.db.read() as session:
            contacts = session.execute(
                select(CaseContact, Staff.name).join(Staff, Staff.id == CaseContact.staff_id)
                .where(CaseContact.case_id == case_id).order_by(CaseContact.at)).all()
            measures = [incident.Measure(f"お客様対応（{c.channel}）: {c.summary}", c.at, name)
                        for c, name in contacts]
            status = _COMPENSATION.get(compensation_status or "",
                                       incident.CompensationStatus.NOT_STARTED)
            report = incident.incident_report_from_db(
                session, incident.Case(case_id, (account,), f"口座 {account} の不正アクセス"),
                now=now, firm=incident.Firm(FIRM_NAME, contact=f"お客様サポート {self.support_phone}"),
                prepared_by=operator.name,
                compensation=incident.Compensation(status, compensation_yen),
                measures=measures)
        return incident.render_incident_html(report)

    # -- evidence ----------------------------------------------------------------------

    def evidence_bundle(self, account: str, *, operator: Operator) -> tuple[bytes, datetime]:
        """The account's signed evidence bundle (zip bytes); the export is audited with
        who and why, after the head the bundle proves."""
        require(operator, Permission.VIEW)
        now = self.clock()
        with self.db.read() as session:
            content = collect_bundle(session, account=account)
        data = build_bundle(content, signer=self.signer, mac_key_id=self.mac_key_id,
                            exported_at=now, exported_by=operator.actor, firm=FIRM_NAME)
        with self.db.write() as session:
            audit_desk(self.journal, session, operator, action="evidence_exported",
                       subject=account, now=now, head_seq=content.head_seq,
                       events=len(content.events), bytes=len(data))
        return data, now
