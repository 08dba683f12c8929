from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from kabuguard.identity.models import LoginRecord


def test_times_round_trip_as_aware_utc(services):
    jst = timezone(timedelta(hours=9))
    local = datetime(2025, 4, 3, 9, 15, 2, 123456, tzinfo=jst)
    with services.db.write() as session:
        session.add(LoginRecord(customer_id=None, ts=local, ip="::1", user_agent=None,
                                channel="web", outcome="unknown_user", success=False))
    with services.db.read() as session:
        ts = session.execute(select(LoginRecord.ts)).scalar_one()
    assert ts == local
    assert ts.tzinfo is not None
    assert ts.utcoffset() == timedelta(0)
    assert ts.tzinfo == UTC or ts.utcoffset() == UTC.utcoffset(None)


def test_naive_datetimes_are_refused(services):
    record = LoginRecord(customer_id=None, ts=datetime(2025, 1, 1), ip="::1",  # noqa: DTZ001
                         user_agent=None, channel="web", outcome="x", success=False)
    with services.db.write() as session:
        session.add(record)
        with pytest.raises(Exception, match="naive datetime"):
            session.flush()
        session.rollback()
