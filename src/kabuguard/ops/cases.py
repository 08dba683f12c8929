"""Cases: the desk's file per account, and the account's timeline.

The timeline is every event of the account the engine decided (``risk_events``: the
app's own and those sent to the decision API) plus the app's journaled events the
engine never saw (the outbox, with the engine off), each with where it came from
(address, country, network, device, browser), the decision, its reasons and actions,
and the analyst's verdict. A marker shows where the takeover began: where an analyst
put it, else the first event an analyst called fraud or the engine did not simply
allow (a login refused for a wrong password is the customer's typo as often as not).

Verdicts are stored as decision-API feedback (``analyst_fraud`` / ``analyst_legit``
in ``risk_feedback``): the FSA monthly report and the incident report read them there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kabuguard.broker.models import Account
from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import Conflict, InvalidInput, NotFound
from kabuguard.domain.netinfo import IpRanges
from kabuguard.domain.useragent import browser_label
from kabuguard.journal import Journal
from kabuguard.ops.alerts import alert_view, open_case_for
from kabuguard.ops.console_models import CONTACT_CHANNELS, Alert, Case, CaseContact, Staff
from kabuguard.ops.staff import Operator, Permission, audit_desk, require
from kabuguard.risk.models import RiskEvent, RiskFeedback
from kabuguard.store.database import Database

if TYPE_CHECKING:
    from kabuguard.risk.decision_log import DecisionLog

VERDICTS = ("analyst_fraud", "analyst_legit")
LOGIN_FAILURES = frozenset({"bad_password", "unknown_user", "locked"})
TIMELINE_MAX = 2000


@dataclass(slots=True)
class TimelineRow:
    event_id: str
    ts: datetime
    type: str
    source: str  # app | api | outbox (never decided)
    channel: str | None
    ip: str | None
    country: str | None
    asn: int | None
    ip_kind: str | None
    device: str | None
    user_agent: str | None
    browser: str
    session: str | None
    summary: dict[str, Any]
    decision: str | None
    level: str | None
    reasons: list[str]
    actions: list[dict[str, Any]]
    verdict: str | None
    takeover_start: bool = False
    after_takeover: bool = False

    @property
    def decided(self) -> bool:
        return self.source != "outbox"

    @property
    def flagged(self) -> bool:
        """Stopped or acted on by the engine (a login's own failure aside)."""
        if self.decision in (None, "allow"):
            return bool(self.actions)
        return not (self.decision == "deny" and set(self.reasons) <= LOGIN_FAILURES)


@dataclass(slots=True)
class Timeline:
    rows: list[TimelineRow]
    marker: str | None
    marker_by_analyst: bool


@dataclass(frozen=True, slots=True)
class CaseSummary:
    id: str
    account: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    assignee: str | None
    assignee_name: str | None
    alerts: int
    open_alerts: int
    account_status: str | None


@dataclass(slots=True)
class CaseDetail:
    summary: CaseSummary
    takeover_event_id: str | None
    alerts: list[Any] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)


_SUMMARY_FIELDS = ("outcome", "methods", "symbol", "side", "quantity", "order_type",
                   "notional_jpy", "amount_jpy", "bank_account", "field", "change", "method",
                   "stage", "report", "status", "order_id", "login_id")


def event_summary(event: Mapping[str, Any]) -> dict[str, Any]:
    """The type's own fields worth a column.

    >>> event_summary({"type": "order", "symbol": "7203", "side": "buy", "ip": "x"})
    {'symbol': '7203', 'side': 'buy'}
    """
    return {k: event[k] for k in _SUMMARY_FIELDS if event.get(k) not in (None, "", [])}


class CaseService:
    def __init__(self, db: Database, *, journal: Journal, ip_ranges: IpRanges,
                 decision_log: DecisionLog | None = None, clock: Clock = utcnow) -> None:
        self.db, self.journal, self.ip_ranges = db, journal, ip_ranges
        self.decision_log, self.clock = decision_log, clock

    # -- lists -----------------------------------------------------------------------

    def list(self, *, status: str | None = "open", account: str | None = None,
             limit: int = 200) -> list[CaseSummary]:
        query = select(Case)
        if status:
            query = query.where(Case.status == status)
        if account:
            query = query.where(Case.account == account)
        with self.db.read() as session:
            cases = session.execute(query.order_by(Case.opened_at.desc()).limit(limit)
                                    ).scalars().all()
            return [self._summary(session, c) for c in cases]

    def _summary(self, session: Session, case: Case) -> CaseSummary:
        counts = dict(session.execute(select(Alert.status, func.count())
                                      .where(Alert.case_id == case.id)
                                      .group_by(Alert.status)).all())
        name = session.get(Staff, case.assignee).name if case.assignee else None
        account = session.get(Account, case.account)
        return CaseSummary(case.id, case.account, case.status, case.opened_at, case.closed_at,
                           case.assignee, name, sum(counts.values()),
                           counts.get("new", 0) + counts.get("triaged", 0),
                           account.status if account is not None else None)

    def get(self, case_id: str) -> CaseDetail:
        with self.db.read() as session:
            case = session.get(Case, case_id)
            if case is None:
                raise NotFound("No such case.", field="case_id")
            alerts = session.execute(
                select(Alert, Staff.name).outerjoin(Staff, Staff.id == Alert.assignee)
                .where(Alert.case_id == case_id).order_by(Alert.created_at)).all()
            contacts = session.execute(
                select(CaseContact, Staff.name).join(Staff, Staff.id == CaseContact.staff_id)
                .where(CaseContact.case_id == case_id).order_by(CaseContact.at)).all()
            return CaseDetail(
                self._summary(session, case), case.takeover_event_id,
                [alert_view(a, n) for a, n in alerts],
                [{"at": c.at, "channel": c.channel, "summary": c.summary, "by": name}
                 for c, name in contacts])

    # -- changes ---------------------------------------------------------------------

    def open(self, account: str, *, operator: Operator) -> str:
        """The account's open case (opened now if none); audited when opened."""
        require(operator, Permission.WORK)
        account = account.strip()
        if not account or len(account) > 64:
            raise InvalidInput("Name the account.", field="account")
        now = self.clock()
        with self.db.write() as session:
            existing = session.scalar(select(Case.id).where(Case.account == account,
                                                            Case.status == "open"))
            if existing:
                return existing
            case = open_case_for(session, account, now=now)
            audit_desk(self.journal, session, operator, action="case_opened", subject=account,
                       now=now, case=case.id)
            return case.id

    def _case(self, session: Session, case_id: str) -> Case:
        case = session.get(Case, case_id)
        if case is None:
            raise NotFound("No such case.", field="case_id")
        return case

    def assign(self, case_id: str, *, assignee: str | None, operator: Operator) -> None:
        require(operator, Permission.WORK)
        now = self.clock()
        with self.db.write() as session:
            case = self._case(session, case_id)
            if assignee and session.get(Staff, assignee) is None:
                raise InvalidInput("No such staff member.", field="assignee")
            before, case.assignee, case.updated_at = case.assignee, assignee or None, now
            audit_desk(self.journal, session, operator, action="case_assigned",
                       subject=case.account, now=now, case=case_id, before=before,
                       after=assignee or None)

    def set_status(self, case_id: str, *, status: str, operator: Operator) -> None:
        """Close a case (its alerts close with it) or reopen it."""
        require(operator, Permission.WORK)
        if status not in ("open", "closed"):
            raise InvalidInput("status must be open or closed", field="status")
        now = self.clock()
        with self.db.write() as session:
            case = self._case(session, case_id)
            if status == "open" and case.status == "closed" and session.scalar(
                    select(Case.id).where(Case.account == case.account, Case.status == "open",
                                          Case.id != case_id)):
                raise Conflict("The account has another open case.", field="status")
            case.status, case.updated_at = status, now
            case.closed_at = now if status == "closed" else None
            if status == "closed":
                for alert in session.execute(select(Alert).where(
                        Alert.case_id == case_id, Alert.status != "closed")).scalars():
                    alert.status, alert.updated_at = "closed", now
            audit_desk(self.journal, session, operator, action=f"case_{status}",
                       subject=case.account, now=now, case=case_id)

    def add_contact(self, case_id: str, *, channel: str, summary: str,
                    operator: Operator) -> None:
        """One line of the contact log (who spoke with the customer, how, what)."""
        require(operator, Permission.WORK)
        if channel not in CONTACT_CHANNELS:
            raise InvalidInput(f"channel must be one of {', '.join(CONTACT_CHANNELS)}",
                               field="channel")
        text = summary.strip()
        if not text or len(text) > 4000:
            raise InvalidInput("Write what was said (up to 4,000 characters).",
                               field="summary")
        now = self.clock()
        with self.db.write() as session:
            case = self._case(session, case_id)
            session.add(CaseContact(case_id=case_id, at=now, channel=channel, summary=text,
                                    staff_id=operator.staff_id))
            case.updated_at = now
            audit_desk(self.journal, session, operator, action="contact_logged",
                       subject=case.account, now=now, case=case_id, channel=channel)

    def set_marker(self, case_id: str, *, event_id: str | None, operator: Operator) -> None:
        """Move the takeover marker to ``event_id`` (None: back to the automatic one)."""
        require(operator, Permission.WORK)
        now = self.clock()
        with self.db.write() as session:
            case = self._case(session, case_id)
            if event_id and not self._belongs(session, case.account, event_id):
                raise InvalidInput("The event is not in this account's timeline.",
                                   field="event_id")
            before = case.takeover_event_id
            case.takeover_event_id = event_id or None
            case.takeover_set_by = operator.staff_id if event_id else None
            case.updated_at = now
            audit_desk(self.journal, session, operator, action="takeover_marker_moved",
                       subject=case.account, now=now, case=case_id, before=before,
                       after=event_id or None)

    @staticmethod
    def _belongs(session: Session, account: str, event_id: str) -> bool:
        return bool(session.scalar(select(RiskEvent.id).where(
            RiskEvent.id == event_id, RiskEvent.account == account)) or session.scalar(
            select(OutboxEvent.event_id).where(OutboxEvent.event_id == event_id,
                                               OutboxEvent.account == account)))

    def verdict(self, case_id: str, *, event_id: str, kind: str,
                operator: Operator) -> dict[str, Any]:
        """The analyst's verdict on one decided event of the case's account, stored as
        decision-API feedback in the decision log's own transaction, with the audit."""
        require(operator, Permission.WORK)
        if kind not in VERDICTS:
            raise InvalidInput(f"kind must be one of {', '.join(VERDICTS)}", field="kind")
        if self.decision_log is None:
            raise Conflict("The risk engine is off: verdicts need its decision log.")
        with self.db.read() as session:
            case = self._case(session, case_id)
            owner = session.scalar(select(RiskEvent.account).where(RiskEvent.id == event_id))
        if owner != case.account:
            raise InvalidInput("The event is not a decided event of this account.",
                               field="event_id")

        def audit(session: Session) -> None:
            audit_desk(self.journal, session, operator, action="verdict", subject=case.account,
                       now=self.clock(), case=case_id, event=event_id, kind=kind)

        return self.decision_log.feedback(event_id, kind, note=operator.reason,
                                          actor=operator.actor, on_write=audit)

    # -- the timeline ----------------------------------------------------------------

    def timeline(self, account: str, *, marker: str | None = None) -> Timeline:
        """The account's events in time order, the takeover marked (see the module
        docstring); ``marker`` is the analyst's choice, if any."""
        with self.db.read() as session:
            decided = session.execute(
                select(RiskEvent.id, RiskEvent.event_json, RiskEvent.decision_json,
                       RiskEvent.source)
                .where(RiskEvent.account == account)
                .order_by(RiskEvent.ts.desc(), RiskEvent.seq.desc()).limit(TIMELINE_MAX)).all()
            known = {r.id for r in decided}
            journaled = session.execute(
                select(OutboxEvent.event_id, OutboxEvent.payload)
                .where(OutboxEvent.account == account)
                .order_by(OutboxEvent.ts.desc()).limit(TIMELINE_MAX)).all()
            verdicts = dict(session.execute(
                select(RiskFeedback.event_id, RiskFeedback.kind)
                .join(RiskEvent, RiskEvent.id == RiskFeedback.event_id)
                .where(RiskEvent.account == account, RiskFeedback.kind.in_(VERDICTS))
                .order_by(RiskFeedback.seq)).all())
        rows = [self._row(orjson.loads(ej), orjson.loads(dj), src, verdicts.get(eid))
                for eid, ej, dj, src in decided]
        rows += [self._row(orjson.loads(p), None, "outbox", None)
                 for eid, p in journaled if eid not in known]
        rows.sort(key=lambda r: (r.ts, r.event_id))
        ids = {r.event_id for r in rows}
        by_analyst = bool(marker and marker in ids)
        if not by_analyst:
            marker = next((r.event_id for r in rows
                           if r.verdict == "analyst_fraud"
                           or (r.flagged and r.verdict != "analyst_legit")), None)
        after = False
        for r in rows:
            if r.event_id == marker:
                r.takeover_start = after = True
            r.after_takeover = after
        return Timeline(rows, marker, by_analyst)

    def _row(self, event: Mapping[str, Any], decision: Mapping[str, Any] | None,
             source: str, verdict: str | None) -> TimelineRow:
        net = self.ip_ranges.lookup(event.get("ip"))
        ts = datetime.fromisoformat(event["ts"]).astimezone(UTC)
        return TimelineRow(
            event_id=str(event["id"]), ts=ts, type=str(event.get("type")), source=source,
            channel=event.get("channel"), ip=event.get("ip"),
            country=event.get("ip_country") or net.country,
            asn=event.get("ip_asn") or net.asn, ip_kind=event.get("ip_kind") or net.kind,
            device=event.get("device"), user_agent=event.get("user_agent"),
            browser=browser_label(event.get("user_agent")), session=event.get("session"),
            summary=event_summary(event),
            decision=decision.get("decision") if decision else None,
            level=decision.get("level") if decision else None,
            reasons=list(decision.get("reasons") or ()) if decision else [],
            actions=list(decision.get("actions") or ()) if decision else [],
            verdict=verdict)

