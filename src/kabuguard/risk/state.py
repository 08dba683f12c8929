"""What the engine remembers per account and per session, bounded.

Bounds (per account): at most ``MAX_SYMBOLS`` symbols in the holdings estimate and in
the set of symbols ever bought (the oldest forgotten first), at most ``MAX_SELLS`` sells
in the 24-hour window; the login history lives in ``LoginRiskModel`` with its own bound.
Sessions live at most ``SESSION_ABSOLUTE_S`` after their login and end after
``SESSION_IDLE_S`` without an action, as the identity service's sessions do
(``Settings.session_idle``/``session_absolute``); an ended session is forgotten.
"""

from __future__ import annotations

from collections import deque

MAX_SYMBOLS = 256
MAX_SELLS = 64
DAY_S = 86_400.0
SESSION_IDLE_S = 30 * 60.0
SESSION_ABSOLUTE_S = 12 * 3600.0
NEVER_S = float("-inf")


class AccountState:
    """The engine's running picture of one account: estimates, not the broker's books
    (an order counts once it is not stopped; fills and prices are the reference ones)."""

    __slots__ = ("bank", "bought", "bought_foreign", "bought_illiquid", "cash", "holdings",
                 "home", "max_notional", "methods", "opened_s", "sells", "t_bank",
                 "t_contact", "t_mfa_remove", "t_password", "t_recovery", "t_risky_login")

    def __init__(self, *, home: str | None = None, opened_s: float | None = None,
                 cash: float = 0.0, methods: frozenset[str] = frozenset(),
                 bank: str | None = None) -> None:
        self.home = home
        self.opened_s = opened_s
        self.cash = cash
        self.methods = methods
        self.bank = bank
        self.holdings: dict[str, int] = {}
        self.bought: dict[str, None] = {}
        self.bought_illiquid = False
        self.bought_foreign = False
        self.max_notional = 0.0
        self.sells: deque[tuple[float, float]] = deque(maxlen=MAX_SELLS)
        self.t_bank = self.t_contact = self.t_password = NEVER_S
        self.t_mfa_remove = self.t_recovery = self.t_risky_login = NEVER_S

    def remember_buy(self, symbol: str) -> None:
        bought = self.bought
        if symbol in bought:
            return
        if len(bought) >= MAX_SYMBOLS:
            del bought[next(iter(bought))]
        bought[symbol] = None

    def add_holding(self, symbol: str, quantity: int) -> None:
        holdings = self.holdings
        left = holdings.get(symbol, 0) + quantity
        if left <= 0:
            holdings.pop(symbol, None)
            return
        if symbol not in holdings and len(holdings) >= MAX_SYMBOLS:
            del holdings[next(iter(holdings))]
        holdings[symbol] = left


class SessionState:
    """A session opened by a login the guard did not stop."""

    __slots__ = ("account", "asn", "auth_s", "country", "device", "ip", "last_s", "level",
                 "login_reasons", "login_risk", "login_s", "new_asn", "new_country",
                 "new_device", "new_ip", "new_ua", "pending_level", "user_agent")

    def __init__(self, account: str, *, ts_s: float, level: int, ip: str, asn: int | None,
                 country: str | None, device: str | None, user_agent: str | None) -> None:
        self.account = account
        self.login_s = self.auth_s = self.last_s = ts_s
        self.level = level
        self.pending_level = 0
        self.ip, self.asn, self.country = ip, asn, country
        self.device, self.user_agent = device, user_agent
        self.login_risk = 0.0
        self.login_reasons: frozenset[str] = frozenset()
        self.new_device = self.new_ip = self.new_asn = self.new_country = False
        self.new_ua = False

    def expired(self, ts_s: float) -> bool:
        return (ts_s - self.login_s > SESSION_ABSOLUTE_S
                or ts_s - self.last_s > SESSION_IDLE_S)
