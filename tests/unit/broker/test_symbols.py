"""The symbol master: the packaged universe, its loader and its generator."""

from __future__ import annotations

import doctest
import json
import math
import re
import statistics
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from kabuguard.broker import symbols as symbols_module
from kabuguard.broker.market import FxRates, Market
from kabuguard.broker.symbols import (
    DEFAULT_SEED,
    MARKET_TARGETS,
    Symbol,
    dumps_symbols,
    generate_universe,
    load_symbols,
    parse_symbols,
)

PACKAGED = files("kabuguard.broker").joinpath("data", "symbols.jsonl")

CODE_PATTERNS = {
    Market.TSE_PRIME: r"\d{4}",
    Market.TSE_STANDARD: r"\d{4}",
    Market.TSE_GROWTH: r"\d{4}|\d{3}[A-Z]",
    Market.SSE: r"6\d{5}\.SS",
    Market.SZSE: r"[03]\d{5}\.SZ",
    Market.HKEX: r"\d{4}\.HK",
    Market.NYSE: r"[A-Z]{1,5}",
    Market.NASDAQ: r"[A-Z]{1,5}",
}
CURRENCIES = {
    Market.TSE_PRIME: "JPY",
    Market.TSE_STANDARD: "JPY",
    Market.TSE_GROWTH: "JPY",
    Market.SSE: "CNY",
    Market.SZSE: "CNY",
    Market.HKEX: "HKD",
    Market.NYSE: "USD",
    Market.NASDAQ: "USD",
}

# EVENTS.md, "symbols.jsonl": field -> accepted JSON types (bool is excluded below).
# events.schema.json describes events only, so the prose is the reference here.
INTERCHANGE_FIELDS: dict[str, tuple[type, ...]] = {
    "symbol": (str,),
    "market": (str,),
    "name": (str,),
    "currency": (str,),
    "price": (int, float),
    "adv_shares": (int,),
    "adv_jpy": (int,),
    "market_cap_jpy": (int,),
}
INTERCHANGE_OPTIONAL: dict[str, tuple[type, ...]] = {"lot_size": (int,)}
INTERCHANGE_MARKETS = {
    "TSE_PRIME",
    "TSE_STANDARD",
    "TSE_GROWTH",
    "SSE",
    "SZSE",
    "HKEX",
    "NYSE",
    "NASDAQ",
}


@pytest.fixture(scope="module")
def universe() -> dict[str, Symbol]:
    return load_symbols()


def by_market(universe: dict[str, Symbol], market: Market) -> list[Symbol]:
    return [symbol for symbol in universe.values() if symbol.market is market]


def is_micro_cap(symbol: Symbol) -> bool:
    return symbol.is_tse and 100 <= symbol.price_minor <= 500 and symbol.adv_jpy < 10_000_000


def test_doctests() -> None:
    result = doctest.testmod(symbols_module)
    assert result.attempted > 0
    assert result.failed == 0


# --------------------------------------------------------------------------------------
# Size and shape
# --------------------------------------------------------------------------------------


def test_universe_size_and_market_counts(universe: dict[str, Symbol]) -> None:
    assert len(universe) >= 2_000
    counts = {market: len(by_market(universe, market)) for market in Market}
    assert counts == dict(MARKET_TARGETS)
    assert sum(counts[m] for m in (Market.TSE_PRIME, Market.TSE_STANDARD, Market.TSE_GROWTH)) == (
        1_300
    )


def test_codes_are_unique_and_well_formed(universe: dict[str, Symbol]) -> None:
    lines = PACKAGED.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(universe)  # no code was lost to a duplicate key
    for code, symbol in universe.items():
        assert code == symbol.symbol
        assert re.fullmatch(CODE_PATTERNS[symbol.market], code), code
    new_style = [s for s in by_market(universe, Market.TSE_GROWTH) if not s.symbol.isdigit()]
    assert 1 <= len(new_style) <= 20  # a few new-style alphanumeric codes


def test_names_are_unique_within_a_market(universe: dict[str, Symbol]) -> None:
    for market in Market:
        names = [symbol.name for symbol in by_market(universe, market)]
        assert len(names) == len(set(names)), market


def test_every_field_is_in_range(universe: dict[str, Symbol]) -> None:
    fx = FxRates()
    for symbol in universe.values():
        assert symbol.currency == CURRENCIES[symbol.market]
        assert symbol.minor_per_unit == (1 if symbol.currency == "JPY" else 100)
        assert symbol.price_minor >= 1
        assert symbol.adv_shares >= 100
        # ADV in yen is ADV in shares at today's price, converted with the default rates.
        assert symbol.adv_jpy == fx.to_jpy(
            symbol.adv_shares * symbol.price_minor, symbol.currency, symbol.minor_per_unit
        )
        assert symbol.adv_jpy >= 1
        assert 10**8 <= symbol.market_cap_jpy <= 10**15
        # A day's volume is a small fraction of the company.
        price_jpy = fx.to_jpy(symbol.price_minor, symbol.currency, symbol.minor_per_unit)
        assert symbol.adv_shares * max(price_jpy, 1) < symbol.market_cap_jpy
        assert 0.012 <= symbol.daily_volatility <= 0.15
        if symbol.is_tse:
            assert 50 <= symbol.price_minor <= 100_000
            assert symbol.lot_size == 100
            assert symbol.name_ja
        elif symbol.market in (Market.SSE, Market.SZSE):
            assert symbol.lot_size == 100
            assert 100 <= symbol.price_minor <= 300_000  # CNY 1 to 3,000
        elif symbol.market is Market.HKEX:
            assert symbol.lot_size in {50, 100, 200, 400, 500, 1_000, 2_000, 4_000, 5_000, 10_000}
            assert 20 <= symbol.price_minor <= 100_000  # HK$0.20 to 1,000
        else:
            assert symbol.lot_size == 1
            assert 100 <= symbol.price_minor <= 200_000  # $1 to 2,000


def test_well_known_large_caps_are_present_and_liquid(universe: dict[str, Symbol]) -> None:
    expected = {
        "7203": ("Toyota Motor", Market.TSE_PRIME),
        "6758": ("Sony Group", Market.TSE_PRIME),
        "8306": ("Mitsubishi UFJ Financial Group", Market.TSE_PRIME),
        "9984": ("SoftBank Group", Market.TSE_PRIME),
        "6861": ("Keyence", Market.TSE_PRIME),
        "8035": ("Tokyo Electron", Market.TSE_PRIME),
        "9983": ("Fast Retailing", Market.TSE_PRIME),
        "7974": ("Nintendo", Market.TSE_PRIME),
        "600519.SS": ("Kweichow Moutai", Market.SSE),
        "000001.SZ": ("Ping An Bank", Market.SZSE),
        "0700.HK": ("Tencent Holdings", Market.HKEX),
        "9988.HK": ("Alibaba Group Holding", Market.HKEX),
        "AAPL": ("Apple", Market.NASDAQ),
        "MSFT": ("Microsoft", Market.NASDAQ),
        "NVDA": ("NVIDIA", Market.NASDAQ),
        "JPM": ("JPMorgan Chase", Market.NYSE),
    }
    for code, (name, market) in expected.items():
        symbol = universe[code]
        assert (symbol.name, symbol.market) == (name, market)
        assert symbol.adv_jpy >= 10**9, code  # billions of yen a day
        assert symbol.market_cap_jpy >= 10**12, code
        assert symbol.daily_volatility <= 0.02, code
    assert universe["7203"].name_ja == "トヨタ自動車"
    assert 2_000 <= universe["7203"].price_minor <= 4_000
    assert 1_000 <= universe["600519.SS"].price <= 2_500
    assert universe["0700.HK"].lot_size == 100


def test_real_names_lead_their_markets(universe: dict[str, Symbol]) -> None:
    # The largest company of each market is a real one, as in 2025.
    biggest = {
        market: max(by_market(universe, market), key=lambda s: s.market_cap_jpy).symbol
        for market in Market
    }
    assert biggest[Market.TSE_PRIME] == "7203"  # Toyota
    assert biggest[Market.TSE_STANDARD] == "4716"  # Oracle Japan
    assert biggest[Market.SSE] == "601398.SS"  # ICBC
    assert biggest[Market.SZSE] == "300750.SZ"  # CATL
    assert biggest[Market.HKEX] == "0700.HK"  # Tencent
    assert biggest[Market.NYSE] == "TSM"
    assert biggest[Market.NASDAQ] == "NVDA"


# --------------------------------------------------------------------------------------
# Liquidity
# --------------------------------------------------------------------------------------


def test_the_micro_cap_tail_exists(universe: dict[str, Symbol]) -> None:
    micro = [symbol for symbol in universe.values() if is_micro_cap(symbol)]
    assert len(micro) >= 200
    # The 2025 targets: a few thousand to a few tens of thousands of shares a day,
    # a few million yen or less.
    assert all(1_000 <= symbol.adv_shares <= 100_000 for symbol in micro)
    assert statistics.median(symbol.adv_jpy for symbol in micro) <= 5_000_000
    assert all(symbol.daily_volatility >= 0.06 for symbol in micro)
    markets = {symbol.market for symbol in micro}
    assert {Market.TSE_STANDARD, Market.TSE_GROWTH} <= markets


@pytest.mark.parametrize(
    ("market", "price_below_minor"),
    [
        (Market.SSE, 1_000),  # CNY 10
        (Market.SZSE, 1_000),
        (Market.HKEX, 100),  # HK$1: penny stocks
        (Market.NYSE, 1_000),  # $10
        (Market.NASDAQ, 1_000),
    ],
)
def test_foreign_markets_have_illiquid_small_caps(
    universe: dict[str, Symbol], market: Market, price_below_minor: int
) -> None:
    illiquid = [
        symbol
        for symbol in by_market(universe, market)
        if symbol.adv_jpy < 30_000_000 and symbol.price_minor < price_below_minor
    ]
    assert len(illiquid) >= 20


def test_liquidity_is_skewed(universe: dict[str, Symbol]) -> None:
    for market in Market:
        caps = sorted(math.log10(s.market_cap_jpy) for s in by_market(universe, market))
        decile = len(caps) // 10
        # Log-normal-ish: the top decile is orders of magnitude above the bottom one.
        assert caps[-decile] - caps[decile] >= 1.0, market
    prime = sorted(s.adv_jpy for s in by_market(universe, Market.TSE_PRIME))
    standard = sorted(s.adv_jpy for s in by_market(universe, Market.TSE_STANDARD))
    assert statistics.median(prime) > 10 * statistics.median(standard)
    assert prime[-1] >= 50 * 10**9  # Toyota-class: tens of billions of yen a day


# --------------------------------------------------------------------------------------
# Interchange format
# --------------------------------------------------------------------------------------


def check_interchange_line(line: dict[str, object]) -> None:
    for field, types in {**INTERCHANGE_FIELDS, **INTERCHANGE_OPTIONAL}.items():
        if field in INTERCHANGE_OPTIONAL and field not in line:
            continue
        value = line[field]
        assert isinstance(value, types), (field, value)
        assert not isinstance(value, bool), field
    assert line["market"] in INTERCHANGE_MARKETS
    assert line["currency"] in {"JPY", "CNY", "HKD", "USD"}
    assert line["symbol"] and line["name"]
    assert line["price"] > 0  # type: ignore[operator]


def test_interchange_lines_validate(universe: dict[str, Symbol]) -> None:
    for symbol in universe.values():
        line = symbol.to_interchange()
        assert list(line) == [*INTERCHANGE_FIELDS, "lot_size"]
        check_interchange_line(json.loads(json.dumps(line)))
        assert line["price"] == symbol.price_minor / symbol.minor_per_unit
    assert load_symbols()["AAPL"].to_interchange()["price"] == 210.0
    assert load_symbols()["7203"].to_interchange()["price"] == 2850


def test_packaged_lines_are_interchange_lines() -> None:
    # The packaged file can be handed to a replay as it is: extra fields are ignored.
    for text in PACKAGED.read_text(encoding="utf-8").splitlines():
        check_interchange_line(json.loads(text))


def test_a_bare_interchange_line_is_read_back() -> None:
    symbol = load_symbols()["0700.HK"]
    bare = Symbol.from_record(symbol.to_interchange())
    assert bare.price_minor == symbol.price_minor
    assert bare.lot_size == symbol.lot_size
    assert bare.name_ja is None
    assert bare.daily_volatility == pytest.approx(symbol.daily_volatility, abs=0.01)
    line = {k: v for k, v in symbol.to_interchange().items() if k != "lot_size"}
    line["price"] = 500.005  # rounds half up to whole cents
    assert Symbol.from_record(line).price_minor == 50_001


def test_symbol_validation() -> None:
    good = load_symbols()["7203"].to_record()
    with pytest.raises(ValueError, match="JPY"):
        Symbol.from_record(good | {"currency": "USD", "minor_per_unit": 100})
    with pytest.raises(ValueError, match="LSE"):
        Symbol.from_record(good | {"market": "LSE"})
    with pytest.raises(ValueError, match="daily_volatility"):
        Symbol.from_record(good | {"daily_volatility": 0})
    with pytest.raises(ValueError, match="price_minor"):
        Symbol.from_record(good | {"price_minor": 0})
    with pytest.raises(ValueError, match="minor units"):
        Symbol.from_record(good | {"minor_per_unit": 100})


def test_parse_symbols_reports_the_bad_line() -> None:
    line = dumps_symbols([load_symbols()["7203"]])
    with pytest.raises(ValueError, match="line 2: duplicate symbol 7203"):
        parse_symbols(line + line)
    with pytest.raises(ValueError, match="line 1"):
        parse_symbols('{"symbol": "X"}\n')
    assert parse_symbols("\n" + line + "\n") == [load_symbols()["7203"]]


def test_load_symbols_is_cached_but_returns_a_fresh_dict() -> None:
    first, second = load_symbols(), load_symbols()
    assert first == second
    assert first is not second
    assert first["7203"] is second["7203"]  # parsed once
    first.pop("7203")
    assert "7203" in load_symbols()


# --------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------


def test_generator_reproduces_the_packaged_file_byte_for_byte() -> None:
    generated = dumps_symbols(generate_universe()).encode("utf-8")
    assert generated == PACKAGED.read_bytes()


def test_generator_is_deterministic_and_seeded() -> None:
    assert generate_universe(7) == generate_universe(7)
    assert generate_universe(7) != generate_universe(DEFAULT_SEED)


def test_packaged_file_is_small() -> None:
    assert len(PACKAGED.read_bytes()) < 1_000_000


def test_module_entry_point_regenerates_the_file(tmp_path: Path) -> None:
    output = tmp_path / "symbols.jsonl"
    command = [sys.executable, "-m", "kabuguard.broker.symbols", "--output", str(output)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    assert output.read_bytes() == PACKAGED.read_bytes()
    checked = subprocess.run([*command, "--check"], check=False, capture_output=True, timeout=120)
    assert checked.returncode == 0
    output.write_bytes(b"stale\n")
    checked = subprocess.run([*command, "--check"], check=False, capture_output=True, timeout=120)
    assert checked.returncode == 1
