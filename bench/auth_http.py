"""Logins per second per core: password logins against the argon2id bound, and passkey
login ceremonies through the HTTP API on one worker (issue 3).

    .venv/bin/python bench/auth_http.py [--logins N] [--ceremonies N] [--concurrency C]

Four measurements in one run, each with the code under test pinned to the same core
(the first core this process may use) and the client on the other:

1. the bound: one argon2id verification with the shipped parameters
   (identity/passwords.py OWASP_HASHER), repeated; bound = 1 ÷ its time;
2. password logins in process (``IdentityService.login_password``: look-up, verify,
   session, login record, event, audit), against the bound (goal: at least 80 %);
3. the same through ``POST /api/v1/sessions`` on a ``kabuguard serve`` worker;
4. passkey login ceremonies through the HTTP API on that worker: options, the
   authenticator's signature (client side, not timed on the server core), verification,
   credential look-up and session creation (goal: at least 400/s).

The server runs the ``baseline_2024`` policy so a password alone completes a login.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from factories.customers import PASSWORD, make_customer
from factories.soft_authenticator import SoftAuthenticator
from kabuguard.container import build_services
from kabuguard.domain.events import RequestContext
from kabuguard.identity.passwords import OWASP_HASHER
from kabuguard.settings import load_settings
from kabuguard.store.migrate import upgrade
from orders_http import RawConn, Req, running_server, tree_cpu_s

HOST = "localhost"
JSON = (("Content-Type", "application/json"),)


def cores() -> tuple[int, int | None]:
    mine = sorted(os.sched_getaffinity(0))
    return mine[0], (mine[1] if len(mine) > 1 else None)


def pin(pid: int, core: int) -> None:
    """Pin a process and all its threads (argon2-cffi releases the GIL: without this a
    'one core' figure would quietly use two)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), {core})


def argon2_bound(core: int, repeats: int) -> float:
    """Seconds per argon2id verification with the shipped parameters, on ``core``."""
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        stored = OWASP_HASHER.hash(PASSWORD)
        OWASP_HASHER.verify(stored, PASSWORD)
        t0 = time.perf_counter()
        for _ in range(repeats):
            OWASP_HASHER.verify(stored, PASSWORD)
        return (time.perf_counter() - t0) / repeats
    finally:
        os.sched_setaffinity(0, saved)


def in_process_logins(url: str, logins: list[str], core: int) -> float:
    """Password logins per second in this process, pinned to ``core``."""
    settings = load_settings(database_url=url, policy="baseline_2024")
    services = build_services(settings)  # production argon2id parameters
    ctx = RequestContext(ip="127.0.0.1")
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        services.identity.login_password(login_id=logins[0], password=PASSWORD, context=ctx)
        t0 = time.perf_counter()
        for login_id in logins:
            services.identity.login_password(login_id=login_id, password=PASSWORD, context=ctx)
        return len(logins) / (time.perf_counter() - t0)
    finally:
        os.sched_setaffinity(0, saved)
        services.close()


def prepare(url: str, customers: int, origin: str) -> tuple[list[str], list[SoftAuthenticator]]:
    """Customers with production-strength hashes, each with one registered passkey."""
    settings = load_settings(database_url=url, policy="baseline_2024", webauthn_origins=[origin])
    services = build_services(settings)
    ctx = RequestContext(ip="127.0.0.1")
    logins, keys = [], []
    for i in range(customers):
        login_id = f"bench{i}"
        make_customer(services, login_id=login_id)
        login = services.identity.login_password(login_id=login_id, password=PASSWORD,
                                                 context=ctx)
        info = services.identity.resolve_session(login.token)
        opts = services.passkeys.registration_begin(info, login.token)
        key = SoftAuthenticator()
        services.passkeys.registration_finish(
            info, login.token, challenge_id=opts["challenge_id"],
            credential=key.create(opts["publicKey"], origin=origin), name="bench", context=ctx)
        logins.append(login_id)
        keys.append(key)
    services.close()
    return logins, keys


async def http_phase(base: str, count: int, concurrency: int, server_pid: int,
                     step: object) -> tuple[float, float, int]:
    """Run ``step(conn, worker_index)`` ``count`` times over ``concurrency`` keep-alive
    connections; returns (per second, server CPU ms each, errors)."""
    host, port = base.removeprefix("http://").split(":")
    remaining = iter(range(count))
    errors = 0

    async def worker(index: int) -> None:
        nonlocal errors
        conn = RawConn(host, int(port), timeout=30)
        try:
            for _ in remaining:
                if not await step(conn, index):  # type: ignore[operator]
                    errors += 1
        finally:
            await conn.aclose()

    cpu0 = tree_cpu_s(server_pid)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    wall = time.perf_counter() - t0
    cpu = tree_cpu_s(server_pid) - cpu0
    return count / wall, cpu / count * 1000, errors


def password_step(logins: list[str]):
    async def step(conn: RawConn, index: int) -> bool:
        body = json.dumps({"login_id": logins[index], "password": PASSWORD}).encode()
        status, _ = await conn.request(Req("POST", "/api/v1/sessions", JSON, body))
        return status == 201
    return step


def passkey_step(keys: list[SoftAuthenticator], origin: str):
    async def step(conn: RawConn, index: int) -> bool:
        status, raw = await conn.request(Req("POST", "/api/v1/sessions/passkey/options", JSON))
        if status != 200:
            return False
        opts = json.loads(raw)
        assertion = keys[index].get(opts["publicKey"], origin=origin)
        body = json.dumps({"challenge_id": opts["challenge_id"], "credential": assertion}).encode()
        status, _ = await conn.request(Req("POST", "/api/v1/sessions/passkey", JSON, body))
        return status == 201
    return step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--ceremonies", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--argon2-repeats", type=int, default=100)
    args = parser.parse_args()
    server_core, client_core = cores()
    if client_core is not None:
        os.sched_setaffinity(0, {client_core})
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        with running_server_pinned(url, Path(tmp), server_core) as (proc, base, origin):
            logins, keys = prepare(url, args.concurrency, origin)
            verify_s = argon2_bound(server_core, args.argon2_repeats)
            bound = 1 / verify_s
            plan = [logins[i % len(logins)] for i in range(args.logins)]
            in_proc = in_process_logins(url, plan, server_core)
            pw_rate, pw_cpu, pw_err = asyncio.run(http_phase(
                base, args.logins, args.concurrency, proc.pid, password_step(logins)))
            pk_rate, pk_cpu, pk_err = asyncio.run(http_phase(
                base, args.ceremonies, args.concurrency, proc.pid, passkey_step(keys, origin)))
    print(f"argon2id verify (t=2, m=19 MiB, p=1), one core: {verify_s * 1000:.2f} ms "
          f"→ bound {bound:.1f} logins/s")
    print(f"password logins in process, one core: {in_proc:.1f}/s = {in_proc / bound:.0%} "
          f"of the bound (goal ≥ 80 %: {'met' if in_proc >= 0.8 * bound else 'NOT met'})")
    print(f"password logins via HTTP, one worker on one core, C={args.concurrency}: "
          f"{pw_rate:.1f}/s = {pw_rate / bound:.0%} of the bound, server CPU {pw_cpu:.2f} ms "
          f"each, errors {pw_err}")
    print(f"passkey login ceremonies via HTTP, one worker on one core, C={args.concurrency}: "
          f"{pk_rate:,.0f}/s, server CPU {pk_cpu:.2f} ms each, errors {pk_err} "
          f"(goal ≥ 400/s: {'met' if pk_rate >= 400 else 'NOT met'})")
    return 0 if pw_err == pk_err == 0 else 1


@contextlib.contextmanager
def running_server_pinned(url: str, log_dir: Path,
                          core: int) -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """One ``kabuguard serve`` worker on the baseline policy, pinned to ``core``; its
    WebAuthn origin is http://localhost:<port> (the default for its host and port)."""
    with running_server(url, log_dir, workers=1,
                        extra_env={"KABUGUARD_POLICY": "baseline_2024"}) as (proc, base):
        pin(proc.pid, core)
        yield proc, base, f"http://{HOST}:{base.rsplit(':', 1)[1]}"


if __name__ == "__main__":
    raise SystemExit(main())
