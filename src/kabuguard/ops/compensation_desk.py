"""Compensation for a case, from what the brokerage holds: the fraudulent trades are
the account's executions from where the takeover began (the case timeline's marker)
until the cut-off, less any order an analyst called legitimate; the customer's own
holdings before the takeover are today's less what the intruder bought plus what it
sold; current prices are the market's now. ``ops/compensation.py`` computes, an
analyst proposes, a supervisor who did not propose approves (``ops/approval.py``,
four eyes in the database too), and the statement is printed from the approved
snapshot (``ops/statement.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kabuguard.broker.models import Account, Execution, Holding
from kabuguard.broker.services import BrokerService
from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import Conflict, InvalidInput, NotFound
from kabuguard.domain.events import JST
from kabuguard.domain.ids import new_id
from kabuguard.identity.models import Customer
from kabuguard.journal import Journal
from kabuguard.ops import approval
from kabuguard.ops.cases import CaseService
from kabuguard.ops.compensation import (
    CaseInputs,
    CompensationResult,
    FraudTrade,
    NegligenceFactor,
    compute_compensation,
)
from kabuguard.ops.compensation_models import CompensationProposal, new_proposal
from kabuguard.ops.compensation_policy import CompensationPreset, load_presets
from kabuguard.ops.console_models import Staff
from kabuguard.ops.firm_position import FirmPosition, firm_position, shares_outstanding
from kabuguard.ops.staff import Operator, Permission, Role, audit_desk, require
from kabuguard.ops.statement import StatementParty, render_statement_html, render_statement_pdf
from kabuguard.risk.models import RiskEvent, RiskFeedback
from kabuguard.store.database import Database


@dataclass(frozen=True, slots=True)
class CompensationRequest:
    """The analyst's choices on the compensation form."""

    preset: str
    negligence: Decimal | None = None
    negligence_reason: str = ""
    cutoff: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProposalView:
    id: str
    case_id: str
    revision: int
    account_id: str
    preset: str
    status: str
    total_yen: int
    cash_to_customer_yen: int
    digest: str
    created_at: datetime
    proposed_by: str | None
    proposed_by_name: str | None
    decided_by_name: str | None
    decided_at: datetime | None
    decision_note: str | None


def person(operator: Operator) -> approval.Person:
    """The approval's view of a console role: supervisors and admins decide."""
    role = (approval.Role.SUPERVISOR if operator.role in (Role.SUPERVISOR, Role.ADMIN)
            else approval.Role.ANALYST)
    return approval.Person(operator.staff_id, role)


class CompensationDesk:
    def __init__(self, db: Database, *, journal: Journal, broker: BrokerService,
                 cases: CaseService, support_phone: str, clock: Clock = utcnow) -> None:
        self.db, self.journal, self.broker, self.cases = db, journal, broker, cases
        self.support_phone, self.clock = support_phone, clock
        self.presets: Mapping[str, CompensationPreset] = load_presets()
        self._outstanding: dict[str, int] | None = None

    # -- the case's inputs -------------------------------------------------------------

    def inputs(self, case_id: str) -> CaseInputs:
        """The case's fraudulent trades, own holdings and current prices (see the module
        docstring). Raises Conflict when the timeline has no takeover marker."""
        detail = self.cases.get(case_id)
        account = detail.summary.account
        timeline = self.cases.timeline(account, marker=detail.takeover_event_id)
        start = next((r.ts for r in timeline.rows if r.takeover_start), None)
        if start is None:
            raise Conflict("Mark where the takeover began on the case timeline first.",
                           field="marker")
        now = self.clock()
        with self.db.read() as session:
            executions = session.execute(
                select(Execution).where(Execution.account_id == account, Execution.ts >= start)
                .order_by(Execution.ts, Execution.id)).scalars().all()
            legit = _legit_orders(session, account)
            trades = []
            for ex in executions:
                if ex.order_id in legit:
                    continue
                sym = self.broker.symbols[ex.symbol]
                price = Decimal(ex.price_minor) / sym.minor_per_unit * Decimal(ex.fx_rate)
                trades.append(FraudTrade(ts=ex.ts, symbol=ex.symbol, side=ex.side,
                                         quantity=ex.quantity, price_yen=price, fee_yen=0,
                                         trade_id=ex.id))
            held = dict(session.execute(select(Holding.symbol, Holding.quantity)
                                        .where(Holding.account_id == account)).all())
        own: dict[str, int] = {}
        for symbol in {t.symbol for t in trades}:
            net = sum(t.quantity if t.side == "buy" else -t.quantity
                      for t in trades if t.symbol == symbol)
            own[symbol] = max(0, held.get(symbol, 0) - net)
        prices = {}
        for symbol in own:
            quote = self.broker.quote(symbol)
            sym = self.broker.symbols[symbol]
            prices[symbol] = (Decimal(quote.price_minor) / sym.minor_per_unit
                              * self.broker.fx_rate(sym.currency))
        return CaseInputs(case_id=case_id, account_id=account, trades=tuple(trades),
                          own_holdings=own, current_prices_yen=prices, prices_as_of=now)

    def compute(self, case_id: str, request: CompensationRequest,
                operator: Operator) -> CompensationResult:
        preset = self.presets.get(request.preset)
        if preset is None:
            raise InvalidInput("Choose one of the presets.", field="preset")
        negligence = None
        if request.negligence is not None:
            negligence = NegligenceFactor(request.negligence,
                                          request.negligence_reason or operator.reason,
                                          operator.actor)
        return compute_compensation(self.inputs(case_id), preset, negligence=negligence,
                                    cutoff=request.cutoff)

    # -- the four eyes ---------------------------------------------------------------

    def propose(self, case_id: str, request: CompensationRequest, *,
                operator: Operator) -> str:
        """Compute now and propose it (a new revision of the case's compensation)."""
        require(operator, Permission.WORK)
        result = self.compute(case_id, request, operator)
        now = self.clock()
        with self.db.write() as session:
            revision = (session.scalar(select(func.max(CompensationProposal.revision))
                                       .where(CompensationProposal.case_id == case_id)) or 0) + 1
            if session.scalar(select(CompensationProposal.id).where(
                    CompensationProposal.case_id == case_id,
                    CompensationProposal.status.in_(("proposed", "approved")))):
                raise Conflict("This case has a compensation proposed or approved already.",
                               field="case_id")
            row = new_proposal(result, proposal_id=new_id("comp"), revision=revision,
                               created_by=operator.staff_id, now=now)
            state = approval.propose(row.approval(), by=person(operator), digest=row.digest,
                                     now=now)
            session.add(row)
            session.add(row.apply(state, actor=operator.staff_id, now=now))
            audit_desk(self.journal, session, operator, action="compensation_proposed",
                       subject=result.inputs.account_id, now=now, case=case_id,
                       proposal=row.id, preset=request.preset, total_yen=result.total_yen,
                       digest=row.digest)
            return row.id

    def decide(self, proposal_id: str, *, action: str, operator: Operator,
               expected_digest: str = "") -> None:
        """approve (for the snapshot the supervisor saw), reject, or withdraw (the
        proposer). ``approval.py`` says who may."""
        now = self.clock()
        with self.db.write() as session:
            row = session.get(CompensationProposal, proposal_id)
            if row is None:
                raise NotFound("No such compensation proposal.", field="proposal_id")
            who = person(operator)
            if action == "approve":
                require(operator, Permission.DECIDE)
                state = approval.approve(row.approval(), by=who, expected_digest=expected_digest,
                                         now=now, note=operator.reason)
            elif action == "reject":
                require(operator, Permission.DECIDE)
                state = approval.reject(row.approval(), by=who, reason=operator.reason, now=now)
            elif action == "withdraw":
                require(operator, Permission.WORK)
                state = approval.withdraw(row.approval(), by=who, now=now)
            else:
                raise InvalidInput("approve, reject or withdraw", field="action")
            session.add(row.apply(state, actor=operator.staff_id, now=now))
            audit_desk(self.journal, session, operator, action=f"compensation_{action}",
                       subject=row.account_id, now=now, case=row.case_id,
                       proposal=proposal_id, digest=row.digest, total_yen=row.total_yen)

    # -- reading ---------------------------------------------------------------------

    def proposals(self, *, case_id: str | None = None) -> list[ProposalView]:
        query = select(CompensationProposal)
        if case_id:
            query = query.where(CompensationProposal.case_id == case_id)
        with self.db.read() as session:
            names = {sid: name for sid, name in session.execute(select(Staff.id, Staff.name))}
            rows = session.execute(query.order_by(CompensationProposal.created_at.desc())
                                   ).scalars().all()
            return [ProposalView(r.id, r.case_id, r.revision, r.account_id, r.preset, r.status,
                                 r.total_yen, r.cash_to_customer_yen, r.digest, r.created_at,
                                 r.proposed_by, names.get(r.proposed_by or ""),
                                 names.get(r.decided_by or ""), r.decided_at, r.decision_note)
                    for r in rows]

    def result(self, proposal_id: str) -> tuple[CompensationProposal, CompensationResult]:
        with self.db.read() as session:
            row = session.get(CompensationProposal, proposal_id)
            if row is None:
                raise NotFound("No such compensation proposal.", field="proposal_id")
            return row, row.result()

    def statement_html(self, proposal_id: str) -> str:
        """The customer's statement (Japanese, then English) from the stored snapshot."""
        row, result = self.result(proposal_id)
        with self.db.read() as session:
            account = session.get(Account, row.account_id)
            customer = session.get(Customer, account.customer_id) if account else None
        preset = self.presets[row.preset]
        names = {code: (s.name_ja or s.name) for code, s in self.broker.symbols.items()
                 if code in {t.symbol for t in result.inputs.trades}}
        return render_statement_html(
            result, preset, party=StatementParty(customer.name if customer else row.account_id,
                                                 self.support_phone),
            approval=row.approval(), issued_at=row.decided_at or self.clock(),
            symbol_names=names)

    def statement_pdf(self, proposal_id: str) -> bytes:
        return render_statement_pdf(self.statement_html(proposal_id))

    def firm_positions(self, *, with_result: CompensationResult | None = None
                       ) -> list[FirmPosition]:
        """The shares the firm would hold from restorations approved or proposed (and
        ``with_result``, one being considered), per symbol, with the 5%
        large-shareholding warning level."""
        with self.db.read() as session:
            rows = session.execute(select(CompensationProposal).where(
                CompensationProposal.status.in_(("proposed", "approved")),
                CompensationProposal.method == "restoration")).scalars().all()
            results = [r.result() for r in rows]
        if with_result is not None:
            results.append(with_result)
        if self._outstanding is None:
            self._outstanding = shares_outstanding(self.broker.symbols, fx=self.broker.fx)
        return list(firm_position(results, self._outstanding).values())


def _legit_orders(session: Session, account: str) -> set[str]:
    """Orders of the account whose order event an analyst called legitimate."""
    legit_events = set(session.execute(
        select(RiskFeedback.event_id).join(RiskEvent, RiskEvent.id == RiskFeedback.event_id)
        .where(RiskEvent.account == account, RiskFeedback.kind == "analyst_legit")).scalars())
    if not legit_events:
        return set()
    out = set()
    for payload in session.execute(select(OutboxEvent.payload).where(
            OutboxEvent.account == account, OutboxEvent.type == "order",
            OutboxEvent.event_id.in_(legit_events))).scalars():
        order_id = json.loads(payload).get("order_id")
        if order_id:
            out.add(order_id)
    return out


def parse_request(form: Mapping[str, Any]) -> CompensationRequest:
    """The form's fields: preset, negligence (a share such as 0.3, or a percentage such
    as 30%), its reason, and a cut-off (date and time in JST).

    >>> parse_request({"preset": "sbi_2025", "negligence": "30%", "negligence_reason": "x"})
    CompensationRequest(preset='sbi_2025', negligence=Decimal('0.3'), negligence_reason='x', cutoff=None)
    """
    negligence = None
    raw = str(form.get("negligence") or "").strip()
    if raw:
        try:
            negligence = (Decimal(raw[:-1]) / 100 if raw.endswith("%") else Decimal(raw))
        except ArithmeticError:
            raise InvalidInput("Give the negligence as 0 to 1 or a percentage.",
                               field="negligence") from None
    cutoff = None
    text = str(form.get("cutoff") or "").strip()
    if text:
        try:
            cutoff = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput("Give the cut-off as a date and time.", field="cutoff") from None
        if cutoff.tzinfo is None:
            cutoff = cutoff.replace(tzinfo=JST)
    return CompensationRequest(preset=str(form.get("preset") or ""), negligence=negligence,
                               negligence_reason=str(form.get("negligence_reason") or "").strip(),
                               cutoff=cutoff)
