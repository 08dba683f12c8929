"""The decision API driven by a simulator stream gives the decisions ``kabuguard
replay`` gives the same stream (the engine on, no account history on either side)."""

from __future__ import annotations

from datetime import date

import orjson

from factories.apps import app_with_policy
from kabuguard.guard.policy import load_policy
from kabuguard.risk.replay import DECISIONS_FILE, replay
from kabuguard.risk.stream import iter_events
from kabuguard.sim.run import run_simulation
from kabuguard.sim.scenario import load_scenario

POLICY = "email_otp_mandatory"


def test_a_simulated_stream_over_http_decides_as_replay(database_url, clock, tmp_path):
    sim = tmp_path / "sim"
    run_simulation(customers=400, days=2, seed=9, policy=load_policy(POLICY), risk=True,
                   out=sim, scenario=load_scenario(None), start=date(2025, 4, 14), workers=0)
    # The app knows the simulator's address table, as a firm's engine knows its own.
    with app_with_policy(database_url, clock, tmp_path, POLICY, risk=True,
                         ip_ranges=sim / "ip_ranges.csv") as (_s, client):
        _info, key = client.app.state.decision_api.keys.create(
            name="gateway", scopes=(), created_by="test")
        headers = {"Authorization": f"Bearer {key}"}
        events = [{k: v for k, v in e.items() if k != "_ts"}
                  for e in iter_events(sim / "events.jsonl")]
        got: list[dict] = []
        for start in range(0, len(events), 250):
            answer = client.post("/api/v1/events", json={"events": events[start:start + 250]},
                                 headers=headers)
            assert answer.status_code == 200, answer.text
            got += answer.json()["decisions"]
    replay(symbols=sim / "symbols.jsonl", accounts=None, events=sim / "events.jsonl",
           out=tmp_path / "replayed", policy=load_policy(POLICY))
    expected = [orjson.loads(line) for line in
                (tmp_path / "replayed" / DECISIONS_FILE).read_bytes().splitlines()]
    assert len(got) == len(expected) > 500
    assert got == expected
    assert {d["decision"] for d in got} - {"allow"}
