"""What legitimate customers mean to do, day by day: the simulator's intent model.

A customer day is zero or more *sessions*, each a login, a few actions and a logout.
:func:`customer_day` draws one customer's day from a random generator seeded by
``(seed, customer index, day)`` only, so customer ``i``'s day ``d`` is the same whatever
else is generated (given the same :class:`CustomerState`). Intents are what the customer
*means* to do; the closed loop (a later slice) runs them through the guard and the
broker, whose answers change what happens next.

:class:`CustomerState` is a light stand-in for the broker's books (holdings, cash,
devices, a pending withdrawal after a bank change): ``customer_day`` reads and updates
it so a customer never sells what they do not hold. The closed loop will replace it with
the broker's real state.

Modelling choices (all assumed, see the constants below): session counts are Poisson
with the scenario's ``sessions_per_day`` for the customer's activity level, every day of
the week alike; session starts follow an hour-of-day profile (TSE hours and the evening
on trading days, flatter on closed days); fewer orders on closed days (orders then queue
for the next open). Life events (phone replacement, bank change, a trip abroad, the
retiree's sell-everything day) are daily Bernoulli draws from the scenario's yearly rates
and, when they happen, bring a session of their own if the day has none.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import NamedTuple

from kabuguard.broker.market import Market, TradingCalendar
from kabuguard.broker.symbols import Symbol
from kabuguard.domain.events import JST
from kabuguard.sim.population import (
    HOME_COUNTRY,
    POOL_MIX,
    USER_AGENTS,
    Categorical,
    PopulationTables,
    SimCustomer,
    SimDevice,
    packaged_networks,
    pick_ip,
)
from kabuguard.sim.scenario import Scenario

DAYS_PER_YEAR = 365.0
# Chance a session places orders, per trading style, on a TSE trading day (assumed):
# long-term holders rarely trade, active traders most sessions.
ORDER_SESSION_SHARE: Mapping[str, float] = {
    "long_term": 0.08, "active": 0.6, "small_cap_habitual": 0.45, "retiree_sell_all": 0.03,
}
MAX_ORDERS_PER_SESSION: Mapping[str, int] = {
    "long_term": 1, "active": 4, "small_cap_habitual": 3, "retiree_sell_all": 1,
}
CLOSED_DAY_ORDER_FACTOR = 0.3       # weekends and holidays: fewer orders (assumed)
SELL_SHARE = 0.4                    # an order sells when something is held (assumed)
LIMIT_ORDER_SHARE = 0.4             # share of limit orders (assumed)
BUY_BUDGET_SHARE = (0.05, 0.4)      # of the cash, uniform (assumed)
WITHDRAWAL_PER_SESSION = 0.01       # an ordinary withdrawal of part of the cash (assumed)
RETIREE_SELL_ALL_PER_DAY = 0.002    # ~ once in 18 months for a retiree (assumed)
VPN_DAY_SHARE = 0.3                 # a VPN user's day is a VPN day (assumed)
TRIP_DAYS = (3, 12)                 # length of a trip abroad, uniform (assumed)
BANK_TO_WITHDRAWAL_DAYS = (2, 14)   # a new bank account is used that many days later
SECOND_TYPO_SHARE = 0.2             # a customer who mistyped once mistypes again
SESSION_ACTION_GAP_S = (8, 120)     # seconds between the actions of a session
LATEST_SESSION_START = time(23, 30)   # sessions end before JST midnight

# Relative weight of a session starting in each JST hour (assumed): before the open,
# the TSE sessions with the lunch break, then the evening after work.
_TRADING_DAY_HOURS = (0.3, 0.1, 0.05, 0.05, 0.05, 0.1, 0.5, 1.5, 3, 5, 4, 3,
                      4, 3, 3, 3, 2, 2, 2, 3, 3.5, 3.5, 2.5, 1)
_CLOSED_DAY_HOURS = (0.3, 0.1, 0.05, 0.05, 0.05, 0.1, 0.5, 1, 1.5, 2.5, 3, 3,
                     3, 3, 3, 3, 3, 3, 3, 3, 3.5, 3.5, 2.5, 1)


# --------------------------------------------------------------------------------------
# Intents
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginIntent:
    """Log in from ``device`` at ``ip`` after ``typos`` wrong passwords."""

    ts: datetime
    account: str
    device: str
    user_agent: str
    ip: str
    typos: int


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order of ``quantity`` shares (whole lots); ``limit_price`` in the instrument
    currency for a limit order, None for a market order."""

    ts: datetime
    account: str
    symbol: str
    side: str           # buy, sell
    quantity: int
    order_type: str     # market, limit
    limit_price: Decimal | None


@dataclass(frozen=True, slots=True)
class WithdrawalIntent:
    ts: datetime
    account: str
    amount_jpy: int


@dataclass(frozen=True, slots=True)
class BankChangeIntent:
    """A legitimate change of the withdrawal account to ``bank_account`` (plain)."""

    ts: datetime
    account: str
    bank_account: str


@dataclass(frozen=True, slots=True)
class DeviceChangeIntent:
    """A phone replacement: ``new_device`` replaces ``old_device`` from now on."""

    ts: datetime
    account: str
    old_device: str
    new_device: str
    user_agent: str


@dataclass(frozen=True, slots=True)
class LogoutIntent:
    ts: datetime
    account: str


Intent = (LoginIntent | OrderIntent | WithdrawalIntent | BankChangeIntent
          | DeviceChangeIntent | LogoutIntent)


@dataclass(slots=True)
class CustomerState:
    """What the intent model remembers of a customer between days.

    A stand-in for the broker's books: the closed loop will replace it with the
    broker's real holdings, cash and devices. ``trip`` is (country, address abroad, last
    day of the trip); ``withdraw_on`` the day a withdrawal to a new bank account is due.
    """

    holdings: dict[str, int]
    cash_jpy: int
    devices: list[SimDevice]
    bank_account: str
    bank_changed_on: date | None = None
    withdraw_on: date | None = None
    trip: tuple[str, str, date] | None = None
    sold_everything: bool = False

    @classmethod
    def of(cls, customer: SimCustomer) -> CustomerState:
        """The state at the start of a simulation, from the customer's profile."""
        return cls(holdings=dict(customer.holdings), cash_jpy=customer.cash_jpy,
                   devices=list(customer.devices), bank_account=customer.bank_account)


# --------------------------------------------------------------------------------------
# Tables, built once
# --------------------------------------------------------------------------------------


class _Lot(NamedTuple):
    symbol: Symbol
    lot_price_jpy: float


class BehaviourTables:
    """Everything derived from the scenario, the symbol master and the network table."""

    def __init__(self, scenario: Scenario, symbols: Iterable[Symbol], *, seed: int) -> None:
        symbols = list(symbols)
        _, ranges, rows = packaged_networks()
        self.base = PopulationTables(scenario, symbols, ranges, rows)
        self.scenario = scenario
        self._days: dict[tuple[date, date | None, TradingCalendar], tuple[bool, bool]] = {}
        self.lots: dict[str, _Lot] = {}
        by_code = {s.symbol: s for s in symbols}
        for pool in self.base.holding_pools.values():
            for code, lot_price, _ in pool:
                self.lots[code] = _Lot(by_code[code], lot_price)
        self.hours = {True: Categorical(_normalised(_TRADING_DAY_HOURS)),
                      False: Categorical(_normalised(_CLOSED_DAY_HOURS))}
        self.buy_mix = {style: Categorical(dict(mix)) for style, mix in POOL_MIX.items()}
        self.surge_symbol: str | None = None
        if scenario.surge is not None:
            small = [code for code, _, _ in self.base.holding_pools["small"]]
            if scenario.surge.symbol == "auto":
                digest = hashlib.blake2b(f"{seed}:surge".encode(), digest_size=8).digest()
                self.surge_symbol = small[int.from_bytes(digest, "big") % len(small)]
            elif scenario.surge.symbol in small:
                self.surge_symbol = scenario.surge.symbol
            else:
                msg = (f"surge symbol {scenario.surge.symbol} is not a thin TSE small cap "
                       "of the symbol master")
                raise ValueError(msg)

    def day_facts(self, day: date, start: date | None,
                  calendar: TradingCalendar) -> tuple[bool, bool]:
        """Whether ``day`` is a TSE trading day and the surge's day: the same for every
        customer, so worked out once a day (they cost 8-17 % of a customer-day)."""
        key = (day, start, calendar)
        facts = self._days.get(key)
        if facts is None:
            if len(self._days) > 4096:
                self._days.clear()
            facts = self._days[key] = (
                calendar.is_trading_day(Market.TSE_PRIME, day),
                start is not None and self.surge_symbol is not None
                and surge_day(self.scenario, start=start, calendar=calendar) == day)
        return facts


def _normalised(weights: Sequence[float]) -> dict[int, float]:
    total = sum(weights)
    return {hour: weight / total for hour, weight in enumerate(weights)}


def day_rng(seed: int, index: int, day: date) -> random.Random:
    """The random generator of customer ``index`` on ``day``.

    >>> day_rng(1, 2, date(2025, 4, 1)).random() == day_rng(1, 2, date(2025, 4, 1)).random()
    True
    >>> day_rng(1, 2, date(2025, 4, 1)).random() == day_rng(1, 2, date(2025, 4, 2)).random()
    False
    """
    digest = hashlib.blake2b(f"{seed}:{index}:{day.isoformat()}".encode(),
                             digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))  # noqa: S311 - reproducible on purpose


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's product method; the means here are small).

    >>> poisson(random.Random(1), 0.0)
    0
    """
    if mean <= 0:
        return 0
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def surge_day(scenario: Scenario, *, start: date, calendar: TradingCalendar) -> date | None:
    """The day of the scenario's surge for a simulation starting on ``start``: the first
    TSE trading day at or after ``start + day_offset``; None without a surge."""
    if scenario.surge is None:
        return None
    day = start + timedelta(days=scenario.surge.day_offset)
    while not calendar.is_trading_day(Market.TSE_PRIME, day):
        day += timedelta(days=1)
    return day


# --------------------------------------------------------------------------------------
# One customer's day
# --------------------------------------------------------------------------------------


def customer_day(customer: SimCustomer, day: date, *, scenario: Scenario, seed: int,
                 symbols: Iterable[Symbol] | BehaviourTables, calendar: TradingCalendar,
                 state: CustomerState, start: date | None = None) -> list[Intent]:
    """The intents of ``customer`` on the JST date ``day``, in time order; ``state`` is
    updated (holdings, cash, devices, trips, bank change).

    ``symbols`` is the symbol master, or tables built once with :class:`BehaviourTables`
    (much faster over many calls). ``start`` is the first day of the simulation, which
    places the scenario's surge; without it there is no surge.
    """
    tables = (symbols if isinstance(symbols, BehaviourTables)
              else BehaviourTables(scenario, symbols, seed=seed))
    return _Day(tables, customer, day, seed=seed, calendar=calendar, state=state,
                start=start).intents()


class _Day:
    def __init__(self, t: BehaviourTables, c: SimCustomer, day: date, *, seed: int,
                 calendar: TradingCalendar, state: CustomerState, start: date | None) -> None:
        self.t, self.c, self.day, self.state = t, c, day, state
        self.rng = day_rng(seed, c.index, day)
        self.trading, self.surge = t.day_facts(day, start, calendar)

    def intents(self) -> list[Intent]:
        rng, sc, st, c = self.rng, self.t.scenario, self.state, self.c
        rand = rng.random
        # Every draw happens every day, in a fixed order, so one event cannot shift the
        # random numbers of another.
        sessions = poisson(rng, c.sessions_per_day)
        trip_roll, trip_len, vpn_roll = rand(), rng.randint(*TRIP_DAYS), rand()
        phone_roll, bank_roll, retire_roll, surge_roll = rand(), rand(), rand(), rand()

        if st.trip is not None and st.trip[2] < self.day:
            st.trip = None
        if (st.trip is None and c.traveller
                and trip_roll < sc.trips_per_year / DAYS_PER_YEAR):
            country = self.t.base.destinations.draw(rng)
            ip, _ = pick_ip(rng, self.t.base.pools[country, "residential"])
            st.trip = (country, ip, self.day + timedelta(days=trip_len - 1))
        vpn = c.vpn_user and vpn_roll < VPN_DAY_SHARE and st.trip is None

        events: list[str] = []
        if phone_roll < sc.phone_replacement_per_year / DAYS_PER_YEAR and any(
                d.kind == "phone" for d in st.devices):
            events.append("phone")
        if bank_roll < sc.bank_change_per_year / DAYS_PER_YEAR and st.withdraw_on is None:
            events.append("bank")
        if st.withdraw_on is not None and st.withdraw_on <= self.day:
            events.append("withdraw_new_bank")
        if (c.trading_style == "retiree_sell_all" and not st.sold_everything
                and retire_roll < RETIREE_SELL_ALL_PER_DAY):
            events.append("sell_all")
        surge = None
        if (self.surge and c.trading_style in {"active", "small_cap_habitual"}
                and sc.surge is not None and surge_roll < sc.surge.join_share):
            window_s = int(sc.surge.window_hours * 3600)
            surge = sc.surge.start_jst_minutes * 60 + int(rand() * window_s)

        starts = [(self._start_s(), False)
                  for _ in range(max(sessions, 1 if events else 0))]
        if surge is not None:
            starts.append((surge, True))
        starts.sort()
        out: list[Intent] = []
        busy_until = 0
        for n, (wanted_s, is_surge) in enumerate(starts):
            start_s = max(wanted_s, busy_until)   # sessions of one customer never overlap
            busy_until = self._session(out, start_s, events if n == 0 else [], vpn=vpn,
                                       surge=is_surge) + 60
        return out

    def _start_s(self) -> int:
        hour = self.t.hours[self.trading].draw(self.rng)
        limit = LATEST_SESSION_START.hour * 3600 + LATEST_SESSION_START.minute * 60
        return min(hour * 3600 + int(self.rng.random() * 3600), limit)

    def _ts(self, seconds: int) -> datetime:
        # Sessions start by 23:30 and last minutes, but clamp so nothing leaves the day.
        seconds = min(seconds, 24 * 3600 - 1)
        local = datetime.combine(self.day, time(), tzinfo=JST) + timedelta(seconds=seconds)
        return local.astimezone(UTC)

    def _gap(self) -> int:
        return self.rng.randint(*SESSION_ACTION_GAP_S)

    def _session(self, out: list[Intent], now: int, events: list[str], *, vpn: bool,
                 surge: bool) -> int:
        """Append one session from ``now`` (seconds after JST midnight); return its end."""
        rng, st, c, acct = self.rng, self.state, self.c, self.c.account
        device = st.devices[int(rng.random() * len(st.devices))]
        if "phone" in events:
            device = self._replace_phone(out, now)
            now += self._gap()
        typos = 0
        if rng.random() < self.t.scenario.password_typo_per_login:
            typos = 2 if rng.random() < SECOND_TYPO_SHARE else 1
        out.append(LoginIntent(self._ts(now), acct, device.device, device.user_agent,
                               self._ip(device, vpn=vpn), typos))
        if "bank" in events:
            now += self._gap()
            st.bank_account = (f"{rng.randrange(1, 10_000):04d}-{rng.randrange(1, 1_000):03d}-"
                               f"{rng.randrange(10**7):07d}")
            st.bank_changed_on = self.day
            st.withdraw_on = self.day + timedelta(days=rng.randint(*BANK_TO_WITHDRAWAL_DAYS))
            out.append(BankChangeIntent(self._ts(now), acct, st.bank_account))
        if "sell_all" in events:
            for code, quantity in sorted(st.holdings.items()):
                now += self._gap()
                out.append(self._order(now, code, "sell", quantity, limit=False))
            st.sold_everything = True
        if surge and self.t.surge_symbol is not None:
            now += self._gap()
            lot = self.t.lots[self.t.surge_symbol]
            lots = min(rng.randint(1, 5), int(st.cash_jpy // lot.lot_price_jpy))
            if lots > 0:
                out.append(self._order(now, lot.symbol.symbol, "buy",
                                       lots * lot.symbol.lot_size,
                                       limit=rng.random() < LIMIT_ORDER_SHARE))
        share = ORDER_SESSION_SHARE[c.trading_style] * (
            1 if self.trading else CLOSED_DAY_ORDER_FACTOR)
        if not surge and rng.random() < share:
            for _ in range(rng.randint(1, MAX_ORDERS_PER_SESSION[c.trading_style])):
                now += self._gap()
                order = self._ordinary_order(now)
                if order is not None:
                    out.append(order)
        now = self._withdraw(out, now, everything="withdraw_new_bank" in events
                             or "sell_all" in events)
        now += self._gap()
        out.append(LogoutIntent(self._ts(now), acct))
        return now

    def _replace_phone(self, out: list[Intent], now: int) -> SimDevice:
        st, rng = self.state, self.rng
        old = next(d for d in st.devices if d.kind == "phone")
        agent = USER_AGENTS["phone"][int(rng.random() * len(USER_AGENTS["phone"]))]
        device = SimDevice(f"dev_{rng.getrandbits(64):016x}", "phone", agent, 0)
        st.devices[st.devices.index(old)] = device
        out.append(DeviceChangeIntent(self._ts(now), self.c.account, old.device,
                                      device.device, agent))
        return device

    def _withdraw(self, out: list[Intent], now: int, *, everything: bool) -> int:
        """A withdrawal: all the cash (after a bank change or the retiree's sale), or now
        and then part of it. Returns the time after it."""
        st, rng = self.state, self.rng
        withdraw = 0
        if everything:
            withdraw = st.cash_jpy
            st.withdraw_on = None
        elif rng.random() < WITHDRAWAL_PER_SESSION:
            withdraw = int(st.cash_jpy * rng.uniform(0.1, 0.5))
        if withdraw > 0:
            now += self._gap()
            st.cash_jpy -= withdraw
            out.append(WithdrawalIntent(self._ts(now), self.c.account, withdraw))
        return now

    def _ip(self, device: SimDevice, *, vpn: bool) -> str:
        st, c = self.state, self.c
        if st.trip is not None:
            return st.trip[1]
        if vpn:
            for n in c.networks:
                if n.kind == "vpn":
                    return n.ip
        home = [n for n in c.networks if n.country == HOME_COUNTRY and n.kind != "vpn"]
        wanted = "mobile" if device.kind == "phone" else "residential"
        for n in home:
            if n.kind == wanted:
                return n.ip
        return home[0].ip

    def _ordinary_order(self, now: int) -> OrderIntent | None:
        rng, st, t = self.rng, self.state, self.t
        style = self.c.trading_style
        held = sorted(code for code, q in st.holdings.items() if q > 0 and code in t.lots)
        if held and (style == "retiree_sell_all" or rng.random() < SELL_SHARE):
            code = held[int(rng.random() * len(held))]
            lot_size = t.lots[code].symbol.lot_size
            lots = st.holdings[code] // lot_size
            if lots == 0:
                return None
            sell = lot_size * (lots if rng.random() < 0.5 else rng.randint(1, lots))
            return self._order(now, code, "sell", sell, limit=rng.random() < LIMIT_ORDER_SHARE)
        if style == "retiree_sell_all":
            return None
        pool = t.base.holding_pools[t.buy_mix[style].draw(rng)]
        code, lot_price, lot_size = pool[int(rng.random() * len(pool))]
        budget = st.cash_jpy * rng.uniform(*BUY_BUDGET_SHARE)
        lots = int(budget // lot_price)
        if lots == 0:
            return None
        return self._order(now, code, "buy", lots * lot_size,
                           limit=rng.random() < LIMIT_ORDER_SHARE)

    def _order(self, now: int, code: str, side: str, quantity: int, *,
               limit: bool) -> OrderIntent:
        """An order, and its effect on the state at the master price (the closed loop
        will use the broker's fills instead)."""
        lot = self.t.lots.get(code)
        symbol = lot.symbol if lot else None
        limit_price = None
        if limit and symbol is not None:
            # A limit a little through the price, to fill: whole minor units.
            drift = 1 + (0.01 if side == "buy" else -0.01) * self.rng.random()
            minor = max(1, round(symbol.price_minor * drift))
            limit_price = Decimal(minor) / symbol.minor_per_unit
        value_jpy = int(lot.lot_price_jpy * quantity / symbol.lot_size) if lot and symbol else 0
        if side == "buy":
            self.state.cash_jpy -= value_jpy
            self.state.holdings[code] = self.state.holdings.get(code, 0) + quantity
        else:
            self.state.cash_jpy += value_jpy
            left = self.state.holdings.get(code, 0) - quantity
            if left > 0:
                self.state.holdings[code] = left
            else:
                self.state.holdings.pop(code, None)
        return OrderIntent(self._ts(now), self.c.account, code, side, quantity,
                           "limit" if limit_price is not None else "market", limit_price)


# --------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------


def iter_intents(population: Iterable[SimCustomer], *, days: int, start: date,
                 scenario: Scenario, seed: int, symbols: Iterable[Symbol],
                 calendar: TradingCalendar | None = None) -> Iterator[Intent]:
    """Every customer's intents over ``days`` days from ``start``, in time order.

    Memory: the customers and their states are kept (the loop needs them every day),
    intents one day at a time: each day's per-customer lists are heap-merged and
    yielded before the next day is drawn. Ties keep customer order.

    Raises ValueError for a negative ``days``.
    """
    if days < 0:
        msg = "days must not be negative"
        raise ValueError(msg)
    calendar = calendar or TradingCalendar()
    tables = BehaviourTables(scenario, symbols, seed=seed)
    customers: Sequence[SimCustomer] = list(population)
    states = [CustomerState.of(c) for c in customers]
    for offset in range(days):
        day = start + timedelta(days=offset)
        lists = [lst for c, st in zip(customers, states, strict=True)
                 if (lst := _Day(tables, c, day, seed=seed, calendar=calendar, state=st,
                                 start=start).intents())]
        yield from heapq.merge(*lists, key=_ts)
        del lists


def _ts(intent: Intent) -> datetime:
    return intent.ts
