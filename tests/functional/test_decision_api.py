"""The decision API through HTTP (issue 5): API keys, the same decisions as the stream
guard over the same events, retries, batches, refusals naming the field with nothing
stored, restarts rebuilding the state from the event log, and feedback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from factories.apps import app_with_policy
from factories.events import Stream
from kabuguard.risk.models import ApiKey, RiskEvent, RiskFeedback

POLICY = "email_otp_mandatory"  # otp at login; withdrawals need one within 5 minutes


@contextlib.contextmanager
def decision_app(database_url, clock, tmp_path, *,
                 risk: bool = False) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """An app on POLICY (the risk engine off unless asked), and the headers of a key
    with both scopes (a new key each time, so that restarts can reuse the database)."""
    with app_with_policy(database_url, clock, tmp_path, POLICY, risk=risk) as (_svc, client):
        _info, key = client.app.state.decision_api.keys.create(
            name="gateway", scopes=(), created_by="test")
        yield client, {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api(database_url, clock, tmp_path):
    with decision_app(database_url, clock, tmp_path) as pair:
        yield pair


def stored_count(client: TestClient, model=RiskEvent) -> int:
    with client.app.state.services.db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def mixed_stream() -> list[dict]:
    """Two customers: logins short of and at the policy, orders, a stale withdrawal
    (challenged), a logout, a customer report and what follows it."""
    s = Stream()
    away = {"ip": "203.0.113.99", "device": "d-new", "user_agent": "curl/8"}
    return [
        s.login(["password", "email_otp"]),
        s.order(),
        s.withdrawal(after=timedelta(minutes=10)),         # stale otp: challenge
        s.withdrawal(),                                     # carried on: passed
        s.login(["password"], account="A2", session="s2"),  # short of otp: challenge
        s.order(account="A2", session="s2"),
        s.ev("logout"),
        s.order(),                                          # no session any more
        s.report(account="A2"),
        s.order(account="A2", session="s2"),                # frozen
        s.login(["password", "email_otp"], account="A2", session="s3"),
        # A1 again, from a network and device never seen: the engine scores it.
        s.login(["password", "email_otp"], session="s4", after=timedelta(days=1), **away),
        s.ev("password_change", session="s4", **away),
    ]


# -- authentication --------------------------------------------------------------------


def test_without_a_key_the_answer_is_401_saying_how_to_send_one(api):
    client, _ = api
    r = client.post("/api/v1/events", json=Stream().login(["password"]))
    assert r.status_code == 401
    assert r.json()["error"] == "api_key_invalid"
    assert "Authorization: Bearer kg_" in r.json()["message"]
    assert r.headers["www-authenticate"] == "Bearer"
    assert stored_count(client) == 0


@pytest.mark.parametrize("header", [
    "Bearer kg_00000000_nottherightsecret",  # unknown prefix
    "Bearer sk_live_123",                    # not our format
    "Basic dXNlcjpwYXNz",
])
def test_a_wrong_key_is_401(api, header):
    client, _ = api
    r = client.post("/api/v1/events", json=Stream().login(["password"]),
                    headers={"Authorization": header})
    assert r.status_code == 401
    assert stored_count(client) == 0


def test_a_known_prefix_with_another_secret_is_401(api):
    client, headers = api
    prefix = headers["Authorization"].split("_")[1]
    r = client.post("/api/v1/events", json=Stream().login(["password"]),
                    headers={"Authorization": f"Bearer kg_{prefix}_{'A' * 43}"})
    assert (r.status_code, r.json()["message"]) == (401, "The API key is not valid.")


def test_a_revoked_key_is_refused_at_once(api):
    client, headers = api
    s = Stream()
    assert client.post("/api/v1/events", json=s.login(["password"]), headers=headers).status_code == 200
    keys = client.app.state.decision_api.keys
    prefix = headers["Authorization"].split("_")[1]
    keys.revoke(prefix, by="test")
    r = client.post("/api/v1/events", json=s.order(), headers=headers)
    assert r.status_code == 401
    assert "revoked" in r.json()["message"]
    assert stored_count(client) == 1


def test_each_route_needs_its_scope(api):
    client, _ = api
    keys = client.app.state.decision_api.keys
    _i, events_only = keys.create(name="events", scopes=["events:write"], created_by="t")
    _i, feedback_only = keys.create(name="fb", scopes=["feedback:write"], created_by="t")
    login = Stream().login(["password", "email_otp"])
    r = client.post("/api/v1/events", json=login,
                    headers={"Authorization": f"Bearer {feedback_only}"})
    assert (r.status_code, r.json()["error"]) == (403, "api_key_scope_missing")
    assert "events:write" in r.json()["message"]
    r = client.post("/api/v1/events", json=login, headers={"Authorization": f"Bearer {events_only}"})
    assert r.status_code == 200
    r = client.post("/api/v1/feedback", json={"event_id": login["id"], "kind": "analyst_legit"},
                    headers={"Authorization": f"Bearer {events_only}"})
    assert r.status_code == 403 and "feedback:write" in r.json()["message"]


def test_key_use_is_recorded_once_a_minute_and_the_key_never_stored(api):
    client, headers = api
    s = Stream()
    for _ in range(3):
        assert client.post("/api/v1/events", json=s.login(["password"]),
                           headers=headers).status_code == 200
    key = headers["Authorization"].removeprefix("Bearer ")
    with client.app.state.services.db.read() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.prefix == key.split("_")[1])).one()
        assert row.last_used_at is not None
        assert key not in (row.key_hash, row.prefix, row.name)
        stored = session.scalars(select(RiskEvent.api_key_id)).all()
    assert set(stored) == {row.id}


# -- decisions -------------------------------------------------------------------------


def test_a_stream_gets_the_decisions_the_stream_guard_gives_the_same_events(api):
    """The replay property: over HTTP, one at a time or in batches, the answers are
    what a fresh StreamGuard built the same way decides for the same stream."""
    client, headers = api
    assert client.app.state.decision_api.risk is False
    events = mixed_stream()
    guard = client.app.state.decision_api.log.make_guard()
    expected = [guard.decide(dict(e)) for e in events]
    got = [client.post("/api/v1/events", json=e, headers=headers).json() for e in events[:5]]
    r = client.post("/api/v1/events", json={"events": events[5:9]}, headers=headers)
    got += r.json()["decisions"]
    got += [client.post("/api/v1/events", json=e, headers=headers).json() for e in events[9:]]
    assert got == expected
    # The stream exercises what it should: challenges, a freeze and its denial.
    assert [d["decision"] for d in got].count("challenge") >= 2
    assert ["account_frozen"] in [d["reasons"] for d in got]
    assert client.app.state.decision_api.log.latest_decisions(limit=100)[::-1] == expected


def test_a_retried_event_gets_the_first_answer_and_is_decided_once(api):
    client, headers = api
    s = Stream()
    login = s.login(["password", "email_otp"])
    first = client.post("/api/v1/events", json=login, headers=headers)
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    again = client.post("/api/v1/events", json=login, headers=headers)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert stored_count(client) == 1
    # In a batch, the known event is answered from the log and the new one decided.
    order = s.order()
    r = client.post("/api/v1/events", json={"events": [login, order]}, headers=headers)
    assert r.json()["replayed"] == 1
    assert [d["id"] for d in r.json()["decisions"]] == [login["id"], order["id"]]
    assert "idempotent-replayed" not in r.headers
    assert stored_count(client) == 2


def test_a_known_id_with_other_content_is_409(api):
    client, headers = api
    s = Stream()
    order = s.order()
    client.post("/api/v1/events", json=s.login(["password", "email_otp"]), headers=headers)
    client.post("/api/v1/events", json=order, headers=headers)
    r = client.post("/api/v1/events", json={**order, "quantity": 5000}, headers=headers)
    assert (r.status_code, r.json()["error"], r.json()["field"]) == (409, "event_id_reused", "id")
    assert stored_count(client) == 2


def test_a_batch_is_decided_in_the_order_sent(api):
    client, headers = api
    s = Stream()
    login, report = s.login(["password", "email_otp"]), s.report()
    later_login = s.login(["password", "email_otp"], session="s9")
    r = client.post("/api/v1/events", json={"events": [login, report, later_login]},
                    headers=headers)
    assert r.status_code == 200
    decisions = r.json()["decisions"]
    assert [d["id"] for d in decisions] == [login["id"], report["id"], later_login["id"]]
    assert decisions[0]["decision"] == "allow"
    assert {"type": "freeze_account", "account": "A1"} in decisions[1]["actions"]
    assert (decisions[2]["decision"], decisions[2]["reasons"]) == ("deny", ["account_frozen"])


def test_with_the_risk_engine_the_api_and_a_fresh_guard_still_agree(database_url, clock,
                                                                    tmp_path):
    """The engine's state (login history, windows) comes along: same decisions over
    HTTP as in process, and again after a restart rebuilt from the log."""
    events = mixed_stream()
    with decision_app(database_url, clock, tmp_path, risk=True) as (client, headers):
        api = client.app.state.decision_api
        assert api.risk is True and api.log.guard.engine is not None
        guard = api.log.make_guard()
        expected = [guard.decide(dict(e)) for e in events]
        got = [client.post("/api/v1/events", json=e, headers=headers).json() for e in events[:6]]
    assert any(d["score"] for d in expected)  # the engine scored something
    with decision_app(database_url, clock, tmp_path, risk=True) as (client, headers):
        assert client.app.state.decision_api.log.load().differing == 0
        r = client.post("/api/v1/events", json={"events": events[6:]}, headers=headers)
        got += r.json()["decisions"]
    assert got == expected


# -- refusals --------------------------------------------------------------------------


def test_a_bad_field_is_422_naming_it(api):
    client, headers = api
    r = client.post("/api/v1/events", json=Stream().order(side="hold"), headers=headers)
    assert r.status_code == 422
    body = r.json()
    assert (body["error"], body["field"]) == ("invalid_input", "side")
    assert body["message"] == "field 'side' must be one of buy, sell (got 'hold')"
    assert stored_count(client) == 0


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"ts": "2026-05-11 09:00"}, "ts", "RFC 3339"),
    ({"ts": "2026-05-11T09:00:00"}, "ts", "offset"),
    ({"channel": "fax"}, "channel", "must be one of web, app"),
    ({"quantity": "100"}, "quantity", "must be an integer (got '100')"),
    ({"methods": ["password", "sms"]}, "methods[1]", "must be one of"),
    ({"id": "x" * 101}, "id", "at most 100"),
    ({"type": "trade"}, "type", "must be one of login"),
])
def test_each_kind_of_mistake_names_its_field(api, change, field, words):
    client, headers = api
    r = client.post("/api/v1/events", json={**Stream().order(), **change}, headers=headers)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert words in r.json()["message"]


def test_a_missing_field_is_named(api):
    client, headers = api
    order = Stream().order()
    del order["ip"], order["notional_jpy"]
    r = client.post("/api/v1/events", json=order, headers=headers)
    assert r.status_code == 422
    assert r.json()["field"] in ("ip", "notional_jpy")
    assert r.json()["message"].startswith("missing field")


def test_one_bad_event_refuses_the_whole_batch_and_stores_nothing(api):
    client, headers = api
    s = Stream()
    good = [s.login(["password", "email_otp"]), s.order()]
    bad = [s.order(side="hold"), {**s.order(), "id": good[1]["id"]}]
    r = client.post("/api/v1/events", json={"events": [*good, *bad]}, headers=headers)
    assert r.status_code == 422
    fields = [f["field"] for f in r.json()["fields"]]
    assert fields == ["events[2].side", "events[3].id"]
    assert "events[2]: field 'side' must be one of buy, sell" in r.json()["message"]
    assert "events[3].id 'e2' is also events[1].id" in r.json()["message"]
    assert stored_count(client) == 0
    # Nothing was decided either: the good events are new to a retry.
    r = client.post("/api/v1/events", json={"events": good}, headers=headers)
    assert r.json()["replayed"] == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"events": []}, "events"),
    ({"events": "e1"}, "events"),
    ([1, 2], ""),
])
def test_malformed_bodies_are_422(api, body, field):
    client, headers = api
    r = client.post("/api/v1/events", json=body, headers=headers)
    assert r.status_code == 422
    assert r.json()["field"] == field


def test_a_body_that_is_not_json_is_422(api):
    client, headers = api
    r = client.post("/api/v1/events", content=b"{not json", headers={
        **headers, "Content-Type": "application/json"})
    assert r.status_code == 422 and "not JSON" in r.json()["message"]


def test_a_batch_over_1000_is_refused(api):
    client, headers = api
    s = Stream()
    r = client.post("/api/v1/events", json={"events": [s.login(["password"], session=f"s{i}")
                                                       for i in range(1001)]}, headers=headers)
    assert r.status_code == 422 and r.json()["field"] == "events"
    assert stored_count(client) == 0


def test_events_may_arrive_a_little_out_of_order_but_not_more(api):
    client, headers = api
    s = Stream()
    assert client.post("/api/v1/events", json=s.login(["password", "email_otp"]),
                       headers=headers).status_code == 200
    # 4 minutes behind the latest event: inside the 5-minute tolerance.
    s.ts -= timedelta(minutes=4, seconds=1)
    assert client.post("/api/v1/events", json=s.order(), headers=headers).status_code == 200
    s.ts -= timedelta(minutes=2)
    r = client.post("/api/v1/events", json=s.order(), headers=headers)
    assert (r.status_code, r.json()["field"]) == (422, "ts")
    assert "out of order" in r.json()["message"]
    assert stored_count(client) == 2


# -- restart and feedback --------------------------------------------------------------


def test_a_new_app_over_the_same_database_rebuilds_the_state(database_url, clock, tmp_path):
    s = Stream()
    with decision_app(database_url, clock, tmp_path) as (client, headers):
        for event in (s.login(["password", "email_otp"]), s.report(),
                      s.login(["password", "email_otp"], account="A2", session="s2")):
            assert client.post("/api/v1/events", json=event, headers=headers).status_code == 200
        challenged = s.withdrawal(account="A2", session="s2", after=timedelta(minutes=10))
        assert client.post("/api/v1/events", json=challenged,
                           headers=headers).json()["decision"] == "challenge"
        r = client.post("/api/v1/feedback", json={"event_id": challenged["id"],
                                                  "kind": "challenge_failed"}, headers=headers)
        assert r.status_code == 201
    with decision_app(database_url, clock, tmp_path) as (client, headers):
        log = client.app.state.decision_api.log
        # The freeze from the report before the restart still holds after it ...
        r = client.post("/api/v1/events", json=s.login(["password", "email_otp"], session="s3"),
                        headers=headers)
        assert (r.json()["decision"], r.json()["reasons"]) == ("deny", ["account_frozen"])
        # ... so does the session the failed challenge stopped ...
        r = client.post("/api/v1/events", json=s.order(account="A2", session="s2"),
                        headers=headers)
        assert r.json()["reasons"] == ["session_stopped"]
        # ... and a retry of an event from before the restart is answered from the log.
        r = client.post("/api/v1/events", json=challenged, headers=headers)
        assert r.headers["idempotent-replayed"] == "true"
        assert r.json()["decision"] == "challenge"
        assert log.load().differing == 0


def test_without_the_log_a_fresh_guard_would_allow_what_the_rebuilt_one_denies(api):
    """The contrast to the restart test: the denial comes from the stored history."""
    client, _ = api
    s = Stream()
    s.login(["password", "email_otp"])
    s.report()
    fresh = client.app.state.decision_api.log.make_guard()
    assert fresh.decide(s.login(["password", "email_otp"], session="s3"))["decision"] == "allow"


def test_a_failed_challenge_stops_the_sessions_later_actions(api):
    client, headers = api
    s = Stream()
    client.post("/api/v1/events", json=s.login(["password", "email_otp"]), headers=headers)
    challenged = s.withdrawal(after=timedelta(minutes=10))
    assert client.post("/api/v1/events", json=challenged,
                       headers=headers).json()["decision"] == "challenge"
    r = client.post("/api/v1/feedback", json={"event_id": challenged["id"],
                                              "kind": "challenge_failed", "note": "wrong code x3"},
                    headers=headers)
    assert r.status_code == 201
    assert r.json()["actions"] == [{"type": "revoke_session", "session": "s1"}]
    r = client.post("/api/v1/events", json=s.order(), headers=headers)
    assert (r.json()["decision"], r.json()["reasons"]) == ("deny", ["session_stopped"])
    # Another session of the same customer is not affected.
    r = client.post("/api/v1/events", json=s.login(["password", "email_otp"], session="s5"),
                    headers=headers)
    assert r.json()["decision"] == "allow"


def test_a_customer_report_as_feedback_freezes_the_account(api):
    client, headers = api
    s = Stream()
    client.post("/api/v1/events", json=s.login(["password", "email_otp"]), headers=headers)
    order = s.order()
    client.post("/api/v1/events", json=order, headers=headers)
    r = client.post("/api/v1/feedback", json={"event_id": order["id"], "kind": "customer_report"},
                    headers=headers)
    assert {"type": "freeze_account", "account": "A1"} in r.json()["actions"]
    r = client.post("/api/v1/events", json=s.login(["password", "email_otp"], session="s7"),
                    headers=headers)
    assert r.json()["reasons"] == ["account_frozen"]


def test_analyst_verdicts_are_stored(api):
    client, headers = api
    s = Stream()
    login = s.login(["password", "email_otp"])
    client.post("/api/v1/events", json=login, headers=headers)
    r = client.post("/api/v1/feedback", json={"event_id": login["id"], "kind": "analyst_fraud",
                                              "note": "フィッシング経由"}, headers=headers)
    assert r.status_code == 201 and r.json()["actions"] == []
    with client.app.state.services.db.read() as session:
        row = session.scalars(select(RiskFeedback)).one()
    assert (row.event_id, row.kind, row.note) == (login["id"], "analyst_fraud", "フィッシング経由")
    assert client.post("/api/v1/events", json=s.order(),
                       headers=headers).json()["decision"] == "allow"


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"event_id": "nope", "kind": "analyst_fraud"}, 404, "event_id"),
    ({"event_id": "e1", "kind": "challenge_failed"}, 409, "kind"),  # e1 was allowed
    ({"event_id": "e1", "kind": "maybe"}, 422, "kind"),
])
def test_feedback_mistakes_are_named(api, body, status, field):
    client, headers = api
    client.post("/api/v1/events", json=Stream().login(["password", "email_otp"]), headers=headers)
    r = client.post("/api/v1/feedback", json=body, headers=headers)
    assert r.status_code == status, r.text
    named = r.json().get("field") or r.json()["fields"][0]["field"]
    assert named == field
    assert stored_count(client, RiskFeedback) == 0


def test_the_openapi_documents_both_routes_with_japanese_and_english_examples(api):
    client, _ = api
    doc = orjson.loads(client.get("/api/openapi.json").content)
    events = doc["paths"]["/api/v1/events"]["post"]
    examples = events["requestBody"]["content"]["application/json"]["examples"]
    assert {"order_ja", "order_en", "batch_ja", "batch_en"} <= set(examples)
    assert "注文" in examples["order_ja"]["summary"]
    assert events["tags"] == ["decisions"]
    assert "ApiKey" in doc["components"]["securitySchemes"]
    feedback = doc["paths"]["/api/v1/feedback"]["post"]
    fb_examples = feedback["requestBody"]["content"]["application/json"]["examples"]
    assert {"challenge_failed_ja", "challenge_failed_en"} <= set(fb_examples)
