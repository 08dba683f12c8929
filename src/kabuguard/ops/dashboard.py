"""The desk's figures for today and this month (JST): logins, challenges, holds,
freezes, restricted symbols, alerts by reason, and how many active customers use a
phishing-resistant method (the FSA guideline asks firms to monitor adoption of the
protections and act on it).

Logins, challenges and holds come from the decision log (``risk_events``: every event
the engine decided, the app's own and the decision API's); freezes are the accounts
frozen by any means (an engine decision, the desk, a customer's report); "active
customers" are those with a successful login in the last 30 days.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kabuguard.audit.models import AuditRecord
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.events import JST
from kabuguard.identity.models import LoginRecord, Passkey
from kabuguard.ops.console_models import Alert, SymbolRestriction
from kabuguard.risk.models import RiskEvent
from kabuguard.store.database import Database

ACTIVE_WINDOW = timedelta(days=30)
FREEZE_ACTIONS = ("account_frozen", "console:account_frozen")


@dataclass(slots=True)
class Period:
    """The figures of one period."""

    start: datetime
    logins: int = 0
    logins_refused: int = 0
    challenges: int = 0
    holds: int = 0
    denials: int = 0
    freezes: int = 0
    restrictions_added: int = 0
    alerts: int = 0
    alerts_by_kind: dict[str, int] = field(default_factory=dict)
    alerts_by_reason: list[tuple[str, int]] = field(default_factory=list)


@dataclass(slots=True)
class Dashboard:
    now: datetime
    today: Period
    month: Period
    restricted_now: int
    active_customers: int
    with_passkey: int
    days: list[tuple[str, dict[str, int]]]  # this month, day by day

    @property
    def adoption(self) -> float:
        return self.with_passkey / self.active_customers if self.active_customers else 0.0


def _starts(now: datetime) -> tuple[datetime, datetime]:
    """The start of today and of this month in JST, as UTC-aware datetimes.

    >>> from datetime import UTC
    >>> day, month = _starts(datetime(2025, 4, 30, 16, 0, tzinfo=UTC))  # 1 May 01:00 JST
    >>> day.astimezone(JST).isoformat(), month.astimezone(JST).day
    ('2025-05-01T00:00:00+09:00', 1)
    """
    local = now.astimezone(JST)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


class DashboardService:
    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        self.db, self.clock = db, clock

    def build(self) -> Dashboard:
        now = self.clock()
        day, month = _starts(now)
        with self.db.read() as session:
            today_p = self._period(session, day, now)
            month_p = self._period(session, month, now)
            restricted = session.scalar(select(func.count()).select_from(SymbolRestriction)
                                        .where(SymbolRestriction.lifted_at.is_(None))) or 0
            active = set(session.execute(select(LoginRecord.customer_id).where(
                LoginRecord.success.is_(True), LoginRecord.ts >= now - ACTIVE_WINDOW,
                LoginRecord.customer_id.is_not(None)).distinct()).scalars())
            keyed = set(session.execute(select(Passkey.customer_id).where(
                Passkey.removed_at.is_(None)).distinct()).scalars())
            days = []
            start = month
            while start <= now:
                end = start + timedelta(days=1)
                counts = self._decisions(session, start, min(end, now))
                days.append((start.strftime("%m/%d"), counts))
                start = end
        return Dashboard(now, today_p, month_p, restricted, len(active), len(active & keyed),
                         days)

    @staticmethod
    def _decisions(session: Session, start: datetime, end: datetime) -> dict[str, int]:
        rows = session.execute(
            select(RiskEvent.type, RiskEvent.decision, func.count())
            .where(RiskEvent.ts >= start, RiskEvent.ts < end)
            .group_by(RiskEvent.type, RiskEvent.decision)).all()
        out = {"logins": 0, "logins_refused": 0, "challenges": 0, "holds": 0, "denials": 0}
        for etype, decision, count in rows:
            if etype == "login":
                out["logins"] += count
                if decision == "deny":
                    out["logins_refused"] += count
            if decision == "challenge":
                out["challenges"] += count
            elif decision == "hold":
                out["holds"] += count
            elif decision == "deny":
                out["denials"] += count
        return out

    def _period(self, session: Session, start: datetime, now: datetime) -> Period:
        period = Period(start=start, **self._decisions(session, start, now + timedelta(seconds=1)))
        frozen = set(session.execute(select(AuditRecord.subject).where(
            AuditRecord.ts >= start, AuditRecord.action.in_(FREEZE_ACTIONS))).scalars())
        for account, decision_json in session.execute(
                select(RiskEvent.account, RiskEvent.decision_json).where(
                    RiskEvent.ts >= start, RiskEvent.decision_json.like('%"freeze_account"%'))):
            frozen.update(a.get("account") or account
                          for a in json.loads(decision_json).get("actions", ())
                          if a.get("type") == "freeze_account")
        period.freezes = len(frozen - {None})
        period.restrictions_added = session.scalar(
            select(func.count()).select_from(SymbolRestriction)
            .where(SymbolRestriction.created_at >= start)) or 0
        kinds: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for kind, reasons_json in session.execute(
                select(Alert.kind, Alert.reasons_json).where(Alert.created_at >= start)):
            kinds[kind] += 1
            reasons.update(json.loads(reasons_json) or [kind])
        period.alerts = sum(kinds.values())
        period.alerts_by_kind = dict(kinds.most_common())
        period.alerts_by_reason = reasons.most_common(12)
        return period
