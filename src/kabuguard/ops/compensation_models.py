"""Tables of compensation proposals and their approval history.

One row per proposal: the inputs and the result as JSON snapshots (so an approved
statement can be shown again exactly, whatever the presets or prices do later), the
digest that binds them, the figures the console lists, the negligence factor and cut-off,
and the approval state of ``approval.py``. A case that is rejected and recomputed gets a
new revision. The database itself refuses a decision by the proposer (``four_eyes``).
Every change of status appends a transition; the console also writes an audit record
in the same transaction.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kabuguard.ops.approval import Approval, Status
from kabuguard.ops.compensation import CompensationResult
from kabuguard.store.base import Base
from kabuguard.store.types import UTCDateTime, Yen

STATUSES = tuple(status.value for status in Status)


class CompensationProposal(Base):
    __tablename__ = "compensation_proposals"
    __table_args__ = (
        UniqueConstraint("case_id", "revision"),
        Index("ix_compensation_proposals_status", "status"),
        CheckConstraint("status IN ('draft', 'proposed', 'approved', 'rejected')",
                        name="status"),
        CheckConstraint("decided_by IS NULL OR decided_by <> proposed_by", name="four_eyes"),
        CheckConstraint("status NOT IN ('approved', 'rejected') OR "
                        "(decided_by IS NOT NULL AND decided_at IS NOT NULL)",
                        name="decision_recorded"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[str] = mapped_column(String(40))
    preset: Mapped[str] = mapped_column(String(40))
    preset_version: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(12))
    # CaseInputs.to_dict() and CompensationResult.to_dict(), as JSON text.
    inputs_json: Mapped[str] = mapped_column(Text)
    result_json: Mapped[str] = mapped_column(Text)
    # SHA-256 of the result snapshot (which embeds the inputs): what is approved.
    digest: Mapped[str] = mapped_column(String(64))
    total_yen: Mapped[int] = mapped_column(Yen)
    cash_to_customer_yen: Mapped[int] = mapped_column(Yen)
    # The factor as decimal text ("0.3"): exact on every backend (SQLite has no decimal).
    negligence_factor: Mapped[str | None] = mapped_column(String(12))
    negligence_reason: Mapped[str | None] = mapped_column(Text)
    negligence_set_by: Mapped[str | None] = mapped_column(String(120))
    cutoff_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    proposed_by: Mapped[str | None] = mapped_column(String(120))
    proposed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    transitions: Mapped[list[CompensationTransition]] = relationship(
        back_populates="proposal", order_by="CompensationTransition.seq", lazy="selectin")

    def approval(self) -> Approval:
        """The row's approval state, for ``approval.py``'s transitions."""
        return Approval(status=Status(self.status),
                        digest=self.digest if self.status != Status.DRAFT else None,
                        proposed_by=self.proposed_by, proposed_at=self.proposed_at,
                        decided_by=self.decided_by, decided_at=self.decided_at,
                        note=self.decision_note)

    def result(self) -> CompensationResult:
        """The stored result snapshot, rebuilt."""
        return CompensationResult.from_dict(json.loads(self.result_json))

    def apply(self, state: Approval, *, actor: str, now: datetime) -> CompensationTransition:
        """Store ``state`` (from an ``approval.py`` transition of ``self.approval()``) and
        append its transition. The caller adds both in its write transaction."""
        transition = CompensationTransition(
            proposal_id=self.id, seq=len(self.transitions) + 1, from_status=self.status,
            to_status=state.status.value, actor=actor, at=now, note=state.note,
            digest=self.digest)
        self.status = state.status.value
        self.proposed_by, self.proposed_at = state.proposed_by, state.proposed_at
        self.decided_by, self.decided_at = state.decided_by, state.decided_at
        self.decision_note = state.note
        self.updated_at = now
        self.transitions.append(transition)
        return transition


class CompensationTransition(Base):
    """One change of a proposal's status: who, when, from what to what, on which snapshot."""

    __tablename__ = "compensation_transitions"

    proposal_id: Mapped[str] = mapped_column(ForeignKey("compensation_proposals.id"),
                                             primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_status: Mapped[str] = mapped_column(String(10))
    to_status: Mapped[str] = mapped_column(String(10))
    actor: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))

    proposal: Mapped[CompensationProposal] = relationship(back_populates="transitions")


def new_proposal(result: CompensationResult, *, proposal_id: str, revision: int,
                 created_by: str, now: datetime) -> CompensationProposal:
    """A draft row holding ``result`` and the inputs it was computed from."""
    snapshot = result.to_dict()
    negligence = result.negligence
    return CompensationProposal(
        id=proposal_id, case_id=result.inputs.case_id, revision=revision,
        account_id=result.inputs.account_id, preset=result.preset_name,
        preset_version=result.preset_version, method=result.method.value,
        inputs_json=json.dumps(snapshot["inputs"], ensure_ascii=False, sort_keys=True),
        result_json=json.dumps(snapshot, ensure_ascii=False, sort_keys=True),
        digest=result.digest(), total_yen=result.total_yen,
        cash_to_customer_yen=result.cash_to_customer_yen,
        negligence_factor=str(negligence.factor) if negligence else None,
        negligence_reason=negligence.reason if negligence else None,
        negligence_set_by=negligence.set_by if negligence else None,
        cutoff_at=result.cutoff, status=Status.DRAFT.value, created_by=created_by,
        created_at=now, updated_at=now, transitions=[])
