"""``kabuguard replay``: causal (a prefix decides as the whole stream did), deterministic
(two replays, identical bytes), with clear errors and nothing half-written."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kabuguard import cli
from kabuguard.cli import app
from kabuguard.guard.policy import load_policy
from kabuguard.risk.replay import DECISIONS_FILE, replay
from kabuguard.sim.run import run_simulation
from kabuguard.sim.scenario import load_scenario

POLICY = "email_otp_mandatory"


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("replay-sim")
    scenario = load_scenario(None)
    run_simulation(customers=800, days=3, seed=4, policy=load_policy(POLICY), risk=True,
                   out=out, scenario=scenario, start=date(2025, 4, 14), workers=0)
    return out


def _replay(stream: Path, events: Path, out: Path) -> list[str]:
    replay(symbols=stream / "symbols.jsonl", accounts=stream / "accounts.jsonl", events=events,
           out=out, policy=load_policy(POLICY))
    return (out / DECISIONS_FILE).read_text(encoding="utf-8").splitlines()


def test_a_prefix_decides_as_the_whole_stream_did(stream: Path, tmp_path: Path) -> None:
    whole = _replay(stream, stream / "events.jsonl", tmp_path / "whole")
    lines = (stream / "events.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) > 1000
    for cut in (1, len(lines) // 3, len(lines) - 1):
        prefix_dir = tmp_path / f"p{cut}"
        prefix_dir.mkdir()
        shutil.copy(stream / "ip_ranges.csv", prefix_dir / "ip_ranges.csv")
        (prefix_dir / "events.jsonl").write_text("".join(lines[:cut]), encoding="utf-8")
        assert _replay(stream, prefix_dir / "events.jsonl", prefix_dir / "out") == whole[:cut]


def test_two_replays_write_identical_bytes(stream: Path, tmp_path: Path) -> None:
    _replay(stream, stream / "events.jsonl", tmp_path / "a")
    _replay(stream, stream / "events.jsonl", tmp_path / "b")
    assert (tmp_path / "a" / DECISIONS_FILE).read_bytes() == (
        tmp_path / "b" / DECISIONS_FILE).read_bytes()


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli.err, "width", 300)


@pytest.mark.usefixtures("wide")
def test_the_command_names_the_bad_line_and_leaves_no_decisions(stream: Path,
                                                                 tmp_path: Path) -> None:
    lines = (stream / "events.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    bad = tmp_path / "events.jsonl"
    bad.write_text("".join(lines[:5]) + lines[5].replace('"web"', '"WEB"', 1)
                   .replace('"app"', '"APP"', 1), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["replay", "--symbols", str(stream / "symbols.jsonl"),
                                      "--events", str(bad), "--out", str(out),
                                      "--policy", POLICY])
    assert result.exit_code == 2
    assert "events.jsonl:6: field 'channel' must be one of" in result.output
    assert not (out / DECISIONS_FILE).exists()


@pytest.mark.usefixtures("wide")
def test_the_command_refuses_an_unknown_policy_and_a_missing_file(stream: Path,
                                                                  tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["replay", "--symbols", str(stream / "symbols.jsonl"),
                                 "--events", str(stream / "events.jsonl"),
                                 "--out", str(tmp_path), "--policy", "no_such_policy"])
    assert result.exit_code == 2 and "no_such_policy" in result.output
    result = runner.invoke(app, ["replay", "--symbols", str(tmp_path / "none.jsonl"),
                                 "--events", str(stream / "events.jsonl"),
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no such file" in result.output
