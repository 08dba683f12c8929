"""The demo's live traffic: a simulation's events sent, paced, to a served app's
decision API over loopback HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from factories.apps import app_with_policy
from factories.live_server import free_port, serving
from kabuguard.guard.policy import load_policy
from kabuguard.risk.models import RiskEvent
from kabuguard.risk.stream import iter_events
from kabuguard.sim.live import Feeder, FeedError, paced, require_loopback
from kabuguard.sim.run import run_simulation
from kabuguard.sim.scenario import load_scenario


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("live-sim")
    run_simulation(customers=150, days=1, seed=2, policy=load_policy("email_otp_mandatory"),
                   risk=False, out=out, scenario=load_scenario(None), start=date(2025, 7, 1),
                   workers=0)
    return out / "events.jsonl"


def _stored(client) -> int:
    with client.app.state.services.db.read() as session:
        return session.scalar(select(func.count()).select_from(RiskEvent))


def test_every_event_reaches_the_app_and_a_second_pass_is_new_to_it(database_url, clock,
                                                                     tmp_path, stream):
    events = list(iter_events(stream))
    with app_with_policy(database_url, clock, tmp_path, "email_otp_mandatory") as (_s, client):
        _info, key = client.app.state.decision_api.keys.create(
            name="demo-traffic", scopes=("events:write",), created_by="test")
        with serving(client.app, free_port()) as url:
            feeder = Feeder(url, key, speedup=1e9)
            feeder.run(iter(events), prefix="p0-")
            assert feeder.stats.sent == len(events) == _stored(client)
            assert sum(feeder.stats.decisions.values()) == len(events)
            feeder.run(iter(events), prefix="p1-")
            assert _stored(client) == 2 * len(events)


def test_a_bad_key_stops_the_feed_with_the_apis_answer(database_url, clock, tmp_path, stream):
    with (app_with_policy(database_url, clock, tmp_path, "email_otp_mandatory") as (_s, client),
          serving(client.app, free_port()) as url):
        with pytest.raises(FeedError, match="401"):
            Feeder(url, "kg_nope_nope", speedup=1e9).run(iter_events(stream), prefix="x-")
        assert _stored(client) == 0


def test_the_feed_talks_to_this_machine_only() -> None:
    for url in ("http://localhost:8000", "http://127.0.0.1:8000", "http://127.0.0.9:1",
                "http://[::1]:8000"):
        assert require_loopback(url) == url
    for url in ("http://example.com", "http://10.0.0.1:8000", "http://192.0.2.1"):
        with pytest.raises(ValueError, match="only talks to this machine"):
            Feeder(url, "k")


def test_pacing_divides_the_gaps_and_renames_ids_per_pass() -> None:
    t0 = datetime(2025, 7, 1, tzinfo=UTC)
    events = [{"id": f"e{i}", "ts": (t0 + timedelta(minutes=10 * i)).isoformat(),
               "session": "s1", "order_id": None, "_ts": 1.0} for i in range(3)]
    out = list(paced(events, speedup=600, prefix="r2-"))
    assert [round(offset, 6) for offset, _e in out] == [0.0, 1.0, 2.0]
    assert [e["id"] for _o, e in out] == ["r2-e0", "r2-e1", "r2-e2"]
    assert all(e["session"] == "r2-s1" and "_ts" not in e and e["order_id"] is None
               for _o, e in out)
