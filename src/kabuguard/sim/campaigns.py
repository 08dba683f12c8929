"""Attack campaigns: who takes over which accounts, when, from where, and what they do.

The 2025 pattern (CASE.md "How (the attack chain)"): a crew takes over a batch of
accounts (phishing relays, infostealer logs, leaked passwords), logs in from networks
the victim never used, sells the victim's holdings and buys an illiquid Chinese or
Japanese small cap with the proceeds to pump it, while accounts of its own, bought in
beforehand, sell into the pump. Some crews also change the withdrawal bank account and
withdraw.

:func:`plan_campaigns` draws the campaigns of a simulation from the scenario's
``campaigns:`` section (a rate of compromised accounts per 10,000 customers a month, the
share of each way in, a monthly profile); :func:`iter_attack_intents` turns them into
attacker intents against victims drawn from the population; :func:`label_records` gives
the EVENTS.md ``labels.jsonl`` records of those intents. Everything is a function of the
seed. Nothing here calls the guard or the broker: the closed loop (a later slice) runs the
intents and decides what the attacker actually gets.

Attacker intents reuse :mod:`kabuguard.sim.behaviour`'s intent classes, wrapped in an
:class:`AttackIntent` that names the attack, the campaign, what the attacker can pass
and the intent's id (the legitimate intents carry no id; the export gives them theirs).
"""

from __future__ import annotations

import calendar as _calendar
import hashlib
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, overload

from kabuguard.broker.market import TSE_MARKETS, Currency, FxRates, Market, TradingCalendar
from kabuguard.broker.symbols import Symbol
from kabuguard.domain.events import JST
from kabuguard.sim.behaviour import (
    BankChangeIntent,
    Intent,
    LoginIntent,
    LogoutIntent,
    OrderIntent,
    WithdrawalIntent,
    poisson,
)
from kabuguard.sim.population import (
    HOME_COUNTRY,
    USER_AGENTS,
    NetworkPool,
    SimCustomer,
    generate_population,
    packaged_networks,
    pick_ip,
)
from kabuguard.sim.scenario import ATTACKS, Scenario

BENEFICIARY = "beneficiary"

# What each attacker can satisfy when challenged (EVENTS.md ``can_pass``) and, where the
# level depends on the method, the methods it can answer.
CAN_PASS: Mapping[str, tuple[str, ...]] = {
    # A real-time relay forwards the password and any one-time code (e-mail, SMS, TOTP,
    # the emoji of CASE.md's firms) within seconds; it cannot relay a passkey, which is
    # bound to the genuine site's origin.
    "realtime_phishing": ("otp",),
    # A replayed session cookie: the attacker has neither the password nor a second factor.
    "infostealer_session": (),
    # A leaked password that still works, nothing more.
    "credential_stuffing": ("password",),
    # The victim's number moved to the attacker's SIM: SMS codes only (see METHODS).
    "sim_swap": ("otp",),
    # Recovery through a mailbox the attacker controls (assumed): e-mail codes only.
    "recovery_abuse": ("otp",),
    # The same relay as real-time phishing, then a new bank account and a withdrawal.
    "bank_change_withdrawal": ("otp",),
    # Slow, from Japanese residential proxies, with a stolen password (assumed): too slow
    # for a relay, so no one-time code.
    "low_and_slow": ("password",),
    # The crew's own accounts: it passes whatever it enrolled.
    BENEFICIARY: ("password", "otp", "phishing_resistant"),
}
METHODS: Mapping[str, tuple[str, ...]] = {
    "realtime_phishing": ("email_otp", "sms_otp", "totp", "emoji"),
    "sim_swap": ("sms_otp",),
    "recovery_abuse": ("email_otp",),
    "bank_change_withdrawal": ("email_otp", "sms_otp", "totp", "emoji"),
}

# Pump targets: thin small caps of Shanghai, Shenzhen and the TSE (CASE.md: first Chinese
# stocks, then Japanese; ¥100-¥500 names). Thresholds assumed.
THIN_ADV_JPY = 20_000_000           # trades less than ¥20m a day
MICRO_CAP_JPY = 20_000_000_000      # market cap under ¥20bn
TARGET_PRICE_JPY = 1_000            # at ¥1,000 or less a share
CHINA_TARGET_SHARE = 0.4            # share of campaigns pumping a Chinese name (assumed)
CHINA_MARKETS = frozenset({Market.SSE, Market.SZSE})

# Timing (all assumed). The pump starts at the open of the target's market, in JST.
PUMP_START_JST: Mapping[bool, time] = {True: time(9, 0), False: time(10, 30)}  # TSE? CN
VICTIM_SPREAD_S = 90 * 60           # victims' logins spread over the first 90 minutes
RELAY_GAP_S = (3, 20)               # seconds between a scripted crew's actions
SLOW_GAP_S = (60, 600)              # ... a low-and-slow crew's
LOW_AND_SLOW_DAYS = (3, 7)          # days of quiet selling before the pump
BENEFICIARY_LEAD_DAYS = (1, 5)      # trading days the crew buys in before the pump
BENEFICIARY_SELL_S = (20 * 60, 150 * 60)   # after the pump start, when they sell
BENEFICIARY_ADV_SHARE = (0.05, 0.3)        # of the target's daily volume, bought in
BUY_BUDGET_SHARE = (0.8, 0.98)      # of the victim's cash and proceeds, into the target
WITHDRAW_BUY_SHARE = (0.4, 0.7)     # the bank-change crews buy less and withdraw the rest
NETWORKS_PER_CAMPAIGN = (1, 3)      # attacker address pools a campaign uses


@dataclass(frozen=True, slots=True)
class SessionReplayIntent:
    """A stolen session (and its device cookie) replayed from another network: no login,
    the attacker presents the victim's ``device`` with its ``user_agent`` from ``ip``."""

    ts: datetime
    account: str
    device: str
    user_agent: str
    ip: str


@dataclass(frozen=True, slots=True)
class RecoveryIntent:
    """Start the account-recovery flow (forgotten password) from ``device`` at ``ip``."""

    ts: datetime
    account: str
    device: str
    user_agent: str
    ip: str


AttackAction = Intent | SessionReplayIntent | RecoveryIntent


@dataclass(frozen=True, slots=True)
class AttackIntent:
    """One attacker action: ``intent`` done by attack ``attack`` of campaign ``campaign``;
    ``can_pass`` the levels the attacker satisfies (``methods``: only by these)."""

    id: str
    intent: AttackAction
    campaign: str
    attack: str
    can_pass: tuple[str, ...]
    methods: tuple[str, ...] = ()

    @property
    def ts(self) -> datetime:
        return self.intent.ts

    @property
    def account(self) -> str:
        return self.intent.account


@dataclass(frozen=True, slots=True)
class Campaign:
    """One crew's operation: take over ``victims`` accounts by ``attack`` and pump
    ``target`` on ``pump_day`` (JST), starting on ``first_day`` (before the pump for a
    low-and-slow crew). ``networks`` are the first addresses of the address pools it uses;
    ``beneficiaries`` its own accounts (not customers of the population)."""

    id: str
    attack: str
    first_day: date
    pump_day: date
    target: str
    victims: int
    beneficiaries: tuple[str, ...]
    networks: tuple[int, ...]


# --------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------


def _rng(seed: int, *parts: object) -> random.Random:
    text = ":".join(str(p) for p in (seed, "campaigns", *parts))
    digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))  # noqa: S311 - reproducible


def _yen(symbol: Symbol, fx: FxRates) -> Decimal:
    rate = {Currency.JPY: Decimal(1), Currency.USD: fx.usd, Currency.CNY: fx.cny,
            Currency.HKD: fx.hkd}[symbol.currency]
    return symbol.price * rate


def pump_targets(symbols: Iterable[Symbol]) -> dict[bool, list[Symbol]]:
    """The thin small caps a campaign may pump, keyed by "is Chinese", in master order.

    Raises ValueError when the symbol master has none of either kind.
    """
    fx = FxRates()
    out: dict[bool, list[Symbol]] = {True: [], False: []}
    for s in symbols:
        if s.market not in CHINA_MARKETS and s.market not in TSE_MARKETS:
            continue
        if (s.adv_jpy < THIN_ADV_JPY and s.market_cap_jpy < MICRO_CAP_JPY
                and _yen(s, fx) <= TARGET_PRICE_JPY):
            out[s.market in CHINA_MARKETS].append(s)
    if not out[True] or not out[False]:
        msg = "the symbol master has no thin Chinese or Japanese small cap to pump"
        raise ValueError(msg)
    return out


def _attacker_pools() -> dict[str, list[NetworkPool]]:
    """Address pools of the sim table: ``remote`` (hosting and VPN blocks, anywhere) and
    ``jp_residential`` (the low-and-slow crews' residential proxies)."""
    _, _, rows = packaged_networks()
    pools: dict[str, list[NetworkPool]] = {"remote": [], "jp_residential": []}
    for net, info in rows:
        pool = NetworkPool(int(net.network_address) + 1, net.num_addresses - 2, info.asn or 0)
        if info.kind in {"hosting", "vpn"}:
            pools["remote"].append(pool)
        elif info.kind == "residential" and info.country == HOME_COUNTRY:
            pools["jp_residential"].append(pool)
    return pools


def _next_trading_day(day: date, market: Market, cal: TradingCalendar) -> date:
    while not cal.is_trading_day(market, day):
        day += timedelta(days=1)
    return day


def plan_campaigns(population_size: int, *, days: int, start: date, seed: int,
                   scenario: Scenario, symbols: Iterable[Symbol],
                   calendar: TradingCalendar | None = None) -> list[Campaign]:
    """The campaigns against a population of ``population_size`` over ``days`` days from
    ``start`` (JST dates), in start order; none when the scenario has no ``campaigns:``.

    For each day and attack, the number of campaigns is Poisson with mean (compromised
    accounts expected that day x the attack's share / victims per campaign); a campaign
    takes over 1 + Poisson(victims_per_campaign - 1) accounts, so the expected share of
    victims per attack is the scenario's. A pump day can fall a few days after the
    horizon (the next trading day of the target's market, later for low-and-slow).

    Raises ValueError for a negative size or days, or a symbol master without targets.
    """
    if population_size < 0 or days < 0:
        msg = "population_size and days must not be negative"
        raise ValueError(msg)
    spec = scenario.campaigns
    if spec is None:
        return []
    cal = calendar or TradingCalendar()
    targets = pump_targets(symbols)
    pools = _attacker_pools()
    rng = _rng(seed, "plan")
    out: list[Campaign] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        month_days = _calendar.monthrange(day.year, day.month)[1]
        expected = (population_size / 10_000 * spec.compromised_per_10k_per_month
                    * spec.monthly_factor(day.month) / month_days)
        for attack in ATTACKS:   # a fixed order: deterministic
            mean = expected * spec.attacks[attack] / spec.victims_per_campaign
            for _ in range(poisson(rng, mean)):
                number = len(out) + 1
                victims = 1 + poisson(rng, spec.victims_per_campaign - 1)
                chinese = rng.random() < CHINA_TARGET_SHARE
                pool = targets[chinese]
                target = pool[int(rng.random() * len(pool))]
                pump = day
                if attack == "low_and_slow":
                    pump += timedelta(days=rng.randint(*LOW_AND_SLOW_DAYS))
                pump = _next_trading_day(pump, target.market, cal)
                kind = "jp_residential" if attack == "low_and_slow" else "remote"
                count = rng.randint(*NETWORKS_PER_CAMPAIGN)
                networks = tuple(p.first for p in rng.sample(pools[kind], count))
                out.append(Campaign(
                    id=f"campaign-{number:05d}", attack=attack, first_day=day,
                    pump_day=pump, target=target.symbol, victims=victims,
                    beneficiaries=tuple(f"X{number:06d}{n:03d}" for n in
                                        range(spec.beneficiaries_per_campaign)),
                    networks=networks))
    return out


# Draws per victim before a customer without holdings is accepted: a crew sells
# holdings, so holders are preferred; with ~70 % holders, 16 misses in a row are rare.
HOLDER_TRIES = 16


def assign_victims(campaigns: Sequence[Campaign], population: Sequence[SimCustomer], *,
                   seed: int) -> dict[str, list[SimCustomer]]:
    """Victims of each campaign (by id), drawn without replacement from the population,
    customers with holdings preferred (the crews sell holdings); a campaign gets fewer
    when the population runs out.

    Victims are drawn by index, so ``population`` may be a lazy sequence that builds
    only the customers asked for (:class:`LazyPopulation`): a million customers need
    not be in memory to choose a few hundred victims.
    """
    size = len(population)
    rng = _rng(seed, "victims")
    used: set[int] = set()
    out: dict[str, list[SimCustomer]] = {}
    for campaign in campaigns:
        chosen: list[SimCustomer] = []
        for _ in range(campaign.victims):
            if len(used) >= size:
                break
            customer = None
            for _try in range(HOLDER_TRIES):
                index = _unused_index(rng, size, used)
                candidate = population[index]
                if candidate.holdings or _try == HOLDER_TRIES - 1:
                    customer = candidate
                    used.add(index)
                    break
            if customer is not None:
                chosen.append(customer)
        out[campaign.id] = chosen
    return out


def _unused_index(rng: random.Random, size: int, used: set[int]) -> int:
    """A uniform index not in ``used``: random draws while most are free, else a scan
    from a random point (so a nearly used-up population still ends)."""
    if len(used) < size // 2:
        while (index := int(rng.random() * size)) in used:
            pass
        return index
    index = int(rng.random() * size)
    while index in used:
        index = (index + 1) % size
    return index


class LazyPopulation(Sequence[SimCustomer]):
    """Customers ``0 .. size - 1`` of the population ``seed``, each generated when
    asked for (customer ``i`` depends only on the seed and ``i``) and not kept."""

    def __init__(self, scenario: Scenario, *, size: int, seed: int,
                 symbols: Iterable[Symbol]) -> None:
        self.scenario, self.size, self.seed = scenario, size, seed
        self.symbols = list(symbols)

    def __len__(self) -> int:
        return self.size

    @overload
    def __getitem__(self, index: int) -> SimCustomer: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[SimCustomer]: ...

    def __getitem__(self, index: int | slice) -> SimCustomer | Sequence[SimCustomer]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        if not -self.size <= index < self.size:
            raise IndexError(index)
        index %= self.size
        return next(generate_population(self.scenario, customers=1, seed=self.seed,
                                        symbols=self.symbols, start=index))


# --------------------------------------------------------------------------------------
# Intents
# --------------------------------------------------------------------------------------


class _Crew:
    """Builds one campaign's intents with the campaign's own random generator."""

    def __init__(self, campaign: Campaign, *, seed: int, symbols: Mapping[str, Symbol],
                 pools: Mapping[int, NetworkPool], cal: TradingCalendar) -> None:
        self.c = campaign
        self.rng = _rng(seed, campaign.id)
        self.symbols = symbols
        self.target = symbols[campaign.target]
        self.fx = FxRates()
        self.pools = [pools[first] for first in campaign.networks]
        self.cal = cal
        self.out: list[AttackIntent] = []
        start = PUMP_START_JST[self.target.market in TSE_MARKETS]
        self.pump_start = datetime.combine(campaign.pump_day, start, tzinfo=JST)

    def emit(self, intent: AttackAction, attack: str | None = None) -> None:
        attack = attack or self.c.attack
        self.out.append(AttackIntent(
            id=f"{self.c.id}:{len(self.out):05d}", intent=intent, campaign=self.c.id,
            attack=attack, can_pass=CAN_PASS[attack], methods=METHODS.get(attack, ())))

    def ip(self) -> str:
        return pick_ip(self.rng, self.pools)[0]

    def device(self) -> tuple[str, str]:
        kind = "pc" if self.rng.random() < 0.7 else "phone"   # crews script browsers
        agents = USER_AGENTS[kind]
        return (f"dev_{self.rng.getrandbits(64):016x}",
                agents[int(self.rng.random() * len(agents))])

    def gap(self) -> timedelta:
        slow = self.c.attack == "low_and_slow"
        return timedelta(seconds=self.rng.randint(*(SLOW_GAP_S if slow else RELAY_GAP_S)))

    def lot_price_yen(self, code: str) -> Decimal:
        s = self.symbols[code]
        return _yen(s, self.fx) * s.lot_size

    # -- one victim ------------------------------------------------------------------

    def victim(self, v: SimCustomer) -> None:
        rng, acct = self.rng, v.account
        holdings = [(s, q) for s, q in v.holdings if s in self.symbols and q > 0]
        if self.c.attack == "low_and_slow":
            self._low_and_slow(v, holdings)
            return
        ts = (self.pump_start.astimezone(UTC)
              + timedelta(seconds=int(rng.random() * VICTIM_SPREAD_S)))
        device, agent = self.device()
        ip = self.ip()
        if self.c.attack == "infostealer_session":
            stolen = v.devices[int(rng.random() * len(v.devices))]
            device, agent = stolen.device, stolen.user_agent
            self.emit(SessionReplayIntent(ts, acct, device, agent, ip))
        else:
            if self.c.attack == "recovery_abuse":
                self.emit(RecoveryIntent(ts, acct, device, agent, ip))
                ts += timedelta(minutes=rng.randint(5, 30))
            self.emit(LoginIntent(ts, acct, device, agent, ip, 0))
        proceeds = Decimal(0)
        for code, quantity in holdings:
            ts += self.gap()
            self.emit(OrderIntent(ts, acct, code, "sell", quantity, "market", None))
            proceeds += self.lot_price_yen(code) * quantity / self.symbols[code].lot_size
        withdraws = self.c.attack == "bank_change_withdrawal"
        budget_share = rng.uniform(*(WITHDRAW_BUY_SHARE if withdraws else BUY_BUDGET_SHARE))
        budget = (Decimal(v.cash_jpy) + proceeds) * Decimal(str(round(budget_share, 4)))
        lots = max(1, int(budget / self.lot_price_yen(self.c.target)))
        ts += self.gap()
        self.emit(OrderIntent(ts, acct, self.c.target, "buy", lots * self.target.lot_size,
                              "market", None))
        if withdraws:
            ts += self.gap()
            self.emit(BankChangeIntent(ts, acct, f"{rng.randrange(1, 10_000):04d}-"
                                                 f"{rng.randrange(1, 1_000):03d}-"
                                                 f"{rng.randrange(10**7):07d}"))
            ts += self.gap()
            rest = int(Decimal(v.cash_jpy) + proceeds - budget)
            self.emit(WithdrawalIntent(ts, acct, max(rest, 1)))
        ts += self.gap()
        self.emit(LogoutIntent(ts, acct))

    def _low_and_slow(self, v: SimCustomer, holdings: list[tuple[str, int]]) -> None:
        """A few holdings sold a day from the first day on, then the pump buy: every
        session from a different Japanese residential proxy, in ordinary hours."""
        rng, acct = self.rng, v.account
        device, agent = self.device()     # one device, so it soon looks familiar
        days = max(1, (self.c.pump_day - self.c.first_day).days)
        per_day = -(-len(holdings) // days) if holdings else 0
        proceeds = Decimal(0)
        for n in range(days + 1):
            day = self.c.first_day + timedelta(days=n)
            sells = holdings[n * per_day:(n + 1) * per_day] if day < self.c.pump_day else []
            if day < self.c.pump_day and not sells:
                continue
            hour = rng.randint(9, 21) if day < self.c.pump_day else self.pump_start.hour
            ts = datetime.combine(day, time(hour), tzinfo=JST).astimezone(UTC) + timedelta(
                seconds=int(rng.random() * 3000))
            self.emit(LoginIntent(ts, acct, device, agent, self.ip(), 0))
            for code, quantity in sells:
                ts += self.gap()
                self.emit(OrderIntent(ts, acct, code, "sell", quantity, "market", None))
                proceeds += self.lot_price_yen(code) * quantity / self.symbols[code].lot_size
            if day == self.c.pump_day:
                budget = (Decimal(v.cash_jpy) + proceeds) * Decimal(
                    str(round(rng.uniform(*BUY_BUDGET_SHARE), 4)))
                lots = max(1, int(budget / self.lot_price_yen(self.c.target)))
                ts += self.gap()
                self.emit(OrderIntent(ts, acct, self.c.target, "buy",
                                      lots * self.target.lot_size, "market", None))
            ts += self.gap()
            self.emit(LogoutIntent(ts, acct))

    # -- the crew's own accounts -----------------------------------------------------

    def beneficiary(self, account: str) -> None:
        rng = self.rng
        device, agent = self.device()
        ip = self.ip()
        day = self.c.pump_day
        for _ in range(rng.randint(*BENEFICIARY_LEAD_DAYS)):
            day -= timedelta(days=1)
            while not self.cal.is_trading_day(self.target.market, day):
                day -= timedelta(days=1)
        lot = self.target.lot_size
        shares = self.target.adv_shares * rng.uniform(*BENEFICIARY_ADV_SHARE)
        quantity = max(1, int(shares / lot)) * lot
        ts = (datetime.combine(day, self.pump_start.time(), tzinfo=JST).astimezone(UTC)
              + timedelta(seconds=int(rng.random() * 4 * 3600)))
        sell_ts = self.pump_start.astimezone(UTC) + timedelta(
            seconds=rng.randint(*BENEFICIARY_SELL_S))
        for side, login_ts in (("buy", ts), ("sell", sell_ts)):
            self.emit(LoginIntent(login_ts, account, device, agent, ip, 0), BENEFICIARY)
            order_ts = login_ts + timedelta(seconds=rng.randint(*RELAY_GAP_S))
            self.emit(OrderIntent(order_ts, account, self.c.target, side, quantity,
                                  "market", None), BENEFICIARY)
            self.emit(LogoutIntent(order_ts + timedelta(seconds=rng.randint(*RELAY_GAP_S)),
                                   account), BENEFICIARY)


def iter_attack_intents(campaigns: Sequence[Campaign], victims: Sequence[SimCustomer], *,
                        seed: int, symbols: Iterable[Symbol],
                        calendar: TradingCalendar | None = None) -> Iterator[AttackIntent]:
    """Every attacker intent of ``campaigns`` in time order (ties by id).

    ``victims`` is the population the victims are drawn from (:func:`assign_victims`;
    a :class:`LazyPopulation` for a large one);
    each campaign's intents come from a generator seeded by ``(seed, campaign id)``.
    """
    by_code = {s.symbol: s for s in symbols}
    pools = {p.first: p for ps in _attacker_pools().values() for p in ps}
    cal = calendar or TradingCalendar()
    assigned = assign_victims(campaigns, victims, seed=seed)
    out: list[AttackIntent] = []
    for campaign in campaigns:
        crew = _Crew(campaign, seed=seed, symbols=by_code, pools=pools, cal=cal)
        for account in campaign.beneficiaries:
            crew.beneficiary(account)
        for victim in assigned[campaign.id]:
            crew.victim(victim)
        out.extend(crew.out)
    out.sort(key=lambda a: (a.ts, a.id))
    yield from out


def label_records(intents: Iterable[AttackIntent]) -> Iterator[dict[str, Any]]:
    """The EVENTS.md ``labels.jsonl`` records of attacker intents, keyed by the intent id
    (the export maps it to the ids of the events the intent produces). A method-bound
    ``can_pass`` (SIM swap: SMS codes only) also lists ``can_pass_methods``."""
    for a in intents:
        record: dict[str, Any] = {"id": a.id, "fraud": True, "campaign": a.campaign,
                                  "attack": a.attack, "can_pass": list(a.can_pass)}
        if a.methods:
            record["can_pass_methods"] = list(a.methods)
        yield record
