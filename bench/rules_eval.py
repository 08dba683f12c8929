"""Time ``RuleSet.evaluate`` per event with the shipped rules (goal: <= 5 µs/event).

    .venv/bin/python bench/rules_eval.py                  # 500,000 evaluations
    .venv/bin/python bench/rules_eval.py --events 100000 --rules my_rules.yaml

The features objects are slotted, as the engine's are, and follow a mix of what a
brokerage sees: mostly ordinary orders and logins, a few withdrawals and account changes,
and about 5% suspicious events (risky logins, selling everything, pumped symbols). The
objects are built before timing, so the figure is the rules alone. simpleeval's own
interpreter (``evaluate_reference``) is timed on a sample for comparison. Prints only.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter

from kabuguard.risk.rules import FEATURES, load_rules, neutral_features, packaged_rules
from provenance import code_version, command, machine

Features = type("Features", (), {"__slots__": tuple(FEATURES)})


def slotted(**overrides: object) -> object:
    f = Features()
    for name, value in vars(neutral_features(**overrides)).items():
        setattr(f, name, value)
    return f


def ordinary_order(rng: random.Random) -> dict:
    side = rng.choice(("buy", "sell"))
    adv = rng.choice((5e9, 2e10, 8e10, 3e8))
    notional = rng.choice((1e5, 3e5, 8e5, 2e6))
    return dict(type="order", channel=rng.choice(("web", "app")), account_known=True,
                account_age_days=rng.uniform(30, 4000), side=side, symbol="7203",
                market="TSE_PRIME", adv_jpy=adv, notional_jpy=notional,
                notional_adv=notional / adv, notional_vs_history=rng.uniform(0.1, 2.0),
                sell_share_of_holding=rng.random() if side == "sell" else 0.0,
                sold_share_24h=rng.uniform(0, 0.3) if side == "sell" else 0.0,
                session_level=rng.choice((1, 2, 3)), login_risk=rng.uniform(0, 1.2),
                mins_since_login=rng.uniform(0, 120), ip_country="JP", ip_kind="residential")


def event(rng: random.Random) -> dict:
    roll = rng.random()
    if roll < 0.60:
        return ordinary_order(rng)
    if roll < 0.80:
        risk = rng.uniform(0, 1.5)
        return dict(type="login", account_known=True, login_risk=risk, ip_country="JP",
                    new_device=rng.random() < 0.05, ip_failures=rng.randrange(3))
    if roll < 0.88:
        return dict(type=rng.choice(("withdrawal", "deposit")), account_known=True,
                    amount_jpy=rng.choice((5e4, 2e5, 1e6)), withdraw_share=rng.uniform(0, 0.5),
                    session_level=2, mins_since_login=rng.uniform(0, 30))
    if roll < 0.95:
        return dict(type=rng.choice(("logout", "contact_change", "password_change", "mfa_change")),
                    account_known=True, session_level=2, mfa_change="enroll", mfa_method="passkey")
    return rng.choice((
        dict(type="login", login_risk=rng.uniform(2, 5), new_device=True, new_country=True),
        dict(ordinary_order(rng), side="sell", sold_share_24h=0.95, mins_since_risky_login=12.0),
        dict(ordinary_order(rng), side="buy", illiquid=True, never_bought_illiquid=True,
             adv_jpy=5e7, notional_adv=0.2, symbol_pump_score=0.9, new_device=True),
        dict(type="withdrawal", mins_since_bank_change=30.0, withdraw_share=1.0, amount_jpy=3e6),
        dict(ordinary_order(rng), session_device_changed=True),
    ))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=500_000, help="evaluations timed")
    parser.add_argument("--distinct", type=int, default=20_000, help="distinct feature objects")
    parser.add_argument("--rules", help="a rules file (default: the shipped one)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rules = load_rules(args.rules) if args.rules else packaged_rules()
    rng = random.Random(args.seed)
    objects = [slotted(**event(rng)) for _ in range(args.distinct)]
    stream = (objects * (args.events // len(objects) + 1))[:args.events]

    evaluate = rules.evaluate
    for f in objects:  # warm-up: let the interpreter specialise the attribute reads
        evaluate(f)
    best = float("inf")
    for _ in range(3):  # best of three: the machine is shared
        start = time.perf_counter()
        for f in stream:
            evaluate(f)
        best = min(best, time.perf_counter() - start)
    fired = Counter(hit.code for f in objects for hit in evaluate(f))
    with_hits = sum(1 for f in objects if evaluate(f))

    sample = objects[:2_000]
    start = time.perf_counter()
    for f in sample:
        rules.evaluate_reference(f)
    reference_us = (time.perf_counter() - start) / len(sample) * 1e6

    sys.stdout.write(
        f"{code_version()} | {command()} | {machine()}\n"
        f"rules: {len(rules.rules)} ({rules.source}, sha256 {rules.digest[:12]})\n"
        f"evaluate(): {best / len(stream) * 1e6:.2f} µs/event over {len(stream):,} events "
        f"(best of 3; goal <= 5 µs)\n"
        f"simpleeval reference: {reference_us:.1f} µs/event over {len(sample):,} events\n"
        f"events with a hit: {with_hits / len(objects):.1%}; top codes: "
        f"{', '.join(f'{c} {n}' for c, n in fired.most_common(6))}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
