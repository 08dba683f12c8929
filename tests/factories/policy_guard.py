"""A policy-only decision point for the closed loop's tests.

It answers the two questions of ``kabuguard.risk.stream_guard.StreamGuard`` (``needs``,
``decide``) from ``Guard.check`` alone, with the same stream rules: a login's methods
set its session's level; an action's methods are a step-up for it (and refresh the
session); a later action of a challenged session means the challenge was passed; a
stopped login or revoked session carries nothing; a frozen account is denied. No risk
engine: the tests check the directions the policies alone must give.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kabuguard.domain.assurance import METHOD_LEVEL, Level
from kabuguard.domain.events import Channel, RequestContext
from kabuguard.domain.netinfo import IpRanges
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import Actor, Outcome
from kabuguard.guard.policy import Policy
from kabuguard.guard.services import Guard

_LEVEL = {str(m): int(level) for m, level in METHOD_LEVEL.items()}
_ACTIONS = {"login": Action.LOGIN, "order": Action.ORDER, "withdrawal": Action.WITHDRAWAL,
            "bank_account_change": Action.BANK_ACCOUNT_CHANGE, "recovery": Action.RECOVERY}


def level_of(methods: Any) -> int:
    return max((_LEVEL.get(m, 0) for m in methods or ()), default=0)


class PolicyGuard:
    """``needs``/``decide`` over a stream, policy only."""

    def __init__(self, policy: Policy, symbols: Mapping[str, Any],
                 accounts: Mapping[str, Mapping[str, Any]], risk: bool = False,
                 networks: IpRanges | None = None) -> None:
        self.guard = Guard(policy)
        self.accounts = accounts
        self.enrolled = {a: level_of(r["methods_enrolled"]) for a, r in accounts.items()}
        # sid -> [account, level, auth_s, pending level, last action s]
        self.sessions: dict[str, list[Any]] = {}
        self.stopped: set[str] = set()
        self.frozen: set[str] = set()
        self.decided: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def _check(self, event: Mapping[str, Any], *, level: int, auth_s: float | None,
               step_up: bool) -> Any:
        now = datetime.fromtimestamp(event["_ts"] if "_ts" in event
                                     else datetime.fromisoformat(event["ts"]).timestamp(), UTC)
        actor = Actor(event["account"], level=Level(level) if level else None,
                      authenticated_at=(datetime.fromtimestamp(auth_s, UTC)
                                        if level and auth_s is not None else None),
                      session_id=event.get("session"), step_up_at=now if step_up else None)
        context = RequestContext(ip=event["ip"], channel=Channel(event["channel"]),
                                 session=event.get("session"), device=event.get("device"),
                                 user_agent=event.get("user_agent"))
        enrolled = Level(self.enrolled.get(event["account"], 1) or 1)
        return self.guard.check(_ACTIONS[event["type"]], actor, context, now=now,
                                strongest_enrolled=enrolled)

    def _session(self, event: Mapping[str, Any]) -> list[Any] | None:
        found = self.sessions.get(event.get("session") or "")
        return found if found is not None and found[0] == event["account"] else None

    def needs(self, event: Mapping[str, Any]) -> str | None:
        if event["type"] not in _ACTIONS:
            return None
        session = self._session(event) if event["type"] != "login" else None
        level, auth_s = 0, None
        if session is not None:
            level = max(session[1], session[3])
            auth_s = session[4] if session[3] else session[2]
        decision = self._check(event, level=level, auth_s=auth_s, step_up=False)
        if decision.outcome is Outcome.CHALLENGE and decision.required_level is not None:
            return decision.required_level.label
        return None

    def decide(self, event: Mapping[str, Any]) -> dict[str, Any]:
        out = self._decide(event)
        self.decided.append((dict(event), out))
        return out

    def _decide(self, event: Mapping[str, Any]) -> dict[str, Any]:
        ts_s = event["_ts"]
        etype, sid = event["type"], event.get("session")
        if etype == "logout":
            self.sessions.pop(sid or "", None)
            return _out(event, "allow")
        if event["account"] in self.frozen:
            return _out(event, "deny", reasons=["account_frozen"])
        if etype != "login" and sid in self.stopped:
            return _out(event, "deny", reasons=["session_stopped"])
        if etype == "login":
            if event["outcome"] not in ("success", "bad_second_factor"):
                return _out(event, "deny", reasons=[event["outcome"]])
            level = level_of(event["methods"])
            decision = self._check(event, level=level, auth_s=ts_s, step_up=False)
            verdict = decision.outcome.label
            if event["outcome"] != "success" and verdict == "allow":
                verdict = "deny"
            out = _out(event, verdict, level=_level(decision), reasons=list(decision.reasons))
            if verdict in ("hold", "deny") or event["outcome"] != "success":
                if sid:
                    self.stopped.add(sid)
            elif sid:
                pending = decision.required_level if verdict == "challenge" else None
                self.sessions[sid] = [event["account"], level, ts_s,
                                      int(pending) if pending else 0, ts_s]
            return self.after(event, out)
        session = self._session(event)
        if session is not None and session[3]:
            session[1], session[2], session[3] = max(session[1], session[3]), session[4], 0
        ev_level = level_of(event.get("methods"))
        level = max(session[1] if session else 0, ev_level)
        auth_s = ts_s if ev_level else (session[2] if session else None)
        decision = self._check(event, level=level, auth_s=auth_s, step_up=bool(ev_level))
        out = _out(event, decision.outcome.label, level=_level(decision),
                   reasons=list(decision.reasons))
        if session is not None:
            session[4] = ts_s
            if ev_level:
                session[1], session[2] = max(session[1], ev_level), ts_s
            if decision.outcome is Outcome.CHALLENGE and decision.required_level is not None:
                session[3] = int(decision.required_level)
        return self.after(event, out)

    def after(self, event: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        """A hook for tests: side effects on top of the policy's answer."""
        return out


def _level(decision: Any) -> str | None:
    if decision.outcome is Outcome.CHALLENGE and decision.required_level is not None:
        return decision.required_level.label
    return None


def _out(event: Mapping[str, Any], decision: str, *, level: str | None = None,
         reasons: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": event["id"], "decision": decision}
    if level is not None:
        out["level"] = level
    out.update(score=0.0, reasons=reasons or [], actions=[])
    return out


class FreezeOnUnknownNetwork(PolicyGuard):
    """Freezes an account at a successful login from a hosting or VPN address the
    account never used (how the crews log in; a traveller's hotel line is residential)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.known = {a: {n["ip"] for n in r.get("networks", ())}
                      for a, r in self.accounts.items()}

    def after(self, event: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
        account = event["account"]
        if (event["type"] == "login" and event.get("outcome") == "success"
                and out["decision"] == "allow" and event.get("ip_kind") in ("hosting", "vpn")
                and event["ip"] not in self.known.get(account, ())):
            self.frozen.add(account)
            out["decision"] = "deny"
            out["reasons"].append("unknown_remote_network")
            out["actions"].append({"type": "freeze_account", "account": account})
            if event.get("session"):
                self.stopped.add(event["session"])
        return out


def policy_guard(policy: Policy, symbols: Mapping[str, Any],
                 accounts: Mapping[str, Mapping[str, Any]], risk: bool,
                 networks: IpRanges) -> PolicyGuard:
    return PolicyGuard(policy, symbols, accounts, risk, networks)
