"""Score a guard's decisions against labels: the fraud it stopped and what it cost
legitimate customers (shared/spec/EVENTS.md, "How an evaluation counts").

A fraudulent event is **stopped** when

- its decision is ``hold`` or ``deny``, or ``challenge`` at a level not in its label's
  ``can_pass``;
- an earlier action (of an earlier event in stream order: an event's own actions act
  on later events only) froze its account (``freeze_account`` until ``unfreeze_account``),
  or restricted its order's symbol for its side (``restrict_symbol`` until
  ``lift_restriction``; an action without ``side`` covers both sides);
- its session was revoked (``revoke_session``) or was opened by a stopped login: a
  successful login judged by these same rules with the login's own label (a legitimate
  login challenged beyond its ``can_pass`` stops its session too).

An action without ``account``, ``symbol`` or ``session`` targets the event's own.
An event without a label counts as legitimate with ``can_pass`` ``[]``; an event
without a decision is an error (EvaluationError naming the id).

Definitions of the counts (per attack and overall):

- money = ``notional_jpy`` of orders plus ``amount_jpy`` of withdrawals;
- compromised accounts = accounts with at least one fraudulent event (so the crews'
  own "beneficiary" accounts count under their attack);
- an account is **stopped before its first fraudulent order** when its first fraudulent
  order (in stream order) is stopped, or, having no fraudulent order, at least one of
  its fraudulent events was stopped (the usual case: the login was stopped and the
  attacker never got to trade).

Friction counts legitimate events only: ``challenges`` (challenge decisions on events
of any kind) per 1,000 legitimate sessions (distinct sessions of legitimate successful
logins); ``holds_denials`` (on legitimate orders and withdrawals) per 1,000 of them,
and ``other_holds_denials`` on the other kinds of action (a held bank account change; a
login refused for its own wrong password is not counted: the guard took nothing
away); legitimate accounts (in ``accounts``, in the events or named by a freeze, less
the compromised ones) that a freeze action hit at any time, counted once; and
legitimate events stopped because the challenge level is not in their ``can_pass``.
A rate or share whose denominator is zero is ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

STOPPING = frozenset({"hold", "deny"})
NO_LEVELS: tuple[str, ...] = ()
UNKNOWN_ATTACK = "unknown"
BOTH_SIDES = ("buy", "sell")


class EvaluationError(ValueError):
    """The inputs cannot be evaluated (an event without a decision)."""


def _ratio(part: float, whole: float, scale: float = 1.0) -> float | None:
    """``part / whole * scale``, None when ``whole`` is 0.

    >>> _ratio(3, 4), _ratio(1, 0), _ratio(2, 1000, 1000)
    (0.75, None, 2.0)
    """
    return part / whole * scale if whole else None


@dataclass(slots=True)
class AttackTally:
    """Fraud counts of one attack (or of all)."""

    fraud_events: int = 0
    stopped_events: int = 0
    money_fraud_jpy: int = 0
    money_stopped_jpy: int = 0
    compromised_accounts: int = 0
    accounts_stopped_before_first_order: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "fraud_events": self.fraud_events,
            "stopped_events": self.stopped_events,
            "money_fraud_jpy": self.money_fraud_jpy,
            "money_stopped_jpy": self.money_stopped_jpy,
            "money_stopped_share": _ratio(self.money_stopped_jpy, self.money_fraud_jpy),
            "compromised_accounts": self.compromised_accounts,
            "accounts_stopped_before_first_order": self.accounts_stopped_before_first_order,
            "accounts_stopped_before_first_order_share": _ratio(
                self.accounts_stopped_before_first_order, self.compromised_accounts),
        }


@dataclass(slots=True)
class Friction:
    """What the decisions cost legitimate customers."""

    legit_sessions: int = 0
    challenges: int = 0
    legit_orders_withdrawals: int = 0
    holds_denials: int = 0
    other_holds_denials: int = 0
    legit_accounts: int = 0
    legit_accounts_frozen: int = 0
    legit_stopped_by_unpassable_challenge: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "legit_sessions": self.legit_sessions,
            "challenges": self.challenges,
            "challenges_per_1000_sessions": _ratio(self.challenges, self.legit_sessions, 1000),
            "legit_orders_withdrawals": self.legit_orders_withdrawals,
            "holds_denials": self.holds_denials,
            "other_holds_denials": self.other_holds_denials,
            "holds_denials_per_1000": _ratio(self.holds_denials, self.legit_orders_withdrawals, 1000),
            "legit_accounts": self.legit_accounts,
            "legit_accounts_frozen": self.legit_accounts_frozen,
            "frozen_per_10000_accounts": _ratio(self.legit_accounts_frozen, self.legit_accounts,
                                                10_000),
            "legit_stopped_by_unpassable_challenge": self.legit_stopped_by_unpassable_challenge,
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The result of :func:`evaluate`."""

    overall: AttackTally
    by_attack: dict[str, AttackTally]
    friction: Friction

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``overall``, ``by_attack`` (sorted by attack) and ``friction``."""
        return {"overall": self.overall.to_dict(),
                "by_attack": {k: self.by_attack[k].to_dict() for k in sorted(self.by_attack)},
                "friction": self.friction.to_dict()}


@dataclass(slots=True)
class _AccountFraud:
    """One compromised account within one scope (an attack, or all)."""

    any_stopped: bool = False
    first_order_stopped: bool | None = None  # None: no fraudulent order yet


class Evaluator:
    """The incremental form of :func:`evaluate`: ``add`` events in stream order, then
    ``result()``. ``add`` returns whether the event was stopped (for any event, by the
    rules above), so a caller can list what got through."""

    __slots__ = ("_by_attack", "_dead_sessions", "_fraud_accounts", "_friction", "_frozen",
                 "_frozen_ever", "_legit_sessions", "_overall", "_restricted", "_seen_accounts",
                 "accounts", "decisions", "labels")

    def __init__(self, labels: Mapping[str, dict[str, Any]], decisions: Mapping[str, dict[str, Any]],
                 accounts: Iterable[str] = ()) -> None:
        self.labels, self.decisions, self.accounts = labels, decisions, frozenset(accounts)
        self._frozen: set[str] = set()
        self._frozen_ever: set[str] = set()
        self._restricted: set[tuple[str, str]] = set()
        self._dead_sessions: set[str] = set()  # revoked, or opened by a stopped login
        self._overall = AttackTally()
        self._by_attack: dict[str, AttackTally] = {}
        # (None for all attacks, or the attack; account) -> what happened to it
        self._fraud_accounts: dict[tuple[str | None, str], _AccountFraud] = {}
        self._seen_accounts: set[str] = set()
        self._legit_sessions: set[str] = set()
        self._friction = Friction()

    def add(self, event: Mapping[str, Any]) -> bool:
        """Count one event; return True when it was stopped.

        Raises EvaluationError when the event has no decision."""
        event_id = event["id"]
        decision = self.decisions.get(event_id)
        if decision is None:
            msg = f"no decision for event {event_id!r}"
            raise EvaluationError(msg)
        label = self.labels.get(event_id)
        fraud = bool(label and label["fraud"])
        can_pass = label["can_pass"] if label else NO_LEVELS
        kind, account, session = event["type"], event.get("account"), event.get("session")
        verdict = decision["decision"]
        unpassable = verdict == "challenge" and decision.get("level") not in can_pass
        stopped = (verdict in STOPPING or unpassable
                   or (account is not None and account in self._frozen)
                   or (session is not None and session in self._dead_sessions)
                   or (kind == "order" and (event["symbol"], event["side"]) in self._restricted))
        if stopped and kind == "login" and session is not None and event.get("outcome") == "success":
            self._dead_sessions.add(session)
        if account is not None:
            self._seen_accounts.add(account)
        if fraud:
            attack = label["attack"] or UNKNOWN_ATTACK  # type: ignore[index]  # fraud: labelled
            self._count_fraud(event, kind, account, attack, stopped)
        else:
            self._count_legit(event, kind, session, verdict, unpassable)
        if decision["actions"]:
            self._apply(decision["actions"], event, account, session)
        return stopped

    def _count_fraud(self, event: Mapping[str, Any], kind: str, account: str | None,
                     attack: str, stopped: bool) -> None:
        money = (event["notional_jpy"] if kind == "order"
                 else event["amount_jpy"] if kind == "withdrawal" else 0)
        tally = self._by_attack.get(attack)
        if tally is None:
            tally = self._by_attack[attack] = AttackTally()
        for t in (self._overall, tally):
            t.fraud_events += 1
            t.money_fraud_jpy += money
            if stopped:
                t.stopped_events += 1
                t.money_stopped_jpy += money
        if account is None:  # e.g. stuffing a login id that names no account
            return
        for scope in (None, attack):
            state = self._fraud_accounts.get((scope, account))
            if state is None:
                state = self._fraud_accounts[scope, account] = _AccountFraud()
            state.any_stopped = state.any_stopped or stopped
            if kind == "order" and state.first_order_stopped is None:
                state.first_order_stopped = stopped

    def _count_legit(self, event: Mapping[str, Any], kind: str, session: str | None,
                     verdict: str, unpassable: bool) -> None:
        f = self._friction
        if verdict == "challenge":
            f.challenges += 1
            f.legit_stopped_by_unpassable_challenge += unpassable
        elif verdict in STOPPING:
            if kind in ("order", "withdrawal"):
                f.holds_denials += 1
            elif not (kind == "login" and event.get("outcome") not in (None, "success")):
                f.other_holds_denials += 1
        if kind in ("order", "withdrawal"):
            f.legit_orders_withdrawals += 1
        elif kind == "login" and session is not None and event.get("outcome") == "success":
            self._legit_sessions.add(session)

    def _apply(self, actions: Iterable[Mapping[str, Any]], event: Mapping[str, Any],
               account: str | None, session: str | None) -> None:
        for action in actions:
            kind = action["type"]
            if kind in ("freeze_account", "unfreeze_account"):
                target = action.get("account") or account
                if target is None:
                    continue
                if kind == "freeze_account":
                    self._frozen.add(target)
                    self._frozen_ever.add(target)
                else:
                    self._frozen.discard(target)
            elif kind in ("restrict_symbol", "lift_restriction"):
                symbol = action.get("symbol") or event.get("symbol")
                if symbol is None:
                    continue
                side = action.get("side")
                for s in (side,) if side else BOTH_SIDES:
                    if kind == "restrict_symbol":
                        self._restricted.add((symbol, s))
                    else:
                        self._restricted.discard((symbol, s))
            elif kind == "revoke_session":
                target = action.get("session") or session
                if target is not None:
                    self._dead_sessions.add(target)

    def result(self) -> Evaluation:
        """The counts so far (a new object; adding more events later does not change it)."""
        overall = replace(self._overall)
        by_attack = {k: replace(t) for k, t in self._by_attack.items()}
        compromised: set[str] = set()
        for (scope, account), state in self._fraud_accounts.items():
            tally = overall if scope is None else by_attack[scope]
            tally.compromised_accounts += 1
            if state.first_order_stopped or (state.first_order_stopped is None and state.any_stopped):
                tally.accounts_stopped_before_first_order += 1
            if scope is None:
                compromised.add(account)
        legit = (self._seen_accounts | self.accounts | self._frozen_ever) - compromised
        friction = replace(self._friction, legit_sessions=len(self._legit_sessions),
                           legit_accounts=len(legit),
                           legit_accounts_frozen=len(self._frozen_ever - compromised))
        return Evaluation(overall=overall, by_attack=by_attack, friction=friction)


def evaluate(events: Iterable[Mapping[str, Any]], labels: Mapping[str, dict[str, Any]],
             decisions: Mapping[str, dict[str, Any]], *,
             accounts: Mapping[str, dict[str, Any]] | None = None) -> Evaluation:
    """Count what the decisions stopped, by the rules of this module's docstring.

    ``events`` in stream order (as :func:`kabuguard.risk.stream.iter_events` yields them);
    ``labels`` and ``decisions`` by event id; ``accounts`` (by account) adds customers
    without events to the legitimate accounts. Raises EvaluationError for an event
    without a decision.
    """
    evaluator = Evaluator(labels, decisions, accounts or ())
    add = evaluator.add
    for event in events:
        add(event)
    return evaluator.result()
