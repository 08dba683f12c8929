"""What the desk does to an account: freeze, unfreeze (four eyes, after re-verifying
who the customer is), end every session, reset the second factors, and decide the
orders and withdrawals the guard held.

Every action names its operator and reason (``Operator``) and writes a ``console:*``
audit record in its own transaction. What the risk engine must know goes to its log
as a desk action in the same transaction (``DecisionLog.desk``): an unfreeze clears
the engine's freeze, a freeze made here stops the account's events sent to the
decision API too, ended sessions carry nothing more.

Reopening a frozen account needs the customer's identity re-verified (JSDA 2025,
J-M6 in JP-RULES.md): a call-back to the phone number registered before the incident
and an identity document seen, recorded with the request. An analyst asks; a
supervisor who is not the one who asked approves (the database refuses otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kabuguard.broker.freezes import FROZEN, AccountFreezes
from kabuguard.broker.holds import HeldItems
from kabuguard.broker.models import Account, Order, Withdrawal
from kabuguard.domain.assurance import Method
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import Conflict, InvalidInput, NotFound
from kabuguard.domain.events import Channel, Event, EventType, RequestContext
from kabuguard.domain.ids import new_id
from kabuguard.identity.models import Passkey, TotpAuthenticator, WebSession
from kabuguard.journal import Journal
from kabuguard.ops.console_models import ID_DOCUMENTS, Reverification, Staff, UnfreezeRequest
from kabuguard.ops.staff import ConsoleForbidden, Operator, Permission, audit_desk, require
from kabuguard.store.database import Database

if TYPE_CHECKING:
    from kabuguard.risk.decision_log import DecisionLog

HOLD_DECISIONS = ("release", "cancel", "keep")
# A customer session counts as live within the identity service's idle time.
_IDLE = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class ReverificationInput:
    """How the customer's identity was re-verified (the form's fields)."""

    callback_registered_phone: bool
    id_document: str
    notes: str

    def check(self) -> None:
        if not self.callback_registered_phone:
            raise InvalidInput("Call the customer back on the phone number registered before "
                               "the incident first.", field="callback_registered_phone")
        if self.id_document not in ID_DOCUMENTS:
            raise InvalidInput("Name the identity document checked.", field="id_document")
        if not 2 <= len(self.notes.strip()) <= 2000:
            raise InvalidInput("Note what was checked (2 to 2,000 characters).",
                               field="notes")


@dataclass(frozen=True, slots=True)
class AccountState:
    account: str
    held_here: bool  # an account of this brokerage (else known from the decision API only)
    status: str | None
    engine_frozen: bool
    live_sessions: int
    passkeys: int
    authenticator_apps: int

    @property
    def frozen(self) -> bool:
        return self.status == FROZEN or self.engine_frozen


@dataclass(frozen=True, slots=True)
class UnfreezeView:
    id: str
    account: str
    case_id: str | None
    status: str
    reason: str
    requested_by: str
    requested_by_name: str
    requested_at: datetime
    callback_registered_phone: bool
    id_document: str
    notes: str
    decided_by_name: str | None
    decided_at: datetime | None
    decision_reason: str | None


class DeskActions:
    def __init__(self, db: Database, *, journal: Journal, freezes: AccountFreezes,
                 held: HeldItems, decision_log: DecisionLog | None,
                 clock: Clock = utcnow) -> None:
        self.db, self.journal, self.freezes, self.held = db, journal, freezes, held
        self.decision_log, self.clock = decision_log, clock

    # -- reading ---------------------------------------------------------------------

    def state(self, account: str) -> AccountState:
        now = self.clock()
        with self.db.read() as session:
            row = session.get(Account, account)
            customer = row.customer_id if row is not None else None
            sessions = passkeys = apps = 0
            if customer is not None:
                sessions = len([ws for ws in session.execute(select(WebSession).where(
                    WebSession.customer_id == customer, WebSession.revoked_at.is_(None))
                ).scalars() if now - ws.last_seen_at <= _IDLE])
                passkeys = len(session.execute(select(Passkey.credential_id).where(
                    Passkey.customer_id == customer, Passkey.removed_at.is_(None))).all())
                apps = len(session.execute(select(TotpAuthenticator.id).where(
                    TotpAuthenticator.customer_id == customer,
                    TotpAuthenticator.removed_at.is_(None))).all())
        engine = (account in self.decision_log.guard.frozen) if self.decision_log else False
        return AccountState(account, row is not None, row.status if row else None, engine,
                            sessions, passkeys, apps)

    def unfreeze_requests(self, *, status: str | None = "pending",
                          account: str | None = None) -> list[UnfreezeView]:
        query = select(UnfreezeRequest, Reverification).join(
            Reverification, Reverification.id == UnfreezeRequest.reverification_id)
        if status:
            query = query.where(UnfreezeRequest.status == status)
        if account:
            query = query.where(UnfreezeRequest.account == account)
        with self.db.read() as session:
            names = dict(session.execute(select(Staff.id, Staff.name)).all())
            rows = session.execute(query.order_by(UnfreezeRequest.requested_at.desc())).all()
        return [UnfreezeView(r.id, r.account, r.case_id, r.status, r.reason, r.requested_by,
                             names.get(r.requested_by, r.requested_by), r.requested_at,
                             v.callback_registered_phone, v.id_document, v.notes,
                             names.get(r.decided_by or ""), r.decided_at, r.decision_reason)
                for r, v in rows]

    # -- freeze and unfreeze -----------------------------------------------------------

    def freeze(self, account: str, *, operator: Operator) -> None:
        """Freeze now (the customer is told, with the number to call) and stop the
        account in the engine too."""
        require(operator, Permission.WORK)
        state = self.state(account)
        if state.frozen and (state.status == FROZEN or not state.held_here):
            raise Conflict("The account is frozen already.", field="account")
        if state.held_here:
            self.freezes.freeze(account, actor=operator.actor, reasons=(operator.reason,),
                                ip=operator.ip)
        self._engine([{"type": "freeze_account", "account": account}], operator,
                     lambda session, now: audit_desk(self.journal, session, operator,
                                                     action="account_frozen", subject=account,
                                                     now=now))

    def request_unfreeze(self, account: str, *, reverification: ReverificationInput,
                         case_id: str | None, operator: Operator) -> str:
        require(operator, Permission.WORK)
        reverification.check()
        if not self.state(account).frozen:
            raise Conflict("The account is not frozen.", field="account")
        now = self.clock()
        with self.db.write() as session:
            if session.scalar(select(UnfreezeRequest.id).where(
                    UnfreezeRequest.account == account, UnfreezeRequest.status == "pending")):
                raise Conflict("An unfreeze of this account is waiting for approval already.",
                               field="account")
            rev = self._reverification(session, account, "unfreeze", reverification,
                                       operator, now)
            request = UnfreezeRequest(id=new_id("unf"), account=account, case_id=case_id,
                                      reverification_id=rev.id, status="pending",
                                      reason=operator.reason, requested_by=operator.staff_id,
                                      requested_at=now)
            session.add(request)
            audit_desk(self.journal, session, operator, action="unfreeze_requested",
                       subject=account, now=now, request=request.id,
                       reverification=_rev_payload(reverification))
            return request.id

    def decide_unfreeze(self, request_id: str, *, approve: bool, operator: Operator) -> str:
        """Approve (the account reopens, here and in the engine) or reject. Only a
        supervisor who did not ask; returns the account."""
        require(operator, Permission.DECIDE)
        with self.db.read() as session:
            request = session.get(UnfreezeRequest, request_id)
        if request is None or request.status != "pending":
            raise NotFound("No such pending unfreeze request.", field="request_id")
        if request.requested_by == operator.staff_id:
            raise ConsoleForbidden("Four eyes: the person who asked for an unfreeze may not "
                                   "approve or reject it.", permission="four_eyes")
        account = request.account

        def write(session: Session, now: datetime) -> None:
            row = session.get(UnfreezeRequest, request_id)
            assert row is not None  # noqa: S101 - read above
            if row.status != "pending":
                raise Conflict("The request was decided meanwhile.", field="request_id")
            row.status = "approved" if approve else "rejected"
            row.decided_by, row.decided_at = operator.staff_id, now
            row.decision_reason = operator.reason
            if approve:
                session.execute(update(Account).where(Account.id == account,
                                                      Account.status == FROZEN)
                                .values(status="active"))
            audit_desk(self.journal, session, operator,
                       action="unfreeze_approved" if approve else "unfreeze_rejected",
                       subject=account, now=now, request=request_id,
                       requested_by=row.requested_by)

        actions = [{"type": "unfreeze_account", "account": account}] if approve else []
        self._engine(actions, operator, write)
        self.freezes.load()
        return account

    # -- sessions and second factors ---------------------------------------------------

    def revoke_sessions(self, account: str, *, operator: Operator) -> int:
        """End every session of the account's customer (site and API), and its
        sessions in the engine."""
        require(operator, Permission.WORK)
        ended = 0

        def write(session: Session, now: datetime) -> None:
            nonlocal ended
            customer = session.scalar(select(Account.customer_id).where(Account.id == account))
            if customer is not None:
                ended = session.execute(update(WebSession).where(
                    WebSession.customer_id == customer, WebSession.revoked_at.is_(None))
                    .values(revoked_at=now)).rowcount
            audit_desk(self.journal, session, operator, action="sessions_revoked",
                       subject=account, now=now, sessions=ended)

        self._engine([{"type": "revoke_session", "account": account}], operator, write)
        return ended

    def reset_mfa(self, account: str, *, reverification: ReverificationInput,
                  operator: Operator) -> dict[str, int]:
        """Remove every passkey and authenticator app of the customer (an intruder may
        have registered their own) and end every session, once the customer's identity
        is re-verified; the customer registers anew. Supervisors only."""
        require(operator, Permission.DECIDE)
        reverification.check()
        now = self.clock()
        with self.db.write() as session:
            customer = session.scalar(select(Account.customer_id).where(Account.id == account))
            if customer is None:
                raise NotFound("The account is not held here.", field="account")
            passkeys = session.execute(update(Passkey).where(
                Passkey.customer_id == customer, Passkey.removed_at.is_(None))
                .values(removed_at=now)).rowcount
            apps = session.execute(update(TotpAuthenticator).where(
                TotpAuthenticator.customer_id == customer,
                TotpAuthenticator.removed_at.is_(None)).values(removed_at=now)).rowcount
            sessions = session.execute(update(WebSession).where(
                WebSession.customer_id == customer, WebSession.revoked_at.is_(None))
                .values(revoked_at=now)).rowcount
            self._reverification(session, account, "mfa_reset", reverification, operator, now)
            # The same events a customer's own removal writes: the customer is told on
            # every channel (the notice planner) and the engine forgets the methods.
            context = RequestContext(ip=operator.ip or "127.0.0.1", channel=Channel.CALL_CENTER)
            for method, removed in ((Method.PASSKEY, passkeys), (Method.TOTP, apps)):
                if removed:
                    self.journal.record(session, Event(
                        new_id("evt"), now, EventType.MFA_CHANGE, account, context,
                        {"change": "remove", "method": str(method)}), actor=operator.actor,
                        audit_extra={"desk": "mfa_reset", "removed": removed})
            counts = {"passkeys": passkeys, "authenticator_apps": apps, "sessions": sessions}
            audit_desk(self.journal, session, operator, action="mfa_reset", subject=account,
                       now=now, removed=counts, reverification=_rev_payload(reverification))
        return counts

    # -- held orders and withdrawals ---------------------------------------------------

    def decide_held(self, kind: str, item_id: str, *, decision: str,
                    operator: Operator) -> str | None:
        """Release, cancel or keep a held order or withdrawal; returns a released
        order's status (filled, queued, open or rejected)."""
        require(operator, Permission.WORK)
        if kind not in ("order", "withdrawal") or decision not in HOLD_DECISIONS:
            raise InvalidInput("Choose release, cancel or keep.", field="decision")

        def audit(session: Session) -> None:
            audit_desk(self.journal, session, operator, action=f"held_{kind}_{decision}",
                       subject=_owner(session, kind, item_id), now=self.clock(),
                       item=item_id)

        if decision == "keep":
            self.held.keep(kind, item_id, audit=audit)
        elif kind == "order":
            if decision == "release":
                return self.held.release_order(item_id, audit=audit)
            self.held.cancel_order(item_id, audit=audit)
        elif decision == "release":
            self.held.release_withdrawal(item_id, audit=audit)
        else:
            self.held.cancel_withdrawal(item_id, audit=audit)
        return None

    # -- shared ----------------------------------------------------------------------

    def _engine(self, actions: list[dict[str, Any]], operator: Operator,
                write: Callable[[Session, datetime], None]) -> None:
        """``write`` and the engine's desk actions in one transaction (the log's); with
        the engine off, ``write`` alone."""
        now = self.clock()
        if self.decision_log is not None and actions:
            self.decision_log.desk(actions, actor=operator.actor,
                                   on_write=lambda session: write(session, now))
        else:
            with self.db.write() as session:
                write(session, now)

    @staticmethod
    def _reverification(session: Session, account: str, purpose: str,
                        given: ReverificationInput, operator: Operator,
                        now: datetime) -> Reverification:
        row = Reverification(id=new_id("rev"), account=account, purpose=purpose,
                             callback_registered_phone=given.callback_registered_phone,
                             id_document=given.id_document, notes=given.notes.strip(),
                             recorded_by=operator.staff_id, recorded_at=now)
        session.add(row)
        session.flush()
        return row


def _rev_payload(given: ReverificationInput) -> dict[str, Any]:
    return {"callback_registered_phone": given.callback_registered_phone,
            "id_document": given.id_document, "notes": given.notes.strip()}


def _owner(session: Session, kind: str, item_id: str) -> str | None:
    model = Order if kind == "order" else Withdrawal
    row = session.get(model, item_id)
    return row.account_id if row is not None else None
