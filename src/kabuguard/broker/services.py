"""The reference brokerage: accounts, orders against the simulated market, cash,
withdrawals and the registered bank account.

Every method that changes state does so in one transaction that also writes the
interchange event (outbox) and the audit record, after locking the account row first.
Locking the account first, then the symbol's quote, is the one lock order everywhere,
so concurrent requests cannot deadlock on PostgreSQL; on SQLite the write transaction
is BEGIN IMMEDIATE and so already serialized.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from kabuguard.broker.interfaces import (
    BankDetails,
    HoldingView,
    OrderRequest,
    Outcome,
    Portfolio,
    QuoteView,
    SymbolRestricted,
)
from kabuguard.broker.market import FxRates, ImpactModel, MarketState, TradingCalendar
from kabuguard.broker.models import (
    Account,
    BankAccount,
    CashMovement,
    Execution,
    Holding,
    IdempotencyRecord,
    Order,
    Quote,
    Withdrawal,
)
from kabuguard.broker.symbols import Symbol
from kabuguard.crypto import FieldCipher
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import (
    CoolingOff,
    Forbidden,
    IdempotencyConflict,
    InsufficientFunds,
    InsufficientHoldings,
    InvalidInput,
    KabuguardError,
    NotFound,
    UnknownAccount,
    UnknownSymbol,
)
from kabuguard.domain.events import Event, EventType, RequestContext, format_ts_jst
from kabuguard.domain.ids import new_id
from kabuguard.journal import Journal
from kabuguard.notify.interfaces import NoticeKind, Notifier, NullNotifier
from kabuguard.store.database import Database

MAX_QUANTITY = 100_000_000
# A queued market buy reserves this multiple of today's price: the execution price at
# the next open is unknown, and brokers likewise reserve against a price above today's.
QUEUED_MARKET_BUY_BUFFER = Decimal("1.2")
IDEMPOTENCY_KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,100}$")


class BrokerService:
    def __init__(self, db: Database, *, journal: Journal, cipher: FieldCipher,
                 symbols: dict[str, Symbol], impact: ImpactModel,
                 calendar: TradingCalendar, fx: FxRates, always_open: bool,
                 bank_cooling_off: timedelta, max_order_notional_yen: int,
                 max_withdrawal_yen: int, notifier: Notifier | None = None,
                 clock: Clock = utcnow) -> None:
        self.db, self.journal, self.cipher = db, journal, cipher
        # Executions have no event of their own: the fill queues its notice here.
        self.notifier: Notifier = notifier or NullNotifier()
        self.symbols, self.impact, self.calendar, self.fx = symbols, impact, calendar, fx
        self.always_open = always_open
        self.bank_cooling_off = bank_cooling_off
        self.max_order_notional_yen = max_order_notional_yen
        self.max_withdrawal_yen = max_withdrawal_yen
        self.clock = clock
        # Symbols the firm has stopped (ops/restrictions.py sets it): (symbol, side) -> bool.
        self.restricted: Callable[[str, str], bool] = _never_restricted

    # -- market ----------------------------------------------------------------------
    def symbol(self, code: str) -> Symbol:
        sym = self.symbols.get(code.strip().upper()) if isinstance(code, str) else None
        if sym is None:
            raise UnknownSymbol(f"Unknown symbol '{code}'.", symbol=str(code)[:20])
        return sym

    def is_open(self, sym: Symbol, now: datetime) -> bool:
        return self.always_open or self.calendar.is_open(sym.market, now)

    def to_yen(self, sym: Symbol, amount_minor: int) -> int:
        return self.fx.to_jpy(amount_minor, sym.currency, sym.minor_per_unit)

    def quote(self, code: str) -> QuoteView:
        sym = self.symbol(code)
        now = self.clock()
        with self.db.read() as session:
            row = session.get(Quote, sym.symbol)
        price = self._price(sym, row, now)
        base = row.base_price_minor if row else sym.price_minor
        return QuoteView(
            symbol=sym.symbol, name=sym.name, name_ja=sym.name_ja, market=sym.market,
            currency=sym.currency, price_minor=price, minor_per_unit=sym.minor_per_unit,
            price_jpy=self.to_yen(sym, price), lot_size=sym.lot_size,
            is_open=self.is_open(sym, now),
            next_open=now if self.always_open else self.calendar.next_open(sym.market, now),
            change_pct=(price - base) / base * 100 if base else 0.0,
        )

    def search_symbols(self, query: str, *, limit: int = 20) -> list[Symbol]:
        q = query.strip().lower()
        if not q:
            return []
        exact = self.symbols.get(q.upper())
        hits = [exact] if exact else []
        for sym in self.symbols.values():
            if len(hits) >= limit:
                break
            if sym is exact:
                continue
            if q in sym.symbol.lower() or q in sym.name.lower() or (
                    sym.name_ja and q in sym.name_ja.lower()):
                hits.append(sym)
        return hits

    def _price(self, sym: Symbol, row: Quote | None, now: datetime) -> int:
        if row is None:
            return sym.price_minor
        return self.impact.price_at(sym, _state(row), now)

    # -- accounts --------------------------------------------------------------------
    def open_account(self, session: Session, *, account_id: str, cash_yen: int,
                     bank: BankDetails, home_country: str = "JP") -> Account:
        """Open an account in the caller's transaction, with its first bank account
        (usable at once: it was verified when the account was opened)."""
        now = self.clock()
        account = Account(id=account_id, customer_id=account_id, cash_yen=0, reserved_yen=0,
                          status="active", home_country=home_country, opened_at=now)
        session.add(account)
        session.flush()
        session.add(self._bank_row(account_id, _validate_bank(bank), now, usable_from=now))
        if cash_yen:
            self._move_cash(session, account, cash_yen, "deposit", None, now)
        self.journal.record_admin(session, ts=now, actor="system", action="account_open",
                                  subject=account_id, payload={"cash_jpy": cash_yen})
        return account

    def _lock_account(self, session: Session, account_id: str) -> Account:
        account = session.execute(
            select(Account).where(Account.id == account_id).with_for_update()
        ).scalar_one_or_none()
        if account is None:
            raise UnknownAccount(f"No account {account_id}.", account=account_id)
        if account.status != "active":
            raise Forbidden("This account is frozen. Please contact the support desk.",
                            account=account_id)
        return account

    def _lock_quote(self, session: Session, sym: Symbol, now: datetime) -> Quote:
        lock = select(Quote).where(Quote.symbol == sym.symbol).with_for_update()
        quote = session.execute(lock).scalar_one_or_none()
        if quote is not None:
            return quote
        # First trade in this symbol: two requests may race to create its row, so the
        # insert yields to the winner and both then lock the one row.
        table = Quote.__table__
        insert = sqlite_insert if self.db.is_sqlite else pg_insert
        session.execute(
            insert(table).values(symbol=sym.symbol, base_price_minor=sym.price_minor,
                                 impact=0.0, updated_at=now)
            .on_conflict_do_nothing(index_elements=["symbol"])
        )
        return session.execute(lock).scalar_one()

    def _move_cash(self, session: Session, account: Account, amount_yen: int, kind: str,
                   reference: str | None, now: datetime) -> None:
        account.cash_yen += amount_yen
        if account.cash_yen < 0:  # the services check first; this is a last guard
            raise InsufficientFunds("Not enough cash.", account=account.id)
        session.add(CashMovement(account_id=account.id, ts=now, kind=kind,
                                 amount_yen=amount_yen, balance_after_yen=account.cash_yen,
                                 reference=reference))

    # -- idempotency -----------------------------------------------------------------
    @staticmethod
    def _check_key(key: str | None) -> None:
        if key is not None and not IDEMPOTENCY_KEY_RE.match(key):
            raise InvalidInput("The Idempotency-Key must be 8-100 letters, digits or ._:-",
                               field="idempotency_key")

    @staticmethod
    def _replay(session: Session, account_id: str, key: str | None,
                request_hash: str) -> Outcome | None:
        if key is None:
            return None
        rec = session.execute(
            select(IdempotencyRecord).where(IdempotencyRecord.account_id == account_id,
                                            IdempotencyRecord.key == key)
        ).scalar_one_or_none()
        if rec is None:
            return None
        if rec.request_hash != request_hash:
            raise IdempotencyConflict(
                "This Idempotency-Key was already used for a different request.",
                idempotency_key=key)
        return Outcome(rec.status_code, json.loads(rec.response), replayed=True)

    def _remember(self, session: Session, account_id: str, key: str | None,
                  request_hash: str, outcome: Outcome, now: datetime) -> None:
        if key is not None:
            session.add(IdempotencyRecord(account_id=account_id, key=key,
                                          request_hash=request_hash,
                                          status_code=outcome.status_code,
                                          response=json.dumps(outcome.body), created_at=now))

    def _idempotent_write(
        self, account_id: str, idempotency_key: str | None, request: dict[str, Any],
        change: Callable[[Session, Account, datetime], tuple[Outcome, Event]],
    ) -> Outcome:
        """The frame of every customer money movement: lock the account, answer a retry
        with the stored outcome, otherwise apply ``change`` and store its outcome under
        the key, then journal its event, all in one transaction."""
        self._check_key(idempotency_key)
        request_hash = _hash_request(request)
        now = self.clock()
        with self.db.write() as session:
            account = self._lock_account(session, account_id)
            replay = self._replay(session, account_id, idempotency_key, request_hash)
            if replay is not None:
                return replay
            outcome, event = change(session, account, now)
            self._remember(session, account_id, idempotency_key, request_hash, outcome, now)
            self.journal.record(session, event, actor=f"customer:{account_id}")
        return outcome

    # -- orders ----------------------------------------------------------------------
    def validate_order(self, req: OrderRequest) -> tuple[Symbol, int | None]:
        """Check an order request without touching the database; return the symbol and
        the limit price in minor units. Raises InvalidInput / UnknownSymbol."""
        sym = self.symbol(req.symbol)
        if req.side not in ("buy", "sell"):
            raise InvalidInput("Side must be 'buy' or 'sell'.", field="side")
        if req.order_type not in ("market", "limit"):
            raise InvalidInput("Order type must be 'market' or 'limit'.", field="order_type")
        if not isinstance(req.quantity, int) or isinstance(req.quantity, bool) or req.quantity <= 0:
            raise InvalidInput("Quantity must be a whole number of shares above zero.",
                               field="quantity")
        if req.quantity > MAX_QUANTITY:
            raise InvalidInput(f"Quantity may not exceed {MAX_QUANTITY:,} shares.",
                               field="quantity")
        if req.quantity % sym.lot_size:
            raise InvalidInput(
                f"{sym.symbol} trades in lots of {sym.lot_size} shares; the quantity must be "
                "a multiple of that.", field="quantity", lot_size=sym.lot_size)
        limit_minor = None
        if req.order_type == "limit":
            limit_minor = _parse_price(req.limit_price, sym)
        elif req.limit_price not in (None, ""):
            raise InvalidInput("A market order takes no limit price.", field="limit_price")
        return sym, limit_minor

    def order_fields(self, req: OrderRequest) -> dict[str, Any]:
        """The order's fields as its event will carry them (EVENTS.md), estimated now
        as ``place_order`` estimates them (``notional_jpy`` at the limit, or at the
        current price): what the guard's risk check sees before the order is placed.
        Raises as ``validate_order``."""
        sym, limit_minor = self.validate_order(req)
        est_price = limit_minor
        if est_price is None:
            with self.db.read() as session:
                row = session.get(Quote, sym.symbol)
            est_price = self._price(sym, row, self.clock())
        return {"symbol": sym.symbol, "side": req.side, "quantity": req.quantity,
                "order_type": req.order_type,
                "limit_price": (limit_minor / sym.minor_per_unit
                                if limit_minor is not None else None),
                "notional_jpy": self.to_yen(sym, est_price * req.quantity)}

    def place_order(self, account_id: str, req: OrderRequest, *, context: RequestContext,
                    idempotency_key: str | None = None, hold: bool = False) -> Outcome:
        """Accept an order: execute it now when its market is open and it is marketable,
        otherwise queue it (market closed) or rest it (limit not reached), reserving
        the cash or shares it needs. Raises on invalid input or insufficient funds, in
        which case nothing is written.

        ``hold``: the guard held it for review (a risk rule): it is stored as ``held``
        with its reservation, answered 202, and never executed by ``run_due_orders``
        until the operations desk releases it (status back to ``queued``)."""
        sym, limit_minor = self.validate_order(req)
        if self.restricted(sym.symbol, req.side):
            # The last line behind the guard (the engine denies it first when on).
            raise SymbolRestricted(f"Orders to {req.side} {sym.symbol} are suspended for now.",
                                   symbol=sym.symbol, side=req.side)

        def change(session: Session, account: Account, now: datetime) -> tuple[Outcome, Event]:
            quote = self._lock_quote(session, sym, now)
            price = self.impact.price_at(sym, _state(quote), now)
            est_price = limit_minor if limit_minor is not None else price
            est_yen = self.to_yen(sym, est_price * req.quantity)
            if est_yen > self.max_order_notional_yen:
                raise InvalidInput(
                    f"Orders above ¥{self.max_order_notional_yen:,} are not accepted online.",
                    field="quantity")
            order = Order(
                id=new_id("ord"), account_id=account_id, symbol=sym.symbol, side=req.side,
                order_type=req.order_type, quantity=req.quantity,
                limit_price_minor=limit_minor, status="new", est_notional_yen=est_yen,
                reserved_yen=0, channel=str(context.channel), session_id=context.session,
                created_at=now, updated_at=now,
            )
            session.add(order)
            fill = None
            if hold:
                self._reserve(session, account, order, sym, price, now)
                order.status = "held"
            elif self.is_open(sym, now) and _marketable(req.side, price, limit_minor):
                fill = self._execute(session, account, order, sym, quote, price, now)
            else:
                self._reserve(session, account, order, sym, price, now)
                order.status = "open" if self.is_open(sym, now) else "queued"
            event = Event(
                new_id("evt"), now, EventType.ORDER, account_id, context,
                {"order_id": order.id, "symbol": sym.symbol, "side": req.side,
                 "quantity": req.quantity, "order_type": req.order_type,
                 "limit_price": (limit_minor / sym.minor_per_unit
                                 if limit_minor is not None else None),
                 "notional_jpy": est_yen,
                 # A producer's own field (EVENTS.md allows them): whether the order
                 # filled on entry, so its one notice is the execution's.
                 "status": order.status})
            return Outcome(202 if hold else 201, order_to_dict(order, sym, fill)), event

        return self._idempotent_write(
            account_id, idempotency_key, {"op": "order", **asdict(req), "symbol": sym.symbol},
            change)

    def _reserve(self, session: Session, account: Account, order: Order, sym: Symbol,
                 price: int, now: datetime) -> None:
        if order.side == "buy":
            if order.limit_price_minor is not None:
                need = self.to_yen(sym, order.limit_price_minor * order.quantity)
            else:
                need = int(self.to_yen(sym, price * order.quantity) * QUEUED_MARKET_BUY_BUFFER)
            if need > account.cash_yen - account.reserved_yen:
                raise InsufficientFunds(
                    f"Not enough cash: this order needs ¥{need:,} set aside and ¥"
                    f"{account.cash_yen - account.reserved_yen:,} is available.",
                    needed_jpy=need, available_jpy=account.cash_yen - account.reserved_yen)
            account.reserved_yen += need
            order.reserved_yen = need
        else:
            holding = self._holding(session, account.id, sym.symbol)
            free = holding.quantity - holding.reserved_qty if holding else 0
            if order.quantity > free:
                raise InsufficientHoldings(
                    f"Not enough {sym.symbol} shares: {free:,} available to sell.",
                    available_quantity=free)
            assert holding is not None  # noqa: S101 - free > 0 implies a holding
            holding.reserved_qty += order.quantity
        order.updated_at = now

    def _release(self, session: Session, account: Account, order: Order) -> None:
        if order.side == "buy":
            account.reserved_yen -= order.reserved_yen
            order.reserved_yen = 0
        else:
            holding = self._holding(session, account.id, order.symbol)
            if holding is not None:
                holding.reserved_qty -= order.quantity

    @staticmethod
    def _holding(session: Session, account_id: str, symbol: str) -> Holding | None:
        return session.get(Holding, (account_id, symbol))

    def _execute(self, session: Session, account: Account, order: Order, sym: Symbol,
                 quote: Quote, price: int, now: datetime) -> Execution:
        amount = self.to_yen(sym, price * order.quantity)
        holding = self._holding(session, account.id, sym.symbol)
        if order.side == "buy":
            available = account.cash_yen - account.reserved_yen
            if amount > available:
                raise InsufficientFunds(
                    f"Not enough cash: this order costs about ¥{amount:,} and ¥{available:,} "
                    "is available.", needed_jpy=amount, available_jpy=available)
            self._move_cash(session, account, -amount, "buy", order.id, now)
            if holding is None:
                holding = Holding(account_id=account.id, symbol=sym.symbol, quantity=0,
                                  reserved_qty=0, cost_yen=0)
                session.add(holding)
            holding.quantity += order.quantity
            holding.cost_yen += amount
        else:
            free = holding.quantity - holding.reserved_qty if holding else 0
            if order.quantity > free:
                raise InsufficientHoldings(
                    f"Not enough {sym.symbol} shares: {free:,} available to sell.",
                    available_quantity=free)
            assert holding is not None  # noqa: S101
            # Average-cost method: the shares sold take their share of the cost basis.
            holding.cost_yen -= holding.cost_yen * order.quantity // holding.quantity
            holding.quantity -= order.quantity
            self._move_cash(session, account, amount, "sell", order.id, now)
        new_state = self.impact.after_trade(sym, _state(quote), order.side, order.quantity, now)
        quote.base_price_minor = new_state.base_price_minor
        quote.impact = new_state.impact
        quote.updated_at = new_state.updated_at
        execution = Execution(id=new_id("exe"), order_id=order.id, account_id=account.id,
                              symbol=sym.symbol, side=order.side, quantity=order.quantity,
                              price_minor=price, fx_rate=str(self.fx_rate(sym.currency)),
                              amount_yen=amount, ts=now)
        session.add(execution)
        order.status = "filled"
        order.updated_at = now
        self.notifier.queue(
            session, customer_id=account.customer_id, kind=NoticeKind.EXECUTION, now=now,
            params={"at": now.isoformat(), "symbol": sym.symbol, "side": order.side,
                    "quantity": order.quantity,
                    "price": str(Decimal(price) / sym.minor_per_unit),
                    "currency": sym.currency, "amount_jpy": amount, "name": sym.name,
                    "name_ja": sym.name_ja or sym.name},
            dedupe_key=f"execution:{execution.id}")
        return execution

    def fx_rate(self, currency: str) -> Decimal:
        return self.fx.rate(currency)

    def run_due_orders(self) -> int:
        """Execute queued orders whose market has opened and resting limit orders that
        have become marketable. Each order is its own transaction; an order that can no
        longer be paid for is rejected and its reservation released. Returns the number
        of orders that changed state."""
        now = self.clock()
        with self.db.read() as session:
            due = session.execute(
                select(Order.id, Order.account_id, Order.symbol)
                .where(Order.status.in_(("queued", "open"))).order_by(Order.created_at)
            ).all()
        changed = 0
        for order_id, account_id, code in due:
            sym = self.symbols.get(code)
            if sym is None or not self.is_open(sym, now):
                continue
            try:
                changed += self._run_one(order_id, account_id, sym, now)
            except KabuguardError:
                changed += self._reject(order_id, account_id, now)
        return changed

    def _run_one(self, order_id: str, account_id: str, sym: Symbol, now: datetime) -> int:
        with self.db.write() as session:
            account = self._lock_account(session, account_id)
            order = session.get(Order, order_id)
            if order is None or order.status not in ("queued", "open"):
                return 0
            quote = self._lock_quote(session, sym, now)
            price = self.impact.price_at(sym, _state(quote), now)
            if not _marketable(order.side, price, order.limit_price_minor):
                if order.status == "queued":
                    order.status, order.updated_at = "open", now
                    return 1
                return 0
            self._release(session, account, order)
            self._execute(session, account, order, sym, quote, price, now)
            self.journal.record_admin(session, ts=now, actor="market", action="execution",
                                      subject=account_id,
                                      payload={"order_id": order.id, "price_minor": price})
            return 1

    def _reject(self, order_id: str, account_id: str, now: datetime) -> int:
        with self.db.write() as session:
            account = session.get(Account, account_id)
            order = session.get(Order, order_id)
            if account is None or order is None or order.status not in ("queued", "open"):
                return 0
            self._release(session, account, order)
            order.status, order.updated_at = "rejected", now
            order.reject_reason = "insufficient cash or shares at execution"
            self.journal.record_admin(session, ts=now, actor="market", action="order_rejected",
                                      subject=account_id, payload={"order_id": order.id})
            return 1

    def cancel_order(self, account_id: str, order_id: str, *, context: RequestContext) -> Outcome:
        now = self.clock()
        with self.db.write() as session:
            account = self._lock_account(session, account_id)
            order = session.get(Order, order_id)
            if order is None or order.account_id != account_id:
                raise NotFound("No such order.", order_id=order_id)
            if order.status not in ("queued", "open", "held"):
                raise InvalidInput(f"This order is {order.status} and can no longer be "
                                   "cancelled.", field="order_id")
            self._release(session, account, order)
            order.status, order.updated_at = "cancelled", now
            self.journal.record_admin(session, ts=now, actor=f"customer:{account_id}",
                                      action="order_cancel", subject=account_id,
                                      payload={"order_id": order_id, "ip": context.ip})
            return Outcome(200, self._order_view(order, self.symbols[order.symbol], session))

    def _order_view(self, order: Order, sym: Symbol, session: Session) -> dict[str, Any]:
        fill = session.execute(
            select(Execution).where(Execution.order_id == order.id)
        ).scalar_one_or_none()
        return order_to_dict(order, sym, fill)

    def order(self, account_id: str, order_id: str) -> dict[str, Any]:
        """One of the account's orders; NotFound for an unknown id or another's order."""
        with self.db.read() as session:
            row = session.execute(
                select(Order, Execution).outerjoin(Execution, Execution.order_id == Order.id)
                .where(Order.id == order_id, Order.account_id == account_id)
            ).first()
            if row is None:
                raise NotFound("No such order.", order_id=order_id[:40])
            return order_to_dict(row[0], self.symbols[row[0].symbol], row[1])

    def orders(self, account_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
        with self.db.read() as session:
            rows = session.execute(
                select(Order, Execution).outerjoin(Execution, Execution.order_id == Order.id)
                .where(Order.account_id == account_id)
                .order_by(Order.created_at.desc()).limit(limit)
            ).all()
            return [order_to_dict(o, self.symbols[o.symbol], e) for o, e in rows]

    def cash_movements(self, account_id: str, *, limit: int = 100) -> list[CashMovement]:
        with self.db.read() as session:
            return list(session.execute(
                select(CashMovement).where(CashMovement.account_id == account_id)
                .order_by(CashMovement.id.desc()).limit(limit)
            ).scalars())

    def portfolio(self, account_id: str) -> Portfolio:
        now = self.clock()
        with self.db.read() as session:
            account = session.get(Account, account_id)
            if account is None:
                raise UnknownAccount(f"No account {account_id}.", account=account_id)
            holdings = session.execute(
                select(Holding).where(Holding.account_id == account_id, Holding.quantity > 0)
                .order_by(Holding.symbol)
            ).scalars().all()
            quotes = {q.symbol: q for q in session.execute(
                select(Quote).where(Quote.symbol.in_([h.symbol for h in holdings]))
            ).scalars()}
        views = []
        for h in holdings:
            sym = self.symbols[h.symbol]
            price = self._price(sym, quotes.get(h.symbol), now)
            views.append(HoldingView(
                symbol=sym.symbol, name=sym.name, name_ja=sym.name_ja, market=sym.market,
                currency=sym.currency, quantity=h.quantity, reserved_qty=h.reserved_qty,
                price_minor=price, minor_per_unit=sym.minor_per_unit,
                value_yen=self.to_yen(sym, price * h.quantity), cost_yen=h.cost_yen))
        return Portfolio(account_id, account.cash_yen, account.reserved_yen, views)

    # -- cash ------------------------------------------------------------------------
    def _check_amount(self, amount_yen: object, limit: int) -> int:
        if not isinstance(amount_yen, int) or isinstance(amount_yen, bool) or amount_yen <= 0:
            raise InvalidInput("The amount must be a whole number of yen above zero.",
                               field="amount_jpy")
        if amount_yen > limit:
            raise InvalidInput(f"The amount may not exceed ¥{limit:,}.", field="amount_jpy")
        return amount_yen

    def deposit(self, account_id: str, amount_yen: int, *, context: RequestContext,
                idempotency_key: str | None = None) -> Outcome:
        """Simulated deposit (a real firm's bank transfer arrives here)."""
        self._check_amount(amount_yen, self.max_withdrawal_yen)

        def change(session: Session, account: Account, now: datetime) -> tuple[Outcome, Event]:
            self._move_cash(session, account, amount_yen, "deposit", None, now)
            return (Outcome(201, {"amount_jpy": amount_yen, "cash_jpy": account.cash_yen}),
                    Event(new_id("evt"), now, EventType.DEPOSIT, account_id, context,
                          {"amount_jpy": amount_yen}))

        return self._idempotent_write(account_id, idempotency_key,
                                      {"op": "deposit", "amount": amount_yen}, change)

    def withdrawal_fields(self, account_id: str, amount_yen: int) -> dict[str, Any]:
        """The withdrawal's fields as its event will carry them (EVENTS.md): the
        amount and the token of the registered bank account, for the guard's risk
        check before it. Raises InvalidInput for an amount ``withdraw`` refuses."""
        self._check_amount(amount_yen, self.max_withdrawal_yen)
        with self.db.read() as session:
            bank = self._current_bank(session, account_id)
        return {"amount_jpy": amount_yen, "bank_account": bank.token if bank else ""}

    def withdraw(self, account_id: str, amount_yen: int, *, context: RequestContext,
                 idempotency_key: str | None = None, hold: bool = False) -> Outcome:
        """Send cash to the registered bank account, after its cooling-off period.

        ``hold``: the guard held it for review: after the same checks it is stored as
        ``held`` with the amount reserved (no cash moves), answered 202, until the
        operations desk releases or refuses it."""
        self._check_amount(amount_yen, self.max_withdrawal_yen)

        def change(session: Session, account: Account, now: datetime) -> tuple[Outcome, Event]:
            bank = self._current_bank(session, account_id)
            if bank is None:
                raise InvalidInput("No bank account is registered for withdrawals.",
                                   field="bank_account")
            if now < bank.usable_from:
                raise CoolingOff(
                    "The registered bank account was changed recently; withdrawals to it "
                    f"are possible from {format_ts_jst(bank.usable_from)}.",
                    usable_from=bank.usable_from.isoformat())
            available = account.cash_yen - account.reserved_yen
            if amount_yen > available:
                raise InsufficientFunds(
                    f"Not enough cash: ¥{available:,} is available for withdrawal.",
                    needed_jpy=amount_yen, available_jpy=available)
            wd = Withdrawal(id=new_id("wd"), account_id=account_id, amount_yen=amount_yen,
                            bank_account_id=bank.id, status="held" if hold else "completed",
                            requested_at=now)
            session.add(wd)
            fields: dict[str, Any] = {"amount_jpy": amount_yen, "bank_account": bank.token}
            if hold:
                account.reserved_yen += amount_yen
                fields["status"] = "held"  # a producer's field (EVENTS.md allows them)
            else:
                self._move_cash(session, account, -amount_yen, "withdrawal", wd.id, now)
            return (Outcome(202 if hold else 201, {
                        "id": wd.id, "amount_jpy": amount_yen, "status": wd.status,
                        "cash_jpy": account.cash_yen,
                        "bank_account": f"{bank.bank_name} ****{bank.number_last4}",
                        "requested_at": now.isoformat()}),
                    Event(new_id("evt"), now, EventType.WITHDRAWAL, account_id, context, fields))

        return self._idempotent_write(account_id, idempotency_key,
                                      {"op": "withdraw", "amount": amount_yen}, change)

    # -- bank account ----------------------------------------------------------------
    @staticmethod
    def _current_bank(session: Session, account_id: str) -> BankAccount | None:
        return session.execute(
            select(BankAccount).where(BankAccount.account_id == account_id,
                                      BankAccount.replaced_at.is_(None))
        ).scalar_one_or_none()

    def _bank_row(self, account_id: str, bank: BankDetails, now: datetime, *,
                  usable_from: datetime) -> BankAccount:
        return BankAccount(
            id=new_id("bank"), account_id=account_id,
            token=self.cipher.token("bank", f"{bank.bank_name}|{bank.branch_code}|{bank.number}"),
            bank_name=bank.bank_name, branch_code=bank.branch_code,
            number_enc=self.cipher.encrypt(bank.number), holder_enc=self.cipher.encrypt(bank.holder),
            number_last4=bank.number[-4:], created_at=now, usable_from=usable_from,
        )

    def bank_account(self, account_id: str) -> dict[str, Any] | None:
        with self.db.read() as session:
            bank = self._current_bank(session, account_id)
            if bank is None:
                return None
            return {"bank_name": bank.bank_name, "branch_code": bank.branch_code,
                    "number_masked": f"***{bank.number_last4}",
                    "holder": self.cipher.decrypt(bank.holder_enc),
                    "usable_from": bank.usable_from, "registered_at": bank.created_at,
                    "token": bank.token}

    def change_bank_account(self, account_id: str, bank: BankDetails, *,
                            context: RequestContext) -> dict[str, Any]:
        """Register a new withdrawal account; it can receive money after the cooling-off."""
        clean = _validate_bank(bank)
        now = self.clock()
        with self.db.write() as session:
            self._lock_account(session, account_id)
            current = self._current_bank(session, account_id)
            if current is not None:
                current.replaced_at = now
                session.flush()  # one current account at a time, even mid-transaction
            row = self._bank_row(account_id, clean, now, usable_from=now + self.bank_cooling_off)
            session.add(row)
            self.journal.record(session, Event(
                new_id("evt"), now, EventType.BANK_ACCOUNT_CHANGE, account_id, context,
                {"bank_account": row.token}), actor=f"customer:{account_id}",
                notice_hints={"effective_at": row.usable_from, "bank_name": row.bank_name,
                              "number_last4": row.number_last4})
            return {"bank_name": row.bank_name, "number_masked": f"***{row.number_last4}",
                    "usable_from": row.usable_from.isoformat(), "token": row.token}


# -- helpers -------------------------------------------------------------------------


def _never_restricted(_symbol: str, _side: str) -> bool:
    return False
def _state(row: Quote) -> MarketState:
    return MarketState(base_price_minor=row.base_price_minor, impact=row.impact,
                       updated_at=row.updated_at)


def _marketable(side: str, price: int, limit_minor: int | None) -> bool:
    """A market order always is; a limit buy when the price is at or below its limit,
    a limit sell at or above.

    >>> _marketable("buy", 100, 99), _marketable("sell", 100, 99), _marketable("buy", 5, None)
    (False, True, True)
    """
    if limit_minor is None:
        return True
    return price <= limit_minor if side == "buy" else price >= limit_minor


def _parse_price(raw: str | None, sym: Symbol) -> int:
    if raw is None or str(raw).strip() == "":
        raise InvalidInput("A limit order needs a limit price.", field="limit_price")
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        raise InvalidInput("The limit price must be a number.", field="limit_price") from None
    if not value.is_finite() or value <= 0:
        raise InvalidInput("The limit price must be above zero.", field="limit_price")
    minor = value * sym.minor_per_unit
    if minor != minor.to_integral_value():
        step = "1 yen" if sym.minor_per_unit == 1 else f"0.{'0' * (len(str(sym.minor_per_unit)) - 2)}1"
        raise InvalidInput(f"The limit price must be in steps of {step}.", field="limit_price")
    if minor > 10**12:
        raise InvalidInput("The limit price is too large.", field="limit_price")
    return int(minor)


def _validate_bank(bank: BankDetails) -> BankDetails:
    name = bank.bank_name.strip()
    if not 1 <= len(name) <= 80:
        raise InvalidInput("Enter the bank's name.", field="bank_name")
    if not re.fullmatch(r"[0-9]{3}", bank.branch_code.strip()):
        raise InvalidInput("The branch code has 3 digits.", field="branch_code")
    number = bank.number.strip()
    if not re.fullmatch(r"[0-9]{7}", number):
        raise InvalidInput("The account number has 7 digits.", field="number")
    holder = bank.holder.strip()
    if not 1 <= len(holder) <= 80:
        raise InvalidInput("Enter the account holder's name.", field="holder")
    return BankDetails(name, bank.branch_code.strip(), number, holder)


def _hash_request(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def order_to_dict(order: Order, sym: Symbol, fill: Execution | None) -> dict[str, Any]:
    unit = sym.minor_per_unit
    return {
        "id": order.id, "symbol": order.symbol, "name": sym.name, "name_ja": sym.name_ja,
        "side": order.side, "order_type": order.order_type, "quantity": order.quantity,
        "limit_price": order.limit_price_minor / unit if order.limit_price_minor else None,
        "currency": sym.currency, "status": order.status,
        "reject_reason": order.reject_reason,
        "est_notional_jpy": order.est_notional_yen, "channel": order.channel,
        "created_at": order.created_at.isoformat(),
        "fill_price": fill.price_minor / unit if fill else None,
        "fill_amount_jpy": fill.amount_yen if fill else None,
        "filled_at": fill.ts.isoformat() if fill else None,
    }
