"""Event file I/O: events per second read and validated by ``iter_events``, written by
``JsonlWriter``, and counted by ``evaluate``.

    .venv/bin/python bench/stream_io.py [--events 200000] [--seed 1] [--repeat 3]

A synthetic ``events.jsonl`` with a typical mix (half orders, a quarter logins, the rest
logouts, deposits, withdrawals and changes; enrichment fields on most lines) is written
to a temporary directory first; each figure is events over the CPU seconds of this
process (the machine is shared, so wall time says more about the neighbours), the best
of ``--repeat`` runs. Prints only (nothing is recorded). Single process, one core.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kabuguard.risk.evaluate import evaluate
from kabuguard.risk.stream import JsonlWriter, iter_events
from provenance import code_version, command, machine

MIX = [("order", 50), ("login", 25), ("logout", 12), ("deposit", 5), ("withdrawal", 3),
       ("bank_account_change", 1), ("contact_change", 1), ("password_change", 1),
       ("mfa_change", 1), ("customer_report", 1)]
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0"


def make_events(n: int, seed: int) -> tuple[list[dict], dict[str, dict], dict[str, dict]]:
    rng = random.Random(seed)
    kinds = [k for k, w in MIX for _ in range(w)]
    start = datetime(2025, 4, 1, tzinfo=UTC)
    events, labels, decisions = [], {}, {}
    for i in range(n):
        kind = rng.choice(kinds)
        account = f"A{rng.randrange(10_000):06d}"
        ts = start + timedelta(milliseconds=i * 137)
        event = {"id": f"e{i:09d}", "ts": ts.isoformat(timespec="milliseconds"), "type": kind,
                 "account": account, "session": f"s{rng.randrange(n // 4 + 1)}",
                 "channel": "web", "ip": f"198.51.100.{rng.randrange(256)}",
                 "device": f"dev-{rng.randrange(20_000):08x}", "user_agent": UA,
                 "ip_country": "JP", "ip_asn": 2516, "ip_kind": "residential"}
        if kind == "login":
            event |= {"login_id": f"u{account}", "outcome": "success",
                      "methods": ["password", "email_otp"]}
        elif kind == "order":
            qty = rng.choice((100, 200, 500))
            event |= {"order_id": f"o{i}", "symbol": rng.choice(("7203", "6758", "9984")),
                      "side": rng.choice(("buy", "sell")), "quantity": qty,
                      "order_type": "market", "limit_price": None, "notional_jpy": qty * 2_500}
        elif kind in ("withdrawal", "deposit"):
            event["amount_jpy"] = rng.randrange(1, 1_000_000)
            if kind == "withdrawal":
                event["bank_account"] = "bank_0123456789abcdef"
        elif kind == "bank_account_change":
            event["bank_account"] = "bank_fedcba9876543210"
        elif kind == "contact_change":
            event["field"] = "email"
        elif kind == "mfa_change":
            event |= {"change": "enroll", "method": "passkey"}
        elif kind == "customer_report":
            event["report"] = "not_me"
        events.append(event)
        fraud = rng.random() < 0.01
        labels[event["id"]] = {"id": event["id"], "fraud": fraud, "campaign": None,
                               "attack": "realtime_phishing" if fraud else None,
                               "can_pass": ["otp"] if fraud else ["otp", "phishing_resistant"]}
        roll = rng.random()
        decision = {"id": event["id"], "decision": "allow", "level": None, "score": roll,
                    "reasons": [], "actions": []}
        if roll < 0.02:
            decision |= {"decision": "challenge", "level": "phishing_resistant"}
        elif roll < 0.025:
            decision |= {"decision": "hold", "actions": [{"type": "freeze_account"}]}
        decisions[event["id"]] = decision
    return events, labels, decisions


def best_rate(n: int, repeat: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return n / best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    events, labels, decisions = make_events(args.events, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"

        def write() -> None:
            with JsonlWriter(path) as out:
                for event in events:
                    out.write(event)

        write_rate = best_rate(args.events, args.repeat, write)
        size = path.stat().st_size
        read_rate = best_rate(args.events, args.repeat,
                              lambda: sum(1 for _ in iter_events(path)))
        trusted_rate = best_rate(args.events, args.repeat,
                                 lambda: sum(1 for _ in iter_events(path, validate=False)))
        eval_rate = best_rate(args.events, args.repeat,
                              lambda: evaluate(iter(events), labels, decisions))
    print(f"{command()}  code {code_version()}  {machine()}")
    print(f"{args.events:,} events, {size / args.events:.0f} bytes a line")
    print(f"iter_events (parse + validate + ts + order + ids): {read_rate:,.0f} events/s")
    print(f"iter_events(validate=False):                       {trusted_rate:,.0f} events/s")
    print(f"JsonlWriter.write:                                 {write_rate:,.0f} events/s")
    print(f"evaluate (labels and decisions in memory):         {eval_rate:,.0f} events/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
