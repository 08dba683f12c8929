"""The closed-loop simulator: wall time, events per second and peak memory of one
configuration (``kabuguard simulate``), by default 100,000 customers x 30 days.

    .venv/bin/python bench/simulate.py [--customers 100000] [--days 30] [--seed 1]
        [--policy jsda_2025_mandatory] [--no-risk] [--decision-point guard|null]
        [--workers N] [--out DIR]

``--decision-point null`` allows every event without looking at it: the loop's own cost
(intent model, books, market, files) without the guard's. Peak memory is the maximum
resident set (getrusage) of this process and, separately, of its intent workers. The
machine's busy share during the run (all cores, from /proc/stat) says how much other
work competed with it. Prints one Markdown row; recording it in RESULTS.md is left to
whoever compares rows.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kabuguard.guard.policy import load_policy
from kabuguard.sim.run import run_simulation, stream_guard
from kabuguard.sim.scenario import load_scenario
from provenance import code_version, command, machine, machine_busy_s

HEADER = ("| date (UTC) | code | command | machine | machine busy | customers | days | "
          "events | wall s | events/s | main CPU s | worker CPU s | peak RSS MiB "
          "(main / worker) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")


class AllowAll:
    """A decision point that allows everything: the loop's cost alone."""

    def needs(self, event: Mapping[str, Any]) -> str | None:
        return None

    def decide(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return {"id": event["id"], "decision": "allow", "score": 0.0, "reasons": [],
                "actions": []}


def allow_all(*_args: object) -> AllowAll:
    return AllowAll()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--policy", default="jsda_2025_mandatory")
    parser.add_argument("--no-risk", action="store_true")
    parser.add_argument("--decision-point", choices=("guard", "null"), default="guard")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    scenario, policy = load_scenario(), load_policy(args.policy)
    factory = stream_guard if args.decision_point == "guard" else allow_all
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        busy_before, started = machine_busy_s(), time.perf_counter()
        metrics = run_simulation(customers=args.customers, days=args.days, seed=args.seed,
                                 policy=policy, risk=not args.no_risk, out=out,
                                 scenario=scenario, decision_point=factory,
                                 workers=args.workers)
        wall = time.perf_counter() - started
        busy = (machine_busy_s() - busy_before) / wall
    me = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    events = metrics["run"]["events"]
    row = (f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {code_version()} | `{command()}` | "
           f"{machine()} | {busy:.2f} cores | {args.customers:,} | {args.days} | "
           f"{events:,} | {wall:.1f} | {events / wall:,.0f} | "
           f"{me.ru_utime + me.ru_stime:.1f} | {workers.ru_utime + workers.ru_stime:.1f} | "
           f"{me.ru_maxrss / 1024:,.0f} / {workers.ru_maxrss / 1024:,.0f} |\n")
    sys.stdout.write(HEADER + row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
