"""The closed loop: customers and attackers act through the decision point, one event at
a time, and its answers change what happens next.

For every intent (behaviour.py for customers, campaigns.py for the crews), in time order,
:class:`ClosedLoop` writes at most one event (a login that starts with mistyped
passwords writes those attempts first), asks the decision point what the attempt needs
(``needs``), lets the actor prove it with a method it has (proof.py) and put those
methods in the event, submits it (``decide``) and acts on the answer:

- ``allow``: the action executes in the loop's books (books.py): orders fill at the
  symbol's simulated price and move it, withdrawals take cash out.
- ``challenge``: the actor passes when it can prove the level and, for a customer, does
  not give up (the scenario's ``abandon_share``, drawn per event from the seed); then the
  action executes. Otherwise the session ends there: none of its later intents become
  events, which is what the decision point relies on (a later action of a challenged
  session means the challenge was passed).
- ``hold``/``deny``: not executed; the session goes on. A login held or denied opens no
  session.

Side effects: a frozen account stops its attacker at once; its customer keeps trying
until the end of that JST day (and is denied), then gives up until an ``unfreeze_account``
(the loop has no operations desk, so in practice for the rest of the run). A revoked
session, or one ended by a failed or abandoned challenge, carries nothing more from
anyone (a crew riding the victim's session included). An attacker stops working a victim after a challenge it
cannot pass, a login that does not open a session, two denials in a row, or a freeze.

Sessions: a successful login gets the id ``s<n>``; the session's later actions carry it
with the login's address, device and user agent. A replayed stolen session
(``SessionReplayIntent``) reuses the victim's live session, from the crew's own address
with the stolen device id. Customers log out at the end of every session and the guard
forgets a session at its logout or after 30 idle minutes, so a cookie from an earlier
session is worth nothing: without a live session the crew waits for the victim's next
login (the infostealer on the victim's device sends the fresh cookie) and plays its
script from ``REPLAY_DELAY_S`` after it, every intent moved by the same amount (not past
the run's end).
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kabuguard.risk.evaluate import Evaluator
from kabuguard.risk.stream import JsonlWriter
from kabuguard.sim.behaviour import (
    BankChangeIntent,
    LoginIntent,
    LogoutIntent,
    OrderIntent,
    WithdrawalIntent,
)
from kabuguard.sim.books import Account, Books, Market
from kabuguard.sim.campaigns import BENEFICIARY, AttackIntent, RecoveryIntent, SessionReplayIntent
from kabuguard.sim.intents import LOGIN, LOGOUT, ORDER, WITHDRAWAL, Record, ts_text
from kabuguard.sim.metrics import AttackTally, LoopMetrics
from kabuguard.sim.population import SimCustomer
from kabuguard.sim.proof import Proofs, ProofTable
from kabuguard.sim.world import World

EVENTS_FILE = "events.jsonl"
LABELS_FILE = "labels.jsonl"
DECISIONS_FILE = "decisions.jsonl"
DAY_S = 86_400
JST_OFFSET_S = 9 * 3600
APP_PREFIX = "KabuguardApp"
DENIALS_TO_GIVE_UP = 2
REPLAY_DELAY_S = 10     # from the victim's login to the crew's first replayed action
_UNIFORM_SCALE = float(2**64)


class DecisionPoint(Protocol):
    """What the loop asks (``kabuguard.risk.stream_guard.StreamGuard``)."""

    def needs(self, event: Mapping[str, Any]) -> str | None: ...

    def decide(self, event: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(slots=True)
class _Session:
    """Where a session's events come from: its id (empty before the login succeeds),
    address, device, user agent, channel and the address's EVENTS.md enrichments."""

    sid: str
    ip: str
    device: str | None
    user_agent: str | None
    channel: str
    ip_fields: dict[str, Any]


@dataclass(slots=True)
class _Crew:
    """One crew's work on one account."""

    proofs: Proofs
    tally: AttackTally | None     # None for the crew's own accounts
    session: _Session | None = None
    replay_pending: bool = False
    denials: int = 0
    stopped: bool = False
    # A stolen session waited for: the replay (its address and device) and the intents
    # held back meanwhile; ``shift_s`` moves them to the victim's next session.
    replay: SessionReplayIntent | None = None
    stolen: bool = False          # its session is the victim's: it never logs out of it
    held: list[tuple[float, AttackIntent]] = field(default_factory=list)
    shift_s: float | None = None


# Marks the replay's own time in a waiting crew's held intents (the shift's origin).
_AnchorIntent: Any = None


class ClosedLoop:
    """One configuration's run: feed it every intent in time order (:meth:`legit`,
    :meth:`attack`), then :meth:`close`."""

    def __init__(self, world: World, *, proofs: ProofTable,
                 enrolled: Callable[[SimCustomer], tuple[str, ...]],
                 decision_point: DecisionPoint, market: Market, out: Path,
                 accounts: Iterable[str] = ()) -> None:
        self.w = world
        self.proofs = proofs
        self.enrolled = enrolled
        self.dp = decision_point
        self.market = market
        self.books = Books(world.opening)
        self.metrics = LoopMetrics(world.attacks)
        self.metrics.beneficiary_buys_jpy = sum(c.bought_before_jpy
                                                for c in world.crews.values() if c.in_run)
        out.mkdir(parents=True, exist_ok=True)
        self._events = JsonlWriter(out / EVENTS_FILE)
        self._labels = JsonlWriter(out / LABELS_FILE)
        self._decisions = JsonlWriter(out / DECISIONS_FILE)
        self._sessions = 0
        self.customer_sessions: dict[str, _Session] = {}
        # Crews waiting for their victim's next session, and their intents moved there
        # (a heap by time, played as the stream reaches them).
        self._waiting: dict[str, list[_Crew]] = {}
        self._later: list[tuple[float, int, AttackIntent]] = []
        self._later_seq = 0
        self.crews: dict[tuple[str, str], _Crew] = {}
        self.frozen: set[str] = set()
        self.give_up_at: dict[str, float] = {}
        # Sessions revoked, or ended by a challenge their actor failed or gave up: dead
        # for every actor (a crew riding a stolen session included), as the decision
        # point assumes.
        self.dead_sessions: set[str] = set()
        self._points = world.price_points
        self._next_point = 0
        # EVENTS.md's evaluation, fed as the files are written (reading a big run back
        # would hold every label and decision in memory): one-entry maps of the event's.
        self._label: dict[str, Mapping[str, Any]] = {}
        self._decision: dict[str, Mapping[str, Any]] = {}
        self.evaluator = Evaluator(self._label, self._decision, accounts)  # type: ignore[arg-type]

    # -- customers ----------------------------------------------------------------------

    def legit(self, r: Record) -> None:
        """One customer intent record (intents.py)."""
        ts_s = r[0]
        if self._later and self._later[0][0] <= ts_s:
            self._release_later(ts_s)
        if ts_s >= self._next_point_s():
            self._sample(ts_s)
        kind, account = r[3], r[4]
        if account in self.frozen and ts_s >= self.give_up_at.get(account, ts_s + 1):
            self.customer_sessions.pop(account, None)
            return
        if kind == LOGIN:
            self._customer_login(r)
            return
        session = self.customer_sessions.get(account)
        if session is None:
            return
        if session.sid in self.dead_sessions:
            del self.customer_sessions[account]
            return
        iid, ts = r[1], r[2]
        if kind == LOGOUT:
            del self.customer_sessions[account]
            self._emit(self._common(iid, ts, "logout", account, session), ts_s,
                       _legit_label(iid, self._customer_proofs(account)))
            return
        if kind == ORDER:
            event = self._order_event(iid, ts_s, ts, account, session, *r[5:])
        elif kind == WITHDRAWAL:
            event = self._withdrawal_event(iid, ts, account, session, r[5])
        else:
            event = self._bank_event(iid, ts, account, session, r[5])
        if event is not None:
            self._customer_action(event, ts_s)

    def _customer_action(self, event: dict[str, Any], ts_s: float) -> None:
        """An order, withdrawal or bank change in the customer's live session."""
        account = event["account"]
        proofs = self._customer_proofs(account)
        money = event["type"] != "bank_account_change"
        need = self.dp.needs(event)
        if need is not None:
            methods = proofs.step_up.get(need)
            if methods is not None:
                event["methods"] = list(methods)
                self.metrics.challenges += 1
        decision = self._emit(event, ts_s, _legit_label(event["id"], proofs))
        verdict = decision["decision"]
        if money:
            self.metrics.legit_orders_withdrawals += 1
        if verdict == "allow" or (verdict == "challenge"
                                  and self._customer_passes(decision, proofs, event)):
            self._execute(event, ts_s, None)
        elif verdict == "challenge":
            self.customer_sessions.pop(account, None)
            self.dead_sessions.add(event["session"])
        else:
            if money:
                self.metrics.holds_denials += 1
            if verdict == "deny":
                self.metrics.blocked.add(account)

    def _customer_proofs(self, account: str) -> Proofs:
        return self.proofs.customer(self.enrolled(self.w.customer(account)))

    def _enrolled_of(self, account: str) -> tuple[str, ...]:
        return self.enrolled(self.w.customer(account))

    def _customer_login(self, r: Record) -> None:
        ts_s, iid, ts, _, account, device, user_agent, ip, typos = r
        self.customer_sessions.pop(account, None)
        c = self.w.customer(account)
        proofs = self.proofs.customer(self.enrolled(c))
        self.metrics.legit_sessions += 1
        label = _legit_label(iid, proofs)
        where = self._where("", account, ip, device, user_agent)
        for typo in range(typos):
            tid = f"{iid}t{typo}"
            event = self._login_event(tid, ts, account, c.login_id, where)
            event["outcome"], event["methods"] = "bad_password", ["password"]
            self._emit(event, ts_s, {**label, "id": tid})
        event = self._login_event(iid, ts, account, c.login_id, where)
        methods = proofs.login.get(self.dp.needs(event) or "password")
        session = self._open(event, methods, proofs, where)
        decision = self._emit(event, ts_s, label)
        if session is None:
            self.metrics.blocked.add(account)
            return
        verdict = decision["decision"]
        if verdict == "allow" or (verdict == "challenge"
                                  and self._customer_passes(decision, proofs, event)):
            self.customer_sessions[account] = session
            if account in self._waiting:
                self._victim_logged_in(account, session, ts_s)
        elif verdict != "challenge":
            self.metrics.blocked.add(account)

    def _customer_passes(self, decision: Mapping[str, Any], proofs: Proofs,
                         event: Mapping[str, Any]) -> bool:
        """A challenge to a customer: passed unless it cannot prove the level (blocked)
        or gives up (abandoned, a per-event draw from the seed)."""
        self.metrics.challenges += 1
        if (decision.get("level") or "otp") not in proofs.passes:
            self.metrics.blocked.add(event["account"])
            return False
        if self._uniform(event["id"]) < self.w.abandon_share:
            self.metrics.abandoned += 1
            return False
        return True

    def _uniform(self, key: str) -> float:
        digest = hashlib.blake2b(f"{self.w.seed}:abandon:{key}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big") / _UNIFORM_SCALE

    # -- crews ----------------------------------------------------------------------------

    def attack(self, a: AttackIntent, ts_s: float, ts: str) -> None:
        """One attacker intent at ``ts_s``/``ts``."""
        if self._later and self._later[0][0] <= ts_s:
            self._release_later(ts_s)
        if ts_s >= self._next_point_s():
            self._sample(ts_s)
        intent = a.intent
        account = intent.account
        crew = self.crews.get((a.campaign, account))
        if crew is None:
            crew = self.crews[(a.campaign, account)] = self._new_crew(a)
        tally = crew.tally
        if tally is not None:
            tally.victims.add(account)
            tally.attempted_jpy += self._intended_jpy(intent, ts_s)
        if crew.replay is not None and not crew.stopped:
            if crew.shift_s is None:
                crew.held.append((ts_s, a))   # waiting for the victim's next session
            else:
                self._later_push(ts_s + crew.shift_s, a)
            return
        self._act(a, crew, ts_s, ts)

    def _act(self, a: AttackIntent, crew: _Crew, ts_s: float, ts: str) -> None:
        intent = a.intent
        account = intent.account
        if crew.stopped or account in self.frozen:
            crew.stopped = True
            return
        if isinstance(intent, LoginIntent):
            self._crew_login(a, crew, intent, ts_s, ts)
        elif isinstance(intent, SessionReplayIntent):
            self._replay(crew, intent, ts_s, ts)
        elif isinstance(intent, RecoveryIntent):
            self._recovery(a, crew, intent, ts_s, ts)
        elif isinstance(intent, LogoutIntent):
            if (crew.session is not None and not crew.stolen
                    and crew.session.sid not in self.dead_sessions):
                self._emit(self._common(a.id, ts, "logout", account, crew.session), ts_s,
                           self._fraud_label(a, crew))
            crew.session = None
        else:
            self._crew_action(a, crew, intent, ts_s, ts)

    def _new_crew(self, a: AttackIntent) -> _Crew:
        if a.attack == BENEFICIARY:
            return _Crew(self.proofs.attacker(BENEFICIARY, ()), None)
        victim = self._enrolled_of(a.intent.account)
        return _Crew(self.proofs.attacker(a.attack, victim), self.metrics.attacks[a.attack])

    def _intended_jpy(self, intent: object, ts_s: float) -> int:
        """What an order or withdrawal intent would move, at the price of the moment
        (what the crew meant to trade: before the books clip it)."""
        if isinstance(intent, OrderIntent):
            price = self.market.price_minor(intent.symbol, ts_s)
            return self.market.notional_jpy(intent.symbol, price, intent.quantity)
        if isinstance(intent, WithdrawalIntent):
            return intent.amount_jpy
        return 0

    def _crew_login(self, a: AttackIntent, crew: _Crew, intent: LoginIntent, ts_s: float,
                    ts: str) -> None:
        account = intent.account
        tally = crew.tally
        login_id = (self.w.crews[account].login_id if tally is None
                    else self.w.customer(account).login_id)
        if tally is not None:
            tally.attempts += 1
            self.metrics.month(ts[:7]).attempts += 1
        where = self._where("", account, intent.ip, intent.device, intent.user_agent)
        event = self._login_event(a.id, ts, account, login_id, where)
        methods = crew.proofs.login.get(self.dp.needs(event) or "password")
        session = self._open(event, methods, crew.proofs, where)
        decision = self._emit(event, ts_s, self._fraud_label(a, crew))
        if session is None or not self._crew_passes(crew, decision):
            crew.stopped = True
            return
        crew.session = session
        if tally is not None:
            tally.logins_succeeded += 1
            self.metrics.month(ts[:7]).accesses += 1

    def _replay(self, crew: _Crew, intent: SessionReplayIntent, ts_s: float, ts: str) -> None:
        """A stolen session: the victim's live one now; else the crew waits for the
        victim's next login (the malware on the victim's device sends the fresh cookie)
        and runs its script from ``REPLAY_DELAY_S`` after it."""
        account = intent.account
        if crew.tally is not None:
            crew.tally.attempts += 1
            self.metrics.month(ts[:7]).attempts += 1
        live = self.customer_sessions.get(account)
        if live is None:
            crew.replay = intent
            crew.held.append((ts_s, _AnchorIntent))
            self._waiting.setdefault(account, []).append(crew)
            return
        crew.session = self._where(live.sid, account, intent.ip, intent.device,
                                   intent.user_agent)
        crew.replay_pending = crew.stolen = True

    def _victim_logged_in(self, account: str, session: _Session, ts_s: float) -> None:
        """The victim's new session reaches the crews waiting for it."""
        for crew in self._waiting.pop(account, ()):
            replay = crew.replay
            assert replay is not None  # noqa: S101 - set when it started waiting
            anchor_s = crew.held[0][0]
            crew.shift_s = ts_s + REPLAY_DELAY_S - anchor_s
            crew.session = self._where(session.sid, account, replay.ip, replay.device,
                                       replay.user_agent)
            crew.replay_pending = crew.stolen = True
            for held_s, a in crew.held[1:]:
                self._later_push(held_s + crew.shift_s, a)
            crew.held.clear()

    def _later_push(self, ts_s: float, a: AttackIntent) -> None:
        if ts_s < self.w.end_s:
            self._later_seq += 1
            heapq.heappush(self._later, (ts_s, self._later_seq, a))

    def _release_later(self, until_s: float) -> None:
        """The crews' moved intents due by ``until_s``, in time order."""
        later = self._later
        while later and later[0][0] <= until_s:
            ts_s, _, a = heapq.heappop(later)
            if ts_s >= self._next_point_s():
                self._sample(ts_s)
            crew = self.crews[(a.campaign, a.intent.account)]
            self._act(a, crew, ts_s, ts_text(ts_s))

    def _recovery(self, a: AttackIntent, crew: _Crew, intent: RecoveryIntent, ts_s: float,
                  ts: str) -> None:
        event = self._common(a.id, ts, "recovery", intent.account,
                             self._where("", intent.account, intent.ip, intent.device,
                                         intent.user_agent))
        event["stage"] = "requested"
        need = self.dp.needs(event)
        # The crew controls the mailbox the recovery link and codes go to.
        if need is not None and need != "phishing_resistant":
            event["methods"] = ["email_otp"]
        decision = self._emit(event, ts_s, self._fraud_label(a, crew))
        verdict = decision["decision"]
        if not (verdict == "allow" or (verdict == "challenge"
                                       and decision.get("level") != "phishing_resistant")):
            crew.stopped = True

    def _crew_action(self, a: AttackIntent, crew: _Crew, intent: object, ts_s: float,
                     ts: str) -> None:
        session = crew.session
        if session is None or session.sid in self.dead_sessions:
            crew.stopped = True
            return
        event = self._crew_event(a.id, intent, ts_s, ts, session)
        if event is None:
            return
        need = self.dp.needs(event)
        if need is not None:
            methods = crew.proofs.step_up.get(need)
            if methods is not None:
                event["methods"] = list(methods)
        decision = self._emit(event, ts_s, self._fraud_label(a, crew))
        verdict = decision["decision"]
        if verdict == "allow" or (verdict == "challenge" and self._crew_passes(crew, decision)):
            crew.denials = 0
            if crew.replay_pending and crew.tally is not None:
                crew.tally.logins_succeeded += 1
                self.metrics.month(ts[:7]).accesses += 1
            crew.replay_pending = False
            self._execute(event, ts_s, a.attack)
        elif verdict == "challenge":
            crew.stopped = True
            self.dead_sessions.add(session.sid)
        elif verdict == "deny":
            crew.denials += 1
            crew.stopped = crew.denials >= DENIALS_TO_GIVE_UP

    @staticmethod
    def _crew_passes(crew: _Crew, decision: Mapping[str, Any]) -> bool:
        verdict = decision["decision"]
        return verdict == "allow" or (verdict == "challenge"
                                      and (decision.get("level") or "otp") in crew.proofs.passes)

    # -- events ---------------------------------------------------------------------------

    def _new_sid(self) -> str:
        self._sessions += 1
        return f"s{self._sessions}"

    def _where(self, sid: str, account: str, ip: str, device: str | None,
               user_agent: str | None) -> _Session:
        channel = "app" if user_agent and user_agent.startswith(APP_PREFIX) else "web"
        return _Session(sid, ip, device, user_agent, channel, self.w.ip_fields(account, ip))

    @staticmethod
    def _common(eid: str, ts: str, etype: str, account: str,
                session: _Session) -> dict[str, Any]:
        event = {"id": eid, "ts": ts, "type": etype, "account": account,
                 "session": session.sid or None, "channel": session.channel,
                 "ip": session.ip, "device": session.device,
                 "user_agent": session.user_agent}
        event.update(session.ip_fields)
        return event

    def _login_event(self, eid: str, ts: str, account: str, login_id: str,
                     where: _Session) -> dict[str, Any]:
        event = self._common(eid, ts, "login", account, where)
        event["login_id"] = login_id
        return event

    def _open(self, event: dict[str, Any], methods: tuple[str, ...] | None, proofs: Proofs,
              where: _Session) -> _Session | None:
        """Complete a login event: a session when ``methods`` reach the level asked,
        else ``bad_second_factor`` with what the actor did use."""
        if methods is None:
            event["outcome"], event["methods"] = "bad_second_factor", list(proofs.failed_login)
            return None
        session = _Session(self._new_sid(), where.ip, where.device, where.user_agent,
                           where.channel, where.ip_fields)
        event["session"] = session.sid
        event["outcome"], event["methods"] = "success", list(methods)
        return session

    def _crew_event(self, eid: str, intent: object, ts_s: float, ts: str,
                    session: _Session) -> dict[str, Any] | None:
        account: str = intent.account  # type: ignore[attr-defined]
        if isinstance(intent, OrderIntent):
            limit = float(intent.limit_price) if intent.limit_price is not None else None
            return self._order_event(eid, ts_s, ts, account, session, intent.symbol,
                                     intent.side, intent.quantity, intent.order_type, limit)
        if isinstance(intent, WithdrawalIntent):
            return self._withdrawal_event(eid, ts, account, session, intent.amount_jpy)
        if isinstance(intent, BankChangeIntent):
            return self._bank_event(eid, ts, account, session, intent.bank_account)
        return None

    def _order_event(self, eid: str, ts_s: float, ts: str, account: str, session: _Session,
                     code: str, side: str, quantity: int, order_type: str,
                     limit: float | None) -> dict[str, Any] | None:
        """An order clipped to the books (None when nothing is left: no shares to sell,
        no cash for one lot)."""
        books = self.books[account]
        price = self.market.price_minor(code, ts_s)
        if side == "sell":
            quantity = min(quantity, books.holdings.get(code, 0))
        else:
            cost = self.market.notional_jpy(code, price, quantity)
            if cost > books.cash_jpy:
                lot = self.w.symbols[code].lot_size
                per_lot = self.market.notional_jpy(code, price, lot) or 1
                quantity = books.cash_jpy // per_lot * lot
        if quantity <= 0:
            return None
        event = self._common(eid, ts, "order", account, session)
        event["order_id"] = "o-" + eid
        event["symbol"], event["side"], event["quantity"] = code, side, quantity
        event["order_type"], event["limit_price"] = order_type, limit
        event["notional_jpy"] = self.market.notional_jpy(code, price, quantity)
        event["_price"] = price
        return event

    def _withdrawal_event(self, eid: str, ts: str, account: str, session: _Session,
                          amount_jpy: int) -> dict[str, Any] | None:
        books = self.books[account]
        amount = min(amount_jpy, books.cash_jpy)
        if amount <= 0:
            return None
        event = self._common(eid, ts, "withdrawal", account, session)
        event["amount_jpy"], event["bank_account"] = amount, books.bank
        return event

    def _bank_event(self, eid: str, ts: str, account: str, session: _Session,
                    bank_account: str) -> dict[str, Any]:
        event = self._common(eid, ts, "bank_account_change", account, session)
        event["bank_account"] = self.w.token("bank", bank_account)
        return event

    def _emit(self, event: dict[str, Any], ts_s: float,
              label: Mapping[str, Any]) -> dict[str, Any]:
        """Write the event and its label, decide it, write and apply the decision."""
        price = event.pop("_price", None)
        self._events.write(event)
        self._labels.write(label)
        event["_ts"] = ts_s
        decision = self.dp.decide(event)
        self._decisions.write(decision)
        eid = event["id"]
        self._label.clear()
        self._decision.clear()
        self._label[eid], self._decision[eid] = label, decision
        self.evaluator.add(event)
        if price is not None:
            event["_price"] = price
        m = self.metrics
        m.events += 1
        m.decisions[decision["decision"]] = m.decisions.get(decision["decision"], 0) + 1
        if decision["actions"]:
            self._side_effects(event, decision["actions"], ts_s)
        return decision

    def _side_effects(self, event: Mapping[str, Any], actions: Sequence[Mapping[str, Any]],
                      ts_s: float) -> None:
        for action in actions:
            kind = action.get("type")
            if kind == "freeze_account":
                account = action.get("account") or event["account"]
                if account and account not in self.frozen:
                    self.frozen.add(account)
                    # The customer keeps trying until the end of this JST day.
                    local = ts_s + JST_OFFSET_S
                    self.give_up_at[account] = local - local % DAY_S + DAY_S - JST_OFFSET_S
                    if account not in self.w.victims and account not in self.w.crews:
                        self.metrics.frozen_legit.add(account)
                    if account not in self.w.crews:
                        self.metrics.blocked.add(account)
            elif kind == "unfreeze_account":
                account = action.get("account") or event["account"]
                self.frozen.discard(account)
                self.give_up_at.pop(account, None)
            elif kind == "revoke_session":
                sid = action.get("session") or event.get("session")
                if sid:
                    self.dead_sessions.add(sid)

    # -- execution ------------------------------------------------------------------------

    def _execute(self, event: Mapping[str, Any], ts_s: float, attack: str | None) -> None:
        """Carry out an allowed action in the books (and the market)."""
        etype = event["type"]
        books = self.books[event["account"]]
        if etype == "order":
            self._fill(event, books, ts_s, attack)
        elif etype == "withdrawal":
            books.cash_jpy -= event["amount_jpy"]
            if attack is not None and attack != BENEFICIARY:
                self.metrics.attacks[attack].lost_jpy += event["amount_jpy"]
        elif etype == "bank_account_change":
            books.bank = event["bank_account"]

    def _fill(self, event: Mapping[str, Any], books: Account, ts_s: float,
              attack: str | None) -> None:
        code, side, quantity = event["symbol"], event["side"], event["quantity"]
        price = event["_price"]
        limit = event["limit_price"]
        if limit is not None:
            limit_minor = round(limit * self.w.symbols[code].minor_per_unit)
            if (limit_minor < price) if side == "buy" else (limit_minor > price):
                return   # a limit that does not cross rests unfilled (not modelled)
        notional = event["notional_jpy"]
        if side == "buy":
            books.cash_jpy -= notional
            books.holdings[code] = books.holdings.get(code, 0) + quantity
        else:
            books.cash_jpy += notional
            left = books.holdings.get(code, 0) - quantity
            if left > 0:
                books.holdings[code] = left
            else:
                books.holdings.pop(code, None)
        self.market.trade(code, side, quantity, ts_s)
        if attack is not None:
            self._count_fraud_fill(event, attack, side, notional)

    def _count_fraud_fill(self, event: Mapping[str, Any], attack: str, side: str,
                          notional: int) -> None:
        m = self.metrics
        if attack == BENEFICIARY:
            if self.w.crews[event["account"]].in_run:
                if side == "sell":
                    m.beneficiary_sells_jpy += notional
                else:
                    m.beneficiary_buys_jpy += notional
            return
        tally = m.attacks[attack]
        tally.orders_executed += 1
        tally.fraud_trade_accounts.add(event["account"])
        tally.lost_jpy += notional
        month = m.month(event["ts"][:7])
        month.trades += 1
        if side == "sell":
            month.sell_jpy += notional
        else:
            month.buy_jpy += notional

    # -- labels ---------------------------------------------------------------------------

    @staticmethod
    def _fraud_label(a: AttackIntent, crew: _Crew) -> dict[str, Any]:
        label: dict[str, Any] = {"id": a.id, "fraud": True, "campaign": a.campaign,
                                 "attack": a.attack, "can_pass": list(crew.proofs.can_pass)}
        if a.methods:
            label["can_pass_methods"] = list(a.methods)
        return label

    # -- prices ---------------------------------------------------------------------------

    def _next_point_s(self) -> float:
        points = self._points
        return points[self._next_point][0] if self._next_point < len(points) else float("inf")

    def _sample(self, until_s: float) -> None:
        """Record the targets' prices at every sample time up to ``until_s``."""
        points, prices = self._points, self.metrics.prices
        while self._next_point < len(points) and points[self._next_point][0] <= until_s:
            at_s, text, code = points[self._next_point]
            price = self.market.price_minor(code, at_s)
            per_unit = self.w.symbols[code].minor_per_unit
            prices.setdefault(code, []).append([text, price / per_unit])
            self._next_point += 1

    def close(self) -> LoopMetrics:
        """Play the crews' moved intents left, sample the prices left, close the files;
        the run's counters."""
        self._release_later(float("inf"))
        self._sample(float("inf"))
        for writer in (self._events, self._labels, self._decisions):
            writer.close()
        return self.metrics


def _legit_label(iid: str, proofs: Proofs) -> dict[str, Any]:
    return {"id": iid, "fraud": False, "campaign": None, "attack": None,
            "can_pass": list(proofs.can_pass)}
