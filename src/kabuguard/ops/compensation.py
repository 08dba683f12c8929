"""What a victim of an account takeover is owed under a compensation preset.

Pure functions over plain dataclasses: the fraudulent trades of a case, the customer's
own holdings before the takeover, current prices and a preset
(``compensation_policy.py``) give a ``CompensationResult`` with every line item. The
FSA supervisory guideline (2025-10-15) asks firms to examine the damage and work
sincerely on recovery including compensation (被害回復(補償を含む)に真摯に取り組む,
F-11 in shared/design/JP-RULES.md); the presets are the firms' 2025 rules.

How the trades are read
    Trades are replayed per symbol in time order. A buy opens a lot of fraudulently
    bought shares. A sell takes shares from those lots first (oldest first: the intruder
    trades what it bought, the pump-and-dump cycle), then from the customer's own
    holdings; selling more than both is an inconsistent timeline and is refused. Fees
    are kept apart from lot costs so they are counted once, as their own line.

What is a loss
    Loss on bought securities = cost of the buys − proceeds of their sales − current
    value of the shares still held; realised and unrealised are its two parts. Loss on
    sold own holdings = cost of buying them back at current prices − the sale proceeds.
    Within each kind gains and losses net out, as they do in the account; a kind that
    nets to a gain counts as no loss (a windfall is not clawed back), so no cash preset
    pays more than full cash compensation.

Rounding (explicit, per line item)
    Money is integer yen; exact ``Decimal`` inside; never floats. Each amount is rounded
    once, half up (四捨五入; ties away from zero, ``ROUND_HALF_UP``) at these points
    only: a trade's value (quantity × price, as its 約定代金), a position's value at the
    current price, the split of a sell's value between bought lots and own holdings
    (pro rata by shares), the cost of a part of a lot sold, a rate applied to a line
    (rate × the line above it, already in yen) and the negligence reduction. Every other
    line is a sum or difference of whole yen, so the statement adds up by hand.

Cut-offs
    Trades after the case's cut-off (e.g. after the customer was told and did not act)
    and outside the preset's covered dates are excluded and listed with the reason. The
    position as it stood after the included trades is valued at current prices: what
    happened after the cut-off is the customer's.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from kabuguard.domain.errors import InvalidInput
from kabuguard.domain.events import JST
from kabuguard.ops.compensation_policy import Basis, CompensationPreset, Method, Negligence


class CompensationInputError(InvalidInput):
    """The case cannot be computed as given (a sell of shares the account did not hold,
    a missing price, a negligence factor the preset does not allow, ...)."""

    code = "invalid_compensation_input"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class LineCode(StrEnum):
    """The line items of a result, in the order a statement shows them."""

    BUY_VALUE = "buy_value"  # 不正な買付けの約定代金 (sum)
    SELL_VALUE = "sell_value"  # 不正な売付けの約定代金 (sum)
    LOSS_BOUGHT_REALISED = "loss_bought_realised"  # signed: negative is a gain
    LOSS_BOUGHT_UNREALISED = "loss_bought_unrealised"  # signed
    LOSS_ON_BOUGHT = "loss_on_bought"  # the two above, net, at least 0
    OWN_SOLD_PROCEEDS = "own_sold_proceeds"
    OWN_BUYBACK_COST = "own_buyback_cost"  # at current prices
    LOSS_ON_SOLD_OWN = "loss_on_sold_own"  # buyback − proceeds, at least 0
    FEES_PAID = "fees_paid"
    BASIS = "basis"  # the loss the preset pays a share of
    LOSS_COMPENSATION = "loss_compensation"  # rate × basis
    FEE_REFUND = "fee_refund"
    NEGLIGENCE_REDUCTION = "negligence_reduction"  # negative
    SYMPATHY_PAYMENT = "sympathy_payment"
    RETURNED_SHARES_VALUE = "returned_shares_value"  # restoration: given back, in kind
    CASH_ADJUSTMENT = "cash_adjustment"  # restoration: signed, + credited, − debited
    REMOVED_POSITIONS_VALUE = "removed_positions_value"  # restoration: negative, taken
    TOTAL = "total"


class LineKind(StrEnum):
    """``detail`` lines explain; ``amount`` lines add up to the total."""

    DETAIL = "detail"
    AMOUNT = "amount"
    TOTAL = "total"


class Exclusion(StrEnum):
    AFTER_CUTOFF = "after_cutoff"
    BEFORE_COVERED_PERIOD = "before_covered_period"
    AFTER_COVERED_PERIOD = "after_covered_period"


def round_yen(value: Decimal) -> int:
    """Whole yen, half up (ties away from zero): the one rounding rule of this module.

    >>> round_yen(Decimal("10.5")), round_yen(Decimal("10.49")), round_yen(Decimal("-10.5"))
    (11, 10, -11)
    """
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _decimal(value: object, what: str) -> Decimal:
    # bool is an int and a float is inexact: both would silently mean the wrong money.
    if isinstance(value, bool | float):
        raise CompensationInputError(f"{what} must be a Decimal, int or numeric string, "
                                     f"not {type(value).__name__}")
    try:
        number = Decimal(value) if isinstance(value, Decimal | int | str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise CompensationInputError(f"{what} is not a number: {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class FraudTrade:
    """One execution the intruder made: ``price_yen`` per share (Decimal; a foreign
    price already converted), ``fee_yen`` charged on it. ``ts`` is timezone-aware."""

    ts: datetime
    symbol: str
    side: Side
    quantity: int
    price_yen: Decimal
    fee_yen: int = 0
    trade_id: str = ""

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise CompensationInputError(f"trade {self.trade_id or self.symbol}: naive time")
        try:
            object.__setattr__(self, "side", Side(self.side))
        except ValueError:
            raise CompensationInputError(f"trade {self.trade_id}: side must be buy or sell, "
                                         f"not {self.side!r}") from None
        price = _decimal(self.price_yen, f"trade {self.trade_id or self.symbol} price_yen")
        object.__setattr__(self, "price_yen", price)
        if not self.symbol:
            raise CompensationInputError(f"trade {self.trade_id}: empty symbol")
        if isinstance(self.quantity, bool) or not isinstance(self.quantity, int) \
                or self.quantity < 1:
            raise CompensationInputError(f"trade {self.trade_id or self.symbol}: quantity "
                                         "must be a whole number of shares above 0")
        if price <= 0:
            raise CompensationInputError(f"trade {self.trade_id or self.symbol}: price "
                                         "must be above 0")
        if isinstance(self.fee_yen, bool) or not isinstance(self.fee_yen, int) \
                or self.fee_yen < 0:
            raise CompensationInputError(f"trade {self.trade_id or self.symbol}: fee_yen "
                                         "must be whole yen, not negative")

    @property
    def value_yen(self) -> int:
        """The trade value (約定代金), quantity × price, in whole yen.

        >>> from datetime import UTC
        >>> FraudTrade(datetime(2025, 4, 1, tzinfo=UTC), "7203", "buy", 3, Decimal("100.5")).value_yen
        302
        """
        return round_yen(self.quantity * self.price_yen)

    def to_dict(self) -> dict[str, Any]:
        return {"trade_id": self.trade_id, "ts": self.ts.isoformat(), "symbol": self.symbol,
                "side": self.side.value, "quantity": self.quantity,
                "price_yen": str(self.price_yen), "fee_yen": self.fee_yen}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FraudTrade:
        return cls(ts=datetime.fromisoformat(data["ts"]), symbol=data["symbol"],
                   side=Side(data["side"]), quantity=int(data["quantity"]),
                   price_yen=Decimal(data["price_yen"]), fee_yen=int(data["fee_yen"]),
                   trade_id=data.get("trade_id", ""))


@dataclass(frozen=True, slots=True)
class NegligenceFactor:
    """The share (0..1) by which a person reduces the compensation for the customer's
    own part in the damage, why (e.g. "the customer turned off the offered MFA on
    2025-04-02"), and who set it. JSDA 10社申し合わせ (2025-05-02): ID・パスワード等の
    管理を含む態様を勘案."""

    factor: Decimal
    reason: str
    set_by: str

    def __post_init__(self) -> None:
        factor = _decimal(self.factor, "negligence factor")
        if not Decimal(0) <= factor <= Decimal(1):
            raise CompensationInputError("negligence factor must be between 0 and 1")
        object.__setattr__(self, "factor", factor)
        if not self.reason.strip():
            raise CompensationInputError("a negligence factor needs its reason")
        if not self.set_by.strip():
            raise CompensationInputError("a negligence factor needs the person who set it")

    def to_dict(self) -> dict[str, Any]:
        return {"factor": str(self.factor), "reason": self.reason, "set_by": self.set_by}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NegligenceFactor:
        return cls(factor=Decimal(data["factor"]), reason=data["reason"],
                   set_by=data["set_by"])


def _frozen_map(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True)
class CaseInputs:
    """Everything a computation reads about one case.

    ``own_holdings``: shares of each symbol the customer held before the takeover (only
    symbols the intruder sold matter). ``current_prices_yen``: yen per share for every
    symbol traded, as of ``prices_as_of``."""

    case_id: str
    account_id: str
    trades: tuple[FraudTrade, ...]
    own_holdings: Mapping[str, int]
    current_prices_yen: Mapping[str, Decimal]
    prices_as_of: datetime

    def __post_init__(self) -> None:
        if not self.case_id:
            raise CompensationInputError("case_id must not be empty")
        if self.prices_as_of.tzinfo is None:
            raise CompensationInputError("prices_as_of must be timezone-aware")
        object.__setattr__(self, "trades", tuple(self.trades))
        for symbol, quantity in self.own_holdings.items():
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
                raise CompensationInputError(f"own holding of {symbol} must be whole shares, "
                                             "not negative")
        prices = {symbol: _decimal(price, f"current price of {symbol}")
                  for symbol, price in self.current_prices_yen.items()}
        for symbol, price in prices.items():
            if price <= 0:
                raise CompensationInputError(f"current price of {symbol} must be above 0")
        object.__setattr__(self, "own_holdings", _frozen_map(self.own_holdings))
        object.__setattr__(self, "current_prices_yen", _frozen_map(prices))

    def to_dict(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "account_id": self.account_id,
                "trades": [trade.to_dict() for trade in self.trades],
                "own_holdings": dict(sorted(self.own_holdings.items())),
                "current_prices_yen": {s: str(p) for s, p in
                                       sorted(self.current_prices_yen.items())},
                "prices_as_of": self.prices_as_of.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseInputs:
        return cls(case_id=data["case_id"], account_id=data["account_id"],
                   trades=tuple(FraudTrade.from_dict(t) for t in data["trades"]),
                   own_holdings={s: int(q) for s, q in data["own_holdings"].items()},
                   current_prices_yen={s: Decimal(p) for s, p in
                                       data["current_prices_yen"].items()},
                   prices_as_of=datetime.fromisoformat(data["prices_as_of"]))


@dataclass(frozen=True, slots=True)
class LineItem:
    code: LineCode
    kind: LineKind
    amount_yen: int
    # How the line was computed, in numbers only ("50% × 123,456"), for the statement.
    formula: str = ""


@dataclass(frozen=True, slots=True)
class Position:
    """Shares of one symbol valued at the current price (whole yen, half up)."""

    symbol: str
    quantity: int
    price_yen: Decimal
    value_yen: int

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "quantity": self.quantity,
                "price_yen": str(self.price_yen), "value_yen": self.value_yen}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Position:
        return cls(symbol=data["symbol"], quantity=int(data["quantity"]),
                   price_yen=Decimal(data["price_yen"]), value_yen=int(data["value_yen"]))


@dataclass(frozen=True, slots=True)
class RestorationPlan:
    """What restoration moves: shares bought back for the customer, positions the firm
    takes over (and then holds: see ``firm_position.py``), and shares of a symbol both
    sold and bought, which simply stay in the account."""

    shares_to_return: tuple[Position, ...]
    positions_to_remove: tuple[Position, ...]
    netted: tuple[Position, ...]

    def to_dict(self) -> dict[str, Any]:
        return {name: [p.to_dict() for p in getattr(self, name)]
                for name in ("shares_to_return", "positions_to_remove", "netted")}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RestorationPlan:
        return cls(*(tuple(Position.from_dict(p) for p in data[name])
                     for name in ("shares_to_return", "positions_to_remove", "netted")))


@dataclass(frozen=True, slots=True)
class ExcludedTrade:
    trade: FraudTrade
    reason: Exclusion


@dataclass(frozen=True)
class CompensationResult:
    """Every line of a computation, and what it was computed from.

    ``total_yen`` is what the customer receives, valued at current prices: the cash for
    a cash preset; for restoration, the shares given back plus the cash adjustment less
    the positions taken (equal to the firm's cost). ``cash_to_customer_yen`` is the
    money moved: the total for cash, the signed cash adjustment for restoration.
    ``full_loss_yen`` is the whole loss measured (bought + sold own + fees), the ceiling
    of every cash preset."""

    inputs: CaseInputs
    preset_name: str
    preset_version: int
    method: Method
    lines: tuple[LineItem, ...]
    included: tuple[FraudTrade, ...]
    excluded: tuple[ExcludedTrade, ...]
    negligence: NegligenceFactor | None
    cutoff: datetime | None
    restoration: RestorationPlan | None = None
    _by_code: Mapping[LineCode, LineItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {line.code: line for line in self.lines})

    def amount(self, code: LineCode) -> int:
        """The line's yen, 0 for a line this method does not have."""
        line = self._by_code.get(code)
        return line.amount_yen if line else 0

    @property
    def total_yen(self) -> int:
        return self.amount(LineCode.TOTAL)

    @property
    def cash_to_customer_yen(self) -> int:
        if self.method is Method.RESTORATION:
            return self.amount(LineCode.CASH_ADJUSTMENT)
        return self.total_yen

    @property
    def full_loss_yen(self) -> int:
        return (self.amount(LineCode.LOSS_ON_BOUGHT) + self.amount(LineCode.LOSS_ON_SOLD_OWN)
                + self.amount(LineCode.FEES_PAID))

    @property
    def period(self) -> tuple[datetime, datetime] | None:
        """First and last included trade, None when none is included."""
        if not self.included:
            return None
        return min(t.ts for t in self.included), max(t.ts for t in self.included)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot: money as int, prices and factors as decimal strings."""
        return {
            "inputs": self.inputs.to_dict(),
            "preset": {"name": self.preset_name, "version": self.preset_version},
            "method": self.method.value,
            "lines": [{"code": line.code.value, "kind": line.kind.value,
                       "amount_yen": line.amount_yen, "formula": line.formula}
                      for line in self.lines],
            "included_count": len(self.included),
            "excluded": [{"trade": e.trade.to_dict(), "reason": e.reason.value}
                         for e in self.excluded],
            "negligence": self.negligence.to_dict() if self.negligence else None,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "restoration": self.restoration.to_dict() if self.restoration else None,
            "total_yen": self.total_yen,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CompensationResult:
        """Rebuild a stored snapshot (to show an approved statement again)."""
        inputs = CaseInputs.from_dict(data["inputs"])
        excluded = tuple(ExcludedTrade(FraudTrade.from_dict(e["trade"]), Exclusion(e["reason"]))
                         for e in data["excluded"])
        # Included = the case's trades less the excluded ones (as a multiset: two
        # identical executions are two trades).
        left = list(excluded)
        included = []
        for trade in sorted(inputs.trades, key=lambda t: t.ts):
            match = next((e for e in left if e.trade == trade), None)
            if match is None:
                included.append(trade)
            else:
                left.remove(match)
        return cls(
            inputs=inputs, preset_name=data["preset"]["name"],
            preset_version=int(data["preset"]["version"]), method=Method(data["method"]),
            lines=tuple(LineItem(LineCode(line["code"]), LineKind(line["kind"]),
                                 int(line["amount_yen"]), line.get("formula", ""))
                        for line in data["lines"]),
            included=tuple(included), excluded=excluded,
            negligence=(NegligenceFactor.from_dict(data["negligence"])
                        if data["negligence"] else None),
            cutoff=datetime.fromisoformat(data["cutoff"]) if data["cutoff"] else None,
            restoration=(RestorationPlan.from_dict(data["restoration"])
                         if data["restoration"] else None))

    def digest(self) -> str:
        """SHA-256 of the canonical snapshot: what a supervisor approves (``approval.py``)."""
        return snapshot_digest(self.to_dict())


def snapshot_digest(snapshot: Mapping[str, Any]) -> str:
    """SHA-256 hex of canonical JSON (sorted keys, no spaces, UTF-8).

    >>> snapshot_digest({"b": 1, "a": "円"}) == snapshot_digest({"a": "円", "b": 1})
    True
    """
    text = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- replay


def _start_of_day_jst(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=JST)


def select_trades(trades: Iterable[FraudTrade], preset: CompensationPreset,
                  cutoff: datetime | None) -> tuple[tuple[FraudTrade, ...],
                                                    tuple[ExcludedTrade, ...]]:
    """Split the trades (sorted by time, stable) into those covered and those excluded."""
    start = _start_of_day_jst(preset.covers_from) if preset.covers_from else None
    end = (_start_of_day_jst(preset.covers_until + timedelta(days=1))
           if preset.covers_until else None)
    included: list[FraudTrade] = []
    excluded: list[ExcludedTrade] = []
    for trade in sorted(trades, key=lambda t: t.ts):
        if cutoff is not None and trade.ts > cutoff:
            excluded.append(ExcludedTrade(trade, Exclusion.AFTER_CUTOFF))
        elif start is not None and trade.ts < start:
            excluded.append(ExcludedTrade(trade, Exclusion.BEFORE_COVERED_PERIOD))
        elif end is not None and trade.ts >= end:
            excluded.append(ExcludedTrade(trade, Exclusion.AFTER_COVERED_PERIOD))
        else:
            included.append(trade)
    return tuple(included), tuple(excluded)


@dataclass(slots=True)
class _Book:
    """One symbol's replay: lots of bought shares [quantity, cost yen], own shares."""

    own_left: int
    lots: deque[list[int]] = field(default_factory=deque)
    buy_value: int = 0
    sell_value: int = 0
    bought_proceeds: int = 0  # the part of sells taken from bought lots
    bought_cost_sold: int = 0  # the lot cost of those shares
    own_sold: int = 0
    own_proceeds: int = 0

    @property
    def held(self) -> int:
        return sum(lot[0] for lot in self.lots)

    @property
    def held_cost(self) -> int:
        return sum(lot[1] for lot in self.lots)


def _replay(trades: tuple[FraudTrade, ...], own_holdings: Mapping[str, int]) -> dict[str, _Book]:
    books: dict[str, _Book] = {}
    for trade in trades:
        book = books.get(trade.symbol)
        if book is None:
            book = books[trade.symbol] = _Book(own_left=own_holdings.get(trade.symbol, 0))
        value = trade.value_yen
        if trade.side is Side.BUY:
            book.buy_value += value
            book.lots.append([trade.quantity, value])
            continue
        book.sell_value += value
        from_lots = min(trade.quantity, book.held)
        from_own = trade.quantity - from_lots
        if from_own > book.own_left:
            raise CompensationInputError(
                f"trade {trade.trade_id or trade.ts.isoformat()}: sells {trade.quantity} "
                f"{trade.symbol} but the account held {from_lots} bought by the intruder and "
                f"{book.own_left} of its own", trade_id=trade.trade_id, symbol=trade.symbol)
        lots_part = value if from_own == 0 else round_yen(
            Decimal(value) * from_lots / trade.quantity)
        book.bought_proceeds += lots_part
        book.own_proceeds += value - lots_part
        book.own_left -= from_own
        book.own_sold += from_own
        need = from_lots
        while need:
            lot = book.lots[0]
            take = min(need, lot[0])
            cost = lot[1] if take == lot[0] else round_yen(Decimal(lot[1]) * take / lot[0])
            lot[0] -= take
            lot[1] -= cost
            book.bought_cost_sold += cost
            need -= take
            if lot[0] == 0:
                book.lots.popleft()
    return books


def _value(symbol: str, quantity: int, prices: Mapping[str, Decimal]) -> Position:
    price = prices.get(symbol)
    if price is None:
        raise CompensationInputError(f"no current price for {symbol}", symbol=symbol)
    return Position(symbol, quantity, price, round_yen(quantity * price))


def _pct(rate: Decimal) -> str:
    """
    >>> _pct(Decimal("0.5")), _pct(Decimal("1")), _pct(Decimal("0.333"))
    ('50%', '100%', '33.3%')
    """
    text = format((rate * 100).normalize(), "f")
    return f"{text}%"


def _yen(amount: int) -> str:
    return f"{amount:,}"


# ---------------------------------------------------------------------------- compute


def compute_compensation(case: CaseInputs, preset: CompensationPreset, *,
                         negligence: NegligenceFactor | None = None,
                         cutoff: datetime | None = None) -> CompensationResult:
    """The compensation for ``case`` under ``preset``.

    ``negligence``: a factor set by a person (required by a ``negligence: required``
    preset, refused above 0 by restoration). ``cutoff``: trades after it are excluded.

    Raises CompensationInputError for an inconsistent timeline (selling shares the
    account did not hold), a missing current price, or a negligence factor the preset
    does not allow.
    """
    if cutoff is not None and cutoff.tzinfo is None:
        raise CompensationInputError("cutoff must be timezone-aware")
    if negligence is None and preset.negligence is Negligence.REQUIRED:
        raise CompensationInputError(
            f"preset {preset.name} needs a negligence factor set by a person (0 if none), "
            "with its reason")
    if (negligence is not None and negligence.factor > 0
            and preset.negligence is Negligence.NOT_APPLICABLE):
        raise CompensationInputError(
            f"preset {preset.name} is restoration, granted whole; to reduce for negligence "
            "use a cash preset such as case_by_case")
    included, excluded = select_trades(case.trades, preset, cutoff)
    books = _replay(included, case.own_holdings)
    prices = case.current_prices_yen
    held = [_value(s, b.held, prices) for s, b in sorted(books.items()) if b.held]
    bought_back = [_value(s, b.own_sold, prices) for s, b in sorted(books.items()) if b.own_sold]
    held_cost = sum(b.held_cost for b in books.values())
    held_value = sum(p.value_yen for p in held)
    realised = sum(b.bought_cost_sold - b.bought_proceeds for b in books.values())
    unrealised = held_cost - held_value
    own_proceeds = sum(b.own_proceeds for b in books.values())
    buyback = sum(p.value_yen for p in bought_back)
    buy_value = sum(b.buy_value for b in books.values())
    sell_value = sum(b.sell_value for b in books.values())
    fees = sum(t.fee_yen for t in included)
    loss_bought = max(0, realised + unrealised)
    loss_sold = max(0, buyback - own_proceeds)
    D = LineKind.DETAIL  # noqa: N806 (a short alias keeps the table of lines readable)
    lines = [
        LineItem(LineCode.BUY_VALUE, D, buy_value),
        LineItem(LineCode.SELL_VALUE, D, sell_value),
        LineItem(LineCode.LOSS_BOUGHT_REALISED, D, realised),
        LineItem(LineCode.LOSS_BOUGHT_UNREALISED, D, unrealised),
        LineItem(LineCode.LOSS_ON_BOUGHT, D, loss_bought,
                 f"max(0, {_yen(realised)} + {_yen(unrealised)})"),
        LineItem(LineCode.OWN_SOLD_PROCEEDS, D, own_proceeds),
        LineItem(LineCode.OWN_BUYBACK_COST, D, buyback),
        LineItem(LineCode.LOSS_ON_SOLD_OWN, D, loss_sold,
                 f"max(0, {_yen(buyback)} − {_yen(own_proceeds)})"),
        LineItem(LineCode.FEES_PAID, D, fees),
    ]
    common = {"inputs": case, "preset_name": preset.name, "preset_version": preset.version,
              "method": preset.method, "included": included, "excluded": excluded,
              "negligence": negligence, "cutoff": cutoff}
    if preset.method is Method.RESTORATION:
        plan = _restoration_plan(books, prices)
        returned = sum(p.value_yen for p in plan.shares_to_return)
        removed = sum(p.value_yen for p in plan.positions_to_remove)
        # Put the cash back where it was: the intruder's sells added cash, its buys and
        # their fees took it away.
        cash = buy_value + fees - sell_value
        lines += [
            LineItem(LineCode.RETURNED_SHARES_VALUE, LineKind.AMOUNT, returned),
            LineItem(LineCode.CASH_ADJUSTMENT, LineKind.AMOUNT, cash,
                     f"{_yen(buy_value)} + {_yen(fees)} − {_yen(sell_value)}"),
            LineItem(LineCode.REMOVED_POSITIONS_VALUE, LineKind.AMOUNT, -removed),
            LineItem(LineCode.TOTAL, LineKind.TOTAL, returned + cash - removed),
        ]
        return CompensationResult(lines=tuple(lines), restoration=plan, **common)
    basis = _basis(preset.basis, loss_bought=loss_bought, loss_sold=loss_sold,
                   net_trade=buy_value - sell_value - held_value)
    loss_comp = round_yen(preset.rate * basis)
    fee_refund = round_yen(preset.fee_refund_rate * fees)
    factor = negligence.factor if negligence else Decimal(0)
    reduction = round_yen(factor * (loss_comp + fee_refund))
    # The sympathy payment is flat per victim: not reduced, and only for a case with a
    # covered trade.
    sympathy = preset.sympathy_payment_yen if included else 0
    lines += [
        LineItem(LineCode.BASIS, D, basis, _basis_formula(preset.basis, loss_bought, loss_sold,
                                                          buy_value, sell_value, held_value)),
        LineItem(LineCode.LOSS_COMPENSATION, LineKind.AMOUNT, loss_comp,
                 f"{_pct(preset.rate)} × {_yen(basis)}"),
        LineItem(LineCode.FEE_REFUND, LineKind.AMOUNT, fee_refund,
                 f"{_pct(preset.fee_refund_rate)} × {_yen(fees)}"),
    ]
    if negligence is not None:
        lines.append(LineItem(LineCode.NEGLIGENCE_REDUCTION, LineKind.AMOUNT, -reduction,
                              f"{_pct(factor)} × ({_yen(loss_comp)} + {_yen(fee_refund)})"))
    if preset.sympathy_payment_yen:
        lines.append(LineItem(LineCode.SYMPATHY_PAYMENT, LineKind.AMOUNT, sympathy))
    lines.append(LineItem(LineCode.TOTAL, LineKind.TOTAL,
                          loss_comp + fee_refund - reduction + sympathy))
    return CompensationResult(lines=tuple(lines), **common)


def _basis(basis: Basis | None, *, loss_bought: int, loss_sold: int, net_trade: int) -> int:
    if basis is Basis.LOSS_ON_BOUGHT:
        return loss_bought
    if basis is Basis.LOSS_ON_BOUGHT_AND_SOLD_OWN:
        return loss_bought + loss_sold
    if basis is Basis.NET_TRADE_VALUE:
        # Buys less sells, with bought shares still held counted as sold at the current
        # price (else a customer would be paid for stock still in the account).
        return max(0, net_trade)
    raise CompensationInputError(f"a cash preset needs a basis, got {basis!r}")


def _basis_formula(basis: Basis | None, loss_bought: int, loss_sold: int, buy_value: int,
                   sell_value: int, held_value: int) -> str:
    if basis is Basis.LOSS_ON_BOUGHT_AND_SOLD_OWN:
        return f"{_yen(loss_bought)} + {_yen(loss_sold)}"
    if basis is Basis.NET_TRADE_VALUE:
        return f"max(0, {_yen(buy_value)} − {_yen(sell_value)} − {_yen(held_value)})"
    return _yen(loss_bought)


def _restoration_plan(books: Mapping[str, _Book],
                      prices: Mapping[str, Decimal]) -> RestorationPlan:
    returned, removed, netted = [], [], []
    for symbol, book in sorted(books.items()):
        # Sold from the customer's holdings and bought by the intruder: those shares
        # stay where they are; only the difference moves.
        both = min(book.own_sold, book.held)
        if both:
            netted.append(_value(symbol, both, prices))
        if book.own_sold > both:
            returned.append(_value(symbol, book.own_sold - both, prices))
        if book.held > both:
            removed.append(_value(symbol, book.held - both, prices))
    return RestorationPlan(tuple(returned), tuple(removed), tuple(netted))
