from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kabuguard.store.base import Base
from kabuguard.store.types import UTCDateTime, Yen


class Account(Base):
    """A customer's securities account: cash in integer yen.

    ``reserved_yen`` is cash promised to queued or resting buy orders; the database
    refuses a state where cash or the reservation goes negative, a last line of defence
    behind the service's own checks.
    """

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("cash_yen >= 0", name="cash_nonnegative"),
        CheckConstraint("reserved_yen >= 0 AND reserved_yen <= cash_yen", name="reserve_covered"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), unique=True)
    cash_yen: Mapped[int] = mapped_column(Yen, default=0)
    reserved_yen: Mapped[int] = mapped_column(Yen, default=0)
    status: Mapped[str] = mapped_column(String(20), default="active")
    home_country: Mapped[str] = mapped_column(String(2), default="JP")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BankAccount(Base):
    """A registered withdrawal account. Only one is current (``replaced_at`` is null);
    money may go to it from ``usable_from`` on (the cooling-off after a change)."""

    __tablename__ = "bank_accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    token: Mapped[str] = mapped_column(String(40))
    bank_name: Mapped[str] = mapped_column(String(80))
    branch_code: Mapped[str] = mapped_column(String(3))
    # Account number and holder name are encrypted at rest.
    number_enc: Mapped[str] = mapped_column(Text)
    holder_enc: Mapped[str] = mapped_column(Text)
    number_last4: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    usable_from: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Holding(Base):
    __tablename__ = "holdings"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_nonnegative"),
        CheckConstraint("reserved_qty >= 0 AND reserved_qty <= quantity", name="reserve_covered"),
    )

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(20), primary_key=True)
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_qty: Mapped[int] = mapped_column(BigInteger, default=0)
    # Total yen paid for the shares still held (average-cost method).
    cost_yen: Mapped[int] = mapped_column(Yen, default=0)


class Quote(Base):
    """Market state per symbol for the impact model (broker.market.MarketState)."""

    __tablename__ = "quotes"

    symbol: Mapped[str] = mapped_column(String(20), primary_key=True)
    base_price_minor: Mapped[int] = mapped_column(BigInteger)
    impact: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_account_created", "account_id", "created_at"),
        Index("ix_orders_status", "status"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    symbol: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    order_type: Mapped[str] = mapped_column(String(6))
    quantity: Mapped[int] = mapped_column(BigInteger)
    limit_price_minor: Mapped[int | None] = mapped_column(BigInteger)
    # queued (market closed) | open (resting limit) | filled | rejected | cancelled
    status: Mapped[str] = mapped_column(String(10))
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    est_notional_yen: Mapped[int] = mapped_column(Yen)
    reserved_yen: Mapped[int] = mapped_column(Yen, default=0)
    channel: Mapped[str] = mapped_column(String(20))
    session_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Execution(Base):
    __tablename__ = "executions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    symbol: Mapped[str] = mapped_column(String(20))
    side: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int] = mapped_column(BigInteger)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    # JPY per unit of the instrument currency, as a decimal string (exact).
    fx_rate: Mapped[str] = mapped_column(String(20))
    amount_yen: Mapped[int] = mapped_column(Yen)
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    # Declared so the unit of work inserts an order before its execution when both are
    # new in one flush (write sessions do not autoflush); never loaded implicitly.
    order: Mapped[Order] = relationship(lazy="raise_on_sql")


class CashMovement(Base):
    """The cash ledger: every change of ``Account.cash_yen`` has one row."""

    __tablename__ = "cash_movements"
    __table_args__ = (Index("ix_cash_movements_account_ts", "account_id", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(20))  # deposit|withdrawal|buy|sell
    amount_yen: Mapped[int] = mapped_column(Yen)  # signed
    balance_after_yen: Mapped[int] = mapped_column(Yen)
    reference: Mapped[str | None] = mapped_column(String(40))


class Withdrawal(Base):
    __tablename__ = "withdrawals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount_yen: Mapped[int] = mapped_column(Yen)
    bank_account_id: Mapped[str] = mapped_column(ForeignKey("bank_accounts.id"))
    status: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdempotencyRecord(Base):
    """The stored answer to a request made with an ``Idempotency-Key``: a retry gets
    the same answer instead of a second execution."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("account_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
