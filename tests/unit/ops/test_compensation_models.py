"""Compensation proposals in the database (SQLite and PostgreSQL): snapshots, approval
history, and the four-eyes rule kept by the database itself."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from factories.compensation import A_CUTOFF, case_a
from kabuguard.ops.approval import Person, Role, Status, approve, propose
from kabuguard.ops.compensation import NegligenceFactor, compute_compensation
from kabuguard.ops.compensation_models import CompensationProposal, new_proposal
from kabuguard.store.database import Database

NOW = datetime(2025, 8, 1, 1, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url):
    database = Database(database_url)
    yield database
    database.dispose()


def stored(db, presets):
    result = compute_compensation(
        case_a(late_buy=True), presets["case_by_case"], cutoff=A_CUTOFF,
        negligence=NegligenceFactor(Decimal("0.3"), "MFA turned off", "sue"))
    with db.write() as session:
        session.add(new_proposal(result, proposal_id="P-1", revision=1, created_by="ana",
                                 now=NOW))
    return result


def test_a_proposal_goes_through_approval_and_keeps_its_history(db, presets):
    result = stored(db, presets)
    with db.write() as session:
        row = session.get(CompensationProposal, "P-1")
        session.add(row.apply(propose(row.approval(), by=Person("ana", Role.ANALYST),
                                      digest=row.digest, now=NOW), actor="ana", now=NOW))
    with db.write() as session:
        row = session.get(CompensationProposal, "P-1")
        state = approve(row.approval(), by=Person("sue", Role.SUPERVISOR),
                        expected_digest=result.digest(), now=NOW)
        row.apply(state, actor="sue", now=NOW)
    with db.read() as session:
        row = session.scalars(select(CompensationProposal)).one()
        assert (row.status, row.proposed_by, row.decided_by) == ("approved", "ana", "sue")
        assert (row.total_yen, row.negligence_factor, row.cutoff_at) == (1_051_694, "0.3", A_CUTOFF)
        assert [(t.seq, t.from_status, t.to_status, t.actor) for t in row.transitions] == [
            (1, "draft", "proposed", "ana"), (2, "proposed", "approved", "sue")]
        assert row.result() == result
        assert row.approval().status is Status.APPROVED


def test_the_database_refuses_a_decision_by_the_proposer(db, presets):
    stored(db, presets)
    with pytest.raises(IntegrityError), db.write() as session:
        session.execute(update(CompensationProposal).values(
            status="approved", proposed_by="ana", decided_by="ana", decided_at=NOW))


def test_one_revision_number_per_case(db, presets):
    result = stored(db, presets)
    with pytest.raises(IntegrityError), db.write() as session:
        session.add(new_proposal(result, proposal_id="P-2", revision=1, created_by="ana",
                                 now=NOW))
