"""The alert queue: what the desk must look at, from three sources.

- ``engine``: every decision of the risk engine that stopped something or acted
  (hold, deny, freeze, revoked session, restricted symbol), read from the decision
  log in its own order (``risk_events.seq``) by ``AlertFeed.sync_decisions``. Denials
  that only echo an earlier stop (the account is frozen already, the session was
  stopped, the symbol is restricted) or a login's own failure (a wrong password) are
  left to the case timeline: they would drown the queue.
- ``cross_account``: the engine's cross-account alerts (a pumped symbol and its top
  buyers, a beneficiary selling into it, a news surge), persisted as they appear.
- ``customer_report``: the customer's own "this wasn't me" (site button, call centre,
  the decision API), which also froze the account.

One alert per decided event (``dedupe_key``), so feeding twice, or from several
processes, never doubles one. An alert naming an account joins that account's open
case (one is opened when there is none): the desk works accounts, not events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import InvalidInput, NotFound
from kabuguard.domain.ids import new_id
from kabuguard.journal import Journal
from kabuguard.ops.console_models import ALERT_STATUSES, Alert, AlertCursor, Case, Staff
from kabuguard.ops.staff import Operator, Permission, audit_desk, require
from kabuguard.risk.models import RiskEvent
from kabuguard.store.database import Database

if TYPE_CHECKING:
    from kabuguard.ops.restrictions import SymbolRestrictions

# Denials that repeat an earlier stop, or a login refused by its own outcome.
ECHO_REASONS = frozenset({"account_frozen", "session_stopped", "symbol_restricted",
                          "bad_password", "locked", "unknown_user", "bad_second_factor"})
ACTION_KINDS = {"freeze_account": "freeze", "restrict_symbol": "restrict",
                "revoke_session": "revoke"}
BATCH = 2000


def classify(event: Mapping[str, Any], decision: Mapping[str, Any]) -> tuple[str, str] | None:
    """(source, kind) of the alert a decided event raises, or None.

    >>> classify({"type": "order"}, {"decision": "hold", "reasons": ["r"], "actions": []})
    ('engine', 'hold')
    >>> classify({"type": "login"}, {"decision": "deny", "reasons": ["bad_password"],
    ...                               "actions": []}) is None
    True
    >>> classify({"type": "customer_report"}, {"decision": "allow", "reasons": [],
    ...          "actions": [{"type": "freeze_account"}]})
    ('customer_report', 'not_me')
    """
    actions = [a.get("type") for a in decision.get("actions") or ()]
    if event.get("type") == "customer_report":
        return ("customer_report", "not_me") if actions or event.get("report") == "not_me" else None
    for action, kind in ACTION_KINDS.items():
        if action in actions:
            return "engine", kind
    verdict = decision.get("decision")
    if verdict == "hold":
        return "engine", "hold"
    if verdict == "deny" and not set(decision.get("reasons") or ()) <= ECHO_REASONS:
        return "engine", "deny"
    return None


@dataclass(frozen=True, slots=True)
class AlertView:
    id: str
    created_at: datetime
    source: str
    kind: str
    account: str | None
    symbol: str | None
    event_id: str | None
    event_ts: datetime | None
    event_type: str | None
    decision: str | None
    reasons: list[str]
    detail: dict[str, Any]
    status: str
    assignee: str | None
    assignee_name: str | None
    case_id: str | None


class AlertFeed:
    """Fills the queue from the decision log and the engine's cross-account alerts."""

    def __init__(self, db: Database, *, restrictions: SymbolRestrictions | None = None,
                 clock: Clock = utcnow) -> None:
        self.db, self.restrictions, self.clock = db, restrictions, clock

    def sync_decisions(self) -> int:
        """Alerts for the decisions stored since the last call; returns how many new."""
        # A read first: the background loop calls this every few seconds, and a write
        # transaction each time would queue behind (and hold up) the order path.
        with self.db.read() as session:
            done = session.scalar(select(AlertCursor.position)
                                  .where(AlertCursor.name == "decisions")) or 0
            latest = session.scalar(select(func.max(RiskEvent.seq))) or 0
        if latest <= done:
            return 0
        created = 0
        while True:
            with self.db.write() as session:
                cursor = _cursor(session, "decisions")
                rows = session.execute(
                    select(RiskEvent.seq, RiskEvent.event_json, RiskEvent.decision_json)
                    .where(RiskEvent.seq > cursor.position)
                    .order_by(RiskEvent.seq).limit(BATCH)).all()
                for seq, event_json, decision_json in rows:
                    cursor.position = seq
                    event, decision = orjson.loads(event_json), orjson.loads(decision_json)
                    self._mirror(session, event, decision)
                    found = classify(event, decision)
                    if found is not None:
                        created += self._add_event_alert(session, event, decision, *found)
            if len(rows) < BATCH:
                return created

    def _mirror(self, session: Session, event: Mapping[str, Any],
                decision: Mapping[str, Any]) -> None:
        """The engine's own symbol restrictions, into the desk's list."""
        if self.restrictions is None:
            return
        for action in decision.get("actions") or ():
            if action.get("type") == "restrict_symbol":
                self.restrictions.mirror_engine(
                    session, symbol=action.get("symbol") or event.get("symbol"),
                    side=action.get("side") or "buy", now=self.clock(),
                    event_id=str(event["id"]))

    def _add_event_alert(self, session: Session, event: Mapping[str, Any],
                         decision: Mapping[str, Any], source: str, kind: str) -> int:
        symbol = next((a.get("symbol") for a in decision.get("actions") or ()
                       if a.get("type") == "restrict_symbol"), None) or event.get("symbol")
        return add_alert(
            session, now=self.clock(), dedupe_key=str(event["id"]), source=source, kind=kind,
            account=event.get("account"), symbol=symbol, event_id=str(event["id"]),
            event_ts=datetime.fromisoformat(event["ts"]).astimezone(UTC),
            event_type=event.get("type"), decision=decision.get("decision"),
            reasons=list(decision.get("reasons") or ()),
            detail={"actions": decision.get("actions") or [], "score": decision.get("score"),
                    "ip": event.get("ip"), "channel": event.get("channel")})

    def sync_cross_account(self, alerts: Sequence[Mapping[str, Any]]) -> int:
        """Persist the engine's cross-account alerts not stored yet (``alerts`` is
        ``StreamGuard.alerts``: rebuilt identically on restart, so a digest of each
        names it)."""
        with self.db.read() as session:
            done = session.scalar(select(AlertCursor.position)
                                  .where(AlertCursor.name == "cross_account"))
        if done == len(alerts):
            return 0
        created = 0
        with self.db.write() as session:
            cursor = _cursor(session, "cross_account")
            start = cursor.position if cursor.position <= len(alerts) else 0
            for alert in alerts[start:]:
                digest = hashlib.sha256(orjson.dumps(alert, option=orjson.OPT_SORT_KEYS)
                                        ).hexdigest()[:40]
                ts_s = alert.get("ts_s")
                created += add_alert(
                    session, now=self.clock(), dedupe_key=f"xa:{digest}",
                    source="cross_account", kind=str(alert.get("kind", "cross_account"))[:16],
                    account=alert.get("account"), symbol=alert.get("symbol"),
                    event_id=alert.get("event"),
                    event_ts=datetime.fromtimestamp(ts_s, UTC) if ts_s else None,
                    event_type="order", decision=None,
                    reasons=[str(alert.get("kind", ""))], detail=dict(alert))
            cursor.position = len(alerts)
        return created


def _cursor(session: Session, name: str) -> AlertCursor:
    cursor = session.get(AlertCursor, name)
    if cursor is None:
        cursor = AlertCursor(name=name, position=0)
        session.add(cursor)
        session.flush()
    return cursor


def add_alert(session: Session, *, now: datetime, dedupe_key: str, source: str, kind: str,
              account: str | None, symbol: str | None, event_id: str | None,
              event_ts: datetime | None, event_type: str | None, decision: str | None,
              reasons: list[str], detail: Mapping[str, Any]) -> int:
    """Store one alert in the caller's transaction (once per ``dedupe_key``), in the
    account's open case; returns 1 if it is new, 0 if it existed."""
    if session.scalar(select(Alert.id).where(Alert.dedupe_key == dedupe_key)) is not None:
        return 0
    case_id = open_case_for(session, account, now=now).id if account else None
    session.add(Alert(
        id=new_id("alr"), dedupe_key=dedupe_key, created_at=now, source=source, kind=kind,
        account=account, symbol=symbol, event_id=event_id, event_ts=event_ts,
        event_type=event_type, decision=decision,
        reasons_json=json.dumps(reasons, ensure_ascii=False),
        detail_json=json.dumps(detail, ensure_ascii=False, default=str), status="new",
        case_id=case_id, updated_at=now))
    session.flush()
    return 1


def open_case_for(session: Session, account: str, *, now: datetime) -> Case:
    """The account's open case, opened now if it has none."""
    case = session.execute(select(Case).where(Case.account == account, Case.status == "open")
                           .order_by(Case.opened_at).limit(1)).scalar_one_or_none()
    if case is None:
        case = Case(id=new_id("case"), account=account, status="open", opened_at=now,
                    updated_at=now)
        session.add(case)
        session.flush()
    return case


class AlertService:
    """The queue for people: filter, look, triage, assign."""

    def __init__(self, db: Database, *, journal: Journal, clock: Clock = utcnow) -> None:
        self.db, self.journal, self.clock = db, journal, clock

    def queue(self, *, status: str | None = None, source: str | None = None,
              kind: str | None = None, account: str | None = None,
              assignee: str | None = None, limit: int = 200) -> list[AlertView]:
        query = select(Alert, Staff.name).outerjoin(Staff, Staff.id == Alert.assignee)
        if status:
            query = query.where(Alert.status == status)
        if source:
            query = query.where(Alert.source == source)
        if kind:
            query = query.where(Alert.kind == kind)
        if account:
            query = query.where(Alert.account == account)
        if assignee:
            query = query.where(Alert.assignee == assignee)
        with self.db.read() as session:
            rows = session.execute(query.order_by(Alert.created_at.desc(), Alert.id)
                                   .limit(limit)).all()
        return [alert_view(a, name) for a, name in rows]

    def counts(self) -> dict[str, int]:
        with self.db.read() as session:
            return dict(session.execute(select(Alert.status, func.count())
                                        .group_by(Alert.status)).all())

    def get(self, alert_id: str) -> AlertView:
        with self.db.read() as session:
            row = session.execute(select(Alert, Staff.name)
                                  .outerjoin(Staff, Staff.id == Alert.assignee)
                                  .where(Alert.id == alert_id)).first()
        if row is None:
            raise NotFound("No such alert.", field="alert_id")
        return alert_view(*row)

    def triage(self, alert_id: str, *, status: str, assignee: str | None,
               operator: Operator) -> AlertView:
        """Set the alert's status (new, triaged, closed) and who works it; audited."""
        require(operator, Permission.WORK)
        if status not in ALERT_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(ALERT_STATUSES)}",
                               field="status")
        now = self.clock()
        with self.db.write() as session:
            alert = session.get(Alert, alert_id)
            if alert is None:
                raise NotFound("No such alert.", field="alert_id")
            if assignee and session.get(Staff, assignee) is None:
                raise InvalidInput("No such staff member.", field="assignee")
            before = {"status": alert.status, "assignee": alert.assignee}
            alert.status, alert.assignee, alert.updated_at = status, assignee or None, now
            audit_desk(self.journal, session, operator, action="alert_triaged",
                       subject=alert.account or alert.symbol, now=now, alert=alert_id,
                       before=before, after={"status": status, "assignee": assignee or None})
        return self.get(alert_id)


def alert_view(alert: Alert, assignee_name: str | None) -> AlertView:
    return AlertView(alert.id, alert.created_at, alert.source, alert.kind, alert.account,
                     alert.symbol, alert.event_id, alert.event_ts, alert.event_type,
                     alert.decision, json.loads(alert.reasons_json),
                     json.loads(alert.detail_json), alert.status, alert.assignee,
                     assignee_name, alert.case_id)
