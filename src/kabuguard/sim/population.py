"""The simulated customers: who they are, where they log in from, what they hold.

``generate_population`` streams customers one at a time (bounded memory whatever N), and
customer ``i`` depends only on ``(seed, i)``: its random generator is seeded from a hash
of the two, so customer 42 is the same in a population of 100 or of a million, and a
population can be generated in slices on several cores and concatenated.

Networks come from ``sim/data/networks.csv`` (reserved blocks, see its header), which the
netinfo table reads, so every address a customer uses classifies to the country, AS and
kind the simulator meant. Behaviour over time (sessions, orders, life events) is a later
slice; the profile here carries what it needs (activity level, trading style, flags).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import random
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from importlib import resources
from itertools import accumulate
from typing import Any, NamedTuple

from kabuguard.broker.market import TSE_MARKETS, Currency, FxRates, Market
from kabuguard.broker.symbols import Symbol
from kabuguard.domain.netinfo import IpRanges, NetInfo
from kabuguard.sim.scenario import Scenario

HOME_COUNTRY = "JP"
NETWORKS_FILE = "data/networks.csv"

# A few current user agents per device kind (2025 browsers and the brokerage's app).
USER_AGENTS: Mapping[str, tuple[str, ...]] = {
    "phone": (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; SO-51D) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/133.0.0.0 Mobile Safari/537.36",
        "Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/134.0.0.0 Mobile Safari/537.36",
        "KabuguardApp/3.2.1 (iOS 18.3; iPhone15,2)",
        "KabuguardApp/3.2.1 (Android 14; SH-53D)",
    ),
    "pc": (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/133.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/133.0.0.0 Safari/537.36 Edg/133.0.0.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, "
        "like Gecko) Version/18.3 Safari/605.1.15",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:135.0) Gecko/20100101 Firefox/135.0",
    ),
    "tablet": (
        "Mozilla/5.0 (iPad; CPU OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/18.3 Mobile/15E148 Safari/604.1",
    ),
}

# Enrolled methods of each profile (scenario ``methods``); everyone has a password.
PROFILE_METHODS: Mapping[str, tuple[str, ...]] = {
    "password_only": ("password",),
    "email_otp": ("password", "email_otp"),
    "totp": ("password", "email_otp", "totp"),
    "passkey": ("password", "email_otp", "passkey"),
}

# How long ago a customer of each activity level last used a device or network, in
# days (uniform in the range): a daily trader was here today, a dormant one long ago.
LAST_SEEN_DAYS: Mapping[str, tuple[int, int]] = {
    "daily": (0, 1), "weekly": (0, 7), "monthly": (1, 31), "dormant": (31, 720),
}

# Positions per trading style (uniform in the range) and where they are drawn from:
# (pool, share) with pools "large" (TSE large caps), "small" (low-priced, thinly traded
# TSE names: the kind the 2025 takeovers pumped), "jp" (any TSE name), "us".
POSITIONS: Mapping[str, tuple[int, int]] = {
    "long_term": (1, 6), "active": (2, 8), "small_cap_habitual": (2, 6),
    "retiree_sell_all": (3, 10),
}
POOL_MIX: Mapping[str, tuple[tuple[str, float], ...]] = {
    "long_term": (("large", 0.8), ("us", 0.2)),
    "active": (("jp", 0.6), ("small", 0.2), ("us", 0.2)),
    "small_cap_habitual": (("small", 0.7), ("large", 0.3)),
    "retiree_sell_all": (("large", 1.0),),
}
LARGE_CAP_JPY = 300_000_000_000   # ¥300bn market cap and above
SMALL_CAP_ADV_JPY = 100_000_000   # trades less than ¥100m a day ...
SMALL_CAP_PRICE_JPY = 1_000       # ... at ¥1,000 or less


class SimNetwork(NamedTuple):
    """An address the customer used, what netinfo says of it, and when (days ago)."""

    ip: str
    asn: int
    country: str
    kind: str
    last_seen_days: int


class SimDevice(NamedTuple):
    device: str
    kind: str          # phone, pc, tablet
    user_agent: str
    last_seen_days: int


@dataclass(slots=True)
class SimCustomer:
    """One simulated customer's profile at the start of a simulation."""

    index: int
    account: str
    login_id: str
    home_country: str
    activity: str                      # daily, weekly, monthly, dormant
    sessions_per_day: float
    trading_style: str
    method_profile: str
    methods: tuple[str, ...]
    devices: tuple[SimDevice, ...]
    networks: tuple[SimNetwork, ...]   # home lines first, then VPN, then abroad
    cash_jpy: int
    holdings: tuple[tuple[str, int], ...]   # (symbol, quantity), quantity a whole lot
    traveller: bool
    vpn_user: bool
    bank_account: str                  # plain "bank-branch-number"; tokenised on export
    tenure_days: int


# --------------------------------------------------------------------------------------
# Pure helpers
# --------------------------------------------------------------------------------------


def customer_rng(seed: int, index: int) -> random.Random:
    """The random generator of customer ``index``: a function of ``(seed, index)`` only.

    >>> customer_rng(1, 5).random() == customer_rng(1, 5).random()
    True
    >>> customer_rng(1, 5).random() == customer_rng(1, 6).random()
    False
    """
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=16).digest()
    # A simulation, not a secret: reproducible per (seed, index) is the point.
    return random.Random(int.from_bytes(digest, "big"))  # noqa: S311


def ipv4_text(value: int) -> str:
    """Dotted-quad text of an IPv4 address given as an integer (faster than ipaddress).

    >>> ipv4_text(0xF0000001)
    '240.0.0.1'
    """
    return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.{value & 255}"


def lots_for(value_jpy: float, *, lot_price_jpy: float) -> int:
    """Whole lots closest to ``value_jpy``, at least one (a holding is never empty).

    >>> lots_for(1_000_000, lot_price_jpy=300_000), lots_for(10, lot_price_jpy=50_000)
    (3, 1)
    """
    return max(1, round(value_jpy / lot_price_jpy))


class Categorical:
    """A draw from named shares with one ``random()`` and a bisect."""

    __slots__ = ("cumulative", "names")

    def __init__(self, shares: Mapping[Any, float]) -> None:
        self.names = tuple(shares)
        cumulative = list(accumulate(shares.values()))
        cumulative[-1] = math.inf   # shares sum to 1 within rounding: never fall off
        self.cumulative = cumulative

    def draw(self, rng: random.Random) -> Any:
        return self.names[bisect(self.cumulative, rng.random())]


class NetworkPool(NamedTuple):
    """A run of ``size`` addresses from ``first`` (an IPv4 integer) in one AS."""

    first: int
    size: int
    asn: int


class PopulationTables:
    """Everything derived from the scenario and the symbol master, built once."""

    def __init__(self, scenario: Scenario, symbols: Iterable[Symbol], networks: IpRanges,
                 blocks: Sequence[tuple[ipaddress.IPv4Network, NetInfo]]) -> None:
        self.scenario = scenario
        self.networks = networks
        self.activity = Categorical(scenario.activity)
        self.devices = Categorical(scenario.devices)
        self.home = Categorical(scenario.home_networks)
        self.destinations = Categorical(scenario.destinations)
        self.methods = Categorical(scenario.methods)
        self.styles = Categorical(scenario.trading_styles)
        self.pools: dict[tuple[str, str], list[NetworkPool]] = {}
        for net, info in blocks:
            key = (info.country or "", info.kind or "")
            self.pools.setdefault(key, []).append(
                NetworkPool(int(net.network_address) + 1, net.num_addresses - 2, info.asn or 0))
        for country in scenario.destinations:
            if (country, "residential") not in self.pools:
                msg = f"the simulator has no network for travel destination {country}"
                raise ValueError(msg)
        self.vpn = [p for (_, kind), pools in self.pools.items() if kind == "vpn"
                    for p in pools]
        self.vpn_country = {p.first: c for (c, k), ps in self.pools.items() if k == "vpn"
                            for p in ps}
        self.holding_pools = _holding_pools(symbols)
        self.pool_mix = {style: Categorical(dict(mix)) for style, mix in POOL_MIX.items()}
        self.mu_cash = math.log(scenario.cash.median_jpy)
        self.mu_holdings = math.log(scenario.holdings.median_jpy)


def _holding_pools(symbols: Iterable[Symbol]) -> dict[str, list[tuple[str, float, int]]]:
    """(symbol, yen price of one lot, lot size) per pool, in master order."""
    fx = FxRates()
    yen = {Currency.JPY: Decimal(1), Currency.USD: fx.usd}
    pools: dict[str, list[tuple[str, float, int]]] = {"large": [], "small": [], "jp": [],
                                                       "us": []}
    for s in symbols:
        if s.currency not in yen:
            continue   # the population holds no Chinese stocks at the start (assumed)
        price_jpy = float(s.price * yen[s.currency])
        row = (s.symbol, price_jpy * s.lot_size, s.lot_size)
        if s.market in TSE_MARKETS:
            pools["jp"].append(row)
            if s.market_cap_jpy >= LARGE_CAP_JPY:
                pools["large"].append(row)
            if s.adv_jpy < SMALL_CAP_ADV_JPY and price_jpy <= SMALL_CAP_PRICE_JPY:
                pools["small"].append(row)
        elif s.market in {Market.NYSE, Market.NASDAQ} and s.market_cap_jpy >= LARGE_CAP_JPY:
            pools["us"].append(row)
    for name, rows in pools.items():
        if not rows:
            msg = f"the symbol master has no symbol for the '{name}' holdings pool"
            raise ValueError(msg)
    return pools


def packaged_networks() -> tuple[str, IpRanges, list[tuple[ipaddress.IPv4Network, NetInfo]]]:
    """The simulator's network table: its CSV text, the netinfo table, and its rows."""
    text = resources.files("kabuguard.sim").joinpath(NETWORKS_FILE).read_text(
        encoding="utf-8")
    ranges = IpRanges.from_csv_text(text, source="networks.csv")
    rows = []
    for line in text.splitlines():
        if not line or line.startswith(("#", "cidr")):
            continue
        cidr = line.split(",", 1)[0]
        net = ipaddress.IPv4Network(cidr)
        rows.append((net, ranges.lookup(str(net.network_address))))
    return text, ranges, rows


# --------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------


def generate_population(scenario: Scenario, *, customers: int, seed: int,
                        symbols: Iterable[Symbol], start: int = 0) -> Iterator[SimCustomer]:
    """Yield customers ``start`` .. ``start + customers - 1`` of the population ``seed``.

    Each customer depends only on ``(seed, index)``; the tables are built once, and
    nothing is kept per customer, so memory stays flat for any N.

    Raises ValueError when ``customers`` or ``start`` is negative, or when the symbol
    master or network table lacks what the scenario needs (e.g. a travel destination).
    """
    if customers < 0 or start < 0:
        msg = "customers and start must not be negative"
        raise ValueError(msg)
    _, ranges, rows = packaged_networks()
    tables = PopulationTables(scenario, symbols, ranges, rows)
    for index in range(start, start + customers):
        yield _customer(tables, seed, index)


def pick_ip(rng: random.Random, pools: list[NetworkPool]) -> tuple[str, int]:
    """An address and its AS number from one of ``pools``, uniformly."""
    pool = pools[int(rng.random() * len(pools))]
    return ipv4_text(pool.first + int(rng.random() * pool.size)), pool.asn


def _customer(t: PopulationTables, seed: int, index: int) -> SimCustomer:
    rng = customer_rng(seed, index)
    rand = rng.random
    sc = t.scenario
    activity = t.activity.draw(rng)
    seen_lo, seen_hi = LAST_SEEN_DAYS[activity]
    span = seen_hi - seen_lo

    home = t.home.draw(rng)
    networks: list[SimNetwork] = []
    if home != "mobile_only":
        ip, asn = pick_ip(rng, t.pools[HOME_COUNTRY, "residential"])
        networks.append(SimNetwork(ip, asn, HOME_COUNTRY, "residential",
                                   seen_lo + int(rand() * span)))
    if home != "residential_only":
        ip, asn = pick_ip(rng, t.pools[HOME_COUNTRY, "mobile"])
        networks.append(SimNetwork(ip, asn, HOME_COUNTRY, "mobile",
                                   seen_lo + int(rand() * span)))
    vpn_user = rand() < sc.vpn_user_share
    if vpn_user:
        pool = t.vpn[int(rand() * len(t.vpn))]
        ip = ipv4_text(pool.first + int(rand() * pool.size))
        networks.append(SimNetwork(ip, pool.asn, t.vpn_country[pool.first], "vpn",
                                   seen_lo + int(rand() * span)))
    traveller = rand() < sc.traveller_share
    if traveller:   # a past trip the firm has seen: an address abroad, months ago
        country = t.destinations.draw(rng)
        ip, asn = pick_ip(rng, t.pools[country, "residential"])
        networks.append(SimNetwork(ip, asn, country, "residential", 30 + int(rand() * 330)))

    count = t.devices.draw(rng)
    kinds = ("phone", "pc", "tablet")[:count]
    if count == 1 and home != "mobile_only" and rand() < 0.4:   # a PC-only customer
        kinds = ("pc",)
    devices = []
    for kind in kinds:
        agents = USER_AGENTS[kind]
        devices.append(SimDevice(f"dev_{rng.getrandbits(64):016x}", kind,
                                 agents[int(rand() * len(agents))],
                                 seen_lo + int(rand() * span)))

    profile = t.methods.draw(rng)
    style = t.styles.draw(rng)
    cash_jpy = int(rng.lognormvariate(t.mu_cash, sc.cash.sigma))
    holdings_jpy = rng.lognormvariate(t.mu_holdings, sc.holdings.sigma)
    low, high = POSITIONS[style]
    positions = low + int(rand() * (high - low + 1))
    per_position = holdings_jpy / positions
    mix = t.pool_mix[style]
    held: dict[str, int] = {}
    for _ in range(positions):
        pool = t.holding_pools[mix.draw(rng)]
        symbol, lot_price, lot_size = pool[int(rand() * len(pool))]
        held[symbol] = held.get(symbol, 0) + lots_for(per_position,
                                                      lot_price_jpy=lot_price) * lot_size

    return SimCustomer(
        index=index,
        account=f"C{index:09d}",
        login_id=f"u{rng.getrandbits(64):016x}",
        home_country=HOME_COUNTRY,
        activity=activity,
        sessions_per_day=sc.sessions_per_day[activity],
        trading_style=style,
        method_profile=profile,
        methods=PROFILE_METHODS[profile],
        devices=tuple(devices),
        networks=tuple(networks),
        cash_jpy=cash_jpy,
        holdings=tuple(held.items()),
        traveller=traveller,
        vpn_user=vpn_user,
        bank_account=f"{rng.randrange(1, 10_000):04d}-{rng.randrange(1, 1_000):03d}-"
                     f"{rng.randrange(10**7):07d}",
        tenure_days=30 + int(rand() * 7_000),
    )


def to_account_record(c: SimCustomer, *, as_of: datetime,
                      cipher_token: Callable[[str, str], str]) -> dict[str, Any]:
    """The EVENTS.md ``accounts.jsonl`` object of ``c`` at ``as_of`` (the stream start).

    ``opened`` and every ``last_seen`` are counted back from ``as_of`` (an aware
    datetime); ``cipher_token(kind, value)`` turns the bank account into an opaque
    token (``Crypto.token`` or :func:`sim_token`).
    """
    def seen(days: int) -> str:
        return (as_of - timedelta(days=days)).isoformat()

    return {
        "account": c.account,
        "opened": (as_of - timedelta(days=c.tenure_days)).date().isoformat(),
        "methods_enrolled": list(c.methods),
        "cash_jpy": c.cash_jpy,
        "holdings": [{"symbol": s, "quantity": q} for s, q in c.holdings],
        "home_country": c.home_country,
        "devices": [{"device": d.device, "user_agent": d.user_agent,
                     "last_seen": seen(d.last_seen_days)} for d in c.devices],
        "networks": [{"ip": n.ip, "ip_asn": n.asn, "ip_country": n.country,
                      "ip_kind": n.kind, "last_seen": seen(n.last_seen_days)}
                     for n in c.networks],
        "bank_account": cipher_token("bank", c.bank_account),
        "login_id": c.login_id,
    }


def sim_token(seed: int) -> Callable[[str, str], str]:
    """An opaque, stable token function for simulated data (a keyed hash; the key is
    derived from the seed because simulated bank accounts are not secret).

    >>> sim_token(1)("bank", "0001-001-0000001") == sim_token(1)("bank", "0001-001-0000001")
    True
    >>> sim_token(1)("bank", "x").startswith("bank_")
    True
    """
    key = hashlib.sha256(f"kabuguard sim token|{seed}".encode()).digest()

    def token(kind: str, value: str) -> str:
        digest = hashlib.blake2b(f"{kind}|{value}".encode(), key=key, digest_size=10)
        return f"{kind}_{digest.hexdigest()}"

    return token
