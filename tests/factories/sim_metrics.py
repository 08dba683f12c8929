"""Hand-made metrics.json dicts in the shape kabuguard.sim.run writes (see the
"metrics.json of one configuration" contract), for the report tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

JST = timezone(timedelta(hours=9))
ATTACKS = ("realtime_phishing", "infostealer_session", "credential_stuffing", "sim_swap",
           "recovery_abuse", "bank_change_withdrawal", "low_and_slow")
POLICIES = ("baseline_2024", "email_otp_mandatory", "emoji_all_trades", "jsda_2025_mandatory",
            "jsda_2025_recommended")
# How much of the attackers' money each policy lets through (made up, decreasing).
LEAK = {"baseline_2024": 0.9, "email_otp_mandatory": 0.7, "emoji_all_trades": 0.35,
        "jsda_2025_mandatory": 0.1, "jsda_2025_recommended": 0.0}

MONTHS = [
    {"month": "2025-03", "accesses": 12, "trades": 7, "sell_jpy": 18_400_000, "buy_jpy": 17_950_000,
     "attempts": 40},
    {"month": "2025-04", "accesses": 31, "trades": 22, "sell_jpy": 51_230_000, "buy_jpy": 49_800_000,
     "attempts": 95},
    {"month": "2025-05", "accesses": 9, "trades": 4, "sell_jpy": 6_100_000, "buy_jpy": 5_870_000,
     "attempts": 28},
]


def price_points(start: float, days: int = 4, pump_day: int = 2, peak: float = 2.6) -> list[list]:
    """Five-minute prices 09:00-15:00 JST over ``days`` trading days, pumped on ``pump_day``."""
    points = []
    for day in range(days):
        opening = datetime(2025, 4, 7 + day, 9, 0, tzinfo=JST)
        for step in range(73):
            price = start * (1 + 0.002 * ((step * 7 + day * 3) % 11 - 5))
            if day == pump_day:
                rise = min(step, 24) / 24 * (peak - 1) - max(step - 30, 0) / 43 * (peak - 1) * 0.8
                price *= 1 + rise
            elif day > pump_day:
                price *= 1.15
            points.append([(opening + timedelta(minutes=5 * step)).isoformat(), round(price, 1)])
    return points


def one_config(policy: str = "jsda_2025_mandatory", risk: bool = True, *, name: str | None = None) -> dict:
    leak = LEAK.get(policy, 0.5) * (0.5 if risk else 1.0)
    by_attack = {}
    for i, kind in enumerate(ATTACKS):
        victims = 10 + 3 * i
        attempted = 4_000_000 * (i + 1)
        lost = round(attempted * leak)
        traded = round(victims * leak)
        by_attack[kind] = {
            "victims": victims, "attempts": victims * 2, "logins_succeeded": round(victims * (leak + 0.1)),
            "accounts_with_fraud_trades": traded, "orders_executed": traded * 3,
            "money_attempted_jpy": attempted, "money_lost_jpy": lost,
            "stopped_share": 1 - lost / attempted,
        }
    challenges = {"baseline_2024": 0, "email_otp_mandatory": 900, "emoji_all_trades": 2600,
                  "jsda_2025_mandatory": 1100, "jsda_2025_recommended": 3100}.get(policy, 500)
    challenges += 120 if risk else 0
    holds = 35 if risk else 0
    frozen = 3 if risk else 0
    money_fraud = sum(a["money_attempted_jpy"] for a in by_attack.values())
    money_lost = sum(a["money_lost_jpy"] for a in by_attack.values())
    return {
        "config": {"name": name or (f"{policy}+risk" if risk else policy), "policy": policy, "risk": risk},
        "run": {"customers": 20_000, "days": 90, "seed": 7, "scenario": "default", "start": "2025-03-01",
                "events": 1_234_567, "seconds": 42.5},
        "monthly": [dict(m, accesses=round(m["accesses"] * (leak + 0.2)), trades=round(m["trades"] * leak),
                         sell_jpy=round(m["sell_jpy"] * leak), buy_jpy=round(m["buy_jpy"] * leak))
                    for m in MONTHS],
        "by_attack": by_attack,
        "friction": {"legit_sessions": 180_000, "challenges": challenges,
                     "challenges_per_1000_sessions": challenges / 180,
                     "holds_denials": holds, "holds_denials_per_1000": holds / 42,
                     "abandoned": challenges // 40, "frozen_legit_accounts": frozen,
                     "customers_blocked": frozen},
        "profit": {"attacker_profit_jpy": round(30_000_000 * leak), "beneficiary_sells_jpy": 95_000_000,
                   "beneficiary_buys_jpy": 95_000_000 - round(30_000_000 * leak)},
        "prices": {
            "3350": {"name": "メタプラネット", "points": price_points(312)},
            "600519": {"name": "Kweichow <Moutai>", "currency": "CNY",
                       "points": price_points(8.25, peak=1.8)},
        },
        "evaluation": {
            "overall": {"fraud_events": 900, "stopped_events": round(900 * (1 - leak)),
                        "money_fraud_jpy": money_fraud, "money_stopped_jpy": money_fraud - money_lost,
                        "money_stopped_share": 1 - money_lost / money_fraud, "compromised_accounts": 120,
                        "accounts_stopped_before_first_order": round(120 * (1 - leak)),
                        "accounts_stopped_before_first_order_share": 1 - leak},
            "by_attack": {kind: {"fraud_events": 100, "stopped_events": round(100 * (1 - leak)),
                                 "money_fraud_jpy": a["money_attempted_jpy"],
                                 "money_stopped_jpy": a["money_attempted_jpy"] - a["money_lost_jpy"],
                                 "money_stopped_share": a["stopped_share"], "compromised_accounts": 10,
                                 "accounts_stopped_before_first_order": 5,
                                 "accounts_stopped_before_first_order_share": 0.5}
                          for kind, a in by_attack.items()},
            "friction": {"legit_sessions": 180_000, "challenges": challenges,
                         "challenges_per_1000_sessions": challenges / 180,
                         "legit_orders_withdrawals": 42_000, "holds_denials": holds,
                         "holds_denials_per_1000": holds / 42, "legit_accounts": 19_880,
                         "legit_accounts_frozen": frozen, "frozen_per_10000_accounts": frozen / 1.988,
                         "legit_stopped_by_unpassable_challenge": 4},
        },
    }


def compare(policies: tuple[str, ...] = POLICIES) -> dict:
    configs = [one_config(policy, risk) for policy in policies for risk in (False, True)]
    return {"run": configs[0]["run"], "configs": configs}
