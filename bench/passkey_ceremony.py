"""Passkey login ceremonies per second per core, in process: challenge creation
(options), verification, credential look-up and session creation with its login
record, event and audit entry, on a fresh SQLite database.

    .venv/bin/python bench/passkey_ceremony.py [--ceremonies N]

The authenticator's own signing (the browser's side) is excluded from the timing.
Goal (issue 3): at least 2,000 ceremonies per second per core.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from factories.customers import FAST_PASSWORDS, PASSWORD, make_customer
from factories.soft_authenticator import SoftAuthenticator
from kabuguard.container import build_services
from kabuguard.domain.events import RequestContext
from kabuguard.settings import load_settings
from kabuguard.store.migrate import upgrade

ORIGIN = "http://localhost:8000"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ceremonies", type=int, default=2000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade(url)
        settings = load_settings(database_url=url, webauthn_origins=[ORIGIN])
        services = build_services(settings, passwords=FAST_PASSWORDS)
        ctx = RequestContext(ip="127.0.0.1")
        key = SoftAuthenticator()
        make_customer(services, login_id="bench")
        login = services.identity.login_password(login_id="bench", password=PASSWORD,
                                                 context=ctx)
        info = services.identity.resolve_session(login.token)
        opts = services.passkeys.registration_begin(info, login.token)
        services.passkeys.registration_finish(
            info, login.token, challenge_id=opts["challenge_id"],
            credential=key.create(opts["publicKey"], origin=ORIGIN), name="bench", context=ctx)
        server_s = 0.0
        cpu0 = time.process_time()
        signing_cpu = 0.0
        for _ in range(args.ceremonies):
            t0 = time.perf_counter()
            opts = services.passkeys.login_begin()
            t1 = time.perf_counter()
            s0 = time.process_time()
            assertion = key.get(opts["publicKey"], origin=ORIGIN)
            signing_cpu += time.process_time() - s0
            t2 = time.perf_counter()
            services.passkeys.login_finish(challenge_id=opts["challenge_id"],
                                           credential=assertion, context=ctx)
            server_s += (t1 - t0) + (time.perf_counter() - t2)
        cpu = time.process_time() - cpu0 - signing_cpu
        services.close()
    n = args.ceremonies
    print(f"passkey login ceremonies (options + verify + look-up + session), SQLite, one core: "
          f"{n / server_s:,.0f}/s wall, {n / cpu:,.0f}/s CPU "
          f"({server_s / n * 1000:.2f} ms wall, {cpu / n * 1000:.2f} ms CPU per ceremony); "
          f"goal ≥ 2,000/s: {'met' if n / server_s >= 2000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
