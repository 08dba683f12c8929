"""Login risk model: score + observe per second on one core, and memory per account.

    .venv/bin/python bench/login_risk.py [--accounts 20000] [--logins 300000] [--seed 1]
                                         [--memory]

A synthetic stream, generated before timing: every account seeded with its devices and
networks (accounts.jsonl shape); 88% of logins are the customer's own (a known device
and network), 6% bring a new device or address, 6% are credential stuffing from a small
pool of addresses (failures over many accounts, a few successes). Each login is scored,
then its outcome observed, in time order. Prints only (no RESULTS.md row).
``--memory`` repeats the run under tracemalloc and reports the peak per account.
"""

from __future__ import annotations

import argparse
import platform
import random
import sys
import time
import tracemalloc

from kabuguard.risk.login_risk import LoginObservation, LoginRiskModel

AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/133.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SO-51D) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/133.0.0.0 Mobile Safari/537.36",
    "KabuguardApp/3.2.1 (iOS 18.3; iPhone15,2)",
)
START = 1_743_465_600.0


def make_stream(accounts: int, logins: int, seed: int):
    rng = random.Random(seed)
    seeds, homes = [], []
    for a in range(accounts):
        networks = [{"ip": f"240.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}",
                     "ip_asn": 64512 + rng.randrange(4), "ip_country": "JP",
                     "ip_kind": "residential", "last_seen": "2025-03-30T10:00:00+09:00"}
                    for _ in range(1 + rng.randrange(3))]
        devices = [{"device": f"dev-{a}-{d}", "user_agent": rng.choice(AGENTS),
                    "last_seen": "2025-03-30T10:00:00+09:00"} for d in range(1 + rng.randrange(2))]
        seeds.append((f"C{a:09d}", devices, networks))
        homes.append([LoginObservation(n["ip"], n["ip_asn"], "JP", "residential",
                                       d["user_agent"], d["device"])
                      for n in networks for d in devices])
    bots = [f"203.0.113.{i}" for i in range(20)]
    stream = []
    for i in range(logins):
        a = rng.randrange(accounts)
        r = rng.random()
        if r < 0.88:
            obs, outcome = rng.choice(homes[a]), "success"
        elif r < 0.94:
            home = rng.choice(homes[a])
            obs = LoginObservation(f"241.0.{rng.randrange(256)}.{rng.randrange(256)}", 64520, "JP",
                                   "mobile", home.user_agent,
                                   home.device if rng.random() < 0.5 else f"new-{i}")
            outcome = "success"
        else:
            obs = LoginObservation(rng.choice(bots), 64999, "CN", "hosting", AGENTS[0], None)
            outcome = "success" if rng.random() < 0.02 else rng.choice(
                ("bad_password", "unknown_user"))
        stream.append((seeds[a][0] if outcome != "unknown_user" else None, obs, outcome,
                       START + i * 0.5))
    return seeds, stream


def run(seeds, stream) -> tuple[LoginRiskModel, float, float]:
    model = LoginRiskModel()
    for account, devices, networks in seeds:
        model.seed_account(account, devices=devices, networks=networks, home_country="JP",
                           ts_s=START)
    score, observe = model.score, model.observe
    started, cpu = time.perf_counter(), time.process_time()
    for account, obs, outcome, ts in stream:
        score(account, obs, ts)
        observe(account, obs, outcome, ts)
    return model, time.perf_counter() - started, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--logins", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args()
    seeds, stream = make_stream(args.accounts, args.logins, args.seed)
    _, elapsed, cpu = run(seeds, stream)
    # CPU time too: on a shared machine the wall clock counts other processes' turns.
    sys.stdout.write(f"login risk: {args.logins:,} score+observe over {args.accounts:,} accounts "
                     f"in {elapsed:.2f} s = {args.logins / elapsed:,.0f} /s wall, "
                     f"{args.logins / cpu:,.0f} /s CPU "
                     f"(Python {platform.python_version()}, {platform.machine()})\n")
    if args.memory:
        tracemalloc.start()
        model, _, _ = run(seeds, stream)
        current = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del model
        sys.stdout.write(f"model memory after the run: {current / 2**20:.1f} MiB, "
                         f"{current / args.accounts:,.0f} bytes per account\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
