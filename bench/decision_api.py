"""Events per second through the decision API (``POST /api/v1/events``) on one worker.

    .venv/bin/python bench/decision_api.py [--events N] [--concurrency C] [--batch B]
        [--backend sqlite|postgres] [--risk on|off] [--policy NAME]

A fresh database (a SQLite file in a temp dir, or ``kg_bench_<pid>`` on the local
PostgreSQL, dropped at the end), the migrations, one API key, then ``kabuguard serve``
with one worker pinned to one core, the load generator (this process: asyncio, closed
loop, C keep-alive connections, the hand-written HTTP/1.1 client of orders_http.py)
pinned to the other. The events come from a generated stream of customers' sessions
(login, orders, now and then a withdrawal or a bank account change, logout), in time
order, each id new. Phases, each over the same number of events:

1. ``GET /healthz`` (the ceiling of this client and framework on this machine);
2. single events, one a request, C in flight;
3. batches of B events a request, C in flight.

Reported per phase: events/s, p50/p99/max latency of a request, errors, and server
CPU ms per event. The goal (issue 5) is at least 2,000 events/s with p99 at most
10 ms on one worker. Nothing is written to bench/RESULTS.md; the line printed at the
end carries the provenance (code, command, machine, how busy it was).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kabuguard.container import build_services
from kabuguard.risk.api_keys import ApiKeyService
from kabuguard.settings import load_settings
from kabuguard.store.migrate import upgrade
from orders_http import (
    Phase,
    RawConn,
    Req,
    fresh_database,
    run_phase,
    running_server,
)
from provenance import code_version, command, machine

GOAL_EVENTS_PER_S = 2000.0
GOAL_P99_MS = 10.0
SYMBOLS = ("7203", "6758", "8306", "9984", "6861", "8035", "9983", "7974")
START = datetime(2025, 4, 8, 0, 0, tzinfo=UTC)


def cores() -> tuple[int, int | None]:
    mine = sorted(os.sched_getaffinity(0))
    return mine[0], (mine[1] if len(mine) > 1 else None)


def pin(pid: int, core: int) -> None:
    """Pin a process and all its threads to ``core`` (a one-worker figure on one core)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), {core})


def generate(total: int, customers: int, seed: int) -> list[dict]:
    """``total`` events of customers' sessions, interleaved and in time order."""
    rng = random.Random(seed)
    ts = START
    open_sessions: dict[str, tuple[str, int]] = {}  # account -> (session, actions left)
    events: list[dict] = []
    n = 0

    def base(etype: str, account: str, session: str | None) -> dict:
        nonlocal n, ts
        n += 1
        ts += timedelta(milliseconds=rng.randint(5, 80))
        return {"id": f"b{seed}-{n}", "ts": ts.isoformat(), "type": etype, "account": account,
                "session": session, "channel": "web", "ip": f"198.51.100.{int(account[-2:]) % 250}",
                "device": f"dev-{account}", "user_agent": "Mozilla/5.0"}

    while len(events) < total:
        account = f"{3_000_000 + rng.randrange(customers):07d}"
        current = open_sessions.get(account)
        if current is None:
            sid = f"s-{account}-{n}"
            event = base("login", account, sid)
            event |= {"login_id": f"h:{account}", "outcome": "success",
                      "methods": ["password", "email_otp"]}
            open_sessions[account] = (sid, rng.randint(1, 6))
        elif current[1] == 0:
            event = base("logout", account, current[0])
            del open_sessions[account]
        else:
            sid, left = current
            open_sessions[account] = (sid, left - 1)
            roll = rng.random()
            if roll < 0.85:
                quantity = 100 * rng.randint(1, 5)
                event = base("order", account, sid) | {
                    "order_id": f"o{n}", "symbol": rng.choice(SYMBOLS),
                    "side": rng.choice(("buy", "sell")), "quantity": quantity,
                    "order_type": "market", "limit_price": None,
                    "notional_jpy": quantity * rng.randint(1_000, 9_000)}
            elif roll < 0.97:
                event = base("withdrawal", account, sid) | {
                    "amount_jpy": rng.randint(10, 500) * 1000, "bank_account": f"bk-{account}"}
            else:
                event = base("bank_account_change", account, sid) | {
                    "bank_account": f"bk2-{account}"}
        events.append(event)
    return events


def make_key(url: str) -> str:
    services = build_services(load_settings(database_url=url))
    try:
        _info, key = ApiKeyService(services.db).create(name="bench", scopes=(),
                                                      created_by="bench")
        return key
    finally:
        services.close()


def requests(bodies: list[bytes], key: str) -> Callable[[int], Req]:
    headers = (("Authorization", f"Bearer {key}"), ("Content-Type", "application/json"))

    def make(i: int) -> Req:
        return Req("POST", "/api/v1/events", headers, bodies[i])

    return make


async def drive(base: str, pid: int, events: list[dict], key: str,
                args: argparse.Namespace) -> tuple[Phase, Phase, Phase]:
    host, port = base.removeprefix("http://").split(":")

    def connect() -> RawConn:
        return RawConn(host, int(port), timeout=30.0)

    common = {"server_pid": pid, "time_limit": args.time_limit}
    warm = [json.dumps(e).encode() for e in events[:args.warmup]]
    timed = events[args.warmup:]
    singles = [json.dumps(e).encode() for e in timed[:args.events]]
    rest = timed[args.events:]
    batches = [json.dumps({"events": rest[i:i + args.batch]}).encode()
               for i in range(0, len(rest), args.batch)]
    c = args.concurrency
    if warm:
        await run_phase(connect, Phase("warm-up", len(warm), c), requests(warm, key),
                        expect=200, **common)
    health = await run_phase(connect, Phase("healthz", args.events, c),
                             lambda _i: Req("GET", "/healthz"), expect=200, **common)
    single = await run_phase(connect, Phase("single events", len(singles), c),
                             requests(singles, key), expect=200, **common)
    batch = await run_phase(connect, Phase(f"batches of {args.batch}", len(batches),
                                           args.batch_concurrency),
                            requests(batches, key), expect=200, **common)
    return health, single, batch


def line(p: Phase, per_request: int) -> str:
    events_s = p.rate * per_request
    cpu = p.server_cpu_s / (p.ok * per_request) * 1000 if p.ok else float("nan")
    return (f"{p.name:>16}: {p.ok * per_request:>7,} events in {p.wall_s:5.2f} s = "
            f"{events_s:>7,.0f} events/s ({p.rate:,.0f} req/s); request p50 {p.pct(50):.1f} "
            f"p99 {p.pct(99):.1f} max {max(p.latencies_ms, default=float('nan')):.1f} ms; "
            f"server CPU {cpu:.3f} ms/event; errors {p.error_text()}")


def met(p: Phase, per_request: int) -> bool:
    return (p.rate * per_request >= GOAL_EVENTS_PER_S and p.pct(99) <= GOAL_P99_MS
            and p.errors == 0 and not p.timed_out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=5000, help="events per phase (default 5000)")
    p.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    p.add_argument("--batch", type=int, default=20, help="events per batch request (default 20)")
    p.add_argument("--batch-concurrency", type=int, default=2,
                   help="batch requests in flight (default 2: each carries B events)")
    p.add_argument("--warmup", type=int, default=500, help="untimed single events first")
    p.add_argument("--customers", type=int, default=2000)
    p.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--risk", choices=("on", "off"), default="on")
    p.add_argument("--policy", default="jsda_2025_mandatory")
    p.add_argument("--seed", type=int, default=20250408)
    p.add_argument("--time-limit", type=float, default=120.0)
    args = p.parse_args(argv)
    if min(args.events, args.concurrency, args.batch, args.batch_concurrency,
           args.customers) < 1 or args.warmup < 0:
        p.error("--events, --concurrency, --batch and --customers must be at least 1")
    if args.events > 1_000_000 or args.batch > 1000 or args.concurrency > 256:
        p.error("keep --events under 1,000,000, --batch under 1,000, --concurrency under 256")
    host = machine()  # before this process is pinned to one core
    server_core, client_core = cores()
    if client_core is not None:
        os.sched_setaffinity(0, {client_core})
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    events = generate(args.warmup + 2 * args.events, args.customers, args.seed)
    env = {"KABUGUARD_POLICY": args.policy, "KABUGUARD_RISK": args.risk,
           "KABUGUARD_NOTIFY_IN_APP": "false"}
    with fresh_database(args.backend) as url, tempfile.TemporaryDirectory() as logs:
        upgrade(url)
        key = make_key(url)
        with running_server(url, Path(logs), workers=1, extra_env=env) as (proc, base):
            pin(proc.pid, server_core)
            t0 = time.monotonic()
            health, single, batch = asyncio.run(drive(base, proc.pid, events, key, args))
            log_text = (Path(logs) / next(iter(os.listdir(logs)))).read_text(errors="replace")
        print(f"[{args.backend}, risk {args.risk}, {args.policy}] {time.monotonic() - t0:.1f} s; "
              f"server on core {server_core}, client on core {client_core}")
    if "risk_engine_missing" in log_text:
        print("note: kabuguard.risk.engine is not installed: the server decided by policy only")
    print(line(health, 1))
    print(line(single, 1) + f"; C={args.concurrency}")
    print(line(batch, args.batch) + f"; C={args.batch_concurrency}")
    busy = [ph.machine_busy_s / ph.wall_s if ph.wall_s else 0.0 for ph in (single, batch)]
    verdict = {ph.name: "met" if met(ph, n) else "NOT met"
               for ph, n in ((single, 1), (batch, args.batch))}
    print(f"goal (≥ {GOAL_EVENTS_PER_S:,.0f} events/s, p99 ≤ {GOAL_P99_MS:.0f} ms, no errors): "
          + ", ".join(f"{k} {v}" for k, v in verdict.items()))
    print(f"provenance: {when} UTC | code {code_version()} | `{command()}` | {host} | "
          f"machine busy {busy[0]:.2f}/{busy[1]:.2f} cores during the two timed phases")
    return 0 if single.errors == batch.errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
