"""Four eyes: an analyst proposes, a different supervisor approves what was proposed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kabuguard.domain.errors import InvalidInput
from kabuguard.ops.approval import (
    Action,
    Approval,
    InvalidTransition,
    NotAllowed,
    Person,
    Role,
    SnapshotChanged,
    Status,
    allowed_actions,
    approve,
    propose,
    reject,
    withdraw,
)

NOW = datetime(2025, 8, 1, 1, 0, tzinfo=UTC)
ANA = Person("ana", Role.ANALYST)
SUE = Person("sue", Role.SUPERVISOR)
SAM = Person("sam", Role.SUPERVISOR)


def proposed(by=ANA):
    return propose(Approval(), by=by, digest="d1", now=NOW)


def test_the_happy_path():
    state = approve(proposed(), by=SUE, expected_digest="d1", now=NOW, note="checked")
    assert (state.status, state.proposed_by, state.decided_by, state.digest) == (
        Status.APPROVED, "ana", "sue", "d1")


def test_nobody_approves_their_own_proposal_not_even_a_supervisor():
    with pytest.raises(NotAllowed, match="sue proposed this compensation"):
        approve(proposed(by=SUE), by=SUE, expected_digest="d1", now=NOW)
    assert approve(proposed(by=SUE), by=SAM, expected_digest="d1", now=NOW).decided_by == "sam"


def test_an_analyst_cannot_decide():
    with pytest.raises(NotAllowed, match="only a supervisor"):
        approve(proposed(), by=Person("bob", Role.ANALYST), expected_digest="d1", now=NOW)
    with pytest.raises(NotAllowed, match="only a supervisor"):
        reject(proposed(), by=Person("bob", Role.ANALYST), reason="no", now=NOW)


def test_approval_names_the_snapshot_it_saw():
    with pytest.raises(SnapshotChanged):
        approve(proposed(), by=SUE, expected_digest="d2", now=NOW)


def test_rejection_needs_a_reason_and_is_final():
    with pytest.raises(InvalidInput, match="reason"):
        reject(proposed(), by=SUE, reason=" ", now=NOW)
    state = reject(proposed(), by=SUE, reason="negligence not reviewed", now=NOW)
    assert (state.status, state.note) == (Status.REJECTED, "negligence not reviewed")
    for action in (lambda: approve(state, by=SAM, expected_digest="d1", now=NOW),
                   lambda: propose(state, by=ANA, digest="d2", now=NOW),
                   lambda: withdraw(state, by=ANA, now=NOW)):
        with pytest.raises(InvalidTransition):
            action()


def test_approved_is_final():
    state = approve(proposed(), by=SUE, expected_digest="d1", now=NOW)
    with pytest.raises(InvalidTransition, match="cannot reject a approved proposal"):
        reject(state, by=SAM, reason="changed my mind", now=NOW)


def test_only_the_proposer_withdraws_and_it_returns_to_draft():
    with pytest.raises(NotAllowed):
        withdraw(proposed(), by=SUE, now=NOW)
    assert withdraw(proposed(), by=ANA, now=NOW) == Approval()


def test_times_must_be_aware():
    with pytest.raises(InvalidInput):
        propose(Approval(), by=ANA, digest="d1", now=datetime(2025, 8, 1))  # noqa: DTZ001


def test_allowed_actions_for_the_console():
    assert allowed_actions(Approval(), ANA) == {Action.PROPOSE}
    assert allowed_actions(proposed(), ANA) == {Action.WITHDRAW}
    assert allowed_actions(proposed(), SUE) == {Action.APPROVE, Action.REJECT}
    assert allowed_actions(proposed(), Person("bob", Role.ANALYST)) == set()
    assert allowed_actions(approve(proposed(), by=SUE, expected_digest="d1", now=NOW), SAM) == set()
