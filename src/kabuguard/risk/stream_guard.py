"""The guard over a stream of interchange events (EVENTS.md): policy and risk, one
decision per event, with the stream's own bookkeeping of sessions, freezes and symbol
restrictions.

This one object makes the decisions of ``kabuguard replay``, of the simulator's closed
loop, of the decision API and (read-only, ``assess``) of the reference brokerage's own
``Guard.check`` (docs/risk-engine.md), so they cannot drift: the simulator asks
``needs`` what to prove, submits the event, acts on ``decide``'s answer, and the
streams it writes replay to the same decisions.

How a stream tells what happened after a decision (the spec's rules, plus two of ours):
- a freeze stops every later action of the account; a restriction every later order of
  its symbol and side; a revoked session, or one whose login was stopped (hold, deny),
  carries no later action (EVENTS.md "Actions last");
- an event's ``methods`` (a producer field on any event, docs/events.md) is the step-up
  its actor completed for it before submitting: it counts for this event and, as the
  session's latest authentication, for later ones;
- a challenged event whose session carries a later action was passed: the session has
  proven the challenge's level from then on (an actor who fails or abandons a challenge
  ends the session there).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kabuguard.domain.assurance import METHOD_LEVEL, Level
from kabuguard.domain.events import Channel, RequestContext
from kabuguard.domain.netinfo import IpRanges
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import Actor, Decision, Outcome
from kabuguard.guard.policy import Policy
from kabuguard.guard.services import Guard, RiskResult
from kabuguard.risk.state import SESSION_ABSOLUTE_S, SessionState

if TYPE_CHECKING:
    from kabuguard.risk.rules import RuleSet

ACTIONS: Mapping[str, Action] = {
    "login": Action.LOGIN, "order": Action.ORDER, "withdrawal": Action.WITHDRAWAL,
    "bank_account_change": Action.BANK_ACCOUNT_CHANGE,
    "contact_change": Action.CONTACT_CHANGE, "password_change": Action.PASSWORD_CHANGE,
    "recovery": Action.RECOVERY, "deposit": Action.DEPOSIT,
}
_METHOD_LEVEL = {str(m): int(level) for m, level in METHOD_LEVEL.items()}
_NO_RISK = RiskResult()
_CHANNELS: Mapping[str, Channel] = {str(c): c for c in Channel}
_UNKNOWN = object()
_NONE: frozenset[str] = frozenset()
_LEVELS: Mapping[int, Level | None] = {0: None, **{int(level): level for level in Level}}
_OUTCOME_LABELS: Mapping[Outcome, str] = {o: o.label for o in Outcome}
SWEEP_EVERY = 50_000


def event_level(methods: object) -> int:
    """The assurance level (0 none, 1 password, 2 otp, 3 phishing resistant) of a list
    of method names; unknown names count for nothing."""
    if not methods:
        return 0
    best = 0
    for method in methods:  # type: ignore[attr-defined]
        level = _METHOD_LEVEL.get(method, 0)
        # A plain loop: max() over a generator costs four times as much, every event.
        if level > best:  # noqa: PLR1730
            best = level
    return best


def _channel(value: object) -> Channel:
    """The event's channel; a missing or unknown one counts as the web."""
    return _CHANNELS.get(value, Channel.WEB) if isinstance(value, str) else Channel.WEB


def _action(event: Mapping[str, Any]) -> Action | None:
    etype = event["type"]
    if etype == "mfa_change":
        return Action.MFA_REMOVE if event.get("change") == "remove" else Action.MFA_ENROLL
    return ACTIONS.get(etype)


def _ts_s(event: Mapping[str, Any]) -> float:
    ts = event.get("_ts")
    if ts is None:
        ts = datetime.fromisoformat(event["ts"]).timestamp()
    return float(ts)


def _strongest(methods: frozenset[str]) -> Level:
    level = event_level(methods)
    return Level(level) if level else Level.PASSWORD


class StreamGuard:
    """Decides a stream of events in order; see the module docstring for the rules."""

    def __init__(self, policy: Policy, symbols: Mapping[str, Mapping[str, Any]],
                 accounts: Mapping[str, Mapping[str, Any]], *, risk: bool = True,
                 rules: RuleSet | None = None, ip_ranges: IpRanges | None = None) -> None:
        self.policy = policy
        self.guard = Guard(policy)
        self.engine = None
        if risk:
            from kabuguard.risk.engine import RiskEngine  # noqa: PLC0415 - only with risk on
            self.engine = RiskEngine(symbols, accounts, rules=rules, ip_ranges=ip_ranges)
        self.enrolled: dict[str, frozenset[str]] = {
            account: frozenset(rec.get("methods_enrolled") or ())
            for account, rec in accounts.items()}
        self.sessions: dict[str, SessionState] = {}
        # Sessions that may carry no later action (stopped login, revoked), forgotten
        # once they would have expired anyway.
        self.stopped: dict[str, float] = {}
        self._stopped_order: deque[tuple[float, str]] = deque()
        self.frozen: set[str] = set()
        self.restricted: set[tuple[str, str]] = set()
        self._pending_login: dict[str, tuple[Any, float]] = {}
        self._decided = 0
        self._plain_levels: dict[tuple[Action, Channel], Level | None] = {}
        self._strongest: dict[frozenset[str], Level] = {}

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return self.engine.alerts if self.engine is not None else []

    # -- the two questions ------------------------------------------------------------

    def needs(self, event: Mapping[str, Any]) -> str | None:
        """The level the policy wants proven for this attempt, given the session so far
        (None: the session's authentication suffices). Changes nothing."""
        action = _action(event)
        if action is None:
            return None
        ts_s = _ts_s(event)
        session = self._live_session(event, ts_s)
        level = 0
        auth_s = None
        if session is not None and action is not Action.LOGIN:
            level = max(session.level, session.pending_level)
            auth_s = session.last_s if session.pending_level else session.auth_s
        if self._plain(action, event, level, _NO_RISK):
            return None
        decision = self._check(action, event, ts_s, level=level, auth_s=auth_s,
                               step_up=False, risk=_NO_RISK)
        if decision.outcome is Outcome.CHALLENGE and decision.required_level is not None:
            return decision.required_level.label
        return None

    def decide(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The decisions.jsonl object for ``event``; updates the stream's state."""
        ts_s = event.get("_ts")
        ts_s = _ts_s(event) if ts_s is None else float(ts_s)
        etype = event["type"]
        account = event.get("account")
        self._decided += 1
        order = self._stopped_order
        if (order and ts_s - order[0][0] > SESSION_ABSOLUTE_S) or not self._decided % SWEEP_EVERY:
            self._forget_stopped(ts_s)
        if etype == "logout":
            sid = event.get("session")
            if sid:
                self.sessions.pop(sid, None)
            return _out(event, "allow")
        if etype == "customer_report":
            return self._report(event)
        if account and account in self.frozen:
            return _out(event, "deny", reasons=["account_frozen"])
        sid = event.get("session")
        if etype != "login" and sid and sid in self.stopped:
            return _out(event, "deny", reasons=["session_stopped"])
        if (etype == "order" and (event.get("symbol"), event.get("side")) in self.restricted):
            return _out(event, "deny", reasons=["symbol_restricted"])
        if etype == "login":
            return self._login(event, ts_s)
        return self._action(event, ts_s)

    def feedback(self, event: Mapping[str, Any], kind: str, ts_s: float) -> list[dict[str, Any]]:
        """What followed an event already decided, told by the firm (decision API):
        ``challenge_failed`` stops its session, ``challenge_passed`` counts the
        session's pending challenge as proven now, ``customer_report`` freezes its
        account as a ``not_me`` report does; analyst verdicts change nothing here.
        ``ts_s`` is the stream's time at the feedback (its latest event). Returns the
        side effects, in the decisions.jsonl ``actions`` shape."""
        sid = event.get("session")
        if kind == "challenge_failed" and sid:
            if sid in self.stopped:
                return []
            self._stop(sid, ts_s)
            return [{"type": "revoke_session", "session": sid}]
        if kind == "challenge_passed" and sid:
            session = self.sessions.get(sid)
            if session is not None and session.pending_level:
                self._passed(sid, session)
            return []
        if kind == "customer_report":
            report = {"id": event["id"], "account": event.get("account"),
                      "report": "not_me", "_ts": ts_s}
            return self._report(report)["actions"]
        return []

    def apply_desk(self, action: Mapping[str, Any], ts_s: float) -> None:
        """A change the operations desk made, in the ``actions`` shape of EVENTS.md:
        ``freeze_account`` / ``unfreeze_account`` (``account``), ``restrict_symbol`` /
        ``lift_restriction`` (``symbol``, ``side``), ``revoke_session`` (``session``,
        or ``account`` alone: every live session of that account). ``ts_s`` is the
        stream's time then. Unknown types change nothing."""
        kind = action.get("type")
        account = action.get("account")
        if kind == "freeze_account" and account:
            self.frozen.add(account)
        elif kind == "unfreeze_account" and account:
            self.frozen.discard(account)
        elif kind in ("restrict_symbol", "lift_restriction") and action.get("symbol"):
            key = (action["symbol"], action.get("side") or "buy")
            if kind == "restrict_symbol":
                self.restricted.add(key)
            else:
                self.restricted.discard(key)
        elif kind == "revoke_session":
            sid = action.get("session")
            targets = [sid] if sid else [s for s, v in self.sessions.items()
                                         if account and v.account == account]
            for target in targets:
                self._stop(target, ts_s)

    # -- logins -----------------------------------------------------------------------

    def _login(self, event: Mapping[str, Any], ts_s: float) -> dict[str, Any]:
        outcome = event.get("outcome")
        account = event.get("account")
        engine = self.engine
        login = engine.score_login(event, ts_s) if engine is not None else None
        if outcome not in ("success", "bad_second_factor"):
            # The password (or the account) already refused it: nothing to allow.
            if login is not None:
                engine.observe_login(account, ts_s, login[0], login[1].score, outcome)  # type: ignore[union-attr]
            return _out(event, "deny", reasons=[str(outcome)],
                        score=login[1].score if login else 0.0)
        level = event_level(event.get("methods"))
        risk, _f = (engine.assess(event, ts_s, None, event_level=level, login=login)
                    if engine is not None else (_NO_RISK, None))
        out, decided, required = self._decide(Action.LOGIN, event, ts_s, level=level,
                                              auth_s=ts_s, step_up=False, risk=risk)
        sid = event.get("session")
        if outcome == "bad_second_factor" and decided is Outcome.ALLOW:
            out["decision"] = "deny"
            out["reasons"] = [*out["reasons"], "bad_second_factor"]
        stopped = out["decision"] in ("hold", "deny") or outcome != "success"
        if stopped:
            if sid:
                self._stop(sid, ts_s)
            if login is not None:
                engine.observe_login(account, ts_s, login[0], login[1].score,  # type: ignore[union-attr]
                                     "bad_second_factor")
            return out
        if sid and account:
            session = SessionState(account, ts_s=ts_s, level=level, ip=event.get("ip") or "",
                                   asn=login[0].asn if login else None,
                                   country=login[0].country if login else None,
                                   device=event.get("device"),
                                   user_agent=event.get("user_agent"))
            if login is not None:
                risk_of = login[1]
                session.login_risk = risk_of.score
                session.login_reasons = frozenset(risk_of.reasons) if risk_of.reasons else _NONE
                session.new_device, session.new_ip = risk_of.new_device, risk_of.new_ip
                session.new_asn, session.new_country = risk_of.new_asn, risk_of.new_country
                session.new_ua = risk_of.new_user_agent
            self.sessions[sid] = session
            if decided is Outcome.CHALLENGE and required is not None:
                session.pending_level = int(required)
                if login is not None:
                    self._pending_login[sid] = (login, ts_s)
            elif login is not None:
                engine.observe_login(account, ts_s, login[0], login[1].score, "success")  # type: ignore[union-attr]
        return out

    # -- other actions ----------------------------------------------------------------

    def _action(self, event: Mapping[str, Any], ts_s: float) -> dict[str, Any]:
        action = _action(event)
        account = event.get("account")
        session = self._live_session(event, ts_s)
        if session is not None and session.pending_level:
            self._passed(event.get("session"), session)
        ev_level = event_level(event.get("methods"))
        level = max(session.level if session is not None else 0, ev_level)
        auth_s = ts_s if ev_level else (session.auth_s if session is not None else None)
        engine = self.engine
        risk, features = (engine.assess(event, ts_s, session, event_level=ev_level)
                          if engine is not None else (_NO_RISK, None))
        if action is None:  # every type of EVENTS.md has an action; a newer one passes
            return _out(event, "allow", reasons=["unknown_type"])
        out, decided, required = self._decide(action, event, ts_s, level=level, auth_s=auth_s,
                                              step_up=bool(ev_level), risk=risk)
        if session is not None:
            session.last_s = ts_s
            if ev_level:
                session.level = max(session.level, ev_level)
                session.auth_s = ts_s
            if decided is Outcome.CHALLENGE and required is not None:
                session.pending_level = int(required)
        if out["decision"] not in ("hold", "deny"):
            if account and event["type"] == "mfa_change":
                self._mfa(account, event)
            if engine is not None and features is not None:
                engine.observe_action(event, ts_s, features)
        return out

    def _passed(self, sid: str | None, session: SessionState) -> None:
        """A later action of a challenged session: the challenge was passed."""
        session.level = max(session.level, session.pending_level)
        session.auth_s = session.last_s
        session.pending_level = 0
        pending = self._pending_login.pop(sid, None) if sid else None
        if pending is not None and self.engine is not None:
            (obs, risk), login_s = pending
            self.engine.observe_login(session.account, login_s, obs, risk.score, "success")

    def _mfa(self, account: str, event: Mapping[str, Any]) -> None:
        method = event.get("method") or ""
        methods = self.enrolled.get(account, frozenset())
        self.enrolled[account] = (methods - {method} if event.get("change") == "remove"
                                  else methods | {method})

    def _report(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A customer says it wasn't them: the account is frozen at once (the desk
        unfreezes after re-verification) and its sessions end."""
        account = event.get("account")
        if event.get("report") != "not_me" or not account:
            return _out(event, "allow", reasons=["customer_report"])
        actions: list[dict[str, Any]] = []
        if account not in self.frozen:
            self.frozen.add(account)
            actions.append({"type": "freeze_account", "account": account})
        ts_s = _ts_s(event)
        for sid, session in list(self.sessions.items()):
            if session.account == account:
                self._stop(sid, ts_s)
                actions.append({"type": "revoke_session", "session": sid})
        return _out(event, "allow", reasons=["customer_report_not_me"], actions=actions)

    # -- shared -----------------------------------------------------------------------

    def _live_session(self, event: Mapping[str, Any], ts_s: float) -> SessionState | None:
        sid = event.get("session")
        if not sid:
            return None
        session = self.sessions.get(sid)
        if session is None:
            return None
        if session.account != event.get("account") or session.expired(ts_s):
            return None
        return session

    def _plain(self, action: Action, event: Mapping[str, Any], level: int,
               risk: RiskResult) -> bool:
        """Whether ``Guard.check`` would allow the event outright, with no reasons: the
        session's level meets a requirement with no freshness rule and the engine adds
        nothing (``Guard.plain_level``). Most events of a stream are such."""
        if (not level or risk.outcome is not Outcome.ALLOW or risk.required_level
                or risk.reasons or risk.effects):
            return False
        key = (action, _channel(event.get("channel")))
        plain = self._plain_levels.get(key, _UNKNOWN)
        if plain is _UNKNOWN:
            plain = self._plain_levels[key] = self.guard.plain_level(*key)
        return plain is not None and level >= plain  # type: ignore[operator]

    def _decide(self, action: Action, event: Mapping[str, Any], ts_s: float, *, level: int,
                auth_s: float | None, step_up: bool, risk: RiskResult
                ) -> tuple[dict[str, Any], Outcome, Level | None]:
        """The guard's decision on the event as a decisions.jsonl object, its outcome
        and the level a challenge asks for. The common case skips building the check's
        Actor, context and Decision (``_plain``): its answer is the one ``check`` gives."""
        if self._plain(action, event, level, risk):
            out = _out(event, "allow", score=risk.score)
            if risk.shadow:
                out["shadow"] = list(risk.shadow)
            return out, Outcome.ALLOW, None
        decision = self._check(action, event, ts_s, level=level, auth_s=auth_s,
                               step_up=step_up, risk=risk)
        return self._finish(event, decision, risk), decision.outcome, decision.required_level

    def _check(self, action: Action, event: Mapping[str, Any], ts_s: float, *, level: int,
               auth_s: float | None, step_up: bool, risk: RiskResult) -> Decision:
        now = datetime.fromtimestamp(ts_s, UTC)
        account = event.get("account")
        channel = _channel(event.get("channel"))
        authenticated_at = None
        if auth_s is not None and level:  # a login authenticates now: one datetime, not two
            authenticated_at = now if auth_s == ts_s else datetime.fromtimestamp(auth_s, UTC)
        actor = Actor(account, level=_LEVELS[level], authenticated_at=authenticated_at,
                      session_id=event.get("session"),
                      step_up_at=now if step_up else None)
        context = RequestContext(ip=event.get("ip") or "", channel=channel,
                                 session=event.get("session"), device=event.get("device"),
                                 user_agent=event.get("user_agent"))
        methods = self.enrolled.get(account or "", _NONE)
        # The strongest level of a set of methods, remembered per set (a few distinct
        # ones): cheaper than the function check would call when it needs it.
        strongest = self._strongest.get(methods)
        if strongest is None:
            strongest = self._strongest[methods] = _strongest(methods)
        return self.guard.check(action, actor, context, now=now,
                                strongest_enrolled=strongest, risk=risk)

    def _finish(self, event: Mapping[str, Any], decision: Decision,
                risk: RiskResult) -> dict[str, Any]:
        level = (decision.required_level.label
                 if decision.outcome is Outcome.CHALLENGE and decision.required_level else None)
        out = _out(event, _OUTCOME_LABELS[decision.outcome], level=level, score=risk.score,
                   reasons=list(decision.reasons), actions=list(decision.effects))
        if risk.shadow:
            out["shadow"] = list(risk.shadow)
        ts_s = _ts_s(event) if decision.effects else 0.0
        for effect in decision.effects:
            kind = effect["type"]
            if kind == "freeze_account":
                self.frozen.add(effect.get("account") or event.get("account"))
            elif kind == "revoke_session":
                sid = effect.get("session") or event.get("session")
                if sid:
                    self._stop(sid, ts_s)
            elif kind == "restrict_symbol":
                self.restricted.add((effect.get("symbol") or event.get("symbol"),
                                     effect.get("side") or "buy"))
        return out

    def _stop(self, sid: str, ts_s: float) -> None:
        self.sessions.pop(sid, None)
        self._pending_login.pop(sid, None)
        if sid not in self.stopped:
            self.stopped[sid] = ts_s
            self._stopped_order.append((ts_s, sid))

    def _forget_stopped(self, ts_s: float) -> None:
        """Called by ``decide`` (which counts the events) when a stopped session expires
        or every ``SWEEP_EVERY`` events."""
        order = self._stopped_order
        while order and ts_s - order[0][0] > SESSION_ABSOLUTE_S:
            _t, sid = order.popleft()
            self.stopped.pop(sid, None)
        # Sessions that ended without a logout are dropped now and then (memory only:
        # ``_live_session`` already ignores them).
        if self._decided % SWEEP_EVERY == 0:
            for sid in [s for s, v in self.sessions.items() if v.expired(ts_s)]:
                del self.sessions[sid]
                self._pending_login.pop(sid, None)


    # -- before an action (online) -----------------------------------------------------

    def assess(self, event: Mapping[str, Any]) -> RiskResult:
        """The risk answer for ``event`` as it would be decided now, changing nothing:
        what the app's guard asks before an action executes (``risk/online.py``). The
        stream's own stops come first (a frozen account, a stopped session, a
        restricted symbol); the cross-account detector is left out, since it records
        every order it sees: the order counts once it is decided (``decide``)."""
        etype = event["type"]
        account = event.get("account")
        if account and account in self.frozen:
            return RiskResult(Outcome.DENY, reasons=("account_frozen",))
        sid = event.get("session")
        if etype != "login" and sid and sid in self.stopped:
            return RiskResult(Outcome.DENY, reasons=("session_stopped",))
        if etype == "order" and (event.get("symbol"), event.get("side")) in self.restricted:
            return RiskResult(Outcome.DENY, reasons=("symbol_restricted",))
        engine = self.engine
        if engine is None or etype in ("logout", "customer_report"):
            return _NO_RISK
        ts_s = _ts_s(event)
        level = event_level(event.get("methods"))
        if etype == "login":
            login = engine.score_login(event, ts_s)
            return engine.assess(event, ts_s, None, event_level=level, login=login,
                                 cross=False)[0]
        return engine.assess(event, ts_s, self._live_session(event, ts_s), event_level=level,
                             cross=False)[0]

def _out(event: Mapping[str, Any], decision: str, *, level: str | None = None,
         score: float = 0.0, reasons: list[str] | None = None,
         actions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": event["id"], "decision": decision}
    if level is not None:
        out["level"] = level
    out["score"] = score
    out["reasons"] = reasons or []
    out["actions"] = actions or []
    return out

