"""The risk engine against issue 5's detection goals, measured by ``kabuguard evaluate``'s
counting rules on a simulator stream.

Goal (issue 5): under ``email_otp_mandatory``, 20,000 accounts over 14 days with the
2025 attack mix, after the June-2025 mandate (every customer has an OTP method, some a
passkey): money stopped >= 95%; compromised accounts stopped before their first
fraudulent order >= 90%; holds and denials <= 2 per 1,000 legitimate orders and
withdrawals; challenges <= 30 per 1,000 legitimate sessions; at most 1 in 10,000
legitimate accounts frozen.

The shipped scenario's attack rate (0.37 compromised accounts per 10,000 a month, the
2025 national rate) gives a 20,000-account fortnight about one victim: too few to
measure. ``--rate`` raises it (default 300 a month per 10,000) with the same mix.

    .venv/bin/python bench/risk_evaluate.py [--customers 20000] [--days 14] [--seed 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kabuguard.guard.policy import load_policy
from kabuguard.sim.run import run_simulation
from kabuguard.sim.scenario import load_scenario, with_attack_rate
from provenance import code_version, command, machine

# The crews' own accounts (they pre-buy the target and sell into the pump) are not
# customers' accounts: shown apart, as the customers' losses are what the goal is about.
CREW_ATTACKS = {"beneficiary"}


def _scenario(rate: float):
    return with_attack_rate(load_scenario(None), rate)


def _share(num: float, den: float) -> str:
    return "n/a" if not den else f"{num / den:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--policy", default="email_otp_mandatory")
    parser.add_argument("--start", default="2025-07-01")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        metrics = run_simulation(customers=args.customers, days=args.days, seed=args.seed,
                                 policy=load_policy(args.policy), risk=True, out=Path(tmp),
                                 scenario=_scenario(args.rate),
                                 start=date.fromisoformat(args.start))
        seconds = time.perf_counter() - t0
    ev = metrics["evaluation"]
    overall, friction, by_attack = ev["overall"], ev["friction"], ev["by_attack"]
    customers = [v for k, v in by_attack.items() if k not in CREW_ATTACKS]
    money = sum(v["money_fraud_jpy"] for v in customers)
    stopped = sum(v["money_stopped_jpy"] for v in customers)
    accounts = sum(v["compromised_accounts"] for v in customers)
    before = sum(v["accounts_stopped_before_first_order"] for v in customers)
    print(f"code {code_version()} | {machine()}")
    print(f"command: {command()}")
    print(f"{args.customers:,} customers x {args.days} days from {args.start}, seed {args.seed}, "
          f"rate {args.rate}/10k/month, policy {args.policy}+risk: "
          f"{metrics['run']['events']:,} events in {seconds:.0f} s")
    print("| measure | goal | all fraud | customers' accounts (without the crews' own) |")
    print("| --- | --- | --- | --- |")
    print(f"| money stopped | >= 95% | {_share(overall['money_stopped_jpy'], overall['money_fraud_jpy'])}"
          f" of ¥{overall['money_fraud_jpy']:,} | {_share(stopped, money)} of ¥{money:,} |")
    print(f"| stopped before first fraudulent order | >= 90% | "
          f"{overall['accounts_stopped_before_first_order']}/{overall['compromised_accounts']} "
          f"({_share(overall['accounts_stopped_before_first_order'], overall['compromised_accounts'])})"
          f" | {before}/{accounts} ({_share(before, accounts)}) |")
    print(f"| holds+denials per 1,000 legit orders+withdrawals | <= 2 | "
          f"{friction['holds_denials_per_1000']:.2f} ({friction['holds_denials']} of "
          f"{friction['legit_orders_withdrawals']:,}) | |")
    print(f"| challenges per 1,000 legit sessions | <= 30 | "
          f"{friction['challenges_per_1000_sessions']:.2f} ({friction['challenges']} of "
          f"{friction['legit_sessions']:,}) | |")
    print(f"| legit accounts frozen per 10,000 | <= 1 | {friction['frozen_per_10000_accounts']:.2f}"
          f" ({friction['legit_accounts_frozen']}) | |")
    print("by attack: " + "; ".join(
        f"{k} {v['compromised_accounts']} accounts, "
        f"money {_share(v['money_stopped_jpy'], v['money_fraud_jpy'])}"
        for k, v in sorted(by_attack.items())))


if __name__ == "__main__":
    main()
