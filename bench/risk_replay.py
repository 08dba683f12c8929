"""Replay throughput and per-event decision latency of the risk engine (issue 5 goals:
replay >= 50,000 events/s on one core; in-process guard.check p99 <= 1 ms with the
full rule set).

Input: a simulator output directory (``kabuguard simulate ... --out DIR``), so the
stream has the mix of a real run: logins, orders, withdrawals, attacks.

    .venv/bin/python bench/risk_replay.py DIR [--policy email_otp_mandatory]

Prints three figures for the same stream on one core:
- ``decide``: StreamGuard.decide over pre-parsed events (the engine alone), events/s
  by process CPU time and wall time, and the p50/p99/max latency of one decision;
- ``replay``: ``kabuguard replay`` end to end (read and validate, decide, write);
- ``policy only``: the same stream with the risk engine off, for the ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from provenance import code_version, command, machine, machine_busy_s  # noqa: E402

from kabuguard.domain.netinfo import IpRanges  # noqa: E402
from kabuguard.guard.policy import load_policy  # noqa: E402
from kabuguard.risk.replay import replay  # noqa: E402
from kabuguard.risk.stream import iter_events, read_accounts, read_symbols  # noqa: E402
from kabuguard.risk.stream_guard import StreamGuard  # noqa: E402


def _decide(directory: Path, policy: str, *, risk: bool) -> dict[str, float]:
    symbols = read_symbols(directory / "symbols.jsonl")
    accounts = read_accounts(directory / "accounts.jsonl")
    events = list(iter_events(directory / "events.jsonl"))
    ranges = IpRanges.from_csv(directory / "ip_ranges.csv")
    guard = StreamGuard(load_policy(policy), symbols, accounts, risk=risk, ip_ranges=ranges)
    lat: list[int] = []
    clock = time.perf_counter_ns
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for event in events:
        t0 = clock()
        guard.decide(event)
        lat.append(clock() - t0)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    lat.sort()
    n = len(lat)
    return {"events": n, "cpu_rate": n / cpu, "wall_rate": n / wall,
            "p50_us": lat[n // 2] / 1e3, "p99_us": lat[int(n * 0.99)] / 1e3,
            "max_us": lat[-1] / 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--policy", default="email_otp_mandatory")
    args = parser.parse_args()
    d = args.directory
    busy0 = machine_busy_s()
    wall0 = time.perf_counter()
    engine = _decide(d, args.policy, risk=True)
    policy_only = _decide(d, args.policy, risk=False)
    with tempfile.TemporaryDirectory() as tmp:
        cpu0, t0 = time.process_time(), time.perf_counter()
        result = replay(symbols=d / "symbols.jsonl", accounts=d / "accounts.jsonl",
                        events=d / "events.jsonl", out=Path(tmp),
                        policy=load_policy(args.policy))
        replay_cpu, replay_wall = time.process_time() - cpu0, time.perf_counter() - t0
    elapsed = time.perf_counter() - wall0
    busy = (machine_busy_s() - busy0) / elapsed
    print(f"code {code_version()} | {machine()} | machine busy {busy:.2f} cores of 2")
    print(f"command: {command()}")
    print(f"stream: {d} ({engine['events']:,} events), policy {args.policy}")
    print(f"decide (engine on):  {engine['cpu_rate']:,.0f} events/s CPU, "
          f"{engine['wall_rate']:,.0f} wall; latency p50 {engine['p50_us']:.1f} us, "
          f"p99 {engine['p99_us']:.1f} us, max {engine['max_us']:.0f} us")
    print(f"decide (policy only): {policy_only['cpu_rate']:,.0f} events/s CPU, "
          f"p99 {policy_only['p99_us']:.1f} us")
    print(f"replay end to end:   {result.events / replay_cpu:,.0f} events/s CPU, "
          f"{result.events / replay_wall:,.0f} wall")
    print(f"engine / policy-only throughput: {engine['cpu_rate'] / policy_only['cpu_rate']:.2f}")


if __name__ == "__main__":
    main()
