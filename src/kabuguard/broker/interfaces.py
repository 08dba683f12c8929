from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from kabuguard.domain.errors import Forbidden

Side = Literal["buy", "sell"]
OrderType = Literal["market", "limit"]


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: str
    quantity: int
    order_type: str = "market"
    # In the instrument currency's major unit as typed by a person ("1234", "12.5").
    limit_price: str | None = None


@dataclass(frozen=True, slots=True)
class BankDetails:
    bank_name: str
    branch_code: str
    number: str
    holder: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an order or withdrawal call returns: the JSON body and HTTP status, the
    same on a retry with the same Idempotency-Key."""

    status_code: int
    body: dict[str, Any]
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class QuoteView:
    symbol: str
    name: str
    name_ja: str | None
    market: str
    currency: str
    price_minor: int
    minor_per_unit: int
    price_jpy: int
    lot_size: int
    is_open: bool
    next_open: datetime
    change_pct: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "name": self.name, "name_ja": self.name_ja,
            "market": self.market, "currency": self.currency,
            "price": self.price_minor / self.minor_per_unit, "price_jpy": self.price_jpy,
            "lot_size": self.lot_size, "market_open": self.is_open,
            "next_open": self.next_open.isoformat(), "change_pct": round(self.change_pct, 2),
        }


@dataclass(frozen=True, slots=True)
class HoldingView:
    symbol: str
    name: str
    name_ja: str | None
    market: str
    currency: str
    quantity: int
    reserved_qty: int
    price_minor: int
    minor_per_unit: int
    value_yen: int
    cost_yen: int

    @property
    def gain_yen(self) -> int:
        return self.value_yen - self.cost_yen


@dataclass(frozen=True, slots=True)
class Portfolio:
    account_id: str
    cash_yen: int
    reserved_yen: int
    holdings: list[HoldingView]

    @property
    def available_yen(self) -> int:
        return self.cash_yen - self.reserved_yen

    @property
    def holdings_value_yen(self) -> int:
        return sum(h.value_yen for h in self.holdings)

    @property
    def total_yen(self) -> int:
        return self.cash_yen + self.holdings_value_yen

    def to_dict(self) -> dict[str, Any]:
        return {
            "account": self.account_id, "cash_jpy": self.cash_yen,
            "reserved_jpy": self.reserved_yen, "available_jpy": self.available_yen,
            "holdings_value_jpy": self.holdings_value_yen, "total_jpy": self.total_yen,
            "holdings": [
                {"symbol": h.symbol, "name": h.name, "market": h.market,
                 "currency": h.currency, "quantity": h.quantity,
                 "reserved_quantity": h.reserved_qty,
                 "price": h.price_minor / h.minor_per_unit, "value_jpy": h.value_yen,
                 "cost_jpy": h.cost_yen, "gain_jpy": h.gain_yen}
                for h in self.holdings
            ],
        }


class SymbolRestricted(Forbidden):
    """Buying (or selling) the symbol is suspended by the firm (the operations desk,
    or the risk engine's cross-account detector)."""

    code = "symbol_restricted"
