"""Simulator intent model: intents per second for N customers over D days, and the peak
memory of the stream (tracemalloc, Python allocations).

    .venv/bin/python bench/sim_behaviour.py [--customers 10000] [--days 7] [--seed 1]
                                            [--no-record]

The population is generated first (not timed). The row is printed and added to
bench/RESULTS.md between the ``sim-behaviour:start/end`` markers (``--no-record`` prints
only). Single process, one core.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path

from kabuguard.broker.symbols import load_symbols
from kabuguard.sim.behaviour import iter_intents
from kabuguard.sim.population import generate_population
from kabuguard.sim.scenario import load_scenario
from provenance import code_version, command

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- sim-behaviour:start -->", "<!-- sim-behaviour:end -->"
SECTION = ("## Simulator intent model (`bench/sim_behaviour.py`)\n\n"
           "Legitimate customers' intents (logins, orders, withdrawals, life events, the "
           "surge) streamed day by day for a generated population; the population's own "
           "generation is not timed. Peak memory is of the stream alone (customer states "
           "and one day's intents).\n\n")
HEADER = ("| date (UTC) | code | command | machine | customers | days | intents | "
          "intents/s | customer-days/s | peak MiB |\n"
          "|---|---|---|---|---|---|---|---|---|---|\n")
START_DAY = date(2025, 4, 7)   # a Monday



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    scenario, symbols = load_scenario(), list(load_symbols().values())
    population = list(generate_population(scenario, customers=args.customers,
                                          seed=args.seed, symbols=symbols))

    def stream() -> int:
        return sum(1 for _ in iter_intents(population, days=args.days, start=START_DAY,
                                           scenario=scenario, seed=args.seed,
                                           symbols=symbols))

    # Speed without tracemalloc (it slows allocation-heavy code ~2x), then the peak.
    started = time.perf_counter()
    intents = stream()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    stream()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    row = (f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {code_version()} | `{command()}` | "
           f"nproc 1 of 2, {platform.processor() or platform.machine()}, Python "
           f"{platform.python_version()} | {args.customers:,} | {args.days} | {intents:,} | "
           f"{intents / elapsed:,.0f} | {args.customers * args.days / elapsed:,.0f} | "
           f"{peak / 2**20:.1f} |\n")
    sys.stdout.write(HEADER + row)
    if not args.no_record:
        text = RESULTS.read_text(encoding="utf-8")
        if START not in text:
            text += f"\n{SECTION}{START}\n{HEADER}{END}\n"
        text = text.replace(END, row + END)
        RESULTS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
