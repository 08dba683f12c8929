"""What one configuration's closed loop counts, and the ``metrics.json`` parts it makes.

Definitions (the report reads exactly these keys):

- ``monthly`` (the FSA table, 不正アクセス・不正取引, by JST month of the event):
  ``accesses`` attacker logins that succeeded (a challenge passed included) plus stolen
  sessions whose first action went through; ``attempts`` attacker login attempts plus
  session replays; ``trades`` fraudulent orders executed in victims' accounts, and their
  ``sell_jpy``/``buy_jpy``. The crews' own (beneficiary) accounts are not counted here.
- ``by_attack`` per way in: ``victims`` accounts it acted on, ``attempts`` and
  ``logins_succeeded`` as above, ``accounts_with_fraud_trades``, ``orders_executed``,
  ``money_attempted_jpy`` the crews' intended orders and withdrawals (before the books
  clip them) at the price of the moment, ``money_lost_jpy`` the executed ones, and
  ``stopped_share`` = 1 - lost / attempted.
- ``friction`` on legitimate customers: ``legit_sessions`` logins they set out to do;
  ``challenges`` step-ups they had to make for an action beyond their session (the
  policy's, asked up front) plus challenges the decision point answered; ``holds_denials``
  (and per 1,000 legitimate orders and withdrawals); ``abandoned`` challenges a
  customer could pass but gave up on; ``frozen_legit_accounts`` accounts frozen that no
  crew acted on; ``customers_blocked`` customers stopped at least once by a denial, a
  freeze or a challenge they could not pass.
- ``profit``: what the crews' own accounts got for selling into their pumps less what
  they paid to buy in (their buys before the stream started included).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PER = 1000


@dataclass(slots=True)
class AttackTally:
    victims: set[str] = field(default_factory=set)
    attempts: int = 0
    logins_succeeded: int = 0
    fraud_trade_accounts: set[str] = field(default_factory=set)
    orders_executed: int = 0
    attempted_jpy: int = 0
    lost_jpy: int = 0

    def to_dict(self) -> dict[str, Any]:
        stopped = 1.0 - self.lost_jpy / self.attempted_jpy if self.attempted_jpy else 1.0
        return {"victims": len(self.victims), "attempts": self.attempts,
                "logins_succeeded": self.logins_succeeded,
                "accounts_with_fraud_trades": len(self.fraud_trade_accounts),
                "orders_executed": self.orders_executed,
                "money_attempted_jpy": self.attempted_jpy, "money_lost_jpy": self.lost_jpy,
                "stopped_share": round(min(1.0, max(0.0, stopped)), 6)}


@dataclass(slots=True)
class Month:
    accesses: int = 0
    trades: int = 0
    sell_jpy: int = 0
    buy_jpy: int = 0
    attempts: int = 0


class LoopMetrics:
    """Counters of one run; see the module docstring for what each means."""

    def __init__(self, attacks: Iterable[str]) -> None:
        self.events = 0
        self.decisions: dict[str, int] = {"allow": 0, "challenge": 0, "hold": 0, "deny": 0}
        self.legit_sessions = 0
        self.challenges = 0
        self.holds_denials = 0
        self.legit_orders_withdrawals = 0
        self.abandoned = 0
        self.frozen_legit: set[str] = set()
        self.blocked: set[str] = set()
        self.attacks = {name: AttackTally() for name in attacks}
        self.months: dict[str, Month] = {}
        self.beneficiary_sells_jpy = 0
        self.beneficiary_buys_jpy = 0
        self.prices: dict[str, list[list[Any]]] = {}

    def month(self, key: str) -> Month:
        found = self.months.get(key)
        if found is None:
            found = self.months[key] = Month()
        return found

    def parts(self, *, months: Iterable[str],
              symbol_names: Mapping[str, str]) -> dict[str, Any]:
        """``monthly``, ``by_attack``, ``friction``, ``profit`` and ``prices`` of
        metrics.json; ``months`` lists every JST month of the run (zeros included)."""
        sessions = self.legit_sessions
        return {
            "monthly": [{"month": m, "accesses": (r := self.months.get(m, Month())).accesses,
                         "trades": r.trades, "sell_jpy": r.sell_jpy, "buy_jpy": r.buy_jpy,
                         "attempts": r.attempts} for m in months],
            "by_attack": {name: t.to_dict() for name, t in self.attacks.items()},
            "friction": {
                "legit_sessions": sessions, "challenges": self.challenges,
                "challenges_per_1000_sessions": _per(self.challenges, sessions),
                "holds_denials": self.holds_denials,
                "holds_denials_per_1000": _per(self.holds_denials,
                                               self.legit_orders_withdrawals),
                "abandoned": self.abandoned,
                "frozen_legit_accounts": len(self.frozen_legit),
                "customers_blocked": len(self.blocked)},
            "profit": {"attacker_profit_jpy": self.beneficiary_sells_jpy
                       - self.beneficiary_buys_jpy,
                       "beneficiary_sells_jpy": self.beneficiary_sells_jpy,
                       "beneficiary_buys_jpy": self.beneficiary_buys_jpy},
            "prices": {code: {"name": symbol_names.get(code, code), "points": points}
                       for code, points in self.prices.items()},
        }


def _per(count: int, base: int) -> float:
    """``count`` per 1,000 of ``base`` (0 without a base).

    >>> _per(3, 2000), _per(1, 0)
    (1.5, 0.0)
    """
    return round(count * PER / base, 4) if base else 0.0
