"""The reference brokerage's market model: price impact, trading hours and FX.

Pure code: no database, no I/O, no clock. Every function takes the time it should
reason about (``now``) as a timezone-aware :class:`~datetime.datetime` and raises
:class:`ValueError` on a naive one, so a simulation can replay any instant and a test
can pin it.

Three parts:

* :class:`ImpactModel` — a square-root market-impact model with exponential decay, and
  the TSE daily price limit (値幅制限). It is what makes the 2025 pump-and-dump visible in
  the simulator: a hijacked account buying several days' volume of an illiquid ¥100–¥500
  stock drives it tens of percent up, often to ストップ高, while the same yen spent on a
  mega cap barely moves it (see ``CASE.md``, "How (the attack chain)", step 3).
* :class:`TradingCalendar` — sessions in each exchange's own time zone, weekends and
  public holidays (the TSE 2025–2027 closures ship with the code).
* :class:`FxRates` and :func:`notional_jpy` — yen values of foreign orders. Money stays
  in integer minor units and :class:`~decimal.Decimal` rates; floats never touch a
  balance (ARCHITECTURE.md, "Money, time, identity").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from kabuguard.domain.events import JST

if TYPE_CHECKING:
    # Only for annotations: symbols.py imports this module at runtime (for the FX
    # defaults and the enums), so importing it back here would be a cycle.
    from kabuguard.broker.symbols import Symbol

__all__ = [
    "DEFAULT_HOLIDAYS",
    "JPX_HOLIDAYS",
    "MARKET_CURRENCY",
    "MARKET_HOURS",
    "MINOR_PER_UNIT",
    "NYSE_HOLIDAYS",
    "TSE_MARKETS",
    "Currency",
    "FxRates",
    "ImpactModel",
    "Market",
    "MarketHours",
    "MarketState",
    "Side",
    "TradingCalendar",
    "notional_jpy",
    "round_half_up",
    "tse_limit_width",
    "tse_price_limits",
]



class Market(StrEnum):
    """The markets of the symbol master, as named in EVENTS.md ``symbols.jsonl``."""

    TSE_PRIME = "TSE_PRIME"
    TSE_STANDARD = "TSE_STANDARD"
    TSE_GROWTH = "TSE_GROWTH"
    SSE = "SSE"
    SZSE = "SZSE"
    HKEX = "HKEX"
    NYSE = "NYSE"
    NASDAQ = "NASDAQ"


class Currency(StrEnum):
    """ISO 4217 codes of the instrument currencies the brokerage trades."""

    JPY = "JPY"
    CNY = "CNY"
    HKD = "HKD"
    USD = "USD"


class Side(StrEnum):
    """Order side, spelled as in the EVENTS.md ``order`` event."""

    BUY = "buy"
    SELL = "sell"


TSE_MARKETS: frozenset[Market] = frozenset(
    {Market.TSE_PRIME, Market.TSE_STANDARD, Market.TSE_GROWTH}
)

MARKET_CURRENCY: Mapping[Market, Currency] = MappingProxyType(
    {
        Market.TSE_PRIME: Currency.JPY,
        Market.TSE_STANDARD: Currency.JPY,
        Market.TSE_GROWTH: Currency.JPY,
        Market.SSE: Currency.CNY,
        Market.SZSE: Currency.CNY,
        Market.HKEX: Currency.HKD,
        Market.NYSE: Currency.USD,
        Market.NASDAQ: Currency.USD,
    }
)

# Minor units per unit of currency. Yen prices are whole yen on the TSE (the sub-yen
# ticks of TOPIX500 names are ignored), fen/cents elsewhere.
MINOR_PER_UNIT: Mapping[Currency, int] = MappingProxyType(
    {Currency.JPY: 1, Currency.CNY: 100, Currency.HKD: 100, Currency.USD: 100}
)


def _require_aware(value: datetime, name: str) -> None:
    # A naive datetime would be read in the host's zone: a laptop in Tokyo and a CI
    # runner in UTC would disagree about whether the market is open.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")


def round_half_up(value: float) -> int:
    """Round a non-negative float to the nearest integer, halves upwards.

    Python's :func:`round` rounds halves to even, which would make a price of 100.5
    sometimes 100 and sometimes 102 after an identical move.

    >>> round_half_up(100.5)
    101
    >>> round_half_up(2.4999)
    2
    """
    return math.floor(value + 0.5)


# --------------------------------------------------------------------------------------
# TSE daily price limits (値幅制限)
# --------------------------------------------------------------------------------------

# JPX "制限値幅" table: (base price strictly below, limit width), both in yen. The base
# price (基準値段) is normally the previous day's closing price; a stock may trade only
# within base ± width during the day, and hitting the bound is ストップ高 / ストップ安.
# From ¥1,000 upwards the widths repeat every factor of ten (300/400/500/700/1,000/1,500
# per decade), which the table spells out up to the top band.
_TSE_LIMIT_TABLE: tuple[tuple[int, int], ...] = (
    (100, 30),
    (200, 50),
    (500, 80),
    (700, 100),
    (1_000, 150),
    (1_500, 300),
    (2_000, 400),
    (3_000, 500),
    (5_000, 700),
    (7_000, 1_000),
    (10_000, 1_500),
    (15_000, 3_000),
    (20_000, 4_000),
    (30_000, 5_000),
    (50_000, 7_000),
    (70_000, 10_000),
    (100_000, 15_000),
    (150_000, 30_000),
    (200_000, 40_000),
    (300_000, 50_000),
    (500_000, 70_000),
    (700_000, 100_000),
    (1_000_000, 150_000),
    (1_500_000, 300_000),
    (2_000_000, 400_000),
    (3_000_000, 500_000),
    (5_000_000, 700_000),
    (7_000_000, 1_000_000),
    (10_000_000, 1_500_000),
    (15_000_000, 3_000_000),
    (20_000_000, 4_000_000),
    (30_000_000, 5_000_000),
    (50_000_000, 7_000_000),
)
_TSE_LIMIT_TOP = 10_000_000  # ¥50,000,000 and above


def tse_limit_width(base_price_yen: int) -> int:
    """Return the TSE daily price-limit width (制限値幅) in yen for a base price.

    Follows the JPX table of limit widths by price band. The exchange may widen the
    limit (e.g. doubling the upper width after consecutive limit-up days without a
    trade); that rule is not modelled.

    Raises ValueError if ``base_price_yen`` is below 1.

    >>> tse_limit_width(99)
    30
    >>> tse_limit_width(100)
    50
    >>> tse_limit_width(300)
    80
    >>> tse_limit_width(2_850)
    500
    >>> tse_limit_width(57_000)
    10000
    """
    if base_price_yen < 1:
        raise ValueError(f"base price must be at least ¥1, got {base_price_yen}")
    for below, width in _TSE_LIMIT_TABLE:
        if base_price_yen < below:
            return width
    return _TSE_LIMIT_TOP


def tse_price_limits(base_price_yen: int) -> tuple[int, int]:
    """Return ``(ストップ安, ストップ高)``: the lowest and highest prices allowed today.

    The lower bound never goes below ¥1.

    >>> tse_price_limits(300)
    (220, 380)
    >>> tse_price_limits(120)
    (70, 170)
    >>> tse_price_limits(20)
    (1, 50)
    """
    width = tse_limit_width(base_price_yen)
    return max(1, base_price_yen - width), base_price_yen + width


# --------------------------------------------------------------------------------------
# Price impact
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketState:
    """The simulated market of one symbol at ``updated_at``.

    ``base_price_minor`` is the undisturbed price in minor units (and, on the TSE, the
    基準値段 the daily limit is measured from); ``impact`` is the transient fractional
    displacement caused by recent trades (0.12 = +12 %), valid as of ``updated_at``.

    Raises ValueError for a base price below 1 or a naive ``updated_at``.
    """

    base_price_minor: int
    impact: float
    updated_at: datetime

    def __post_init__(self) -> None:
        if self.base_price_minor < 1:
            raise ValueError(f"base_price_minor must be at least 1, got {self.base_price_minor}")
        if not math.isfinite(self.impact):
            raise ValueError(f"impact must be finite, got {self.impact}")
        _require_aware(self.updated_at, "updated_at")

    @classmethod
    def initial(cls, symbol: Symbol, now: datetime) -> MarketState:
        """Return an undisturbed state at the symbol-master price."""
        return cls(base_price_minor=symbol.price_minor, impact=0.0, updated_at=now)


@dataclass(frozen=True)
class ImpactModel:
    """Square-root market impact with exponential decay.

    A trade of ``q`` shares moves the impact by::

        sign * coefficient * daily_volatility * sqrt(q / adv_shares)

    (the "square-root law" of Almgren et al. and Tóth et al.; the prefactor ``Y`` is of
    order one). Between trades the impact relaxes exponentially towards 0 with
    ``half_life``, so a pump fades once the buying stops. The accumulated impact is
    capped at ``±max_impact`` and, for TSE symbols, at the daily price limit around the
    base price (see :func:`tse_price_limits`): buying at ストップ高 does not lift the
    price further, and the decay starts from the limit, not from an unreachable level.

    Splitting an order into many small ones adds up the square roots, which moves the
    price more than one order of the same total: a simplification of the propagator
    models, and on the side of caution for a fraud simulator.

    Prices are whole minor units (whole yen on the TSE), rounded half up, never below 1.

    Raises ValueError for a non-positive coefficient, half-life or cap.
    """

    coefficient: float = 1.0
    half_life: timedelta = timedelta(minutes=30)
    max_impact: float = 1.0

    def __post_init__(self) -> None:
        if not self.coefficient > 0:
            raise ValueError(f"coefficient must be positive, got {self.coefficient}")
        if self.half_life <= timedelta(0):
            raise ValueError(f"half_life must be positive, got {self.half_life}")
        if not self.max_impact > 0:
            raise ValueError(f"max_impact must be positive, got {self.max_impact}")

    def decayed_impact(self, state: MarketState, now: datetime) -> float:
        """Return the state's impact decayed from ``state.updated_at`` to ``now``.

        A ``now`` earlier than ``updated_at`` (two orders racing) is treated as no time
        elapsed rather than growing the impact backwards.

        Raises ValueError if ``now`` is naive.
        """
        _require_aware(now, "now")
        elapsed = max(now - state.updated_at, timedelta(0))
        return state.impact * 0.5 ** (elapsed / self.half_life)

    def trade_impact(self, symbol: Symbol, side: Side | str, quantity: int) -> float:
        """Return the signed impact of one trade, before caps and decay.

        Raises ValueError for an unknown side or a negative quantity.
        """
        side = Side(side)
        if quantity < 0:
            raise ValueError(f"quantity must not be negative, got {quantity}")
        # An untraded symbol (ADV 0) is as illiquid as it gets: treat its ADV as one
        # share instead of dividing by zero.
        participation = quantity / max(symbol.adv_shares, 1)
        magnitude = self.coefficient * symbol.daily_volatility * math.sqrt(participation)
        return magnitude if side is Side.BUY else -magnitude

    def impact_bounds(self, symbol: Symbol, base_price_minor: int) -> tuple[float, float]:
        """Return the lowest and highest impact allowed for this symbol and base price."""
        low, high = -self.max_impact, self.max_impact
        if symbol.market in TSE_MARKETS:
            floor_yen, ceiling_yen = tse_price_limits(base_price_minor)
            low = max(low, floor_yen / base_price_minor - 1.0)
            high = min(high, ceiling_yen / base_price_minor - 1.0)
        return low, high

    def price_at(self, symbol: Symbol, state: MarketState, now: datetime) -> int:
        """Return the price in minor units at ``now``: at least 1, within TSE limits.

        Raises ValueError if ``now`` is naive.
        """
        impact = self.decayed_impact(state, now)
        low, high = self.impact_bounds(symbol, state.base_price_minor)
        impact = min(max(impact, low), high)
        price = max(1, round_half_up(state.base_price_minor * (1.0 + impact)))
        if symbol.market in TSE_MARKETS:
            # Re-clamp after rounding: the limit is a hard bound on the integer price.
            floor_yen, ceiling_yen = tse_price_limits(state.base_price_minor)
            price = min(max(price, floor_yen), ceiling_yen)
        return price

    def after_trade(
        self,
        symbol: Symbol,
        state: MarketState,
        side: Side | str,
        quantity: int,
        now: datetime,
    ) -> MarketState:
        """Return the state after a trade at ``now``: decay to ``now``, then add impact.

        Raises ValueError for a naive ``now``, an unknown side or a negative quantity.
        """
        impact = self.decayed_impact(state, now) + self.trade_impact(symbol, side, quantity)
        low, high = self.impact_bounds(symbol, state.base_price_minor)
        impact = min(max(impact, low), high)
        # Keep the later of the two instants so an out-of-order trade cannot rewind
        # the decay clock.
        return replace(state, impact=impact, updated_at=max(now, state.updated_at))


# --------------------------------------------------------------------------------------
# Trading hours
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarketHours:
    """Continuous-trading sessions in the exchange's local time, ``[start, end)``."""

    tz: ZoneInfo
    sessions: tuple[tuple[time, time], ...]


_SHANGHAI = ZoneInfo("Asia/Shanghai")
_HONG_KONG = ZoneInfo("Asia/Hong_Kong")
_NEW_YORK = ZoneInfo("America/New_York")

_TSE_HOURS = MarketHours(
    # Afternoon session extended from 15:00 to 15:30 on 2024-11-05 (arrowhead 3.0),
    # the last five minutes being the closing auction.
    tz=JST,
    sessions=((time(9, 0), time(11, 30)), (time(12, 30), time(15, 30))),
)
_CHINA_HOURS = MarketHours(
    # Continuous trading 09:30–11:30 and 13:00–14:57, then the closing call auction to
    # 15:00 (SZSE since 2006, SSE since 2018); orders are accepted until 15:00, so the
    # model treats the whole afternoon as open. China time is JST-1h all year.
    tz=_SHANGHAI,
    sessions=((time(9, 30), time(11, 30)), (time(13, 0), time(15, 0))),
)
_HKEX_HOURS = MarketHours(
    # Continuous trading; the pre-opening (09:00–09:30) and closing auction
    # (16:00–16:10) sessions are not modelled. HK time is JST-1h all year.
    tz=_HONG_KONG,
    sessions=((time(9, 30), time(12, 0)), (time(13, 0), time(16, 0))),
)
_US_HOURS = MarketHours(
    # Regular session only. The zone database handles DST: 23:30 JST in winter,
    # 22:30 JST in summer.
    tz=_NEW_YORK,
    sessions=((time(9, 30), time(16, 0)),),
)

MARKET_HOURS: Mapping[Market, MarketHours] = MappingProxyType(
    {
        Market.TSE_PRIME: _TSE_HOURS,
        Market.TSE_STANDARD: _TSE_HOURS,
        Market.TSE_GROWTH: _TSE_HOURS,
        Market.SSE: _CHINA_HOURS,
        Market.SZSE: _CHINA_HOURS,
        Market.HKEX: _HKEX_HOURS,
        Market.NYSE: _US_HOURS,
        Market.NASDAQ: _US_HOURS,
    }
)


def _dates(text: str) -> frozenset[date]:
    return frozenset(date.fromisoformat(item) for item in text.split())


# TSE weekday closures 2025–2027: national holidays (with substitute holidays and the
# 2026-09-22 "citizens' holiday" between two holidays) and the year-end closure
# Dec 31–Jan 3. The 2027 equinoxes (Mar 21 → substitute Mar 22, Sep 23) are the
# National Astronomical Observatory's forecast, gazetted in February 2026. Weekend dates
# are left out because weekends are closed anyway.
JPX_HOLIDAYS: frozenset[date] = _dates(
    """
    2025-01-01 2025-01-02 2025-01-03 2025-01-13 2025-02-11 2025-02-24 2025-03-20
    2025-04-29 2025-05-05 2025-05-06 2025-07-21 2025-08-11 2025-09-15 2025-09-23
    2025-10-13 2025-11-03 2025-11-24 2025-12-31
    2026-01-01 2026-01-02 2026-01-12 2026-02-11 2026-02-23 2026-03-20 2026-04-29
    2026-05-04 2026-05-05 2026-05-06 2026-07-20 2026-08-11 2026-09-21 2026-09-22
    2026-09-23 2026-10-12 2026-11-03 2026-11-23 2026-12-31
    2027-01-01 2027-01-11 2027-02-11 2027-02-23 2027-03-22 2027-04-29 2027-05-03
    2027-05-04 2027-05-05 2027-07-19 2027-08-11 2027-09-20 2027-09-23 2027-10-11
    2027-11-03 2027-11-23 2027-12-31
    """
)

# NYSE/NASDAQ full-day closures 2025–2027 (incl. the 2025-01-09 national day of
# mourning for President Carter). Early closes (13:00 on some holiday eves) are not
# modelled: the model only answers "open or not".
NYSE_HOLIDAYS: frozenset[date] = _dates(
    """
    2025-01-01 2025-01-09 2025-01-20 2025-02-17 2025-04-18 2025-05-26 2025-06-19
    2025-07-04 2025-09-01 2025-11-27 2025-12-25
    2026-01-01 2026-01-19 2026-02-16 2026-04-03 2026-05-25 2026-06-19 2026-07-03
    2026-09-07 2026-11-26 2026-12-25
    2027-01-01 2027-01-18 2027-02-15 2027-03-26 2027-05-31 2027-06-18 2027-07-05
    2027-09-06 2027-11-25 2027-12-24
    """
)

# SSE/SZSE and HKEX holidays follow the lunar calendar and are announced by the State
# Council / HKEX only months ahead, so none ship: those markets close on weekends only
# unless a deployment passes its own dates to TradingCalendar.
DEFAULT_HOLIDAYS: Mapping[Market, frozenset[date]] = MappingProxyType(
    {
        Market.TSE_PRIME: JPX_HOLIDAYS,
        Market.TSE_STANDARD: JPX_HOLIDAYS,
        Market.TSE_GROWTH: JPX_HOLIDAYS,
        Market.SSE: frozenset(),
        Market.SZSE: frozenset(),
        Market.HKEX: frozenset(),
        Market.NYSE: NYSE_HOLIDAYS,
        Market.NASDAQ: NYSE_HOLIDAYS,
    }
)

# Longest run of closed days next_open will look through (Chinese Golden Week with
# weekends is ~10 days; a year covers any sane holiday list).
_MAX_CLOSED_DAYS = 366


class TradingCalendar:
    """Which markets are open when, in each exchange's local time.

    ``holidays`` maps a market code to the local dates it is closed on (besides
    weekends). ``None`` uses :data:`DEFAULT_HOLIDAYS`; a mapping replaces it entirely,
    markets absent from it having no holidays.

    Raises ValueError for an unknown market code in ``holidays``.
    """

    __slots__ = ("_holidays",)

    def __init__(self, holidays: Mapping[str, Iterable[date]] | None = None) -> None:
        if holidays is None:
            self._holidays: Mapping[Market, frozenset[date]] = DEFAULT_HOLIDAYS
            return
        normalised: dict[Market, frozenset[date]] = {market: frozenset() for market in Market}
        for code, dates in holidays.items():
            normalised[_market(code)] = frozenset(dates)
        self._holidays = MappingProxyType(normalised)

    def holidays(self, market: Market | str) -> frozenset[date]:
        """Return the market's holiday dates (local dates, weekends not included)."""
        return self._holidays[_market(market)]

    def is_trading_day(self, market: Market | str, day: date) -> bool:
        """Return True if ``day`` (a local date of the exchange) is a trading day."""
        # Monday=0 … Friday=4.
        return day.weekday() < 5 and day not in self._holidays[_market(market)]

    def is_open(self, market: Market | str, now: datetime) -> bool:
        """Return True if ``market`` is in a continuous-trading session at ``now``.

        Raises ValueError for a naive ``now`` or an unknown market.
        """
        _require_aware(now, "now")
        market = _market(market)
        hours = MARKET_HOURS[market]
        local = now.astimezone(hours.tz)
        if not self.is_trading_day(market, local.date()):
            return False
        return any(
            _at(local.date(), start, hours.tz) <= local < _at(local.date(), end, hours.tz)
            for start, end in hours.sessions
        )

    def next_open(self, market: Market | str, now: datetime) -> datetime:
        """Return the first instant at or after ``now`` when ``market`` is open, in UTC.

        If the market is open at ``now``, returns ``now`` (converted to UTC).

        Raises ValueError for a naive ``now``, an unknown market, or no trading day
        within a year (a holiday list that closes the market for good).
        """
        _require_aware(now, "now")
        market = _market(market)
        hours = MARKET_HOURS[market]
        local = now.astimezone(hours.tz)
        day = local.date()
        for _ in range(_MAX_CLOSED_DAYS + 1):
            if self.is_trading_day(market, day):
                for start, end in hours.sessions:
                    opens, closes = _at(day, start, hours.tz), _at(day, end, hours.tz)
                    if local < closes:
                        return max(local, opens).astimezone(UTC)
            day += timedelta(days=1)
        raise ValueError(f"{market} has no trading day within {_MAX_CLOSED_DAYS} days of {now}")


def _at(day: date, clock: time, tz: ZoneInfo) -> datetime:
    # Session times are never inside a DST gap (those fall at 02:00 local), so combining
    # a wall-clock time with the zone is unambiguous.
    return datetime.combine(day, clock, tzinfo=tz)


def _market(code: Market | str) -> Market:
    try:
        return Market(code)
    except ValueError:
        raise ValueError(f"unknown market {code!r}") from None


# --------------------------------------------------------------------------------------
# FX
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FxRates:
    """Yen per unit of each foreign currency (JPY is always 1).

    The defaults are round 2025 levels (USD/JPY ~150, CNY/JPY ~21, HKD/JPY ~19.5): good
    enough to size orders and thresholds in yen, not for settlement.

    Raises ValueError for a non-positive or non-finite rate.
    """

    usd: Decimal = Decimal("150")
    cny: Decimal = Decimal("21")
    hkd: Decimal = Decimal("19.5")

    def __post_init__(self) -> None:
        for currency, rate in (("USD", self.usd), ("CNY", self.cny), ("HKD", self.hkd)):
            _check_rate(currency, rate)

    @classmethod
    def from_mapping(cls, rates: Mapping[str, Decimal | str | int | float]) -> FxRates:
        """Return rates overridden from configuration, e.g. ``{"USD": "148.5"}``.

        Currencies not named keep their defaults; a JPY entry must be 1. Floats are read
        through their shortest repr (``148.5`` → ``Decimal("148.5")``).

        Raises ValueError naming the currency for an unknown code or a rate that is not
        a positive finite number.

        >>> FxRates.from_mapping({"usd": "148.5"}).usd
        Decimal('148.5')
        """
        overrides: dict[str, Decimal] = {}
        for code, raw in rates.items():
            try:
                currency = Currency(str(code).upper())
            except ValueError:
                raise ValueError(f"unknown currency code {code!r}") from None
            rate = _to_decimal(currency, raw)
            if currency is Currency.JPY:
                if rate != 1:
                    raise ValueError(f"JPY rate must be 1, got {raw!r}")
                continue
            overrides[currency.lower()] = rate
        return cls(**overrides)

    def rate(self, currency: Currency | str) -> Decimal:
        """Return yen per unit of ``currency``.

        Raises ValueError for an unknown currency code.
        """
        try:
            code = Currency(currency)
        except ValueError:
            raise ValueError(f"unknown currency code {currency!r}") from None
        if code is Currency.JPY:
            return Decimal(1)
        return {Currency.USD: self.usd, Currency.CNY: self.cny, Currency.HKD: self.hkd}[code]

    def to_jpy(self, amount_minor: int, currency: Currency | str, minor_per_unit: int) -> int:
        """Convert an amount in minor units to whole yen, rounding half up.

        Halves round away from zero, so a negative amount mirrors its positive one.

        Raises ValueError for an unknown currency or ``minor_per_unit`` below 1.

        >>> FxRates().to_jpy(12_345, "USD", 100)   # $123.45 x 150
        18518
        >>> FxRates().to_jpy(1, "HKD", 100)        # HK$0.01 x 19.5 = ¥0.195
        0
        >>> FxRates().to_jpy(2_850, "JPY", 1)
        2850
        """
        if minor_per_unit < 1:
            raise ValueError(f"minor_per_unit must be at least 1, got {minor_per_unit}")
        yen = Decimal(amount_minor) * self.rate(currency) / Decimal(minor_per_unit)
        return int(yen.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _to_decimal(currency: Currency, raw: Decimal | str | int | float) -> Decimal:
    if isinstance(raw, bool):  # bool is an int; True would silently mean a rate of 1
        raise ValueError(f"{currency} rate must be a number, got {raw!r}")
    try:
        rate = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"{currency} rate must be a number, got {raw!r}") from None
    _check_rate(str(currency), rate)
    return rate


def _check_rate(currency: str, rate: Decimal) -> None:
    if not isinstance(rate, Decimal):
        raise ValueError(f"{currency} rate must be a Decimal, got {rate!r}")
    if not rate.is_finite() or rate <= 0:
        raise ValueError(f"{currency} rate must be positive, got {rate}")


def notional_jpy(symbol: Symbol, price_minor: int, quantity: int, fx: FxRates) -> int:
    """Return the yen value of ``quantity`` shares at ``price_minor``, rounded half up.

    Raises ValueError for a negative price or quantity.
    """
    if price_minor < 0 or quantity < 0:
        raise ValueError(f"price and quantity must not be negative, got {price_minor} x {quantity}")
    return fx.to_jpy(price_minor * quantity, symbol.currency, symbol.minor_per_unit)
