"""Simulator population: customers per second, profile only and written to JSON Lines,
and the peak memory of each (tracemalloc, Python allocations).

    .venv/bin/python bench/sim_population.py [--customers 100000] [--seed 1] [--no-record]

The row is printed and added to bench/RESULTS.md between the ``sim-population:start/end``
markers (``--no-record`` prints only). Single process, one core.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from kabuguard.broker.symbols import load_symbols
from kabuguard.sim.export import write_population
from kabuguard.sim.population import generate_population
from kabuguard.sim.scenario import load_scenario
from provenance import code_version, command

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- sim-population:start -->", "<!-- sim-population:end -->"
HEADER = ("| date (UTC) | code | command | machine | customers | profile customers/s | "
          "profile peak MiB | JSONL customers/s | JSONL peak MiB | JSONL MiB |\n"
          "|---|---|---|---|---|---|---|---|---|---|\n")



def _timed(func):  # type: ignore[no-untyped-def]
    tracemalloc.start()
    started = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, elapsed, peak


def _untraced(func):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = func()
    return result, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    scenario, symbols = load_scenario(), list(load_symbols().values())
    n = args.customers

    def profile() -> int:
        return sum(1 for _ in generate_population(scenario, customers=n, seed=args.seed,
                                                  symbols=symbols))

    with tempfile.TemporaryDirectory() as tmp:
        def export() -> int:
            return write_population(Path(tmp), scenario, customers=n, seed=args.seed,
                                    symbols=symbols, as_of=datetime(2025, 4, 1, tzinfo=UTC),
                                    ).customers

        # Speed without tracemalloc (it slows allocation-heavy code ~2x), then peaks.
        _, profile_s = _untraced(profile)
        _, export_s = _untraced(export)
        _, _, profile_peak = _timed(lambda: sum(1 for _ in generate_population(
            scenario, customers=min(n, 20_000), seed=args.seed, symbols=symbols)))
        _, _, export_peak = _timed(lambda: write_population(
            Path(tmp), scenario, customers=min(n, 20_000), seed=args.seed, symbols=symbols,
            as_of=datetime(2025, 4, 1, tzinfo=UTC)))
        _, _ = _untraced(export)   # leave the full file for its size
        size_mib = (Path(tmp) / "accounts.jsonl").stat().st_size / 2**20

    row = (f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {code_version()} | `{command()}` | "
           f"nproc 1 of 2, {platform.processor() or platform.machine()}, Python "
           f"{platform.python_version()} | {n:,} | {n / profile_s:,.0f} | "
           f"{profile_peak / 2**20:.1f} | {n / export_s:,.0f} | {export_peak / 2**20:.1f} | "
           f"{size_mib:,.0f} |\n")
    sys.stdout.write(HEADER + row)
    if not args.no_record:
        text = RESULTS.read_text(encoding="utf-8")
        if START not in text:
            text += f"\n{START}\n{HEADER}{END}\n"
        text = text.replace(END, row + END)
        RESULTS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
