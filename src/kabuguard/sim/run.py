"""``kabuguard simulate``: one configuration, or every configuration side by side, on
the same population and the same attacks.

A run generates the population (population.py), plans the campaigns and their victims
(campaigns.py), then streams the customers' intents day by day (behaviour.py) merged in
time with the crews', and feeds every intent to one :class:`ClosedLoop` per
configuration. The intent streams have no feedback from the loop (each loop keeps its
own books and clips intents to them), so a comparison generates them once and the ten
configurations see exactly the same customers and crews.

Output of a configuration (a directory): ``symbols.jsonl``, ``accounts.jsonl``,
``ip_ranges.csv`` (the simulator's network table, for ``kabuguard replay``),
``events.jsonl``, ``labels.jsonl``, ``decisions.jsonl``, ``metrics.json`` and
``report.html``. A comparison writes one such directory per configuration
(``<preset>`` and ``<preset>+risk``) and its own ``metrics.json`` and ``report.html``.
Everything but the timings in ``metrics.json`` is a function of the arguments.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from kabuguard.broker.market import MARKET_HOURS, TradingCalendar
from kabuguard.broker.symbols import Symbol, load_symbols
from kabuguard.domain.events import JST
from kabuguard.domain.netinfo import IpRanges
from kabuguard.guard.policy import Policy, load_policy
from kabuguard.risk.stream import JsonlWriter
from kabuguard.risk.stream_guard import StreamGuard
from kabuguard.sim.behaviour import OrderIntent
from kabuguard.sim.books import Market
from kabuguard.sim.campaigns import (
    BENEFICIARY,
    AttackIntent,
    Campaign,
    iter_attack_intents,
    plan_campaigns,
)
from kabuguard.sim.export import IP_RANGES_FILE, SYMBOLS_FILE, write_symbols
from kabuguard.sim.intents import iter_legit_days, ts_text
from kabuguard.sim.loop import ClosedLoop, DecisionPoint
from kabuguard.sim.population import (
    SimCustomer,
    generate_population,
    packaged_networks,
    sim_token,
    to_account_record,
)
from kabuguard.sim.proof import BENEFICIARY_METHODS, ProofTable, enrolled_methods
from kabuguard.sim.report import write_compare_report, write_report
from kabuguard.sim.scenario import ATTACKS, Scenario
from kabuguard.sim.world import CrewAccount, World

ACCOUNTS_FILE = "accounts.jsonl"
METRICS_FILE = "metrics.json"
COMPARED_PRESETS = ("baseline_2024", "email_otp_mandatory", "emoji_all_trades",
                    "jsda_2025_mandatory", "jsda_2025_recommended")
DEFAULT_START = date(2025, 4, 1)
PRICE_STEP = timedelta(minutes=30)
CREW_CASH_JPY = 1_000_000       # a crew's own account keeps some cash besides its buys
CREW_OPENED_DAYS = 60           # crews open their accounts weeks ahead (assumed)
WORKER_FROM_CUSTOMER_DAYS = 200_000


@dataclass(frozen=True, slots=True)
class Config:
    """One configuration: a policy, with or without the risk engine."""

    policy: Policy
    risk: bool

    @property
    def name(self) -> str:
        return self.policy.name + ("+risk" if self.risk else "")


# A decision point for a configuration: (policy, symbols, accounts, risk, networks).
DecisionPointFactory = Callable[[Policy, Mapping[str, dict[str, Any]],
                                 Mapping[str, Mapping[str, Any]], bool, IpRanges],
                                DecisionPoint]


def stream_guard(policy: Policy, symbols: Mapping[str, dict[str, Any]],
                 accounts: Mapping[str, Mapping[str, Any]], risk: bool,
                 networks: IpRanges) -> DecisionPoint:
    """The real decision point: the guard over a stream, policy and risk engine."""
    return StreamGuard(policy, symbols, accounts, risk=risk, ip_ranges=networks)


def _workers(customers: int, days: int) -> int:
    """One intent worker beside the loop for a run worth a process (the loop and the
    intent model then share two cores); none for a small one."""
    return 1 if customers * days >= WORKER_FROM_CUSTOMER_DAYS else 0


def compared_configs() -> list[Config]:
    """The comparison's ten configurations: each preset without and with risk."""
    return [Config(load_policy(name), risk) for name in COMPARED_PRESETS
            for risk in (False, True)]


def run_simulation(*, customers: int, days: int, seed: int, policy: Policy, risk: bool,
                   out: Path, scenario: Scenario, start: date | None = None,
                   progress: Callable[[int], None] | None = None,
                   decision_point: DecisionPointFactory | None = None,
                   workers: int | None = None) -> dict[str, Any]:
    """Run one configuration into ``out``; return its metrics (also in metrics.json).

    ``progress`` is called with the number of simulated days done. ``decision_point``
    builds the decision point (default: :func:`stream_guard`). ``workers``: processes
    generating the customers' intents beside the loop (default: one for a large run,
    none for a small one; the output does not depend on it).

    Raises ValueError for a negative size or days; OSError when ``out`` cannot be
    written.
    """
    config = Config(policy, risk)
    metrics = _run([config], {config.name: out}, customers=customers, days=days, seed=seed,
                   scenario=scenario, start=start or DEFAULT_START, progress=progress,
                   decision_point=decision_point or stream_guard,
                   workers=_workers(customers, days) if workers is None else workers)
    return metrics[0]


def run_compare(*, customers: int, days: int, seed: int, out: Path, scenario: Scenario,
                start: date | None = None, progress: Callable[[int], None] | None = None,
                decision_point: DecisionPointFactory | None = None,
                configs: Sequence[Config] | None = None,
                workers: int | None = None) -> dict[str, Any]:
    """Run every configuration (:func:`compared_configs`) on the same population and
    attacks, one subdirectory of ``out`` each; write the side-by-side metrics.json
    ``{"run": ..., "configs": [...]}`` and report; return it."""
    configs = list(configs or compared_configs())
    started = time.perf_counter()
    per_config = _run(configs, {c.name: out / c.name for c in configs},
                      customers=customers, days=days, seed=seed, scenario=scenario,
                      start=start or DEFAULT_START, progress=progress,
                      decision_point=decision_point or stream_guard,
                      workers=_workers(customers, days) if workers is None else workers)
    run = {k: v for k, v in per_config[0]["run"].items() if k != "events"}
    run["seconds"] = round(time.perf_counter() - started, 3)
    metrics = {"run": run, "configs": per_config}
    _write_json(out / METRICS_FILE, metrics)
    _report(out, metrics, compare=True)
    return metrics


# --------------------------------------------------------------------------------------
# One run of one or more configurations
# --------------------------------------------------------------------------------------


def _run(configs: Sequence[Config], outs: Mapping[str, Path], *, customers: int, days: int,
         seed: int, scenario: Scenario, start: date,
         progress: Callable[[int], None] | None,
         decision_point: DecisionPointFactory, workers: int) -> list[dict[str, Any]]:
    if customers < 0 or days < 0:
        msg = "customers and days must not be negative"
        raise ValueError(msg)
    started = time.perf_counter()
    symbols = load_symbols()
    symbol_list = list(symbols.values())
    start_dt = datetime.combine(start, datetime.min.time(), tzinfo=JST)
    start_s = start_dt.timestamp()
    population = list(generate_population(scenario, customers=customers, seed=seed,
                                          symbols=symbol_list))
    campaigns = plan_campaigns(customers, days=days, start=start, seed=seed,
                               scenario=scenario, symbols=symbol_list)
    attacks = list(iter_attack_intents(campaigns, population, seed=seed,
                                       symbols=symbol_list))
    crews, attacks = _crew_accounts(attacks, campaigns, start=start, days=days, seed=seed,
                                    symbols=symbols)
    csv_text, networks, _ = packaged_networks()
    token = sim_token(seed)
    world = World(seed=seed, symbols=symbols, customers=population, crews=crews,
                  victims={a.account: a.attack for a in attacks if a.attack != BENEFICIARY},
                  networks=networks, token=token, abandon_share=scenario.abandon_share,
                  price_points=_price_points(campaigns, symbols, start=start, days=days),
                  attacks=ATTACKS, end_s=start_s + days * 86_400)
    records = _account_records(population, crews, as_of=start_dt, token=token)
    interchange = {code: s.to_interchange() for code, s in symbols.items()}
    loops: list[ClosedLoop] = []
    for config in configs:
        out = outs[config.name]
        out.mkdir(parents=True, exist_ok=True)
        write_symbols(out / SYMBOLS_FILE, symbol_list)
        (out / IP_RANGES_FILE).write_text(csv_text, encoding="utf-8", newline="\n")
        enrolled = _enrolment(config.policy)
        accounts = _Accounts(records, population, enrolled, config.policy)
        accounts.write(out / ACCOUNTS_FILE)
        loops.append(ClosedLoop(
            world, proofs=ProofTable(config.policy), enrolled=enrolled,
            decision_point=decision_point(config.policy, interchange, accounts, config.risk,
                                          networks),
            market=Market(symbols, start=start_dt), out=out, accounts=records))
    # The records served the set-up only (the decision points keep their own state):
    # a million of them are gigabytes, not to be held, nor copied into a forked worker.
    del records, accounts
    _drive(loops, population, attacks, days=days, start=start, seed=seed, scenario=scenario,
           symbols=symbol_list, start_s=start_s, workers=workers, progress=progress)
    seconds = round(time.perf_counter() - started, 3)
    months = _months(start, days)
    names = {code: s.name for code, s in symbols.items()}
    results = []
    for config, loop in zip(configs, loops, strict=True):
        counted = loop.close()
        metrics: dict[str, Any] = {
            "config": {"name": config.name, "policy": config.policy.name,
                       "risk": config.risk},
            "run": {"customers": customers, "days": days, "seed": seed,
                    "scenario": scenario.name, "start": start.isoformat(),
                    "events": counted.events, "seconds": seconds},
            **counted.parts(months=months, symbol_names=names),
        }
        metrics["evaluation"] = loop.evaluator.result().to_dict()
        _write_json(outs[config.name] / METRICS_FILE, metrics)
        _report(outs[config.name], metrics, compare=False)
        results.append(metrics)
    return results


def _drive(loops: Sequence[ClosedLoop], population: list[SimCustomer],
           attacks: list[AttackIntent], *, days: int, start: date, seed: int,
           scenario: Scenario, symbols: list[Symbol], start_s: float, workers: int,
           progress: Callable[[int], None] | None) -> None:
    """Feed every intent, customers' and crews', in time order to every loop (a crew's
    intent before a customer's of the same second)."""
    legit = iter_legit_days(population, days=days, start=start, seed=seed,
                            scenario=scenario, symbols=symbols, start_s=start_s,
                            workers=workers)
    pending = iter([(a.ts.timestamp(), a) for a in attacks])
    crew = next(pending, None)
    steps = [loop.legit for loop in loops]
    for day, records in enumerate(legit):
        day_end = start_s + (day + 1) * 86_400
        for r in records:
            while crew is not None and crew[0] <= r[0]:
                _attack(loops, *crew)
                crew = next(pending, None)
            for step in steps:
                step(r)
        while crew is not None and crew[0] < day_end:
            _attack(loops, *crew)
            crew = next(pending, None)
        if progress is not None:
            progress(day + 1)
    while crew is not None:
        _attack(loops, *crew)
        crew = next(pending, None)


def _attack(loops: Sequence[ClosedLoop], ts_s: float, a: AttackIntent) -> None:
    ts = ts_text(ts_s)
    for loop in loops:
        loop.attack(a, ts_s, ts)


# --------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------


def _crew_accounts(attacks: list[AttackIntent], campaigns: Sequence[Campaign], *,
                   start: date, days: int, seed: int, symbols: Mapping[str, Symbol]
                   ) -> tuple[dict[str, CrewAccount], list[AttackIntent]]:
    """The crews' own accounts at the stream's start, and the attack intents within the
    run (its JST days). A crew's buying-in before the start becomes its opening holdings
    (at the master price); its cash covers its buys in the run."""
    start_dt = datetime.combine(start, datetime.min.time(), tzinfo=JST)
    start_s, end_s = start_dt.timestamp(), (start_dt + timedelta(days=days)).timestamp()
    end = start + timedelta(days=days)
    in_run = {c.id for c in campaigns if start <= c.pump_day < end}
    market = Market(symbols, start=start_dt)
    held: dict[str, dict[str, int]] = {}
    bought_before: dict[str, int] = {}
    to_spend: dict[str, int] = {}
    kept: list[AttackIntent] = []
    campaign_of: dict[str, str] = {}
    for a in attacks:
        ts_s = a.ts.timestamp()
        intent = a.intent
        if a.attack == BENEFICIARY:
            campaign_of[intent.account] = a.campaign
            held.setdefault(intent.account, {})
            bought_before.setdefault(intent.account, 0)
            to_spend.setdefault(intent.account, 0)
            if isinstance(intent, OrderIntent) and intent.side == "buy":
                value = market.notional_jpy(intent.symbol, symbols[intent.symbol].price_minor,
                                            intent.quantity)
                if ts_s < start_s:
                    h = held[intent.account]
                    h[intent.symbol] = h.get(intent.symbol, 0) + intent.quantity
                    bought_before[intent.account] += value
                elif ts_s < end_s:
                    to_spend[intent.account] += value
        if start_s <= ts_s < end_s:
            kept.append(a)
    token = sim_token(seed)
    crews = {account: CrewAccount(
        login_id=_login_id(seed, account), cash_jpy=CREW_CASH_JPY + 2 * to_spend[account],
        holdings=tuple(sorted(held[account].items())),
        bank_account=token("bank", f"crew|{account}"),
        bought_before_jpy=bought_before[account], in_run=campaign_of[account] in in_run)
        for account in held}
    return crews, kept


def _login_id(seed: int, account: str) -> str:
    import hashlib  # noqa: PLC0415 - only for the crews' few accounts

    return "u" + hashlib.blake2b(f"{seed}:login:{account}".encode(), digest_size=8).hexdigest()


def _account_records(population: list[SimCustomer], crews: Mapping[str, CrewAccount], *,
                     as_of: datetime, token: Callable[[str, str], str]
                     ) -> dict[str, dict[str, Any]]:
    """accounts.jsonl records of the customers and the crews' accounts (methods as the
    profile has them: a configuration adds its own, see proof.py)."""
    records = {c.account: to_account_record(c, as_of=as_of, cipher_token=token)
               for c in population}
    opened = (as_of - timedelta(days=CREW_OPENED_DAYS)).date().isoformat()
    for account, crew in crews.items():
        records[account] = {
            "account": account, "opened": opened, "methods_enrolled": list(BENEFICIARY_METHODS),
            "cash_jpy": crew.cash_jpy,
            "holdings": [{"symbol": s, "quantity": q} for s, q in crew.holdings],
            "home_country": "JP", "bank_account": crew.bank_account, "login_id": crew.login_id,
        }
    return records


def _enrolment(policy: Policy) -> Callable[[SimCustomer], tuple[str, ...]]:
    """A customer's methods under ``policy`` (one computation per profile)."""
    cache: dict[tuple[str, ...], tuple[str, ...]] = {}

    def enrolled(c: SimCustomer) -> tuple[str, ...]:
        found = cache.get(c.methods)
        if found is None:
            found = cache[c.methods] = enrolled_methods(c.methods, policy)
        return found
    return enrolled


class _Accounts(Mapping[str, Mapping[str, Any]]):
    """The accounts of one configuration: the shared records with the methods its
    policy gives each account (a shallow copy per look-up; records are shared)."""

    def __init__(self, records: dict[str, dict[str, Any]], population: list[SimCustomer],
                 enrolled: Callable[[SimCustomer], tuple[str, ...]], policy: Policy) -> None:
        self.records, self.population = records, population
        self.enrolled, self.policy = enrolled, policy
        self.crew_methods = list(enrolled_methods(BENEFICIARY_METHODS, policy))

    def __getitem__(self, account: str) -> Mapping[str, Any]:
        record = self.records[account]
        if account.startswith("C"):
            methods = list(self.enrolled(self.population[int(account[1:])]))
        else:
            methods = self.crew_methods
        return {**record, "methods_enrolled": methods}

    def __iter__(self) -> Iterator[str]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def write(self, path: Path) -> None:
        with JsonlWriter(path) as out:
            for account in self.records:
                out.write(self[account])


def _price_points(campaigns: Sequence[Campaign], symbols: Mapping[str, Symbol], *,
                  start: date, days: int) -> list[tuple[float, str, str]]:
    """Every 30 minutes of the pump targets' trading sessions within the run, in JST."""
    targets = sorted({c.target for c in campaigns
                      if start <= c.pump_day < start + timedelta(days=days)})
    calendar = TradingCalendar()
    points: list[tuple[float, str, str]] = []
    for code in targets:
        market = symbols[code].market
        hours = MARKET_HOURS[market]
        for offset in range(days):
            day = start + timedelta(days=offset)
            if not calendar.is_trading_day(market, day):
                continue
            for open_, close in hours.sessions:
                at = datetime.combine(day, open_, tzinfo=hours.tz)
                end = datetime.combine(day, close, tzinfo=hours.tz)
                while at <= end:
                    ts_s = at.timestamp()
                    points.append((ts_s, ts_text(ts_s), code))
                    at += PRICE_STEP
    points.sort()
    return points


def _months(start: date, days: int) -> list[str]:
    """The JST months a run covers.

    >>> _months(date(2025, 3, 20), 20)
    ['2025-03', '2025-04']
    """
    months: list[str] = []
    for offset in range(max(days, 1)):
        key = (start + timedelta(days=offset)).strftime("%Y-%m")
        if not months or months[-1] != key:
            months.append(key)
    return months


# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


def _write_json(path: Path, obj: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _report(out: Path, metrics: dict[str, Any], *, compare: bool) -> None:
    if compare:
        write_compare_report(out, metrics)
    else:
        write_report(out, metrics)
