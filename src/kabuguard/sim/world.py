"""What every configuration of a simulation run shares: the customers, the crews' own
accounts, the symbols, the network table and where the targets' prices are sampled.
Read-only during a run but for its caches of address enrichments."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kabuguard.broker.symbols import Symbol
from kabuguard.domain.netinfo import IpRanges
from kabuguard.sim.books import Account
from kabuguard.sim.population import SimCustomer

EVENT_IP_KINDS = frozenset({"residential", "mobile", "hosting", "vpn", "tor"})


@dataclass(frozen=True, slots=True)
class CrewAccount:
    """A crew's own account at the stream's start (holdings bought in before it, for
    ``bought_before_jpy``). ``in_run``: its campaign pumps within the run, so its buys
    and sells count in the run's profit (a pump after the end would count only costs)."""

    login_id: str
    cash_jpy: int
    holdings: tuple[tuple[str, int], ...]
    bank_account: str
    bought_before_jpy: int
    in_run: bool


@dataclass(slots=True)
class World:
    """What every configuration of a run shares (read-only but for the caches).

    ``customers[i]`` is customer ``C{i:09d}``; ``victims`` maps the accounts the crews
    act on to their attack; ``price_points`` are the (epoch s, JST text, symbol) at
    which the targets' prices are sampled, in time order."""

    seed: int
    symbols: Mapping[str, Symbol]
    customers: Sequence[SimCustomer]
    crews: Mapping[str, CrewAccount]
    victims: Mapping[str, str]
    networks: IpRanges
    token: Callable[[str, str], str]
    abandon_share: float
    price_points: Sequence[tuple[float, str, str]]
    attacks: Sequence[str]
    end_s: float = float("inf")     # the run's end (epoch s): nothing is moved past it
    _ip_fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    _by_info: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)

    def customer(self, account: str) -> SimCustomer:
        return self.customers[int(account[1:])]

    def ip_fields(self, account: str, ip: str) -> dict[str, Any]:
        """The EVENTS.md enrichments of ``ip`` (the simulator's network table): from the
        customer's own networks when it is one of them (no look-up, nothing kept per
        address), else looked up once (addresses abroad and the crews', a few)."""
        if account.startswith("C"):
            for n in self.customer(account).networks:
                if n.ip == ip:
                    return self._fields(n.country, n.asn, n.kind)
        found = self._ip_fields.get(ip)
        if found is None:
            info = self.networks.lookup(ip)
            found = self._ip_fields[ip] = self._fields(info.country, info.asn, info.kind)
        return found

    def _fields(self, country: str | None, asn: int | None, kind: str | None
                ) -> dict[str, Any]:
        key = (country, asn, kind)
        found = self._by_info.get(key)
        if found is None:
            found = self._by_info[key] = {}
            if country:
                found["ip_country"] = country
            if asn is not None:
                found["ip_asn"] = asn
            if kind in EVENT_IP_KINDS:
                found["ip_kind"] = kind
        return found

    def opening(self, account: str) -> Account:
        """The books of ``account`` at the stream's start."""
        crew = self.crews.get(account)
        if crew is not None:
            return Account(crew.cash_jpy, dict(crew.holdings), crew.bank_account)
        c = self.customer(account)
        return Account(c.cash_jpy, dict(c.holdings), self.token("bank", c.bank_account))
