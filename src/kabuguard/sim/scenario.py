"""The simulator's scenario: population parameters read from a YAML file.

A scenario is data a user copies and edits (``sim/scenarios/default.yaml`` is the
shipped one, with the reasoning and sources of every figure beside it); ``--scenario
FILE`` picks one. As with policies (``guard/policy.py``), a bad file is refused with its
path, line and reason, so a typo cannot silently change a simulation.

Shares are categorical distributions (each a mapping of name to share, summing to 1);
rates are non-negative numbers per the unit their name carries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

ACTIVITY_LEVELS = ("daily", "weekly", "monthly", "dormant")
METHOD_PROFILES = ("password_only", "email_otp", "totp", "passkey")
HOME_NETWORKS = ("residential_and_mobile", "residential_only", "mobile_only")
TRADING_STYLES = ("long_term", "active", "small_cap_habitual", "retiree_sell_all")
# The ways an attacker takes over a victim's account (EVENTS.md labels ``attack``; the
# attacker-owned ``beneficiary`` accounts are not a way in, so they have no share).
ATTACKS = ("realtime_phishing", "infostealer_session", "credential_stuffing", "sim_swap",
           "recovery_abuse", "bank_change_withdrawal", "low_and_slow")
SHARE_TOLERANCE = 1e-6
_K = TypeVar("_K")
_V = TypeVar("_V")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file, line and reason."""


@dataclass(frozen=True, slots=True)
class Lognormal:
    """A log-normal amount in yen: ``median_jpy`` and the sigma of its logarithm."""

    median_jpy: int
    sigma: float


@dataclass(frozen=True, slots=True)
class Surge:
    """A news-driven buying surge (``surge:``): on the first TSE trading day at or after
    ``day_offset`` days from the simulation start, ``join_share`` of the active and
    small-cap customers buy the same thin small cap within ``window_hours`` of
    ``start_jst`` (minutes after JST midnight). ``symbol`` is a code, or ``auto`` for one
    drawn from the thin small caps by the simulation seed."""

    day_offset: int
    join_share: float
    symbol: str
    start_jst_minutes: int
    window_hours: float


@dataclass(frozen=True, slots=True)
class Campaigns:
    """Attack campaigns (``campaigns:``): ``compromised_per_10k_per_month`` accounts taken
    over per 10,000 customers in a month, split over the ways in by ``attacks``; a
    campaign takes over about ``victims_per_campaign`` accounts and pumps one target
    with ``beneficiaries_per_campaign`` attacker-owned accounts. ``monthly_profile``
    (month 1-12 -> relative weight, None for a flat year) scales the rate month by month
    around its yearly mean."""

    compromised_per_10k_per_month: float
    attacks: Mapping[str, float]
    victims_per_campaign: float
    beneficiaries_per_campaign: int
    monthly_profile: Mapping[int, float] | None = None

    def monthly_factor(self, month: int) -> float:
        """The rate's multiplier in ``month`` (1 without a profile; mean 1 over a year)."""
        if self.monthly_profile is None:
            return 1.0
        mean = sum(self.monthly_profile.values()) / 12
        return self.monthly_profile[month] / mean


@dataclass(frozen=True, slots=True)
class Scenario:
    """Population parameters. Every share mapping sums to 1 and keeps the order of
    the names above (the generator draws in that order, so it is deterministic)."""

    name: str
    activity: Mapping[str, float]            # share of customers per activity level
    sessions_per_day: Mapping[str, float]    # mean login sessions a day per level
    devices: Mapping[int, float]             # share of customers with 1, 2, 3 devices
    home_networks: Mapping[str, float]
    vpn_user_share: float
    traveller_share: float                   # customers abroad at least once a year
    trips_per_year: float                    # for travellers
    destinations: Mapping[str, float]        # ISO country -> share of trips
    methods: Mapping[str, float]             # enrolment profile shares
    cash: Lognormal
    holdings: Lognormal
    trading_styles: Mapping[str, float]
    phone_replacement_per_year: float
    bank_change_per_year: float
    password_typo_per_login: float
    surge: Surge | None = None               # the news-driven buying surge, if any
    campaigns: Campaigns | None = None       # attack campaigns, if any
    # Share of the challenges a customer could pass that they give up on instead
    # (``closed_loop.abandon_share``; the closed loop draws it per event from the seed).
    abandon_share: float = 0.1


# --------------------------------------------------------------------------------------


class _Reader:
    """Walks the YAML node tree so every complaint can name its line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Node, reason: str) -> ScenarioError:
        return ScenarioError(f"{self.source}:{node.start_mark.line + 1}: {reason}")

    def mapping(self, node: Node, what: str, *, allowed: tuple[str, ...] | None = None,
                required: tuple[str, ...] = ()) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                raise self.fail(key, f"keys of {what} must be plain names")
            if key.value in out:
                raise self.fail(key, f"'{key.value}' appears twice in {what}")
            if allowed is not None and key.value not in allowed:
                raise self.fail(key, f"unknown field '{key.value}' in {what} "
                                     f"(allowed: {', '.join(allowed)})")
            out[key.value] = (key, value)
        for name in required:
            if name not in out:
                raise self.fail(node, f"{what} needs '{name}'")
        return out

    def number(self, node: Node, what: str, *, maximum: float | None = None) -> float:
        if not isinstance(node, ScalarNode) or node.tag.endswith(":bool"):
            raise self.fail(node, f"{what} must be a number")
        try:
            value = float(node.value.replace("_", ""))
        except ValueError:
            raise self.fail(node, f"{what} must be a number, not '{node.value}'") from None
        if not math.isfinite(value) or value < 0:
            raise self.fail(node, f"{what} must be a finite number at least 0")
        if maximum is not None and value > maximum:
            raise self.fail(node, f"{what} must be at most {maximum:g}")
        return value

    def shares(self, node: Node, what: str, names: tuple[str, ...]) -> dict[str, float]:
        """A categorical distribution over exactly ``names`` (all present, sum 1)."""
        fields = self.mapping(node, what, allowed=names, required=names)
        values = {name: self.number(fields[name][1], f"{what}.{name}", maximum=1)
                  for name in names}
        total = sum(values.values())
        if abs(total - 1) > SHARE_TOLERANCE:
            raise self.fail(node, f"the shares of {what} must add up to 1, not {total:g}")
        return values

    def open_shares(self, node: Node, what: str) -> dict[str, float]:
        """Shares over names the file chooses (countries, device counts)."""
        fields = self.mapping(node, what)
        if not fields:
            raise self.fail(node, f"{what} must name at least one entry")
        values = {name: self.number(value, f"{what}.{name}", maximum=1)
                  for name, (_, value) in fields.items()}
        total = sum(values.values())
        if abs(total - 1) > SHARE_TOLERANCE:
            raise self.fail(node, f"the shares of {what} must add up to 1, not {total:g}")
        return values

    def lognormal(self, node: Node, what: str) -> Lognormal:
        fields = self.mapping(node, what, allowed=("median_jpy", "sigma"),
                              required=("median_jpy", "sigma"))
        median = self.number(fields["median_jpy"][1], f"{what}.median_jpy")
        sigma = self.number(fields["sigma"][1], f"{what}.sigma", maximum=5)
        if median < 1:
            raise self.fail(fields["median_jpy"][1], f"{what}.median_jpy must be at least 1")
        return Lognormal(median_jpy=int(median), sigma=sigma)


_TOP = ("version", "name", "description", "activity", "devices", "networks", "travel",
        "methods", "wealth", "trading_styles", "life_events", "surge", "campaigns",
        "closed_loop")
_OPTIONAL = ("description", "surge", "campaigns", "closed_loop")
_CAMPAIGNS = ("compromised_per_10k_per_month", "attacks", "victims_per_campaign",
              "beneficiaries_per_campaign", "monthly_profile")
_SURGE = ("day_offset", "join_share", "symbol", "start_jst", "window_hours")


def parse_scenario(text: str, *, source: str = "<scenario>") -> Scenario:
    """Parse and check a scenario; raise ScenarioError naming the line and the reason.

    >>> parse_scenario("name: x", source="s.yaml")
    Traceback (most recent call last):
    ...
    kabuguard.sim.scenario.ScenarioError: s.yaml:1: the scenario needs 'version'
    """
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ScenarioError(f"{source}{line}: not valid YAML: "
                            f"{getattr(exc, 'problem', None) or exc}") from None
    if root is None:
        raise ScenarioError(f"{source}: the scenario file is empty")
    r = _Reader(source)
    top = r.mapping(root, "the scenario", allowed=_TOP,
                    required=tuple(k for k in _TOP if k not in _OPTIONAL))
    version_node = top["version"][1]
    if not isinstance(version_node, ScalarNode) or version_node.value != "1":
        raise r.fail(version_node, "version must be 1")

    activity = r.mapping(top["activity"][1], "activity", allowed=("shares", "sessions_per_day"),
                         required=("shares", "sessions_per_day"))
    sessions_node = activity["sessions_per_day"][1]
    sessions_fields = r.mapping(sessions_node, "activity.sessions_per_day",
                                allowed=ACTIVITY_LEVELS, required=ACTIVITY_LEVELS)
    sessions = {level: r.number(sessions_fields[level][1], f"sessions_per_day.{level}",
                                maximum=100) for level in ACTIVITY_LEVELS}

    devices_raw = r.open_shares(top["devices"][1], "devices")
    devices: dict[int, float] = {}
    for key, _ in r.mapping(top["devices"][1], "devices").values():
        if key.value not in {"1", "2", "3"}:
            raise r.fail(key, "devices are counted 1, 2 or 3 per customer")
        devices[int(key.value)] = devices_raw[key.value]

    networks = r.mapping(top["networks"][1], "networks", allowed=("home", "vpn_user_share"),
                         required=("home", "vpn_user_share"))
    travel = r.mapping(top["travel"][1], "travel",
                       allowed=("traveller_share", "trips_per_year", "destinations"),
                       required=("traveller_share", "trips_per_year", "destinations"))
    destinations = r.open_shares(travel["destinations"][1], "travel.destinations")
    for key, _ in r.mapping(travel["destinations"][1], "travel.destinations").values():
        if not (len(key.value) == 2 and key.value.isascii() and key.value.isupper()):
            raise r.fail(key, f"'{key.value}' is not an ISO 3166 country code such as US")
        if key.value == "JP":
            raise r.fail(key, "JP is home, not a travel destination")
    wealth = r.mapping(top["wealth"][1], "wealth", allowed=("cash", "holdings"),
                       required=("cash", "holdings"))
    events_names = ("phone_replacement_per_year", "bank_change_per_year",
                    "password_typo_per_login")
    events = r.mapping(top["life_events"][1], "life_events", allowed=events_names,
                       required=events_names)
    name_node = top["name"][1]
    if not isinstance(name_node, ScalarNode) or not name_node.value.strip():
        raise r.fail(name_node, "name must be a non-empty text")
    return Scenario(
        name=name_node.value,
        activity=_frozen(r.shares(activity["shares"][1], "activity.shares", ACTIVITY_LEVELS)),
        sessions_per_day=_frozen(sessions),
        devices=_frozen(dict(sorted(devices.items()))),
        home_networks=_frozen(r.shares(networks["home"][1], "networks.home", HOME_NETWORKS)),
        vpn_user_share=r.number(networks["vpn_user_share"][1], "vpn_user_share", maximum=1),
        traveller_share=r.number(travel["traveller_share"][1], "traveller_share", maximum=1),
        trips_per_year=r.number(travel["trips_per_year"][1], "trips_per_year", maximum=365),
        destinations=_frozen(destinations),
        methods=_frozen(r.shares(top["methods"][1], "methods", METHOD_PROFILES)),
        cash=r.lognormal(wealth["cash"][1], "wealth.cash"),
        holdings=r.lognormal(wealth["holdings"][1], "wealth.holdings"),
        trading_styles=_frozen(r.shares(top["trading_styles"][1], "trading_styles",
                                        TRADING_STYLES)),
        phone_replacement_per_year=r.number(events["phone_replacement_per_year"][1],
                                            "phone_replacement_per_year", maximum=12),
        bank_change_per_year=r.number(events["bank_change_per_year"][1],
                                      "bank_change_per_year", maximum=12),
        password_typo_per_login=r.number(events["password_typo_per_login"][1],
                                         "password_typo_per_login", maximum=1),
        surge=_surge(r, top["surge"][1]) if "surge" in top else None,
        campaigns=_campaigns(r, top["campaigns"][1]) if "campaigns" in top else None,
        abandon_share=_abandon_share(r, top["closed_loop"][1]) if "closed_loop" in top else 0.1,
    )


def _abandon_share(r: _Reader, node: Node) -> float:
    fields = r.mapping(node, "closed_loop", allowed=("abandon_share",),
                       required=("abandon_share",))
    return r.number(fields["abandon_share"][1], "closed_loop.abandon_share", maximum=1)


def _campaigns(r: _Reader, node: Node) -> Campaigns:
    fields = r.mapping(node, "campaigns", allowed=_CAMPAIGNS, required=_CAMPAIGNS[:3])
    victims_node = fields["victims_per_campaign"][1]
    victims = r.number(victims_node, "campaigns.victims_per_campaign", maximum=10_000)
    if victims < 1:
        raise r.fail(victims_node, "campaigns.victims_per_campaign must be at least 1")
    beneficiaries = 0.0
    if "beneficiaries_per_campaign" in fields:
        b_node = fields["beneficiaries_per_campaign"][1]
        beneficiaries = r.number(b_node, "campaigns.beneficiaries_per_campaign",
                                 maximum=100)
        if beneficiaries != int(beneficiaries):
            raise r.fail(b_node, "campaigns.beneficiaries_per_campaign must be a whole "
                                 "number")
    profile = None
    if "monthly_profile" in fields:
        profile_node = fields["monthly_profile"][1]
        months = tuple(str(m) for m in range(1, 13))
        raw = r.mapping(profile_node, "campaigns.monthly_profile", allowed=months,
                        required=months)
        profile = {int(m): r.number(raw[m][1], f"campaigns.monthly_profile.{m}")
                   for m in months}
        if not any(profile.values()):
            raise r.fail(profile_node, "campaigns.monthly_profile needs a month above 0")
        profile = _frozen(profile)
    return Campaigns(
        compromised_per_10k_per_month=r.number(
            fields["compromised_per_10k_per_month"][1],
            "campaigns.compromised_per_10k_per_month", maximum=10_000),
        attacks=_frozen(r.shares(fields["attacks"][1], "campaigns.attacks", ATTACKS)),
        victims_per_campaign=victims,
        beneficiaries_per_campaign=int(beneficiaries),
        monthly_profile=profile,
    )


def _surge(r: _Reader, node: Node) -> Surge:
    fields = r.mapping(node, "surge", allowed=_SURGE, required=_SURGE)
    offset_node = fields["day_offset"][1]
    offset = r.number(offset_node, "surge.day_offset", maximum=3_650)
    if offset != int(offset):
        raise r.fail(offset_node, "surge.day_offset must be a whole number of days")
    window_node = fields["window_hours"][1]
    window = r.number(window_node, "surge.window_hours", maximum=12)
    if window == 0:
        raise r.fail(window_node, "surge.window_hours must be more than 0")
    symbol_node = fields["symbol"][1]
    if (not isinstance(symbol_node, ScalarNode) or symbol_node.tag.endswith(":bool")
            or not symbol_node.value.strip()):
        raise r.fail(symbol_node, "surge.symbol must be a symbol code or 'auto'")
    start_node = fields["start_jst"][1]
    text = start_node.value if isinstance(start_node, ScalarNode) else ""
    hours, _, minutes = str(text).partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2
            and int(hours) < 24 and int(minutes) < 60):
        raise r.fail(start_node, "surge.start_jst must be a JST time such as \"09:00\"")
    start = int(hours) * 60 + int(minutes)
    if start + window * 60 > 24 * 60:
        raise r.fail(window_node, "the surge must end before midnight JST")
    return Surge(day_offset=int(offset),
                 join_share=r.number(fields["join_share"][1], "surge.join_share", maximum=1),
                 symbol=symbol_node.value.strip(), start_jst_minutes=start,
                 window_hours=window)


def _frozen(values: dict[_K, _V]) -> Mapping[_K, _V]:
    return MappingProxyType(values)


def with_attack_rate(scenario: Scenario, per_10k_per_month: float) -> Scenario:
    """``scenario`` with its campaigns' intensity set to ``per_10k_per_month``
    compromised accounts a month per 10,000 customers, the attack mix unchanged (the
    2025 national rate shows almost no attacks in a small run; measuring or a demo
    needs a denser one). A scenario without campaigns stays without."""
    if scenario.campaigns is None:
        return scenario
    return replace(scenario, campaigns=replace(
        scenario.campaigns, compromised_per_10k_per_month=per_10k_per_month))


def load_scenario(path: Path | None = None) -> Scenario:
    """The scenario in ``path``, or the shipped default when None.

    Raises ScenarioError (line and reason) for a bad file, OSError for an unreadable one.
    """
    if path is None:
        text = resources.files("kabuguard.sim").joinpath("scenarios/default.yaml").read_text(
            encoding="utf-8")
        return parse_scenario(text, source="default.yaml")
    return parse_scenario(path.read_text(encoding="utf-8"), source=str(path))
