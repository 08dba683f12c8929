"""Orders per second through the real HTTP API, on SQLite and on PostgreSQL.

For each backend: a fresh database (a SQLite file in a temp dir, or a PostgreSQL
database ``kg_bench_<pid>`` on 127.0.0.1:5432, dropped at the end even on error), the
migrations, customers with far more cash and shares than the run can use, then the real
server (``kabuguard serve``) in its own process. Every customer logs in before the
timed part (argon2id is slow on purpose). The load generator (this process, asyncio,
closed loop, C requests in flight on C keep-alive connections; by default a small
hand-written HTTP/1.1 client that leaves the CPU to the server, ``--client httpx`` for
one httpx.AsyncClient with a pool of C connections) then sends:

1. a warm-up of market orders (not counted);
2. ``GET /healthz`` N times: the ceiling of this client against this server on this
   machine, with no order handling (same count, same concurrency);
3. N ``POST /api/v1/orders`` market orders (buys and sells of eight liquid TSE large
   caps, random customers, each with its own ``Idempotency-Key``).

Reported: orders/s (201s over wall time), p50/p90/p99/max latency of the 201s, every
other answer counted by status, the healthz req/s beside it, and the CPU seconds the
server process, this client and (on PostgreSQL) the database server spent per order.
The Markdown table is printed and added to bench/RESULTS.md.

Traffic goes to 127.0.0.1 only. Every phase is bounded in count and in time
(``--time-limit`` seconds), so a run always ends by itself.

    .venv/bin/python bench/orders_http.py [--backend sqlite|postgres|both]
        [--orders N] [--concurrency C] [--warmup N] [--client raw|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx
import psycopg
from psycopg import sql

from kabuguard.broker.interfaces import BankDetails
from kabuguard.broker.models import Holding
from kabuguard.container import Services, build_services
from kabuguard.settings import load_settings
from kabuguard.store.migrate import upgrade
from provenance import clock_ticks, code_version, command, machine, machine_busy_s

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
PG_HOST = "127.0.0.1"
PG_ADMIN = f"host={PG_HOST} port=5432 user=postgres dbname=postgres"
# Liquid TSE Prime large caps (lot size 100).
SYMBOLS = ("7203", "6758", "8306", "9984", "6861", "8035", "9983", "7974")
PASSWORD = "bench-password-2025"
GOAL_ORDERS_PER_S = 500.0
GOAL_P99_MS = 50.0
TABLE_START = "<!-- results:start -->"
TABLE_END = "<!-- results:end -->"
HEADER = ("| date (UTC) | code | command | machine | backend | orders | conc. | orders/s | p50 ms | "
          "p90 ms | p99 ms | max ms | errors | healthz req/s | orders ÷ healthz | "
          "server CPU ms/order | client CPU ms/order | db CPU ms/order | others' CPU (cores) | "
          "goal met |")
RULE = "|" + "---|" * HEADER.count(" |")


# -- measurement --------------------------------------------------------------------


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads) from /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / clock_ticks()


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and all its descendants (``serve --workers N``)."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(proc.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += process_cpu_s(current)
        todo.extend(children.get(current, []))
    return total


def postgres_cpu_s() -> float:
    """CPU seconds of every process named ``postgres`` (server and backends)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() == "postgres":
                total += process_cpu_s(int(proc.name))
        except OSError:
            continue
    return total


def self_cpu_s() -> float:
    return time.process_time()


@dataclass
class Phase:
    name: str
    count: int
    concurrency: int
    wall_s: float = 0.0
    ok: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    not_filled: int = 0
    timed_out: bool = False
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    db_cpu_s: float = 0.0
    machine_busy_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.ok / self.wall_s if self.wall_s else 0.0

    def pct(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @property
    def errors(self) -> int:
        """Answers that were not the expected status, or 201s that did not fill."""
        return sum(self.statuses.values()) - self.ok

    def error_text(self) -> str:
        bad = {k: v for k, v in self.statuses.items() if k != "ok"}
        if self.not_filled:
            bad["201 not filled"] = self.not_filled
        if self.timed_out:
            bad["not completed (time limit)"] = self.count - sum(self.statuses.values())
        if not bad:
            return "0"
        return ", ".join(f"{k}×{v}" for k, v in sorted(bad.items()))

    @property
    def others_cores(self) -> float:
        """Cores busy with anything but the server, this client and PostgreSQL: the
        noise of a shared machine during the phase."""
        mine = self.server_cpu_s + self.client_cpu_s + self.db_cpu_s
        return max(0.0, self.machine_busy_s - mine) / self.wall_s if self.wall_s else 0.0

    def per_ok_ms(self, cpu_s: float) -> float:
        return cpu_s / self.ok * 1000 if self.ok else float("nan")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; NaN when empty.

    >>> percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50)
    3.0
    >>> percentile([float(i) for i in range(1, 101)], 99)
    99.0
    """
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n*q/100), at least 1
    return ordered[int(min(rank, len(ordered))) - 1]


@dataclass(frozen=True)
class Req:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


class Conn(Protocol):
    async def request(self, req: Req) -> tuple[int, bytes]: ...

    async def aclose(self) -> None: ...


class RawConn:
    """One keep-alive HTTP/1.1 connection, written and parsed by hand: a load generator
    that costs the machine far less CPU per request than a general HTTP client, so that
    more of the 2 cores is left to the server under test."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, req: Req) -> tuple[int, bytes]:
        head = (f"{req.method} {req.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in req.headers)
                + f"Content-Length: {len(req.body)}\r\n\r\n")
        try:
            async with asyncio.timeout(self.timeout):
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                assert self.reader is not None
                self.writer.write(head.encode("latin-1") + req.body)
                status, headers = parse_head(await self.reader.readuntil(b"\r\n\r\n"))
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    body = await self._chunked(self.reader)
                else:
                    body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        except BaseException:
            await self.aclose()
            raise
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return status, body

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await reader.readexactly(size + 2))
        await reader.readuntil(b"\r\n")  # no trailers are sent by the server
        return b"".join(p[:-2] for p in parts)

    async def aclose(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
    """Status code and lower-cased headers of a response head.

    >>> parse_head(b"HTTP/1.1 201 Created\\r\\nContent-Length: 2\\r\\n\\r\\n")
    (201, {'content-length': '2'})
    """
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


class HttpxConn:
    """All workers share one httpx.AsyncClient (its pool holds C connections)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def request(self, req: Req) -> tuple[int, bytes]:
        r = await self.client.request(req.method, req.path, headers=dict(req.headers),
                                      content=req.body or None)
        return r.status_code, r.content

    async def aclose(self) -> None:
        return None


TRANSPORT_ERRORS = (httpx.HTTPError, OSError, TimeoutError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, ValueError)


async def run_phase(connect: Callable[[], Conn], phase: Phase, make: Callable[[int], Req], *,
                    expect: int, server_pid: int, time_limit: float,
                    check_filled: bool = False) -> Phase:
    """Send ``phase.count`` requests with ``phase.concurrency`` in flight (closed loop);
    stop early, counting what was not sent, after ``time_limit`` seconds."""
    indexes = iter(range(phase.count))

    async def worker() -> None:
        conn = connect()
        try:
            for i in indexes:  # one iterator shared by the workers: each index is sent once
                req = make(i)
                t0 = time.perf_counter()
                try:
                    status, body = await conn.request(req)
                    key = str(status)
                except TRANSPORT_ERRORS as exc:
                    status, body, key = 0, b"", type(exc).__name__
                elapsed_ms = (time.perf_counter() - t0) * 1000
                if status == expect:
                    key = "ok"
                    phase.latencies_ms.append(elapsed_ms)
                    if check_filled and json.loads(body).get("status") != "filled":
                        phase.not_filled += 1
                phase.statuses[key] += 1
        finally:
            await conn.aclose()

    cpu0 = (tree_cpu_s(server_pid), self_cpu_s(), postgres_cpu_s(), machine_busy_s())
    start = time.perf_counter()
    tasks = [asyncio.create_task(worker()) for _ in range(phase.concurrency)]
    _done, pending = await asyncio.wait(tasks, timeout=time_limit)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    phase.wall_s = time.perf_counter() - start
    cpu1 = (tree_cpu_s(server_pid), self_cpu_s(), postgres_cpu_s(), machine_busy_s())
    phase.server_cpu_s, phase.client_cpu_s, phase.db_cpu_s, phase.machine_busy_s = (
        b - a for a, b in zip(cpu0, cpu1, strict=True))
    phase.timed_out = bool(pending)
    phase.ok = phase.statuses.get("ok", 0) - phase.not_filled
    return phase


# -- database, customers and the server ---------------------------------------------


@contextlib.contextmanager
def fresh_database(backend: str) -> Iterator[str]:
    """A new empty database for ``backend``; removed afterwards, also on error."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="kg_bench_") as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    name = sql.Identifier(f"kg_bench_{os.getpid()}")
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:5432/kg_bench_{os.getpid()}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


@dataclass(frozen=True)
class PlannedOrder:
    customer: int
    symbol: str
    side: str
    quantity: int


def plan_orders(total: int, customers: int, seed: int) -> list[PlannedOrder]:
    """Buys and sells (about half each) of 1-3 lots, random symbols and customers."""
    rng = random.Random(seed)
    return [PlannedOrder(rng.randrange(customers), rng.choice(SYMBOLS),
                         rng.choice(("buy", "sell")), 100 * rng.randint(1, 3))
            for _ in range(total)]


def needs(plan: list[PlannedOrder], services: Services,
          customers: int) -> tuple[list[int], list[dict[str, int]]]:
    """Cash and shares per customer that cover every planned order with room to spare:
    twice the buy notional at today's price (prices move within the TSE daily limits)
    and every share the plan sells, plus a margin."""
    cash = [1_000_000_000] * customers
    shares = [dict.fromkeys(SYMBOLS, 10_000) for _ in range(customers)]
    for order in plan:
        if order.side == "buy":
            sym = services.broker.symbol(order.symbol)
            cash[order.customer] += 2 * services.broker.to_yen(sym, sym.price_minor * order.quantity)
        else:
            shares[order.customer][order.symbol] += order.quantity
    return cash, shares


def create_customers(url: str, plan: list[PlannedOrder], customers: int) -> list[str]:
    """Customers as tests/factories/customers.py makes them; returns their login ids."""
    services = build_services(load_settings(database_url=url, market_hours="always_open"))
    try:
        cash, shares = needs(plan, services, customers)
        logins = []
        for n in range(customers):
            account_id = str(3_000_001 + n)
            with services.db.write() as session:
                services.identity.create_customer(
                    session, customer_id=account_id, login_id=f"bench{account_id}",
                    password=PASSWORD, name=f"Bench {account_id}",
                    email=f"b{account_id}@example.jp", phone="09000000000")
                session.flush()
                services.broker.open_account(
                    session, account_id=account_id, cash_yen=cash[n],
                    bank=BankDetails("テスト銀行", "001", "1234567", "テスト"))
                for code, qty in shares[n].items():
                    sym = services.broker.symbol(code)
                    session.add(Holding(account_id=account_id, symbol=sym.symbol, quantity=qty,
                                        reserved_qty=0,
                                        cost_yen=services.broker.to_yen(sym, sym.price_minor * qty)))
            logins.append(f"bench{account_id}")
        return logins
    finally:
        services.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(url: str, log_dir: Path, workers: int = 1,
                   extra_env: dict[str, str] | None = None,
                   ) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``kabuguard serve`` on a free loopback port, stopped afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KABUGUARD_")}
    env |= {"KABUGUARD_DATABASE_URL": url, "KABUGUARD_MARKET_HOURS": "always_open",
            **(extra_env or {})}
    exe = Path(sys.executable).parent / "kabuguard"
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(exe), "serve", "--host", "localhost", "--port", str(port),
                                 "--workers", str(workers)],
                                env=env, stdout=log, stderr=subprocess.STDOUT, cwd=log_dir)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, base, log_path)
        yield proc, base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def wait_healthy(proc: subprocess.Popen[bytes], base: str, log_path: Path,
                 timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log_path.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"server not healthy after {timeout:.0f} s:\n{log_path.read_text()}")


async def login_all(client: httpx.AsyncClient, logins: list[str]) -> list[str]:
    """Bearer tokens for every customer (a few logins at a time: argon2id is heavy)."""
    gate = asyncio.Semaphore(4)

    async def one(login_id: str) -> str:
        async with gate:
            r = await client.post("/api/v1/sessions",
                                  json={"login_id": login_id, "password": PASSWORD,
                                        "channel": "api"})
        if r.status_code != 201:
            raise RuntimeError(f"login {login_id}: {r.status_code} {r.text[:200]}")
        return r.json()["token"]

    return list(await asyncio.gather(*(one(x) for x in logins)))


# -- one backend --------------------------------------------------------------------


@dataclass
class BackendResult:
    backend: str
    orders: Phase
    healthz: Phase


def order_requests(plan: list[PlannedOrder], tokens: list[str], offset: int,
                   run: str) -> Callable[[int], Req]:
    bodies = [json.dumps({"symbol": o.symbol, "side": o.side, "quantity": o.quantity,
                          "order_type": "market"}).encode() for o in plan]

    def make(i: int) -> Req:
        n = offset + i
        return Req("POST", "/api/v1/orders", (
            ("Authorization", f"Bearer {tokens[plan[n].customer]}"),
            ("Idempotency-Key", f"bench-{run}-{n:07d}"),
            ("Content-Type", "application/json")), bodies[n])

    return make


HEALTHZ = Req("GET", "/healthz")


def healthz(_i: int) -> Req:
    return HEALTHZ


async def drive(base: str, server_pid: int, plan: list[PlannedOrder], logins: list[str],
                args: argparse.Namespace) -> tuple[Phase, Phase]:
    c = args.concurrency
    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        tokens = await login_all(client, logins)
        url = httpx.URL(base)
        shared = HttpxConn(client)

        def connect() -> Conn:
            if args.client == "httpx":
                return shared
            return RawConn(url.host, url.port or 80, timeout=30.0)

        run = secrets.token_hex(4)
        common = {"server_pid": server_pid, "time_limit": args.time_limit}
        if args.warmup:
            await run_phase(connect, Phase("warm-up", args.warmup, c),
                            order_requests(plan, tokens, 0, run), expect=201, **common)
            await run_phase(connect, Phase("warm-up", min(args.warmup, 1000), c), healthz,
                            expect=200, **common)
        health = await run_phase(connect, Phase("healthz", args.orders, c), healthz,
                                 expect=200, **common)
        orders = await run_phase(connect, Phase("orders", args.orders, c),
                                 order_requests(plan, tokens, args.warmup, run), expect=201,
                                 check_filled=True, **common)
    return orders, health


def bench_backend(backend: str, args: argparse.Namespace) -> BackendResult:
    plan = plan_orders(args.warmup + args.orders, args.customers, args.seed)
    with fresh_database(backend) as url, tempfile.TemporaryDirectory(prefix="kg_bench_log_") as logs:
        t0 = time.monotonic()
        upgrade(url)
        logins = create_customers(url, plan, args.customers)
        print(f"[{backend}] migrated and created {len(logins)} customers in "
              f"{time.monotonic() - t0:.1f} s", flush=True)
        # --notify-worker: notices are left to a separate `kabuguard notify dispatch`
        # process (the at-scale layout), so the server's CPU is the request path only.
        extra = {"KABUGUARD_NOTIFY_IN_APP": "false"} if args.notify_worker else None
        with running_server(url, Path(logs), args.workers, extra_env=extra) as (proc, base):
            orders, health = asyncio.run(drive(base, proc.pid, plan, logins, args))
    label = backend if args.workers == 1 else f"{backend}, {args.workers} workers"
    if args.notify_worker:
        label += ", notices out of process"
    return BackendResult(label, orders, health)


# -- report -------------------------------------------------------------------------


def goal_met(r: BackendResult) -> bool:
    o = r.orders
    return (o.rate >= GOAL_ORDERS_PER_S and o.pct(99) < GOAL_P99_MS and o.errors == 0
            and not o.timed_out)


def row(r: BackendResult, when: str, code: str, cmd: str, host: str) -> str:
    o, h = r.orders, r.healthz
    ratio = o.rate / h.rate if h.rate else float("nan")
    db = f"{o.per_ok_ms(o.db_cpu_s):.2f}" if r.backend.startswith("postgres") else "—"
    cells = [when, code, f"`{cmd}`", host, r.backend, f"{o.ok:,}", str(o.concurrency),
             f"{o.rate:,.0f}", f"{o.pct(50):.1f}", f"{o.pct(90):.1f}", f"{o.pct(99):.1f}",
             f"{max(o.latencies_ms, default=float('nan')):.1f}", o.error_text(),
             f"{h.rate:,.0f}", f"{ratio:.2f}", f"{o.per_ok_ms(o.server_cpu_s):.2f}",
             f"{o.per_ok_ms(o.client_cpu_s):.2f}", db, f"{o.others_cores:.2f}",
             "yes" if goal_met(r) else "**no**"]
    return "| " + " | ".join(cells) + " |"


def details(r: BackendResult) -> str:
    lines = []
    for p in (r.healthz, r.orders):
        cores = p.machine_busy_s / p.wall_s if p.wall_s else 0.0
        lines.append(
            f"[{r.backend}] {p.name}: {p.ok:,} ok in {p.wall_s:.2f} s = {p.rate:,.0f}/s; "
            f"p50 {p.pct(50):.1f} p90 {p.pct(90):.1f} p99 {p.pct(99):.1f} "
            f"max {max(p.latencies_ms, default=float('nan')):.1f} ms; errors {p.error_text()}; "
            f"CPU s: server {p.server_cpu_s:.1f}, client {p.client_cpu_s:.1f}, "
            f"postgres {p.db_cpu_s:.1f}; machine busy {cores:.2f} of "
            f"{len(os.sched_getaffinity(0))} cores, {p.others_cores:.2f} of them others'")
    return "\n".join(lines)


def record(rows: list[str]) -> None:
    """Add the rows to the table between the markers in bench/RESULTS.md (created if
    missing); the rest of the file is left as it is."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else (
        "# Benchmark results\n\nWritten by `bench/orders_http.py`; see bench/README.md.\n\n"
        f"{TABLE_START}\n{HEADER}\n{RULE}\n{TABLE_END}\n")
    if TABLE_START not in text or TABLE_END not in text:
        text = text.rstrip("\n") + f"\n\n{TABLE_START}\n{HEADER}\n{RULE}\n{TABLE_END}\n"
    head, rest = text.split(TABLE_END, 1)
    RESULTS.write_text(head.rstrip("\n") + "\n" + "\n".join(rows) + "\n" + TABLE_END + rest,
                       encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--orders", type=int, default=5000, help="timed orders (default 5000)")
    p.add_argument("--concurrency", type=int, default=32, help="requests in flight (default 32)")
    p.add_argument("--warmup", type=int, default=500, help="untimed orders first (default 500)")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw",
                   help="load generator: a hand-written keep-alive HTTP/1.1 client, one "
                        "connection per worker (default, light), or httpx.AsyncClient")
    p.add_argument("--customers", type=int, default=64, help="customers (default 64)")
    p.add_argument("--notify-worker", action="store_true",
                   help="deliver notices outside the server (KABUGUARD_NOTIFY_IN_APP=false)")
    p.add_argument("--workers", type=int, default=1,
                   help="server worker processes (kabuguard serve --workers, default 1)")
    p.add_argument("--seed", type=int, default=20250408, help="seed of the order mix")
    p.add_argument("--time-limit", type=float, default=300.0,
                   help="seconds at most per phase; what is left counts as not completed (default 300)")
    p.add_argument("--no-record", action="store_true", help="print only; leave RESULTS.md alone")
    args = p.parse_args(argv)
    if min(args.orders, args.concurrency, args.customers) < 1 or args.warmup < 0:
        p.error("--orders, --concurrency and --customers must be at least 1, --warmup at least 0")
    if args.orders + args.warmup > 10_000_000 or args.concurrency > 1000:
        p.error("keep --orders + --warmup under 10,000,000 and --concurrency under 1000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl+C, so the server is stopped and the database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    cmd, host, code = command(), machine(), code_version()
    results: list[BackendResult] = []
    failed = False
    for backend in backends:
        try:
            results.append(bench_backend(backend, args))
        except (RuntimeError, OSError, psycopg.Error) as exc:
            failed = True
            print(f"[{backend}] FAILED: {exc}", file=sys.stderr, flush=True)
            continue
        print(details(results[-1]), flush=True)
    rows = [row(r, when, code, cmd, host) for r in results]
    print(f"\n{HEADER}\n{RULE}\n" + "\n".join(rows))
    for r in results:
        print(f"goal ({GOAL_ORDERS_PER_S:.0f} orders/s, p99 < {GOAL_P99_MS:.0f} ms, no errors) "
              f"on {r.backend}: {'met' if goal_met(r) else 'NOT met'}")
    if rows and not args.no_record:
        record(rows)
        print(f"recorded in {RESULTS.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
