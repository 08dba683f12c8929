"""Four-eyes approval of a compensation: an analyst proposes, a different supervisor decides.

A small pure state machine; ``compensation_models.py`` stores it. A proposal binds the
exact snapshot (inputs and result) by its digest, and approval names the digest the
supervisor looked at (``expected_digest``): what is paid is what was approved, even if
someone recomputed the case in between. Approved and rejected are final; a rejected
case gets a new proposal (a new revision), so the history is never rewritten.

    draft ──propose──▶ proposed ──approve──▶ approved
      ▲                  │   └────reject───▶ rejected
      └────withdraw──────┘

>>> from datetime import UTC, datetime
>>> now = datetime(2025, 8, 1, tzinfo=UTC)
>>> state = propose(Approval(), by=Person("ana", Role.ANALYST), digest="d1", now=now)
>>> approve(state, by=Person("sue", Role.SUPERVISOR), expected_digest="d1", now=now).status
<Status.APPROVED: 'approved'>
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from kabuguard.domain.errors import Conflict, Forbidden, InvalidInput


class Status(StrEnum):
    DRAFT = "draft"
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class Role(StrEnum):
    ANALYST = "analyst"
    SUPERVISOR = "supervisor"


class Action(StrEnum):
    PROPOSE = "propose"
    WITHDRAW = "withdraw"
    APPROVE = "approve"
    REJECT = "reject"


class InvalidTransition(Conflict):
    """The action does not apply in the proposal's current status."""

    code = "compensation_invalid_transition"


class NotAllowed(Forbidden):
    """The person may not take this action (wrong role, or deciding their own proposal)."""

    code = "compensation_not_allowed"


class SnapshotChanged(Conflict):
    """The supervisor approved a different snapshot than the one proposed."""

    code = "compensation_snapshot_changed"


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    role: Role


@dataclass(frozen=True, slots=True)
class Approval:
    """Where a proposal stands. ``digest`` is the proposed snapshot's SHA-256."""

    status: Status = Status.DRAFT
    digest: str | None = None
    proposed_by: str | None = None
    proposed_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None


_FROM = {Action.PROPOSE: Status.DRAFT, Action.WITHDRAW: Status.PROPOSED,
         Action.APPROVE: Status.PROPOSED, Action.REJECT: Status.PROPOSED}


def _require(state: Approval, action: Action, now: datetime) -> None:
    if now.tzinfo is None:
        raise InvalidInput("now must be timezone-aware")
    if state.status is not _FROM[action]:
        raise InvalidTransition(f"cannot {action.value} a {state.status.value} proposal",
                                status=state.status.value, action=action.value)


def _require_decider(state: Approval, by: Person, action: Action) -> None:
    if by.role is not Role.SUPERVISOR:
        raise NotAllowed(f"only a supervisor may {action.value}", action=action.value)
    if by.id == state.proposed_by:
        # Four eyes: the person who proposed an amount never approves it too.
        raise NotAllowed(f"{by.id} proposed this compensation and may not {action.value} it",
                         action=action.value)


def propose(state: Approval, *, by: Person, digest: str, now: datetime) -> Approval:
    """Draft → proposed, binding ``digest``. Raises InvalidTransition."""
    _require(state, Action.PROPOSE, now)
    if not digest:
        raise InvalidInput("a proposal needs the snapshot's digest")
    return Approval(status=Status.PROPOSED, digest=digest, proposed_by=by.id, proposed_at=now)


def withdraw(state: Approval, *, by: Person, now: datetime) -> Approval:
    """Proposed → draft, by the proposer (to correct it before anyone decides)."""
    _require(state, Action.WITHDRAW, now)
    if by.id != state.proposed_by:
        raise NotAllowed("only the proposer may withdraw a proposal", action="withdraw")
    return Approval()


def approve(state: Approval, *, by: Person, expected_digest: str, now: datetime,
            note: str | None = None) -> Approval:
    """Proposed → approved by a supervisor who did not propose it, for the snapshot the
    supervisor saw. Raises InvalidTransition, NotAllowed or SnapshotChanged."""
    _require(state, Action.APPROVE, now)
    _require_decider(state, by, Action.APPROVE)
    if expected_digest != state.digest:
        raise SnapshotChanged("the compensation changed since it was proposed; review it again",
                              expected=expected_digest, proposed=state.digest)
    return replace(state, status=Status.APPROVED, decided_by=by.id, decided_at=now, note=note)


def reject(state: Approval, *, by: Person, reason: str, now: datetime) -> Approval:
    """Proposed → rejected, by a supervisor who did not propose it, with the reason."""
    _require(state, Action.REJECT, now)
    _require_decider(state, by, Action.REJECT)
    if not reason.strip():
        raise InvalidInput("a rejection needs its reason")
    return replace(state, status=Status.REJECTED, decided_by=by.id, decided_at=now,
                   note=reason)


def allowed_actions(state: Approval, person: Person) -> frozenset[Action]:
    """What ``person`` may do now (for the console's buttons)."""
    out = set()
    if state.status is Status.DRAFT:
        out.add(Action.PROPOSE)
    elif state.status is Status.PROPOSED:
        if person.id == state.proposed_by:
            out.add(Action.WITHDRAW)
        elif person.role is Role.SUPERVISOR:
            out |= {Action.APPROVE, Action.REJECT}
    return frozenset(out)
