"""Which events were fraud, and which of them went through: what every report counts.

Fraud is what someone confirmed, never what the engine suspected:

- simulator streams: ``labels.jsonl`` (``fraud: true``);
- the decision API: the analysts' verdicts in ``risk_feedback`` (``analyst_fraud``,
  ``analyst_legit``). An event's latest verdict wins, so a wrong verdict can be
  corrected, and the verdict's time is when the firm learned of it: a case confirmed
  after a month was reported is a *late case* that revises that month.

"Went through" is EVENTS.md's "How an evaluation counts" turned around
(:class:`kabuguard.risk.evaluate.Evaluator`): not held or denied, not challenged beyond
what the actor passed, not after a freeze, a symbol restriction or a revoked session.
Whether a challenge was passed comes from the label's ``can_pass`` (simulator), else
from ``challenge_passed``/``challenge_failed`` feedback, else from docs/events.md: a
challenge passed shows as a later action of the same session. Events that have no
decision (the reference brokerage's outbox records what happened) all went through.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.events import JST
from kabuguard.risk.evaluate import Evaluator
from kabuguard.risk.models import RiskEvent, RiskFeedback

VERDICT_KINDS = ("analyst_fraud", "analyst_legit")
CHALLENGE_KINDS = ("challenge_passed", "challenge_failed")
# labels.jsonl ``attack`` of events in the criminals' own accounts (kabuguard.sim).
OWN_ACCOUNTS = frozenset({"beneficiary"})
_ALLOW: dict[str, Any] = {"decision": "allow", "actions": []}


@dataclass(frozen=True, slots=True)
class Verdict:
    """Someone's word on one event: fraud or not, from where, since when."""

    fraud: bool
    source: str  # "label", "analyst_fraud", "analyst_legit", "manual"
    confirmed_at: datetime | None = None
    attack: str | None = None
    note: str | None = None


class FraudSet:
    """The verdicts by event id. Immutable; ``merged`` gives a new one."""

    __slots__ = ("_verdicts",)

    def __init__(self, verdicts: Mapping[str, Verdict] | None = None) -> None:
        self._verdicts: dict[str, Verdict] = dict(verdicts or {})

    def is_fraud(self, event_id: str) -> bool:
        verdict = self._verdicts.get(event_id)
        return verdict is not None and verdict.fraud

    def verdict(self, event_id: str) -> Verdict | None:
        return self._verdicts.get(event_id)

    @property
    def fraud_ids(self) -> frozenset[str]:
        return frozenset(k for k, v in self._verdicts.items() if v.fraud)

    def __len__(self) -> int:
        return len(self._verdicts)

    def merged(self, other: FraudSet) -> FraudSet:
        """Both sets' verdicts; ``other`` wins where both speak of an event."""
        return FraudSet({**self._verdicts, **other._verdicts})

    @classmethod
    def from_labels(cls, labels: Mapping[str, Mapping[str, Any]], *,
                    confirmed_at: datetime | None = None,
                    exclude_attacks: Collection[str] = OWN_ACCOUNTS) -> FraudSet:
        """Fraudulent events of a labels.jsonl (legitimate ones are not verdicts).

        The crews' own accounts (attack ``beneficiary``: they sell into their pumps with
        their own credentials) are left out by default: fraud, but no unauthorised
        access, and not the victims' accounts the FSA's figures count."""
        return cls({i: Verdict(True, "label", confirmed_at, attack=lab.get("attack"))
                    for i, lab in labels.items()
                    if lab.get("fraud") and lab.get("attack") not in exclude_attacks})

    @classmethod
    def from_ids(cls, ids: Iterable[str], *, fraud: bool = True, source: str = "manual",
                 confirmed_at: datetime | None = None, note: str | None = None) -> FraudSet:
        return cls({i: Verdict(fraud, source, confirmed_at, note=note) for i in ids})


def load_verdicts(session: Session) -> FraudSet:
    """The analysts' verdicts in ``risk_feedback``, the latest per event winning."""
    rows = session.execute(
        select(RiskFeedback.event_id, RiskFeedback.kind, RiskFeedback.created_at,
               RiskFeedback.note)
        .where(RiskFeedback.kind.in_(VERDICT_KINDS)).order_by(RiskFeedback.seq)
    ).all()
    return FraudSet({event_id: Verdict(kind == "analyst_fraud", kind, created_at, note=note)
                     for event_id, kind, created_at, note in rows})


@dataclass(frozen=True, slots=True)
class DecidedStream:
    """Events in stream order with the decisions made on them (by id; an event from the
    outbox has none) and the challenges' known outcomes (by id, True = passed)."""

    events: list[dict[str, Any]]
    decisions: dict[str, dict[str, Any]]
    challenge_outcomes: dict[str, bool]


def load_stream(session: Session, *, accounts: Collection[str] | None = None) -> DecidedStream:
    """The events the firm holds: the decision API's log (``risk_events``, with its
    decisions) and the reference brokerage's outbox (events not in the log), merged in
    time order. ``accounts`` limits it to those accounts' events.

    Restricted to accounts, a freeze or symbol restriction raised by another account's
    event is not seen; the stored decisions already carry the guard's own state, so
    this matters only for streams whose decisions ignored it."""
    q_events = select(RiskEvent.seq, RiskEvent.ts, RiskEvent.event_json,
                      RiskEvent.decision_json).order_by(RiskEvent.seq)
    q_outbox = select(OutboxEvent.seq, OutboxEvent.ts, OutboxEvent.event_id,
                      OutboxEvent.payload).order_by(OutboxEvent.seq)
    q_feedback = (select(RiskFeedback.event_id, RiskFeedback.kind)
                  .where(RiskFeedback.kind.in_(CHALLENGE_KINDS)).order_by(RiskFeedback.seq))
    if accounts is not None:
        q_events = q_events.where(RiskEvent.account.in_(list(accounts)))
        q_outbox = q_outbox.where(OutboxEvent.account.in_(list(accounts)))
        q_feedback = q_feedback.join(RiskEvent, RiskEvent.id == RiskFeedback.event_id).where(
            RiskEvent.account.in_(list(accounts)))
    rows: list[tuple[datetime, int, dict[str, Any]]] = []
    decisions: dict[str, dict[str, Any]] = {}
    for seq, ts, event_json, decision_json in session.execute(q_events):
        event = orjson.loads(event_json)
        decisions[event["id"]] = orjson.loads(decision_json)
        rows.append((ts, seq, event))
    # The log's order is its seq; outbox rows go after log rows of the same instant.
    offset = 1 + max((r[1] for r in rows), default=0)
    for seq, ts, event_id, payload in session.execute(q_outbox):
        if event_id not in decisions:
            rows.append((ts, offset + seq, orjson.loads(payload)))
    rows.sort(key=lambda r: (r[0], r[1]))
    outcomes = {event_id: kind == "challenge_passed"
                for event_id, kind in session.execute(q_feedback)}
    return DecidedStream([r[2] for r in rows], decisions, outcomes)


def went_through(events: Sequence[Mapping[str, Any]],
                 decisions: Mapping[str, Mapping[str, Any]] | None, *,
                 labels: Mapping[str, Mapping[str, Any]] | None = None,
                 challenge_outcomes: Mapping[str, bool] | None = None) -> frozenset[str]:
    """Ids of the events (in stream order) that were not stopped, by the rules of the
    module docstring. Without ``decisions`` every event went through."""
    if decisions is None:
        return frozenset(e["id"] for e in events)
    outcomes = challenge_outcomes or {}
    labels = labels or {}
    last_of_session: dict[str, int] = {}
    for i, e in enumerate(events):
        session = e.get("session")
        if session is not None:
            last_of_session[session] = i
    # The Evaluator judges a challenge by the label's ``can_pass``: give every event the
    # levels its actor is known to have passed (fraud is not its concern here).
    passes: dict[str, dict[str, Any]] = {}
    full: dict[str, Mapping[str, Any]] = {}
    for i, e in enumerate(events):
        event_id = e["id"]
        decision = decisions.get(event_id, _ALLOW)
        full[event_id] = decision
        label = labels.get(event_id)
        if label is not None:
            passes[event_id] = {"fraud": False, "attack": None, "can_pass": label.get("can_pass") or []}
        elif decision["decision"] == "challenge":
            passed = outcomes.get(event_id)
            if passed is None:
                session = e.get("session")
                passed = session is not None and last_of_session[session] > i
            level = decision.get("level") or "otp"
            passes[event_id] = {"fraud": False, "attack": None, "can_pass": [level] if passed else []}
    evaluator = Evaluator(passes, full)  # type: ignore[arg-type]  # read-only use
    add = evaluator.add
    return frozenset(e["id"] for e in events if not add(e))


def jst_month(ts: str) -> str:
    """The JST calendar month (``YYYY-MM``) of an RFC 3339 time.

    >>> jst_month("2025-04-30T23:59:59.000+09:00"), jst_month("2025-04-30T15:00:00Z")
    ('2025-04', '2025-05')
    """
    if ts.endswith("+09:00"):  # the usual case: no parsing
        return ts[:7]
    return datetime.fromisoformat(ts).astimezone(JST).strftime("%Y-%m")


def parse_ts(ts: str) -> datetime:
    """An event's ``ts`` as an aware datetime."""
    return datetime.fromisoformat(ts)
