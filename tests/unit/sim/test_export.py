import json
from datetime import UTC, datetime

import pytest

from kabuguard.broker.symbols import load_symbols
from kabuguard.domain.netinfo import IpRanges
from kabuguard.sim.export import write_population
from kabuguard.sim.scenario import load_scenario

AS_OF = datetime(2025, 4, 1, tzinfo=UTC)


def write(directory, *, customers=300, seed=11):
    return write_population(directory, load_scenario(), customers=customers, seed=seed,
                            symbols=load_symbols().values(), as_of=AS_OF)


def test_same_seed_gives_identical_bytes(tmp_path):
    write(tmp_path / "a")
    write(tmp_path / "b")
    write(tmp_path / "c", seed=12)
    for name in ("accounts.jsonl", "symbols.jsonl", "ip_ranges.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "accounts.jsonl").read_bytes() != (
        tmp_path / "c" / "accounts.jsonl").read_bytes()


def test_the_files_are_interchange_lines(tmp_path):
    calls = []
    result = write_population(tmp_path, load_scenario(), customers=25, seed=1,
                              symbols=load_symbols().values(), as_of=AS_OF,
                              progress=calls.append)
    assert result.customers == 25 and calls == [25]
    accounts = [json.loads(line) for line in
                (tmp_path / "accounts.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(accounts) == 25
    assert len({a["account"] for a in accounts}) == 25
    symbols = [json.loads(line) for line in
               (tmp_path / "symbols.jsonl").read_text(encoding="utf-8").splitlines()]
    listed = {s["symbol"] for s in symbols}
    assert len(symbols) == len(load_symbols())
    assert {h["symbol"] for a in accounts for h in a["holdings"]} <= listed
    # The engine, pointed at the copied table, sees what the records say.
    ranges = IpRanges.from_csv(tmp_path / "ip_ranges.csv")
    for net in (n for a in accounts for n in a["networks"]):
        info = ranges.lookup(net["ip"])
        assert (info.country, info.asn, info.kind) == (
            net["ip_country"], net["ip_asn"], net["ip_kind"])


def test_a_naive_time_is_refused(tmp_path):
    with pytest.raises(ValueError, match="time zone"):
        write_population(tmp_path, load_scenario(), customers=1, seed=1,
                         symbols=load_symbols().values(), as_of=datetime(2025, 4, 1))  # noqa: DTZ001
