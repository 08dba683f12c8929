"""The decision API's engine side: one StreamGuard fed in order, and the event log that
makes it restart-safe and retry-safe.

Decisions are sequential by design (the guard's state after one event is the input of
the next): one process lock, one write transaction at a time, and every event stored
with its decision before its caller is answered. Callers arriving while a write is
under way share the next one (group commit). A retried event id gets the stored
answer, not a second decision.

The log is the guard's memory: on start (``load``) a fresh StreamGuard decides every
stored event again in ``seq`` order, the order they were first decided in, with the
feedback applied at its own place. That costs a replay of the whole log (the engine's
replay speed, plus reading the rows); at scale, issue 8 snapshots the state instead.
Rows another process appended (a second worker on the same database) are fed in
the same way before each call, so every process decides on the whole stream; writers
are serialised by the database (SQLite's write lock, a table lock on PostgreSQL).

Arrival order is decision order. Events may arrive slightly out of time order (the
firm's clocks and network), up to ``tolerance_s`` before the latest event accepted;
older ones are refused, since the engine cannot go back and decide them in their place.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import structlog
from sqlalchemy import Connection, bindparam, exists, func, insert, select, text
from sqlalchemy.orm import Session

from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import Conflict, InvalidInput, KabuguardError, NotFound
from kabuguard.domain.ids import new_id
from kabuguard.guard.services import RiskResult
from kabuguard.journal import Journal
from kabuguard.risk.event_check import Checked, check_event
from kabuguard.risk.models import FEEDBACK_KINDS, RiskDeskAction, RiskEvent, RiskFeedback
from kabuguard.risk.stream_guard import StreamGuard
from kabuguard.store.database import Database

log = structlog.get_logger(__name__)

MAX_BATCH = 1000
REBUILD_WAIT_S = 2.0
_NO_RISK = RiskResult()
MAX_PROBLEMS = 20
CHALLENGE_KINDS = ("challenge_passed", "challenge_failed")
_SORTED = orjson.OPT_SORT_KEYS


class EventsInvalid(InvalidInput):
    """One or more events cannot be decided; nothing was stored."""


class EventIdReused(Conflict):
    code = "event_id_reused"


@dataclass(frozen=True, slots=True)
class Answer:
    """One event's decision as JSON bytes (the decisions.jsonl object), and whether it
    is the stored answer to an earlier call."""

    body: bytes
    replayed: bool


@dataclass(frozen=True, slots=True)
class LoadReport:
    events: int
    feedback: int
    differing: int
    seconds: float


class DecisionLogUnavailable(KabuguardError):
    status = 503
    code = "decision_log_unavailable"


@dataclass(slots=True)
class _Call:
    """One caller's events waiting for the next write (see ``DecisionLog.decide``)."""

    events: Sequence[Any]
    checked: list[Checked]
    batch: bool
    api_key_id: str | None
    on_write: Callable[[Session], None] | None
    source: str = "api"
    answers: list[Answer] = field(default_factory=list)
    error: BaseException | None = None
    done: bool = False


# Built once: composing a statement costs more than running it on SQLite.
_LATEST = select(select(func.max(RiskEvent.seq)).scalar_subquery(),
                 select(func.max(RiskFeedback.seq)).scalar_subquery(),
                 select(func.max(RiskDeskAction.seq)).scalar_subquery())
_STORED = (select(RiskEvent.id, RiskEvent.event_json, RiskEvent.decision_json)
           .where(RiskEvent.id.in_(bindparam("ids", expanding=True))))
_INSERT_EVENTS = insert(RiskEvent)
_EVENTS_AFTER = (select(RiskEvent.seq, RiskEvent.event_json, RiskEvent.decision_json)
                 .where(RiskEvent.seq > bindparam("after")).order_by(RiskEvent.seq)
                 # Streamed (a server-side cursor on PostgreSQL): the log can be long.
                 .execution_options(yield_per=2000))
_FEEDBACK_AFTER = (select(RiskFeedback.seq, RiskFeedback.kind, RiskEvent.event_json)
                   .join(RiskEvent, RiskEvent.id == RiskFeedback.event_id)
                   .where(RiskFeedback.seq > bindparam("after")).order_by(RiskFeedback.seq))
_DESK_AFTER = (select(RiskDeskAction.seq, RiskDeskAction.ts, RiskDeskAction.action_json)
               .where(RiskDeskAction.seq > bindparam("after")).order_by(RiskDeskAction.seq))


class DecisionLog:
    """See the module docstring. ``make_guard`` builds a fresh StreamGuard."""

    def __init__(self, db: Database, *, make_guard: Callable[[], StreamGuard],
                 clock: Clock = utcnow, tolerance_s: float = 300.0,
                 journal: Journal | None = None) -> None:
        self.db = db
        self.make_guard = make_guard
        self.clock = clock
        self.tolerance_s = tolerance_s
        self.journal = journal
        self.lock = threading.Lock()
        # Guards the StreamGuard's memory alone, held only while it decides one event
        # or answers ``assess``, never while waiting for anything else: the app's guard
        # asks ``assess`` from inside its own write transactions (a passkey login),
        # while ``lock`` is held across the log's writes, so ``assess`` must not take
        # ``lock`` (SQLite: one writer holds the database, the other the log).
        self._state = threading.Lock()
        self._queue: list[_Call] = []
        self._queue_lock = threading.Lock()
        self._guard: StreamGuard | None = None
        self._seq = 0
        self._high_s = float("-inf")

    # -- start ----------------------------------------------------------------------

    def load(self) -> LoadReport:
        """Rebuild the guard from the log (see the module docstring)."""
        with self.lock:
            return self._load()

    def _load(self) -> LoadReport:
        t0 = time.perf_counter()
        # Built aside and swapped in whole: ``assess`` never sees a half-built guard.
        guard = self.make_guard()
        self._guard, self._seq, self._high_s = None, 0, float("-inf")
        with self.db.read() as session:
            events, feedback, differing = self._catch_up(session.connection(), guard)
        self._guard = guard
        report = LoadReport(events, feedback, differing, time.perf_counter() - t0)
        if events or feedback:
            log.info("decision_log.loaded", events=events, feedback=feedback,
                     differing=differing, seconds=round(report.seconds, 3))
        if differing:
            # Expected after a change of policy or engine; otherwise a determinism bug.
            log.warning("decision_log.decisions_differ", differing=differing)
        return report

    def _guard_now(self) -> StreamGuard:
        if self._guard is None:
            self._load()
        assert self._guard is not None  # noqa: S101 - set by _load
        return self._guard

    def _catch_up(self, conn: Connection,
                  guard: StreamGuard | None = None) -> tuple[int, int, int]:
        """Feed the rows after ``self._seq`` (events, feedback and the desk's actions,
        merged by seq) to the guard (the live one unless given); returns (events,
        feedback, decisions that came out different)."""
        guard = guard or self._guard
        assert guard is not None  # noqa: S101
        fb_rows = conn.execute(_FEEDBACK_AFTER, {"after": self._seq}).all()
        side = sorted([(r.seq, r) for r in fb_rows]
                      + [(r.seq, r) for r in conn.execute(_DESK_AFTER, {"after": self._seq})],
                      key=lambda pair: pair[0])
        pending = iter(side)
        next_side = next(pending, None)
        events = differing = 0
        rows = conn.execute(_EVENTS_AFTER, {"after": self._seq})
        for seq, event_json, decision_json in rows:
            while next_side is not None and next_side[0] < seq:
                self._apply_side(guard, next_side[1])
                next_side = next(pending, None)
            event = orjson.loads(event_json)
            ts_s = datetime.fromisoformat(event["ts"]).timestamp()
            event["_ts"] = ts_s
            with self._state:
                decided = guard.decide(event)
            if orjson.dumps(decided).decode() != decision_json:
                differing += 1
            self._high_s = max(self._high_s, ts_s)
            self._seq = seq
            events += 1
        while next_side is not None:
            self._apply_side(guard, next_side[1])
            next_side = next(pending, None)
        return events, len(fb_rows), differing

    def _apply_side(self, guard: StreamGuard, row: Any) -> None:
        """A feedback row or a desk action row, at its place in the log."""
        if hasattr(row, "action_json"):
            with self._state:
                guard.apply_desk(orjson.loads(row.action_json), self._desk_ts(row.ts))
        else:
            self._apply_feedback(guard, orjson.loads(row.event_json), row.kind)
        self._seq = row.seq

    def _desk_ts(self, ts: datetime) -> float:
        # The stream's time at the action: never before its latest event.
        return max(ts.timestamp(), self._high_s)

    def _apply_feedback(self, guard: StreamGuard, event: dict[str, Any],
                        kind: str) -> list[dict[str, Any]]:
        ts_s = datetime.fromisoformat(event["ts"]).timestamp()
        with self._state:
            return guard.feedback(event, kind, max(ts_s, self._high_s))

    @property
    def guard(self) -> StreamGuard:
        """The live guard (built from the log on first use)."""
        with self.lock:
            return self._guard_now()

    # -- events ---------------------------------------------------------------------

    def decide(self, events: Sequence[object], *, batch: bool, api_key_id: str | None = None,
               on_write: Callable[[Session], None] | None = None,
               source: str = "api") -> list[Answer]:
        """Decide ``events`` in order and store them, all or none, before returning.
        ``source``: "api" (the decision API) or "app" (``record_app_events``).
        Field names in errors are ``events[i].field`` for a batch. Raises EventsInvalid
        (422) naming every bad event (up to 20), EventIdReused (409) for a known id
        sent with other content, DecisionLogUnavailable (503) if the write failed.

        Group commit: callers queue their events; whoever holds the lock next decides
        everything queued, in arrival order, in one transaction, so concurrent
        callers share one commit instead of queueing for one each."""
        if batch and not 1 <= len(events) <= MAX_BATCH:
            raise EventsInvalid(f"events must hold 1 to {MAX_BATCH} events.", field="events")
        call = _Call(events, self._check(events, batch), batch, api_key_id, on_write,
                     source=source)
        with self._queue_lock:
            self._queue.append(call)
        with self.lock:
            if not call.done:
                with self._queue_lock:
                    calls, self._queue = self._queue, []
                self._write(calls, leader=call)
        if call.error is not None:
            raise call.error
        return call.answers

    def _write(self, calls: list[_Call], leader: _Call) -> None:
        guard = self._guard_now()
        try:
            with self.db.write() as session:
                conn = session.connection()
                self._serialise_writers(conn)
                if self._latest_seq(conn) > self._seq:
                    self._catch_up(conn)
                ids = [e["id"] for c in calls for e in c.events]
                stored = {r.id: (r.event_json, r.decision_json)
                          for r in conn.execute(_STORED, {"ids": ids})}
                rows: list[dict[str, Any]] = []
                received = self.clock()
                for call in calls:
                    try:
                        call.answers = self._decide(guard, call, stored, rows, received)
                    except (EventsInvalid, EventIdReused) as exc:
                        call.error = exc  # refused before the guard changed
                if rows:
                    conn.execute(_INSERT_EVENTS, rows)
                for call in calls:
                    if call.error is None and call.on_write is not None:
                        call.on_write(session)
        except BaseException as exc:
            # The guard may have decided events that were not stored: rebuild it from
            # the log on the next call rather than drift from it.
            self._guard = None
            for call in calls:
                if call.error is None:
                    call.error = exc if call is leader else DecisionLogUnavailable(
                        "The decision could not be stored; send the event again.")
            log.exception("decision_log.write_failed", calls=len(calls))
        finally:
            for call in calls:
                call.done = True

    def _check(self, events: Sequence[object], batch: bool) -> list[Checked]:
        problems: list[dict[str, str]] = []
        checked: list[Checked] = []
        seen: dict[str, int] = {}
        for i, event in enumerate(events):
            where = f"events[{i}]." if batch else ""
            result = check_event(event)
            if not isinstance(result, Checked):
                field_ = f"{where}{result.field}" if result.field else where.rstrip(".")
                message = f"events[{i}]: {result.message}" if batch else result.message
                problems.append({"field": field_, "message": message})
            else:
                checked.append(result)
                event_id = event["id"]  # type: ignore[index]
                if event_id in seen:
                    problems.append({"field": f"{where}id", "message": (
                        f"{where}id {event_id!r} is also events[{seen[event_id]}].id")})
                seen.setdefault(event_id, i)
            if len(problems) >= MAX_PROBLEMS:
                break
        if problems:
            raise _invalid(problems)
        return checked

    def _decide(self, guard: StreamGuard, call: _Call, stored: dict[str, tuple[str, str]],
                rows: list[dict[str, Any]], received: datetime) -> list[Answer]:
        """One caller's events: checked against the log first (retries, time order),
        then decided; adds the new rows and their ids to ``rows`` and ``stored``."""
        problems = []
        high = self._high_s
        for i, (event, ok) in enumerate(zip(call.events, call.checked, strict=True)):
            where = f"events[{i}]." if call.batch else ""
            known = stored.get(event["id"])
            if known is not None:
                if orjson.dumps(event, option=_SORTED) != orjson.dumps(
                        orjson.loads(known[0]), option=_SORTED):
                    raise EventIdReused(
                        f"{where}id {event['id']!r} was decided before with other content; "
                        "a retry must send the same event, a new event a new id.",
                        field=f"{where}id")
                continue
            if ok.ts_s < high - self.tolerance_s:
                behind = (high - ok.ts_s) / 60
                problems.append({"field": f"{where}ts", "message": (
                    f"{where}ts is {behind:.1f} minutes before the latest event accepted "
                    f"({datetime.fromtimestamp(high, UTC).isoformat()}); events may arrive "
                    f"at most {self.tolerance_s / 60:g} minutes out of order")})
            high = max(high, ok.ts_s)
        if problems:
            raise _invalid(problems[:MAX_PROBLEMS])
        answers: list[Answer] = []
        for event, ok in zip(call.events, call.checked, strict=True):
            known = stored.get(event["id"])
            if known is not None:
                answers.append(Answer(known[1].encode(), replayed=True))
                continue
            event_json = orjson.dumps(event).decode()
            event["_ts"] = ok.ts_s
            with self._state:
                decision = guard.decide(event)
            del event["_ts"]
            body = orjson.dumps(decision)
            self._seq += 1
            decision_json = body.decode()
            rows.append({"id": event["id"], "seq": self._seq, "ts": ok.ts,
                         "received_at": received, "type": event["type"],
                         "account": event["account"], "decision": decision["decision"],
                         "event_json": event_json, "decision_json": decision_json,
                         "api_key_id": call.api_key_id, "source": call.source})
            stored[event["id"]] = (event_json, decision_json)
            answers.append(Answer(body, replayed=False))
        self._high_s = high
        return answers

    # -- kabuguard's own app ----------------------------------------------------------

    def assess(self, event: Mapping[str, Any]) -> RiskResult:
        """The risk answer for an action about to happen, from the same state as the
        decisions (``StreamGuard.assess``); changes nothing. While the guard is being
        rebuilt after a failed write (rare) and the rebuild takes longer than
        ``REBUILD_WAIT_S``, the answer is empty (the policy alone decides) and logged,
        rather than the request waiting on the log's writers."""
        guard = self._guard
        if guard is None:
            if not self.lock.acquire(timeout=REBUILD_WAIT_S):
                log.warning("decision_log.assess_without_engine", type=event.get("type"))
                return _NO_RISK
            try:
                guard = self._guard_now()
            finally:
                self.lock.release()
        with self._state:
            return guard.assess(event)

    def refresh(self) -> int:
        """Feed the guard what other processes have appended since (another worker's
        events): the app's background loop calls it, so an online answer lags other
        workers by at most its interval. Returns the rows fed."""
        with self.lock:
            guard_was_built = self._guard is not None
            self._guard_now()
            if not guard_was_built:
                return 0  # just rebuilt from the whole log
            with self.db.read() as session:
                conn = session.connection()
                if self._latest_seq(conn) <= self._seq:
                    return 0
                events, feedback, _differing = self._catch_up(conn)
        return events + feedback

    def record_app_events(self, events: Sequence[dict[str, Any]]) -> int:
        """Decide and store, in order, events kabuguard's own app has committed (its
        journal's, source "app"), so the decision API and the app's guard share one
        state. Never raises: the change each event describes is committed already, so
        a bad or late event is logged and left out, and a failed write is logged (the
        next start recovers it from the outbox, ``recover_app_events``). Returns how
        many were stored now (an event seen before is not stored twice)."""
        stored = 0
        for start in range(0, len(events), MAX_BATCH):
            chunk = events[start:start + MAX_BATCH]
            try:
                try:
                    answers = self.decide(chunk, batch=True, source="app")
                except (EventsInvalid, EventIdReused):
                    answers = self._record_one_by_one(chunk)
            except Exception:  # logged; recovered from the outbox at the next start
                log.exception("decision_log.app_events_failed", events=len(chunk))
                continue
            stored += sum(not a.replayed for a in answers)
        return stored

    def _record_one_by_one(self, events: Sequence[dict[str, Any]]) -> list[Answer]:
        answers: list[Answer] = []
        for event in events:
            try:
                answers += self.decide([event], batch=True, source="app")
            except (EventsInvalid, EventIdReused) as exc:
                log.warning("decision_log.app_event_refused", event_id=event.get("id"),
                            type=event.get("type"), error=exc.message)
        return answers

    def recover_app_events(self) -> int:
        """The app's events that committed but were never decided (the process
        stopped in between): outbox rows from the latest app event decided (less the
        reorder tolerance) on that are missing from the log, fed in outbox order.
        Run after ``load``. A log without any app event is not back-filled."""
        with self.db.read() as session:
            latest = session.scalar(select(func.max(RiskEvent.ts))
                                    .where(RiskEvent.source == "app"))
            if latest is None:
                return 0
            since = latest - timedelta(seconds=self.tolerance_s)
            missing = session.execute(
                select(OutboxEvent.payload)
                .where(OutboxEvent.ts >= since,
                       ~exists().where(RiskEvent.id == OutboxEvent.event_id))
                .order_by(OutboxEvent.seq)).scalars().all()
        if not missing:
            return 0
        recovered = self.record_app_events([orjson.loads(p) for p in missing])
        log.info("decision_log.app_events_recovered", events=recovered)
        return recovered

    # -- feedback -------------------------------------------------------------------

    def feedback(self, event_id: str, kind: str, *, note: str | None = None,
                 api_key_id: str | None = None, actor: str = "api",
                 on_write: Callable[[Session], None] | None = None) -> dict[str, Any]:
        """Tell the guard what followed event ``event_id`` and store it (see
        ``StreamGuard.feedback``). Raises NotFound for an unknown event, Conflict for a
        challenge outcome on an event that was not challenged."""
        if kind not in FEEDBACK_KINDS:
            raise InvalidInput(f"kind must be one of {', '.join(FEEDBACK_KINDS)}", field="kind")
        with self.lock:
            guard = self._guard_now()
            try:
                with self.db.write() as session:
                    conn = session.connection()
                    self._serialise_writers(conn)
                    if self._latest_seq(conn) > self._seq:
                        self._catch_up(conn)
                    out = self._feedback(session, guard, event_id, kind, note, api_key_id, actor)
                    if on_write is not None:
                        on_write(session)
            except (NotFound, Conflict):
                raise  # refused before the guard changed
            except BaseException:
                self._guard = None
                raise
        return out

    def _feedback(self, session: Session, guard: StreamGuard, event_id: str, kind: str,
                  note: str | None, api_key_id: str | None, actor: str) -> dict[str, Any]:
        row = session.execute(select(RiskEvent.event_json, RiskEvent.decision)
                              .where(RiskEvent.id == event_id)).first()
        if row is None:
            raise NotFound(f"No event with id {event_id!r} was decided here.", field="event_id")
        if kind in CHALLENGE_KINDS and row.decision != "challenge":
            raise Conflict(f"Event {event_id!r} was not challenged (its decision was "
                           f"{row.decision}), so it has no challenge outcome.", field="kind")
        event = orjson.loads(row.event_json)
        actions = self._apply_feedback(guard, event, kind)
        self._seq += 1
        now = self.clock()
        feedback_id = new_id("fb")
        session.execute(insert(RiskFeedback).values(
            id=feedback_id, seq=self._seq, event_id=event_id, kind=kind, note=note,
            actions_json=orjson.dumps(actions).decode(), created_at=now, api_key_id=api_key_id))
        if self.journal is not None:
            self.journal.record_admin(session, ts=now, actor=actor, action="risk:feedback",
                                      subject=event.get("account"),
                                      payload={"event": event_id, "kind": kind,
                                               "actions": actions})
        return {"id": feedback_id, "event_id": event_id, "kind": kind, "note": note,
                "actions": actions, "created_at": now.isoformat()}

    # -- the operations desk ----------------------------------------------------------

    def desk(self, actions: Sequence[Mapping[str, Any]], *, actor: str,
             on_write: Callable[[Session], None] | None = None) -> None:
        """Apply changes the operations desk made (``StreamGuard.apply_desk``: an
        account unfrozen or frozen, a symbol restricted or lifted, sessions revoked)
        and store them in the log's order, in one transaction, so the decisions that
        follow, and a rebuild, agree with the desk. ``on_write`` runs in it (the
        desk's audit record)."""
        if not actions:
            return
        with self.lock:
            guard = self._guard_now()
            try:
                with self.db.write() as session:
                    conn = session.connection()
                    self._serialise_writers(conn)
                    if self._latest_seq(conn) > self._seq:
                        self._catch_up(conn)
                    now = self.clock()
                    rows = []
                    for action in actions:
                        self._seq += 1
                        with self._state:
                            guard.apply_desk(action, self._desk_ts(now))
                        rows.append({"id": new_id("desk"), "seq": self._seq, "ts": now,
                                     "action_json": orjson.dumps(dict(action)).decode(),
                                     "actor": actor})
                    conn.execute(insert(RiskDeskAction), rows)
                    if on_write is not None:
                        on_write(session)
            except BaseException:
                self._guard = None  # rebuilt from the log on the next call
                raise

    # -- shared ---------------------------------------------------------------------

    def _serialise_writers(self, conn: Connection) -> None:
        """One writer at a time across processes: SQLite's write transaction already
        is; PostgreSQL needs the log locked against other writers (readers go on)."""
        if not self.db.is_sqlite:
            conn.execute(text("LOCK TABLE risk_events, risk_feedback, risk_desk_actions "
                              "IN EXCLUSIVE MODE"))

    @staticmethod
    def _latest_seq(conn: Connection) -> int:
        return max(seq or 0 for seq in conn.execute(_LATEST).one())

    def latest_decisions(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """The newest stored decisions, newest first (for tests and the console)."""
        with self.db.read() as session:
            rows = session.execute(select(RiskEvent.decision_json)
                                   .order_by(RiskEvent.seq.desc()).limit(limit)).scalars()
            return [orjson.loads(raw) for raw in rows]


def _invalid(problems: list[dict[str, str]]) -> EventsInvalid:
    text_ = "; ".join(p["message"] for p in problems[:3])
    if len(problems) > 3:
        text_ += f"; and {len(problems) - 3} more"
    return EventsInvalid(text_, field=problems[0]["field"], fields=problems)
