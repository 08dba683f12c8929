"""Editing, deleting or reordering any audit record is detected and named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from kabuguard.audit.models import AuditHead, AuditRecord


def _fill(services, n=12):
    t0 = datetime(2025, 4, 8, tzinfo=UTC)
    with services.db.write() as session:
        for i in range(n):
            services.audit.append(session, ts=t0 + timedelta(seconds=i), actor="test",
                                  action="withdrawal", subject="1000001",
                                  payload={"amount_jpy": 1000 + i, "note": "出金"})


def _verify(services):
    with services.db.read() as session:
        return services.audit.verify(session)


def test_intact_chain_verifies(services):
    _fill(services)
    result = _verify(services)
    assert result.ok and result.checked == 12


@pytest.mark.parametrize("target", [1, 6, 12])
@pytest.mark.parametrize("column", ["payload", "actor", "action", "subject", "ts"])
def test_edit_is_detected(services, target, column):
    _fill(services)
    values = {"payload": '{"amount_jpy":1}', "actor": "mallory", "action": "deposit",
              "subject": "1000002", "ts": datetime(2030, 1, 1, tzinfo=UTC)}
    with services.db.write() as session:
        session.execute(update(AuditRecord).where(AuditRecord.seq == target)
                        .values({column: values[column]}))
    result = _verify(services)
    assert not result.ok
    assert (result.first_bad_seq, result.problem) == (target, "edited")


@pytest.mark.parametrize("target", [1, 5, 11])
def test_delete_is_detected(services, target):
    _fill(services)
    with services.db.write() as session:
        session.execute(delete(AuditRecord).where(AuditRecord.seq == target))
    result = _verify(services)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, target, "deleted")


def test_truncation_at_the_end_is_detected(services):
    _fill(services)
    with services.db.write() as session:
        session.execute(delete(AuditRecord).where(AuditRecord.seq >= 11))
    result = _verify(services)
    assert (result.ok, result.first_bad_seq, result.problem) == (False, 11, "truncated")


def test_reorder_is_detected(services):
    """Swap the contents of records 4 and 5 (each keeps its own valid hash) by swapping
    their sequence numbers: the chain links no longer fit."""
    _fill(services)
    with services.db.write() as session:
        session.execute(update(AuditRecord).where(AuditRecord.seq == 4).values(seq=1000))
        session.execute(update(AuditRecord).where(AuditRecord.seq == 5).values(seq=4))
        session.execute(update(AuditRecord).where(AuditRecord.seq == 1000).values(seq=5))
    result = _verify(services)
    assert not result.ok
    assert result.first_bad_seq == 4
    assert result.problem in ("edited", "reordered")


def test_rehashed_forgery_without_the_key_is_detected(services):
    """An attacker who edits a record and recomputes plain SHA-256 links still fails:
    the chain is keyed."""
    import hashlib

    _fill(services)
    with services.db.write() as session:
        rows = session.execute(select(AuditRecord).order_by(AuditRecord.seq)).scalars().all()
        prev = rows[2].prev_hash
        for rec in rows[2:]:
            if rec.seq == 3:
                rec.payload = '{"amount_jpy":999999}'
            rec.prev_hash = prev
            rec.hash = hashlib.sha256(f"{prev}{rec.seq}{rec.payload}".encode()).hexdigest()
            prev = rec.hash
        session.execute(update(AuditHead).values(hash=prev))
    result = _verify(services)
    assert (result.ok, result.first_bad_seq) == (False, 3)


def test_broker_changes_are_chained(services):
    from factories.customers import make_customer
    from kabuguard.domain.events import RequestContext

    account = make_customer(services, cash_yen=10_000)
    services.broker.withdraw(account, 1_000, context=RequestContext(ip="192.0.2.1"))
    result = _verify(services)
    assert result.ok and result.checked >= 3
    with services.db.read() as session:
        actions = session.execute(select(AuditRecord.action).order_by(AuditRecord.seq)).scalars().all()
    assert actions[-1] == "withdrawal"
