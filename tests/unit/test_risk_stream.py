"""kabuguard.risk.stream: the interchange files are read with every line checked, and a
bad line is reported with its file, line, field and reason."""

from __future__ import annotations

import io
import json
import re
import urllib.request
from datetime import UTC, datetime
from importlib import resources

import orjson
import pytest
from jsonschema import Draft202012Validator

from kabuguard.broker.symbols import load_symbols
from kabuguard.risk import stream
from kabuguard.risk.stream import (
    JsonlWriter,
    StreamError,
    iter_events,
    read_accounts,
    read_decisions,
    read_labels,
    read_symbols,
)

COMMON = {"account": "A1", "session": "s1", "channel": "web", "ip": "203.0.113.5",
          "device": "d1", "user_agent": "Mozilla/5.0"}
# One valid event of every type (the fields EVENTS.md gives each).
SAMPLES = {
    "login": {"login_id": "u1", "outcome": "success", "methods": ["password", "passkey"]},
    "logout": {},
    "order": {"order_id": "o1", "symbol": "7203", "side": "buy", "quantity": 100,
              "order_type": "limit", "limit_price": 2500.5, "notional_jpy": 250_050},
    "withdrawal": {"amount_jpy": 10_000, "bank_account": "bank_x"},
    "bank_account_change": {"bank_account": "bank_y"},
    "contact_change": {"field": "email"},
    "password_change": {},
    "mfa_change": {"change": "remove", "method": "totp"},
    "recovery": {"stage": "requested"},
    "deposit": {"amount_jpy": 5},
    "customer_report": {"report": "not_me"},
}


def event(i: int, kind: str = "order", ts: str = "2025-04-03T09:15:02+09:00", **fields) -> dict:
    return {"id": f"e{i}", "ts": ts, "type": kind, **COMMON, **SAMPLES[kind], **fields}


def write_lines(path, *lines) -> str:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else orjson.dumps(x)) + b"\n"
                              for x in lines))
    return str(path)


# --- events --------------------------------------------------------------------------

def test_events_are_read_in_order_with_epoch_seconds(tmp_path):
    events = [event(i, kind, ts=f"2025-04-03T09:15:0{i}+09:00") for i, kind in enumerate(SAMPLES)
              if i < 10]
    path = write_lines(tmp_path / "events.jsonl", *events[:3], b"", b"   ", *events[3:])
    got = list(iter_events(path))
    assert [e["id"] for e in got] == [e["id"] for e in events]
    assert got[0]["_ts"] == 1743639300.0
    assert got[2]["_ts"] == 1743639302.0
    assert {k: v for k, v in got[4].items() if k != "_ts"} == events[4]


def test_equal_times_and_other_offsets_are_in_order(tmp_path):
    # 00:15:02Z is 09:15:02 in Tokyo: the same instant, so not "back in time".
    path = write_lines(tmp_path / "events.jsonl", event(1), event(2, ts="2025-04-03T00:15:02Z"),
                       event(3, ts="2025-04-03T00:15:02.5+00:00"))
    assert [e["_ts"] for e in iter_events(path)] == [1743639302.0, 1743639302.0, 1743639302.5]


@pytest.mark.parametrize(("bad", "reason"), [
    (event(2, side="BUY"), "field 'side' must be one of buy, sell (got 'BUY')"),
    (event(2, quantity=0), "field 'quantity' must be at least 1 (got 0)"),
    (event(2, limit_price=0), "field 'limit_price' must be more than 0 (got 0)"),
    (event(2, notional_jpy="100"), "field 'notional_jpy' must be an integer (got '100')"),
    (event(2, account=3), "field 'account' must be a string or null (got 3)"),
    (event(2, ip_country="jp"), "field 'ip_country' must match ^[A-Z]{2}$ (got 'jp')"),
    (event(2, id=""), "field 'id' must not be empty"),
    ({k: v for k, v in event(2).items() if k not in ("side", "symbol")},
     "missing fields 'symbol', 'side'"),
    ({k: v for k, v in event(2).items() if k != "ts"}, "missing field 'ts'"),
    (event(2, "login", methods=["sms"]), "field 'methods[0]' must be one of password, email_otp, "
                                         "sms_otp, totp, emoji, app_push, phone_call, passkey, pki "
                                         "(got 'sms')"),
    (event(2, type="trade"), "field 'type' must be one of login, logout, order"),
    (event(2, type=["order"]), "field 'type' must be one of login"),
    (event(2, "mfa_change", change="add"), "field 'change' must be one of enroll, remove (got 'add')"),
    ([1, 2], "a line must be a JSON object (got [1,2])"),
    (b'{"id": "e2", ', "not JSON: "),
    (b"\xff\xfe", "not JSON: "),
    (event(2, ts="2025-04-03T09:15:03"), "ts has no UTC offset (got '2025-04-03T09:15:03')"),
    (event(2, ts="3 April 2025"), "ts is not an RFC 3339 time (got '3 April 2025')"),
    (event(2, ts="2025-04-03T09:15:01+09:00"),
     "ts goes back in time (2025-04-03T09:15:01+09:00 after 2025-04-03T09:15:02+09:00)"),
    (event(1), "duplicate id 'e1' (first on line 1)"),
])
def test_a_bad_line_is_named_with_its_reason(tmp_path, bad, reason):
    path = write_lines(tmp_path / "events.jsonl", event(1), bad, event(3))
    with pytest.raises(StreamError) as caught:
        list(iter_events(path))
    assert caught.value.path == path and caught.value.line == 2
    assert caught.value.reason.startswith(reason), caught.value.reason
    assert str(caught.value) == f"{path}:2: {caught.value.reason}"


def test_the_events_before_a_bad_line_are_yielded_first(tmp_path):
    path = write_lines(tmp_path / "events.jsonl", event(1), event(2), event(3, side="x"))
    seen = []
    with pytest.raises(StreamError, match=r":3: field 'side'"):
        seen.extend(e["id"] for e in iter_events(path))
    assert seen == ["e1", "e2"]


def test_without_validation_the_schema_is_skipped_but_order_and_ids_are_not(tmp_path):
    path = write_lines(tmp_path / "events.jsonl", event(1), event(2, side="BUY"))
    assert [e["side"] for e in iter_events(path, validate=False)] == ["buy", "BUY"]
    for bad, reason in [(event(1), "duplicate id 'e1'"),
                        (event(2, ts="2025-04-03T09:00:00+09:00"), "ts goes back in time"),
                        ({"id": "e2"}, "missing field"),
                        (event(2, ts=5), "field 'ts' must be a string (got 5)"),
                        ("text", "a line must be a JSON object")]:
        path = write_lines(tmp_path / "events.jsonl", event(1), bad)
        with pytest.raises(StreamError, match=re.escape(f":2: {reason}")):
            list(iter_events(path, validate=False))


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(iter_events(tmp_path / "nope.jsonl"))


def _mutations(e: dict) -> list[dict]:
    """Valid and invalid variants of ``e``: each field removed or given a wrong value."""
    out = [e]
    for key in e:
        out.append({k: v for k, v in e.items() if k != key})
        for wrong in (None, -1, "zz", [], 1.5):
            out.append({**e, key: wrong})
    return out


def test_the_per_type_split_accepts_exactly_what_the_schema_accepts():
    # iter_events checks each type against its own part of the schema (for speed); the
    # jsonschema package, on the whole schema, is the reference.
    schema = json.loads(resources.files("kabuguard.domain").joinpath("events.schema.json")
                        .read_text("utf-8"))
    reference = Draft202012Validator(schema)
    by_type, whole = stream._event_validators()
    assert set(by_type) == set(SAMPLES)
    checked = 0
    for kind in SAMPLES:
        for candidate in _mutations(event(1, kind, ip_country="JP", ip_asn=1, ip_kind="vpn")):
            expected = reference.is_valid(candidate)
            check = by_type.get(candidate.get("type"), whole) if isinstance(
                candidate.get("type"), str) else whole
            try:
                check(candidate)
                ok = True
            except stream.fastjsonschema.JsonSchemaValueException:
                ok = False
            assert ok == expected, (kind, candidate)
            checked += not expected
    assert checked > 100


def test_compiling_the_schemas_never_fetches_anything(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("urlopen called")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    stream._event_validators.cache_clear()
    stream._reference_validator.cache_clear()
    by_type, _ = stream._event_validators()
    by_type["login"](event(1, "login"))
    for kind in ("symbol", "account", "label", "decision"):
        stream._reference_validator(kind)


# --- reference files -----------------------------------------------------------------

SYMBOL = {"symbol": "7203", "market": "TSE_PRIME", "name": "Toyota", "currency": "JPY",
          "price": 2500.0, "adv_shares": 1e7, "adv_jpy": 2.5e10, "market_cap_jpy": 4e13}
ACCOUNT = {"account": "A1", "opened": "2019-05-01", "methods_enrolled": ["password", "totp"],
           "cash_jpy": 100_000, "holdings": [{"symbol": "7203", "quantity": 100}],
           "home_country": "JP"}
LABEL = {"id": "e1", "fraud": True, "campaign": "c1", "attack": "realtime_phishing",
         "can_pass": ["otp"]}
DECISION = {"id": "e1", "decision": "challenge", "level": "phishing_resistant", "score": 2.5,
            "reasons": ["new_device"], "actions": [{"type": "freeze_account"},
                                                   {"type": "restrict_symbol", "symbol": "7203",
                                                    "side": "buy"}]}


@pytest.mark.parametrize(("reader", "good", "key"), [
    (read_symbols, SYMBOL, "symbol"), (read_accounts, ACCOUNT, "account"),
    (read_labels, LABEL, "id"), (read_decisions, DECISION, "id")])
def test_reference_files_are_keyed_and_reject_repeats(tmp_path, reader, good, key):
    other = {**good, key: "second"}
    path = write_lines(tmp_path / "ref.jsonl", good, b"", other)
    assert reader(path) == {good[key]: good, "second": other}
    path = write_lines(tmp_path / "ref.jsonl", good, other, good)
    with pytest.raises(StreamError, match=rf"ref.jsonl:3: duplicate {key} '{good[key]}' \(first on line 1\)"):
        reader(path)


@pytest.mark.parametrize(("reader", "bad", "reason"), [
    (read_symbols, {**SYMBOL, "market": "TSE"}, "field 'market' must be one of TSE_PRIME"),
    (read_symbols, {k: v for k, v in SYMBOL.items() if k != "adv_jpy"}, "missing field 'adv_jpy'"),
    (read_symbols, {**SYMBOL, "price": 0}, "field 'price' must be more than 0"),
    (read_accounts, {**ACCOUNT, "opened": "01/05/2019"}, "field 'opened' must be a date YYYY-MM-DD"),
    (read_accounts, {**ACCOUNT, "holdings": [{"symbol": "7203"}]}, "missing field 'holdings[0].quantity'"),
    (read_accounts, {**ACCOUNT, "methods_enrolled": ["sms"]}, "field 'methods_enrolled[0]' must be one of"),
    (read_labels, {**LABEL, "fraud": "yes"}, "field 'fraud' must be true or false (got 'yes')"),
    (read_labels, {**LABEL, "can_pass": ["sms_otp"]},
     "field 'can_pass[0]' must be one of password, otp, phishing_resistant (got 'sms_otp')"),
    (read_labels, {k: v for k, v in LABEL.items() if k != "can_pass"}, "missing field 'can_pass'"),
    (read_decisions, {**DECISION, "decision": "block"}, "field 'decision' must be one of allow, challenge"),
    (read_decisions, {**DECISION, "level": None}, "a challenge needs field 'level'"),
    (read_decisions, {**DECISION, "actions": [{"type": "freeze"}]},
     "field 'actions[0].type' must be one of freeze_account"),
    (read_decisions, {**DECISION, "actions": [{"account": "A1"}]}, "missing field 'actions[0].type'"),
    (read_decisions, {**DECISION, "reasons": "x"}, "field 'reasons' must be a list (got 'x')"),
    (read_decisions, b"[", "not JSON: "),
])
def test_a_bad_reference_line_is_named(tmp_path, reader, bad, reason):
    path = write_lines(tmp_path / "ref.jsonl", bad)
    with pytest.raises(StreamError) as caught:
        reader(path)
    assert caught.value.line == 1
    assert caught.value.reason.startswith(reason), caught.value.reason


def test_an_allow_needs_no_level_and_score_is_optional(tmp_path):
    allow = {"id": "e1", "decision": "allow", "level": None, "reasons": [], "actions": []}
    assert read_decisions(write_lines(tmp_path / "d.jsonl", allow))["e1"] == allow


def test_the_brokers_own_symbol_export_reads_back(tmp_path):
    symbols = load_symbols()
    path = write_lines(tmp_path / "symbols.jsonl", *(s.to_interchange() for s in symbols.values()))
    assert set(read_symbols(path)) == set(symbols)


def test_the_simulators_accounts_read_back(tmp_path):
    from kabuguard.sim.export import write_population
    from kabuguard.sim.scenario import load_scenario

    write_population(tmp_path, load_scenario(), customers=30, seed=2,
                     symbols=load_symbols().values(), as_of=datetime(2025, 4, 1, tzinfo=UTC))
    accounts = read_accounts(tmp_path / "accounts.jsonl")
    assert len(accounts) == 30
    assert all(a["home_country"] for a in accounts.values())


# --- writer --------------------------------------------------------------------------

def test_the_writer_writes_one_compact_utf8_object_a_line(tmp_path):
    path = tmp_path / "out.jsonl"
    with JsonlWriter(path) as out:
        out.write({"id": "e1", "name": "トヨタ自動車", "n": 1})
        out.write({"id": "e2", "list": [1, None, True]})
        assert out.count == 2
    assert path.read_bytes() == ('{"id":"e1","name":"トヨタ自動車","n":1}\n'
                                 '{"id":"e2","list":[1,null,true]}\n').encode()


def test_written_events_read_back_identically(tmp_path):
    events = [event(i, kind, ts=f"2025-04-03T09:15:{i:02d}.123+09:00") for i, kind in enumerate(SAMPLES)]
    with JsonlWriter(tmp_path / "events.jsonl") as out:
        for e in events:
            out.write(e)
    got = [{k: v for k, v in e.items() if k != "_ts"} for e in iter_events(tmp_path / "events.jsonl")]
    assert got == events


def test_the_writer_leaves_a_stream_it_was_given_open():
    buffer = io.BytesIO()
    with JsonlWriter(buffer) as out:
        out.write([1])
    assert not buffer.closed and buffer.getvalue() == b"[1]\n"


def test_the_writer_rejects_what_json_cannot_hold(tmp_path):
    with JsonlWriter(tmp_path / "x.jsonl") as out, pytest.raises(TypeError):
        out.write({"x": object()})
