"""What the operations desk does with orders and withdrawals the guard held for review
(``status = 'held'``, their cash or shares reserved): release them (executed through
the broker, as if placed now), cancel them (the reservation returns to the customer)
or keep them held. Each decision is one transaction with its audit record (the
caller's ``audit`` hook writes it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kabuguard.broker.models import Account, Order, Withdrawal
from kabuguard.broker.services import BrokerService
from kabuguard.domain.errors import Conflict, KabuguardError, NotFound

HELD = "held"
AuditHook = Callable[[Session], None]


@dataclass(frozen=True, slots=True)
class HeldItem:
    kind: str  # order | withdrawal
    id: str
    account_id: str
    at: datetime
    amount_yen: int
    symbol: str | None
    side: str | None
    quantity: int | None


class HeldItems:
    def __init__(self, broker: BrokerService) -> None:
        self.broker = broker
        self.db, self.clock = broker.db, broker.clock

    def list(self, *, account_id: str | None = None) -> list[HeldItem]:
        orders = select(Order).where(Order.status == HELD)
        withdrawals = select(Withdrawal).where(Withdrawal.status == HELD)
        if account_id:
            orders = orders.where(Order.account_id == account_id)
            withdrawals = withdrawals.where(Withdrawal.account_id == account_id)
        with self.db.read() as session:
            items = [HeldItem("order", o.id, o.account_id, o.created_at, o.est_notional_yen,
                              o.symbol, o.side, o.quantity)
                     for o in session.execute(orders).scalars()]
            items += [HeldItem("withdrawal", w.id, w.account_id, w.requested_at, w.amount_yen,
                               None, None, None)
                      for w in session.execute(withdrawals).scalars()]
        return sorted(items, key=lambda i: i.at)

    @staticmethod
    def _account(session: Session, account_id: str, *, active: bool) -> Account:
        account = session.execute(select(Account).where(Account.id == account_id)
                                  .with_for_update()).scalar_one()
        if active and account.status != "active":
            raise Conflict("The account is frozen: unfreeze it before releasing anything.",
                           account=account_id)
        return account

    def _order(self, session: Session, order_id: str) -> Order:
        order = session.get(Order, order_id)
        if order is None:
            raise NotFound("No such order.", order_id=order_id)
        if order.status != HELD:
            raise Conflict(f"This order is {order.status}, not held.", order_id=order_id)
        return order

    def _withdrawal(self, session: Session, withdrawal_id: str) -> Withdrawal:
        wd = session.get(Withdrawal, withdrawal_id)
        if wd is None:
            raise NotFound("No such withdrawal.", withdrawal_id=withdrawal_id)
        if wd.status != HELD:
            raise Conflict(f"This withdrawal is {wd.status}, not held.",
                           withdrawal_id=withdrawal_id)
        return wd

    def release_order(self, order_id: str, *, audit: AuditHook) -> str:
        """Back to the broker's queue, then executed now when its market is open and
        it is marketable (as ``run_due_orders`` would); returns its status."""
        now = self.clock()
        with self.db.write() as session:
            order = self._order(session, order_id)
            self._account(session, order.account_id, active=True)
            order.status, order.updated_at = "queued", now
            account_id, code = order.account_id, order.symbol
            audit(session)
        sym = self.broker.symbols.get(code)
        if sym is not None and self.broker.is_open(sym, now):
            try:
                self.broker._run_one(order_id, account_id, sym, now)
            except KabuguardError:
                self.broker._reject(order_id, account_id, now)
        with self.db.read() as session:
            return session.get(Order, order_id).status  # type: ignore[union-attr]

    def cancel_order(self, order_id: str, *, audit: AuditHook) -> None:
        """Cancelled; the reserved cash or shares return (a frozen account's too)."""
        now = self.clock()
        with self.db.write() as session:
            order = self._order(session, order_id)
            account = self._account(session, order.account_id, active=False)
            self.broker._release(session, account, order)
            order.status, order.updated_at = "cancelled", now
            order.reject_reason = "cancelled by the operations desk"
            audit(session)

    def release_withdrawal(self, withdrawal_id: str, *, audit: AuditHook) -> None:
        """The money goes to the registered bank account now."""
        now = self.clock()
        with self.db.write() as session:
            wd = self._withdrawal(session, withdrawal_id)
            account = self._account(session, wd.account_id, active=True)
            account.reserved_yen -= wd.amount_yen
            self.broker._move_cash(session, account, -wd.amount_yen, "withdrawal",
                                   wd.id, now)
            wd.status = "completed"
            audit(session)

    def cancel_withdrawal(self, withdrawal_id: str, *, audit: AuditHook) -> None:
        """Refused: the reserved cash is free again."""
        with self.db.write() as session:
            wd = self._withdrawal(session, withdrawal_id)
            account = self._account(session, wd.account_id, active=False)
            account.reserved_yen -= wd.amount_yen
            wd.status = "cancelled"
            audit(session)

    def keep(self, kind: str, item_id: str, *, audit: AuditHook) -> None:
        """Still held (more to check): only the decision and its reason are recorded."""
        with self.db.write() as session:
            if kind == "order":
                self._order(session, item_id)
            else:
                self._withdrawal(session, item_id)
            audit(session)
