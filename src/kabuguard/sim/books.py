"""The closed loop's books and market: cash, holdings and withdrawal accounts of every
account it touches, and the simulated price of every symbol traded.

Prices come from the reference brokerage's market model (``broker/market.py``): every
executed order moves its symbol through the square-root :class:`ImpactModel`, which
decays with a half-life, so a crew buying days of volume of a thin small cap shows in
its price and a manipulator selling into the pump earns measurable yen. The base price
is the symbol master's throughout (no overnight close; the TSE daily limit is around
it). Orders fill at once at the current price, in or out of trading hours (assumed: the
loop has no order book), a limit order only when marketable.

Books start from the population's profile (accounts are copied on first use, so a run
touches memory only for the accounts that act) and are the truth the loop clips intents
to: nobody sells shares the books do not hold or spends cash they lack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from kabuguard.broker.market import FxRates, ImpactModel, MarketState
from kabuguard.broker.symbols import Symbol


@dataclass(slots=True)
class Account:
    """One account's books: integer yen and whole shares; ``bank`` the token of its
    withdrawal account."""

    cash_jpy: int
    holdings: dict[str, int]
    bank: str


class Market:
    """Simulated prices of the symbols traded in one configuration's run."""

    __slots__ = ("_yen_per_minor", "fx", "impact", "start", "states", "symbols")

    def __init__(self, symbols: Mapping[str, Symbol], *, start: datetime,
                 impact: ImpactModel | None = None, fx: FxRates | None = None) -> None:
        self.symbols = symbols
        self.start = start
        self.impact = impact or ImpactModel()
        self.fx = fx or FxRates()
        self.states: dict[str, MarketState] = {}
        self._yen_per_minor: dict[str, Decimal] = {}

    def _state(self, code: str) -> MarketState:
        state = self.states.get(code)
        if state is None:
            state = self.states[code] = MarketState.initial(self.symbols[code], self.start)
        return state

    def price_minor(self, code: str, ts_s: float) -> int:
        """The price of ``code`` at epoch second ``ts_s`` in minor units (the master
        price until the symbol first trades)."""
        state = self.states.get(code)
        if state is None:
            return self.symbols[code].price_minor
        return self.impact.price_at(self.symbols[code], state, utc(ts_s))

    def notional_jpy(self, code: str, price_minor: int, quantity: int) -> int:
        """Whole yen of ``quantity`` shares at ``price_minor`` (half up, FX applied)."""
        rate = self._yen_per_minor.get(code)
        if rate is None:
            s = self.symbols[code]
            rate = self._yen_per_minor[code] = self.fx.rate(s.currency) / s.minor_per_unit
        return int(rate * price_minor * quantity + Decimal("0.5"))

    def trade(self, code: str, side: str, quantity: int, ts_s: float) -> None:
        """Record an executed order: its impact moves the price from ``ts_s`` on."""
        self.states[code] = self.impact.after_trade(self.symbols[code], self._state(code),
                                                    side, quantity, utc(ts_s))


class Books:
    """Every account's :class:`Account`, created from ``opening(account)`` on first use."""

    __slots__ = ("_opening", "accounts")

    def __init__(self, opening: Callable[[str], Account]) -> None:
        self._opening = opening
        self.accounts: dict[str, Account] = {}

    def __getitem__(self, account: str) -> Account:
        found = self.accounts.get(account)
        if found is None:
            found = self.accounts[account] = self._opening(account)
        return found


def utc(ts_s: float) -> datetime:
    """An aware UTC datetime of epoch seconds."""
    return datetime.fromtimestamp(ts_s, UTC)
