"""The FSA figures computed from a simulator's files (events, labels, decisions) equal
what the simulator counted as it ran the attacks (metrics.json ``monthly``): two
independent countings of the same definitions, with and without the risk engine."""

from __future__ import annotations

from datetime import date

import pytest

from kabuguard.guard.policy import load_policy
from kabuguard.ops.fraud import FraudSet, went_through
from kabuguard.ops.fsa_stats import monthly_figures
from kabuguard.risk.stream import iter_events, read_decisions, read_labels
from kabuguard.sim.run import run_simulation
from kabuguard.sim.scenario import load_scenario, with_attack_rate


@pytest.mark.parametrize(("policy", "risk"), [("baseline_2024", True), ("email_otp_mandatory", False),
                                              ("baseline_2024", False)])
def test_figures_from_the_files_equal_the_simulators_own(tmp_path, policy, risk):
    # Far denser attacks than 2025's, so that 600 customers over 12 days show some.
    scenario = with_attack_rate(load_scenario(None), 2000.0)
    metrics = run_simulation(customers=600, days=12, seed=5, policy=load_policy(policy), risk=risk,
                             out=tmp_path, scenario=scenario, start=date(2025, 4, 25))
    events = list(iter_events(tmp_path / "events.jsonl"))
    labels = read_labels(tmp_path / "labels.jsonl")
    through = went_through(events, read_decisions(tmp_path / "decisions.jsonl"), labels=labels)
    figures = monthly_figures(events, FraudSet.from_labels(labels), through=through)
    got = [{"month": f.month, "accesses": f.accesses, "trades": f.trades, "sell_jpy": f.sell_jpy,
            "buy_jpy": f.buy_jpy} for f in figures]
    want = [{k: v for k, v in m.items() if k != "attempts"} for m in metrics["monthly"]
            if m["accesses"] or m["trades"]]
    assert want and got == want
