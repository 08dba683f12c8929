"""What online scoring costs the server: CPU per API order and per API login with the
risk engine on (``KABUGUARD_RISK=on``: the guard asks the shared engine before the
action, the committed event is fed to the decision log after it) and off, in process.

Each configuration gets its own SQLite database (temp dir) and app, the same customers
and the same requests, sent through the ASGI app by Starlette's TestClient (no
network). The figure is process CPU time (every thread: the app's and the client's) per
request, best of ``--repeat`` rounds; the client's share is the same in both, so the
difference is the engine's. Also printed: the engine's own parts timed alone (the
read-only ``assess`` of an order, the log write of one app event).

    .venv/bin/python bench/online_risk.py [--orders N] [--logins N] [--repeat R]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from kabuguard.broker.interfaces import BankDetails
from kabuguard.container import Services, build_services
from kabuguard.identity.passwords import PasswordService
from kabuguard.settings import load_settings
from kabuguard.store.migrate import upgrade
from kabuguard.web.app import create_app

PASSWORD = "bench-password-2025"
SYMBOLS = ("7203", "6758", "8306", "9984")


def fast_passwords() -> PasswordService:
    # argon2id's cost is the login's floor either way; a cheap one shows the rest.
    from argon2 import PasswordHasher  # noqa: PLC0415 - bench only

    return PasswordService(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def setup(folder: Path, *, risk: bool, customers: int) -> tuple[Services, TestClient]:
    url = f"sqlite:///{folder / ('on.db' if risk else 'off.db')}"
    upgrade(url)
    settings = load_settings(database_url=url, market_hours="always_open", risk=risk)
    services = build_services(settings, passwords=fast_passwords())
    with services.db.write() as session:
        for i in range(customers):
            cid = f"{3_000_001 + i}"
            services.identity.create_customer(
                session, customer_id=cid, login_id=f"bench{i}", password=PASSWORD,
                name="Bench", email=f"b{i}@example.jp", phone=None)
            session.flush()
            services.broker.open_account(session, account_id=cid, cash_yen=10**11,
                                         bank=BankDetails("テスト銀行", "001", "1234567", "テスト"))
    app = create_app(settings, services=services, background_interval_seconds=None)
    return services, TestClient(app, base_url="https://testserver", client=("192.0.2.10", 5))


def cpu_ms(fn: Callable[[int], None], start_i: int, n: int) -> float:
    start = time.process_time()
    for i in range(start_i, start_i + n):
        fn(i)
    return (time.process_time() - start) / n * 1000.0


class Config:
    """One app (engine on or off), its customers logged in once, and its two calls."""

    def __init__(self, folder: Path, *, risk: bool) -> None:
        self.services, self.client = setup(folder, risk=risk, customers=8)
        self.client.__enter__()  # the app's start: the decision log is loaded
        self.tokens = [self.login(i, keep=True) for i in range(8)]

    def login(self, i: int, *, keep: bool = False) -> str:
        r = self.client.post("/api/v1/sessions",
                             json={"login_id": f"bench{i % 8}", "password": PASSWORD},
                             headers={"X-Device-Id": f"dev-{i % 8}"})
        assert r.status_code == 201, r.text
        return r.json()["token"] if keep else ""

    def order(self, i: int) -> None:
        r = self.client.post(
            "/api/v1/orders", json={"symbol": SYMBOLS[i % 4], "side": "buy", "quantity": 100},
            headers={"Authorization": f"Bearer {self.tokens[i % 8]}",
                     "X-Device-Id": f"dev-{i % 8}"})
        assert r.status_code == 201, r.text

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.services.close()


def parts(services: Services, client: TestClient, n: int) -> tuple[float, float]:
    """The engine's parts alone: assess of an order, the log write of one app event."""
    log = client.app.state.decision_api.log
    latest = log.latest_decisions(limit=1)
    assert latest, "no app event was decided"
    with services.db.read() as session:
        from sqlalchemy import select  # noqa: PLC0415 - bench only

        from kabuguard.risk.models import RiskEvent  # noqa: PLC0415

        row = session.scalars(select(RiskEvent).where(RiskEvent.type == "order")
                              .order_by(RiskEvent.seq.desc()).limit(1)).one()
    import orjson  # noqa: PLC0415 - bench only

    event = orjson.loads(row.event_json)
    from datetime import datetime  # noqa: PLC0415

    event["_ts"] = datetime.fromisoformat(event["ts"]).timestamp()
    start = time.process_time()
    for _ in range(n):
        log.assess(event)
    assess_ms = (time.process_time() - start) / n * 1000
    base = dict(event)
    base.pop("_ts")
    start = time.process_time()
    for i in range(n // 10):
        log.record_app_events([{**base, "id": f"bench-{i}"}])
    write_ms = (time.process_time() - start) / (n // 10) * 1000
    return assess_ms, write_ms


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=1000)
    p.add_argument("--logins", type=int, default=300)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        configs = {"off": Config(folder, risk=False), "on": Config(folder, risk=True)}
        best: dict[tuple[str, str], float] = {}
        # Rounds alternate between the two, so that the machine's other load weighs
        # on both alike; the best round of each is kept.
        for r in range(args.repeat):
            for name, cfg in configs.items():
                for kind, fn, n in (("order", cfg.order, args.orders),
                                    ("login", cfg.login, args.logins)):
                    ms = cpu_ms(fn, r * n, n)
                    best[name, kind] = min(best.get((name, kind), ms), ms)
        on = configs["on"]
        assess_ms, write_ms = parts(on.services, on.client, 2000)
        for cfg in configs.values():
            cfg.close()
    for kind in ("order", "login"):
        off_ms, on_ms = best["off", kind], best["on", kind]
        print(f"CPU ms per API {kind}: engine off {off_ms:.2f}, on {on_ms:.2f} "
              f"({on_ms - off_ms:+.2f})")
    print(f"parts: assess of an order {assess_ms * 1000:.0f} µs; "
          f"log write of one app event {write_ms:.2f} ms")


if __name__ == "__main__":
    main()
