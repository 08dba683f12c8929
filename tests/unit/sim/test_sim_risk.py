"""The simulator with the risk engine: the streams it writes replay to the decisions the
closed loop made, and the engine cuts the money lost at a friction the metrics report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_sim_loop import START_2025, busy

from kabuguard.guard.policy import load_policy
from kabuguard.risk.replay import replay
from kabuguard.sim.run import run_simulation


def _run(out: Path, policy: str, *, risk: bool) -> dict:
    return run_simulation(customers=1500, days=4, seed=11, policy=load_policy(policy),
                          risk=risk, out=out, scenario=busy(), start=START_2025)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    out = {}
    for name, risk in (("email_otp_mandatory", False), ("email_otp_mandatory", True),
                       ("emoji_all_trades", False), ("emoji_all_trades", True)):
        key = name + ("+risk" if risk else "")
        path = tmp_path_factory.mktemp(key.replace("+", "_"))
        out[key] = (path, _run(path, name, risk=risk))
    return out


def test_the_written_streams_replay_to_the_closed_loops_decisions(runs, tmp_path):
    path, _metrics = runs["email_otp_mandatory+risk"]
    replay(symbols=path / "symbols.jsonl", accounts=path / "accounts.jsonl",
           events=path / "events.jsonl", out=tmp_path,
           policy=load_policy("email_otp_mandatory"))
    loop = (path / "decisions.jsonl").read_text(encoding="utf-8").splitlines()
    again = (tmp_path / "decisions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(loop) == len(again) > 1000
    assert [json.loads(x) for x in loop] == [json.loads(x) for x in again]


def test_the_risk_engine_cuts_money_lost_and_reports_its_friction(runs):
    _p, off = runs["email_otp_mandatory"]
    _p, on = runs["email_otp_mandatory+risk"]
    lost = lambda m: sum(a["money_lost_jpy"] for a in m["by_attack"].values())  # noqa: E731
    assert lost(off) > 0
    assert lost(on) < lost(off) / 2
    logins = lambda m: sum(a["logins_succeeded"] for a in m["by_attack"].values())  # noqa: E731
    assert logins(on) < logins(off)
    # Friction is reported, not hidden: the engine can only add challenges and holds.
    f_on, f_off = on["evaluation"]["friction"], off["evaluation"]["friction"]
    assert f_on["legit_sessions"] == f_off["legit_sessions"] > 0
    assert f_on["challenges"] >= f_off["challenges"]
    assert f_on["holds_denials"] >= f_off["holds_denials"]


def test_emoji_per_trade_is_relayed_but_the_engine_still_stops_the_relay(runs):
    """An emoji is an OTP: a real-time relay passes it (its orders carry the emoji and
    go through on policy alone); what stops relays under that policy is the engine
    asking for a passkey at their risky logins."""
    path, off = runs["emoji_all_trades"]
    _p, on = runs["emoji_all_trades+risk"]
    fraud = {}
    for line in (path / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        label = json.loads(line)
        if label["attack"] == "realtime_phishing":
            fraud[label["id"]] = label
    relayed_orders = [e for e in map(json.loads, (path / "events.jsonl").read_text().splitlines())
                      if e["id"] in fraud and e["type"] == "order" and "emoji" in e.get("methods", [])]
    assert relayed_orders
    assert off["by_attack"]["realtime_phishing"]["money_lost_jpy"] > 0
    assert (on["by_attack"]["realtime_phishing"]["money_lost_jpy"]
            < off["by_attack"]["realtime_phishing"]["money_lost_jpy"])
