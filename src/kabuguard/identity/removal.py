"""Removing a second factor: a passkey or the authenticator app (TOTP).

The same rules for the site and the API; the routes have already passed the guard for
``Action.MFA_REMOVE`` (the policy's level and freshness) before this runs.

- A method that is *not* the customer's last at their strongest level goes at once,
  with the ``mfa_change`` event (the notify colleague's notice follows from it).
- The *last* method at the strongest level (the last passkey; or the app of a customer
  without a passkey) is what an intruder removes to keep the account, or to move it
  down to something phishable. ``Guard.check_last_strong_removal`` asks for a fresh
  step-up at that method's own level (a passkey confirmation for the last passkey, an
  app code for the last app), then the policy's ``mfa_removal.last_strong`` decides:
  ``immediate``; ``forbid`` (LastMethodRemovalForbidden: register another one first);
  or ``cooling_off``: the removal is *scheduled* (a ``PendingMfaRemoval`` row), the
  customer is told by e-mail and SMS (``MFA_REMOVAL_SCHEDULED``), the method keeps
  working, the customer may cancel, and ``run_due_removals`` makes it take effect when
  due (the app's background loop, and lazily whenever the methods are listed).

"Strongest" counts only methods that are not already scheduled to go: with the last
passkey scheduled, the app becomes the last strong method and its removal follows the
same rule, so two requests cannot strip the account between them. The customer's row
is locked while deciding, so two concurrent removals of the last two passkeys run one
after the other and the second sees itself as the last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kabuguard.domain.errors import Conflict, Forbidden, NotFound
from kabuguard.domain.events import Channel, Event, EventType, RequestContext
from kabuguard.domain.ids import new_id
from kabuguard.guard.interfaces import Actor, Outcome, StepUpRequired
from kabuguard.guard.policy import LastStrong
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.identity.methods import METHOD_LEVEL, Level, Method
from kabuguard.identity.models import Customer, Passkey, PendingMfaRemoval, TotpAuthenticator
from kabuguard.identity.services import IdentityService
from kabuguard.notify.interfaces import Medium, NoticeKind, Notifier, NullNotifier

REMOVABLE = (Method.PASSKEY, Method.TOTP)


class LastMethodRemovalForbidden(Forbidden):
    """The policy forbids removing the last method at the customer's strongest level."""

    code = "mfa_removal_forbidden"

    def __init__(self, *, method: Method) -> None:
        if method is Method.PASSKEY:
            text = ("This is your last passkey and it cannot be removed: register another "
                    "passkey first.")
        else:
            text = ("This is your last second factor and it cannot be removed: register a "
                    "passkey first.")
        super().__init__(text, method=str(method))


class MethodNotFound(NotFound):
    """Not one of the customer's registered methods (or already removed)."""

    code = "mfa_method_not_found"


class RemovalNotFound(NotFound):
    code = "mfa_removal_not_found"


class RemovalAlreadyScheduled(Conflict):
    code = "mfa_removal_already_scheduled"


class RemovalNotPending(Conflict):
    """The scheduled removal already took effect or was cancelled."""

    code = "mfa_removal_not_pending"


@dataclass(frozen=True, slots=True)
class EnrolledMethod:
    method: Method
    credential: str  # passkey credential id, or the authenticator app's row id
    name: str | None

    @property
    def level(self) -> Level:
        return METHOD_LEVEL[self.method]


class MfaRemovalService:
    def __init__(self, identity: IdentityService, *, notifier: Notifier | None = None) -> None:
        self.identity, self.notifier = identity, notifier or NullNotifier()
        self.db, self.journal, self.clock = identity.db, identity.journal, identity.clock

    # -- removal ---------------------------------------------------------------------------
    def remove(self, info: SessionInfo, *, method: Method, credential: str | None,
               context: RequestContext) -> dict[str, Any]:
        """Remove the customer's passkey ``credential`` or (``Method.TOTP``) their app.

        Returns ``{"status": "removed"}`` or ``{"status": "scheduled", "removal": {…}}``.
        Raises MethodNotFound (not the customer's, or already removed),
        RemovalAlreadyScheduled, StepUpRequired (the last strong method needs a fresh
        step-up at its level) and LastMethodRemovalForbidden (the policy forbids it)."""
        if method not in REMOVABLE:
            raise MethodNotFound("Only a passkey or the authenticator app can be removed here.",
                                 method=str(method))
        now = self.clock()
        # A removal that fell due changes which method is the last: apply it first.
        self.run_due_removals(now=now, customer_id=info.customer_id)
        with self.db.write() as session:
            session.get(Customer, info.customer_id, with_for_update=True)
            enrolled = self._enrolled(session, info.customer_id)
            target = next((m for m in enrolled if m.method is method and (
                method is Method.TOTP or m.credential == credential)), None)
            if target is None:
                raise MethodNotFound("No such passkey is registered." if method is Method.PASSKEY
                                     else "No authenticator app is registered.",
                                     method=str(method))
            scheduled = {(p.method, p.credential) for p in self._pending(session,
                                                                         info.customer_id)}
            if (str(target.method), target.credential) in scheduled:
                raise RemovalAlreadyScheduled("This method is already scheduled for removal.",
                                              method=str(method))
            staying = [m for m in enrolled if (str(m.method), m.credential) not in scheduled]
            if is_last_strong(target, staying):
                decision = self.identity.guard.check_last_strong_removal(
                    Actor(info.account_id, Level(info.auth_level), info.authenticated_at,
                          session_id=info.public_id), method_level=target.level, now=now)
                if decision.outcome is Outcome.DENY:
                    raise LastMethodRemovalForbidden(method=target.method)
                if decision.outcome is Outcome.CHALLENGE:
                    raise StepUpRequired(decision)
                rule = self.identity.guard.policy.mfa_removal
                if rule.last_strong is LastStrong.COOLING_OFF:
                    row = self._schedule(session, info, target, context=context, now=now,
                                         effective_at=now + rule.cooling_off)
                    return {"status": "scheduled", "removal": removal_dict(row)}
            self._remove_now(session, info.customer_id, target, context=context, now=now,
                             actor=f"customer:{info.customer_id}")
        return {"status": "removed", "method": str(target.method)}

    def _schedule(self, session: Session, info: SessionInfo, target: EnrolledMethod, *,
                  context: RequestContext, now: datetime,
                  effective_at: datetime) -> PendingMfaRemoval:
        row = PendingMfaRemoval(
            id=new_id("rmv"), customer_id=info.customer_id, method=str(target.method),
            credential=target.credential, name=target.name, requested_at=now,
            effective_at=effective_at, requested_ip=context.ip,
            requested_channel=str(context.channel), requested_session=info.public_id)
        session.add(row)
        self.journal.record_admin(
            session, ts=now, actor=f"customer:{info.customer_id}",
            action="mfa_removal_scheduled", subject=info.customer_id,
            payload={"removal": row.id, "method": row.method,
                     "credential": target.credential[:16], "effective_at": _iso(effective_at),
                     "session": info.public_id, "ip": context.ip})
        params: dict[str, Any] = {"at": _iso(now), "method": row.method,
                                  "effective_at": _iso(effective_at)}
        if target.name:
            params["name"] = target.name
        # E-mail and SMS both: whoever asked may also control one of them.
        self.notifier.queue(session, customer_id=info.customer_id,
                            kind=NoticeKind.MFA_REMOVAL_SCHEDULED, params=params, now=now,
                            media=[Medium.EMAIL, Medium.SMS],
                            dedupe_key=f"mfa_removal_scheduled:{row.id}")
        return row

    def _remove_now(self, session: Session, customer_id: str, target: EnrolledMethod, *,
                    context: RequestContext, now: datetime, actor: str,
                    audit_extra: dict[str, Any] | None = None) -> bool:
        """Mark the method removed and write its ``mfa_change`` event; False when it was
        already gone (nothing written)."""
        model = Passkey if target.method is Method.PASSKEY else TotpAuthenticator
        key = Passkey.credential_id if target.method is Method.PASSKEY else TotpAuthenticator.id
        changed = session.execute(update(model).where(
            key == target.credential, model.customer_id == customer_id,
            model.removed_at.is_(None)).values(removed_at=now)).rowcount
        if not changed:
            return False
        self.journal.record(session, Event(
            new_id("evt"), now, EventType.MFA_CHANGE, customer_id, context,
            {"change": "remove", "method": str(target.method)}), actor=actor,
            audit_extra={"credential": target.credential[:16], **(audit_extra or {})})
        return True

    # -- scheduled removals ----------------------------------------------------------------
    def cancel(self, info: SessionInfo, removal_id: str, *,
               context: RequestContext) -> dict[str, Any]:
        """Cancel one of the customer's scheduled removals. Safe under the session
        alone (it keeps a method). Raises RemovalNotFound for anyone else's and
        RemovalNotPending once it took effect or was cancelled."""
        now = self.clock()
        self.run_due_removals(now=now, customer_id=info.customer_id)
        with self.db.write() as session:
            row = session.get(PendingMfaRemoval, removal_id)
            if row is None or row.customer_id != info.customer_id:
                raise RemovalNotFound("No such scheduled removal.", removal=removal_id[:40])
            taken = session.execute(update(PendingMfaRemoval).where(
                PendingMfaRemoval.id == removal_id, PendingMfaRemoval.done_at.is_(None),
                PendingMfaRemoval.cancelled_at.is_(None)).values(cancelled_at=now)).rowcount
            if not taken:
                raise RemovalNotPending("This removal already took effect or was cancelled.",
                                        removal=removal_id)
            self.journal.record_admin(
                session, ts=now, actor=f"customer:{info.customer_id}",
                action="mfa_removal_cancelled", subject=info.customer_id,
                payload={"removal": removal_id, "method": row.method,
                         "session": info.public_id, "ip": context.ip})
            session.flush()
            session.refresh(row)
            return removal_dict(row)

    def pending(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's scheduled removals, soonest first (applying any that are due)."""
        self.run_due_removals(customer_id=customer_id)
        with self.db.read() as session:
            return [removal_dict(r) for r in self._pending(session, customer_id)]

    def run_due_removals(self, *, now: datetime | None = None,
                         customer_id: str | None = None) -> int:
        """Apply every scheduled removal due at ``now`` (for one customer, or all).
        Each in its own transaction, claimed by compare-and-set, so several workers
        running this at once apply each removal once. Returns how many took effect."""
        now = now or self.clock()
        query = select(PendingMfaRemoval.id).where(
            PendingMfaRemoval.done_at.is_(None), PendingMfaRemoval.cancelled_at.is_(None),
            PendingMfaRemoval.effective_at <= now)
        if customer_id is not None:
            query = query.where(PendingMfaRemoval.customer_id == customer_id)
        with self.db.read() as session:
            due = list(session.execute(query.order_by(PendingMfaRemoval.effective_at))
                       .scalars())
        applied = 0
        for removal_id in due:
            with self.db.write() as session:
                claimed = session.execute(update(PendingMfaRemoval).where(
                    PendingMfaRemoval.id == removal_id, PendingMfaRemoval.done_at.is_(None),
                    PendingMfaRemoval.cancelled_at.is_(None)).values(done_at=now)).rowcount
                if not claimed:
                    continue
                row = session.get(PendingMfaRemoval, removal_id)
                assert row is not None  # noqa: S101 - claimed above
                target = EnrolledMethod(Method(row.method), row.credential, row.name)
                context = RequestContext(ip=row.requested_ip,
                                         channel=Channel(row.requested_channel),
                                         session=row.requested_session)
                applied += self._remove_now(
                    session, row.customer_id, target, context=context, now=now,
                    actor="system", audit_extra={"removal": row.id,
                                                 "requested_at": _iso(row.requested_at)})
        return applied

    # -- reading -----------------------------------------------------------------------------
    @staticmethod
    def _enrolled(session: Session, customer_id: str) -> list[EnrolledMethod]:
        keys = session.execute(select(Passkey.credential_id, Passkey.name).where(
            Passkey.customer_id == customer_id, Passkey.removed_at.is_(None))).all()
        apps = session.execute(select(TotpAuthenticator.id).where(
            TotpAuthenticator.customer_id == customer_id,
            TotpAuthenticator.confirmed_at.is_not(None),
            TotpAuthenticator.removed_at.is_(None))).scalars().all()
        return ([EnrolledMethod(Method.PASSKEY, cid, name) for cid, name in keys]
                + [EnrolledMethod(Method.TOTP, app_id, None) for app_id in apps])

    @staticmethod
    def _pending(session: Session, customer_id: str) -> list[PendingMfaRemoval]:
        return list(session.execute(select(PendingMfaRemoval).where(
            PendingMfaRemoval.customer_id == customer_id, PendingMfaRemoval.done_at.is_(None),
            PendingMfaRemoval.cancelled_at.is_(None)).order_by(PendingMfaRemoval.effective_at)
        ).scalars())


def is_last_strong(target: EnrolledMethod, staying: list[EnrolledMethod]) -> bool:
    """Whether ``target`` is the only one of ``staying`` (the methods not scheduled to
    go, ``target`` among them) at the strongest level among them.

    >>> pk = EnrolledMethod(Method.PASSKEY, "a", "iPhone")
    >>> pk2 = EnrolledMethod(Method.PASSKEY, "b", "PC")
    >>> app = EnrolledMethod(Method.TOTP, "t", None)
    >>> is_last_strong(pk, [pk, app]), is_last_strong(pk, [pk, pk2]), is_last_strong(app, [pk, app])
    (True, False, False)
    >>> is_last_strong(app, [app])
    True
    """
    strongest = max(m.level for m in staying)
    return target.level == strongest and not any(
        m.level == strongest and m != target for m in staying)


def removal_dict(row: PendingMfaRemoval) -> dict[str, Any]:
    return {"id": row.id, "method": row.method, "credential": row.credential,
            "name": row.name, "requested_at": _iso(row.requested_at),
            "effective_at": _iso(row.effective_at),
            "cancelled_at": _iso(row.cancelled_at) if row.cancelled_at else None,
            "done_at": _iso(row.done_at) if row.done_at else None}


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat()
