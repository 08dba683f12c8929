"""``replay`` sets its long-lived state aside from the cyclic garbage collector while it
runs, and leaves the collector as it found it, on success and on bad input."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kabuguard.guard.policy import load_policy
from kabuguard.risk import replay as replay_module
from kabuguard.risk.replay import replay
from kabuguard.risk.stream import StreamError

ACCOUNT = {"account": "A1", "opened": "2020-01-01", "methods_enrolled": ["password", "email_otp"],
           "cash_jpy": 1_000_000, "holdings": [], "home_country": "JP"}
SYMBOL = {"symbol": "7203", "market": "TSE_PRIME", "name": "Toyota", "currency": "JPY",
          "price": 3000, "adv_shares": 1e7, "adv_jpy": 3e10, "market_cap_jpy": 4e13}
LOGIN = {"id": "e1", "ts": "2025-07-01T09:00:00+09:00", "type": "login", "account": "A1",
         "session": "s1", "channel": "web", "ip": "192.0.2.10", "device": "d1",
         "user_agent": "UA", "login_id": "x", "outcome": "success",
         "methods": ["password", "email_otp"]}


def _files(tmp_path: Path, accounts: list[dict]) -> dict[str, Path]:
    paths = {}
    for name, records in (("symbols", [SYMBOL]), ("accounts", accounts), ("events", [LOGIN])):
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return paths


def _replay(paths: dict[str, Path], out: Path) -> None:
    replay(symbols=paths["symbols"], accounts=paths["accounts"], events=paths["events"],
           out=out, policy=load_policy("email_otp_mandatory"))


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_the_loaded_state_is_frozen_during_the_run_and_unfrozen_after(
        tmp_path: Path, unfrozen: None, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    run = replay_module._run
    monkeypatch.setattr(replay_module, "_run",
                        lambda *a: seen.append((gc.get_freeze_count(), gc.isenabled())) or run(*a))
    _replay(_files(tmp_path, [ACCOUNT]), tmp_path / "out")
    assert seen[0][0] > 0 and seen[0][1]
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    assert (tmp_path / "out" / "decisions.jsonl").read_text(encoding="utf-8").count("\n") == 1


def test_bad_input_leaves_the_collector_as_it_was(tmp_path: Path, unfrozen: None) -> None:
    with pytest.raises(StreamError):
        _replay(_files(tmp_path, [{"account": "A1"}]), tmp_path / "out")
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_a_callers_own_freeze_and_disabled_collector_are_left_alone(
        tmp_path: Path, unfrozen: None) -> None:
    gc.freeze()
    frozen = gc.get_freeze_count()
    gc.disable()
    try:
        _replay(_files(tmp_path, [ACCOUNT]), tmp_path / "out")
        assert not gc.isenabled()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.enable()
