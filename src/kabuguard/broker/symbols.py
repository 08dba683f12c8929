"""The symbol master of the reference brokerage: types, loader and generator.

The universe (``data/symbols.jsonl``, ~2,050 symbols) mimics what a Japanese online
broker lists: the three TSE markets, Shanghai, Shenzhen, Hong Kong and the two US
exchanges. Each market starts with real, well-known large caps at round 2025 prices,
volumes and market capitalisations, then fills up with generated names whose liquidity is
skewed as in real markets: log-normal market caps and a long tail of illiquid micro caps.
That tail matters: the 2025 account takeovers bought low-priced (¥100–¥500), thinly
traded stocks with hijacked accounts to pump them (CASE.md, "How (the attack chain)"),
and brokers restricted buys of illiquid Chinese and US names (CASE.md, "What brokers
did"). Every such name here trades a few thousand to a few tens of thousands of shares a
day, a few million yen or less.

Each line of the file is an EVENTS.md ``symbols.jsonl`` line (``symbol, market, name,
currency, price, adv_shares, adv_jpy, market_cap_jpy, lot_size``) followed by fields of
our own (``name_ja, price_minor, minor_per_unit, daily_volatility``) that other readers
ignore, so the packaged file can be handed to a replay as it is.

Regenerate with ``python -m kabuguard.broker.symbols`` (``--check`` verifies the
committed file instead). The generator is a pure function of its seed, so the output is
byte-identical on every run.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib.resources import files
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Any

from kabuguard.broker.market import (
    MARKET_CURRENCY,
    MINOR_PER_UNIT,
    TSE_MARKETS,
    Currency,
    FxRates,
    Market,
)

__all__ = [
    "DEFAULT_SEED",
    "MARKET_TARGETS",
    "Symbol",
    "dumps_symbols",
    "estimate_daily_volatility",
    "generate_universe",
    "load_symbols",
    "main",
    "parse_symbols",
]

DEFAULT_SEED = 20250325  # the day Rakuten and SBI first reported damage (CASE.md)
DATA_FILE = "symbols.jsonl"

# Symbols per market in the generated universe (real names included). About two thirds
# of the list is Japanese because the brokerage's customers mostly trade at home.
MARKET_TARGETS: Mapping[Market, int] = MappingProxyType(
    {
        Market.TSE_PRIME: 600,
        Market.TSE_STANDARD: 400,
        Market.TSE_GROWTH: 300,
        Market.SSE: 150,
        Market.SZSE: 150,
        Market.HKEX: 150,
        Market.NYSE: 150,
        Market.NASDAQ: 150,
    }
)


@dataclass(frozen=True)
class Symbol:
    """One listed instrument as the brokerage sees it.

    Prices are integer minor units (``price_minor``; yen for JPY, fen/cents otherwise,
    ``minor_per_unit`` of them to a unit). ``adv_shares`` is the 20-day average daily
    volume, ``adv_jpy`` its yen value; ``lot_size`` is the trading unit (100 on the TSE
    and in mainland China, a per-stock board lot in Hong Kong, 1 in the US);
    ``daily_volatility`` is the standard deviation of daily returns used by the impact
    model.

    Raises ValueError for an unknown market or currency, a currency that is not the
    market's, or a field out of range.
    """

    symbol: str
    market: Market
    name: str
    name_ja: str | None
    currency: Currency
    price_minor: int
    minor_per_unit: int
    adv_shares: int
    adv_jpy: int
    market_cap_jpy: int
    lot_size: int
    daily_volatility: float

    def __post_init__(self) -> None:
        # Coerce plain strings (as read from JSON) to the enums; ValueError if unknown.
        object.__setattr__(self, "market", Market(self.market))
        object.__setattr__(self, "currency", Currency(self.currency))
        if not self.symbol or not self.name:
            raise ValueError(f"symbol and name must not be empty: {self.symbol!r}")
        if MARKET_CURRENCY[self.market] is not self.currency:
            raise ValueError(
                f"{self.symbol}: {self.market} trades in {MARKET_CURRENCY[self.market]}"
            )
        if self.minor_per_unit != MINOR_PER_UNIT[self.currency]:
            raise ValueError(
                f"{self.symbol}: {self.currency} has {MINOR_PER_UNIT[self.currency]} minor units"
            )
        if self.price_minor < 1 or self.lot_size < 1:
            raise ValueError(f"{self.symbol}: price_minor and lot_size must be at least 1")
        if min(self.adv_shares, self.adv_jpy, self.market_cap_jpy) < 0:
            raise ValueError(f"{self.symbol}: volumes and market cap must not be negative")
        if not 0 < self.daily_volatility < 1:
            raise ValueError(f"{self.symbol}: daily_volatility must be in (0, 1)")

    @property
    def price(self) -> Decimal:
        """The price in instrument currency, exactly (``Decimal('1480.00')``)."""
        return Decimal(self.price_minor).scaleb(-_decimal_places(self.minor_per_unit))

    @property
    def is_tse(self) -> bool:
        """True for the three TSE markets (daily price limits, JST sessions)."""
        return self.market in TSE_MARKETS

    def to_interchange(self) -> dict[str, Any]:
        """Return the EVENTS.md ``symbols.jsonl`` object for this symbol."""
        return {
            "symbol": self.symbol,
            "market": self.market.value,
            "name": self.name,
            "currency": self.currency.value,
            "price": self.price_minor / self.minor_per_unit,
            "adv_shares": self.adv_shares,
            "adv_jpy": self.adv_jpy,
            "market_cap_jpy": self.market_cap_jpy,
            "lot_size": self.lot_size,
        }

    def to_record(self) -> dict[str, Any]:
        """Return the packaged-file object: the interchange fields, then our own."""
        return self.to_interchange() | {
            "name_ja": self.name_ja,
            "price_minor": self.price_minor,
            "minor_per_unit": self.minor_per_unit,
            "daily_volatility": self.daily_volatility,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Symbol:
        """Build a symbol from a packaged line or from a bare interchange line.

        A bare EVENTS.md line (from a broker's own export) lacks our fields: the minor
        units follow from the currency, ``price_minor`` from ``price`` (rounded half up),
        the lot size defaults by market and the volatility is estimated from
        ``adv_jpy`` with :func:`estimate_daily_volatility`.

        Raises ValueError (or KeyError for a missing interchange field) on a bad line.
        """
        market = Market(record["market"])
        currency = Currency(record["currency"])
        minor_per_unit = int(record.get("minor_per_unit", MINOR_PER_UNIT[currency]))
        price_minor = record.get("price_minor")
        if price_minor is None:
            scaled = Decimal(str(record["price"])) * minor_per_unit
            price_minor = int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        lot_size = record.get("lot_size")
        if lot_size is None:
            lot_size = 1 if currency is Currency.USD else 100
        volatility = record.get("daily_volatility")
        if volatility is None:
            volatility = estimate_daily_volatility(int(record["adv_jpy"]))
        return cls(
            symbol=str(record["symbol"]),
            market=market,
            name=str(record["name"]),
            name_ja=record.get("name_ja"),
            currency=currency,
            price_minor=int(price_minor),
            minor_per_unit=minor_per_unit,
            adv_shares=int(record["adv_shares"]),
            adv_jpy=int(record["adv_jpy"]),
            market_cap_jpy=int(record["market_cap_jpy"]),
            lot_size=int(lot_size),
            daily_volatility=float(volatility),
        )


def _decimal_places(minor_per_unit: int) -> int:
    return len(str(minor_per_unit)) - 1


# --------------------------------------------------------------------------------------
# Reading and writing
# --------------------------------------------------------------------------------------


def parse_symbols(text: str) -> list[Symbol]:
    """Parse JSON Lines text (packaged or interchange lines) into symbols.

    Raises ValueError naming the line for a malformed line or a duplicate symbol.
    """
    symbols: list[Symbol] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            symbol = Symbol.from_record(json.loads(line))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"line {number}: {exc!r}") from exc
        if symbol.symbol in seen:
            raise ValueError(f"line {number}: duplicate symbol {symbol.symbol}")
        seen.add(symbol.symbol)
        symbols.append(symbol)
    return symbols


def dumps_symbols(symbols: Iterable[Symbol]) -> str:
    """Return the packaged-file text: one compact UTF-8 JSON object a line."""
    return "".join(
        json.dumps(symbol.to_record(), ensure_ascii=False, separators=(",", ":")) + "\n"
        for symbol in symbols
    )


@lru_cache(maxsize=1)
def _packaged_symbols() -> tuple[Symbol, ...]:
    text = files("kabuguard.broker").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    return tuple(parse_symbols(text))


def load_symbols() -> dict[str, Symbol]:
    """Return the packaged symbol master keyed by symbol code, in file order.

    The file is parsed once per process; each call returns a fresh dict (of the same
    immutable symbols), so a caller that edits its copy cannot corrupt another's.
    """
    return {symbol.symbol: symbol for symbol in _packaged_symbols()}


# --------------------------------------------------------------------------------------
# Liquidity and volatility
# --------------------------------------------------------------------------------------

# Daily volatility against log10(ADV in yen), interpolated linearly. Large caps trading
# tens of billions of yen a day move ~1.5 % a day; below ~¥10m a day trading is sparse,
# the tick is a large fraction of the price and a single order moves the book, so daily
# moves of 7–11 % are ordinary. The step between ¥100m and ¥10m is deliberate: it is
# where a stock stops being continuously quoted.
_VOLATILITY_CURVE: tuple[tuple[float, float], ...] = (
    (5.0, 0.11),
    (6.0, 0.09),
    (7.0, 0.075),
    (8.0, 0.03),
    (9.0, 0.022),
    (10.5, 0.015),
)


def estimate_daily_volatility(adv_jpy: int) -> float:
    """Return a typical daily volatility for a stock trading ``adv_jpy`` a day.

    >>> estimate_daily_volatility(70_000_000_000)
    0.015
    >>> estimate_daily_volatility(3_000_000)
    0.0828
    """
    level = math.log10(max(adv_jpy, 1))
    points = _VOLATILITY_CURVE
    if level <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in pairwise(points):
        if level <= x1:
            return round(y0 + (y1 - y0) * (level - x0) / (x1 - x0), 4)
    return points[-1][1]


# --------------------------------------------------------------------------------------
# Real large caps (round 2025 figures; market caps include treasury shares)
# --------------------------------------------------------------------------------------

# fmt: off
# Data tables stay one row a line: easier to read and to review against sources.

# (code, name, name_ja, price ¥, ADV shares, market cap ¥bn)
_TSE_REAL: dict[Market, tuple[tuple[str, str, str, int, int, int], ...]] = {
    Market.TSE_PRIME: (
        ("7203", "Toyota Motor", "トヨタ自動車", 2_850, 25_000_000, 45_000),
        ("6758", "Sony Group", "ソニーグループ", 3_750, 12_000_000, 23_000),
        ("8306", "Mitsubishi UFJ Financial Group", "三菱UFJフィナンシャル・グループ", 2_050, 40_000_000, 24_500),  # noqa: E501
        ("9984", "SoftBank Group", "ソフトバンクグループ", 10_500, 11_000_000, 15_400),
        ("6861", "Keyence", "キーエンス", 57_000, 500_000, 13_800),
        ("8035", "Tokyo Electron", "東京エレクトロン", 24_000, 3_000_000, 11_300),
        ("9983", "Fast Retailing", "ファーストリテイリング", 47_000, 700_000, 15_000),
        ("7974", "Nintendo", "任天堂", 12_500, 6_000_000, 16_300),
        ("6501", "Hitachi", "日立製作所", 4_100, 11_000_000, 19_000),
        ("8316", "Sumitomo Mitsui Financial Group", "三井住友フィナンシャルグループ", 3_700, 12_000_000, 14_800),  # noqa: E501
        ("8411", "Mizuho Financial Group", "みずほフィナンシャルグループ", 4_100, 8_000_000, 10_400),
        ("9432", "NTT", "日本電信電話", 152, 150_000_000, 13_800),
        ("9433", "KDDI", "KDDI", 2_500, 9_000_000, 10_300),
        ("9434", "SoftBank Corp.", "ソフトバンク", 215, 80_000_000, 10_300),
        ("4063", "Shin-Etsu Chemical", "信越化学工業", 4_700, 7_000_000, 9_400),
        ("6098", "Recruit Holdings", "リクルートホールディングス", 8_600, 5_000_000, 13_200),
        ("8058", "Mitsubishi Corporation", "三菱商事", 2_900, 12_000_000, 11_700),
        ("8001", "ITOCHU", "伊藤忠商事", 7_700, 4_000_000, 11_000),
        ("8031", "Mitsui & Co.", "三井物産", 3_000, 8_000_000, 8_900),
        ("4502", "Takeda Pharmaceutical", "武田薬品工業", 4_300, 5_000_000, 6_800),
        ("4568", "Daiichi Sankyo", "第一三共", 3_500, 7_000_000, 6_700),
        ("7011", "Mitsubishi Heavy Industries", "三菱重工業", 3_500, 35_000_000, 11_800),
        ("6902", "Denso", "デンソー", 2_000, 6_000_000, 5_900),
        ("7267", "Honda Motor", "本田技研工業", 1_500, 15_000_000, 7_500),
        ("6367", "Daikin Industries", "ダイキン工業", 17_500, 1_000_000, 5_100),
        ("6981", "Murata Manufacturing", "村田製作所", 2_300, 8_000_000, 4_500),
        ("6954", "Fanuc", "ファナック", 4_000, 3_000_000, 4_000),
        ("4519", "Chugai Pharmaceutical", "中外製薬", 7_000, 3_000_000, 11_700),
        ("8766", "Tokio Marine Holdings", "東京海上ホールディングス", 6_000, 4_000_000, 11_800),
        ("6857", "Advantest", "アドバンテスト", 9_000, 10_000_000, 6_900),
        ("4661", "Oriental Land", "オリエンタルランド", 3_200, 6_000_000, 5_800),
        ("6273", "SMC", "SMC", 52_000, 200_000, 3_400),
        ("7741", "HOYA", "HOYA", 18_000, 1_000_000, 6_200),
        ("2914", "Japan Tobacco", "日本たばこ産業", 4_300, 5_000_000, 8_600),
        ("3382", "Seven & i Holdings", "セブン&アイ・ホールディングス", 2_100, 9_000_000, 5_500),
        ("6702", "Fujitsu", "富士通", 3_300, 5_000_000, 6_200),
        ("6503", "Mitsubishi Electric", "三菱電機", 3_000, 7_000_000, 6_400),
        ("8604", "Nomura Holdings", "野村ホールディングス", 900, 15_000_000, 2_800),
        ("8591", "ORIX", "オリックス", 3_100, 4_000_000, 3_600),
        ("7751", "Canon", "キヤノン", 4_300, 3_000_000, 4_300),
        ("6723", "Renesas Electronics", "ルネサスエレクトロニクス", 1_900, 12_000_000, 3_600),
        ("4901", "Fujifilm Holdings", "富士フイルムホールディングス", 3_100, 3_000_000, 3_800),
        ("5401", "Nippon Steel", "日本製鉄", 2_900, 8_000_000, 3_100),
        ("7201", "Nissan Motor", "日産自動車", 360, 40_000_000, 1_500),
        ("8473", "SBI Holdings", "SBIホールディングス", 5_000, 2_500_000, 1_600),
        ("4755", "Rakuten Group", "楽天グループ", 850, 15_000_000, 1_800),
        ("8628", "Matsui Securities", "松井証券", 780, 800_000, 210),
        ("8698", "Monex Group", "マネックスグループ", 700, 3_000_000, 190),
    ),
    Market.TSE_STANDARD: (
        ("4716", "Oracle Corporation Japan", "日本オラクル", 15_500, 150_000, 2_000),
        ("2702", "McDonald's Holdings Company (Japan)", "日本マクドナルドホールディングス", 6_100, 200_000, 810),  # noqa: E501
        ("7564", "Workman", "ワークマン", 5_600, 150_000, 460),
        ("4816", "Toei Animation", "東映アニメーション", 3_200, 300_000, 450),
        ("6425", "Universal Entertainment", "ユニバーサルエンターテインメント", 1_200, 200_000, 93),
        ("8202", "Laox Holdings", "ラオックスホールディングス", 190, 150_000, 17),
    ),
    Market.TSE_GROWTH: (
        ("4478", "freee", "フリー", 3_400, 700_000, 200),
        ("5253", "Cover Corporation", "カバー", 2_000, 1_500_000, 130),
        ("4592", "SanBio", "サンバイオ", 1_800, 2_000_000, 130),
        ("2160", "GNI Group", "ジーエヌアイグループ", 3_000, 800_000, 150),
        ("4169", "ENECHANGE", "ENECHANGE", 500, 1_000_000, 19),
    ),
}

# (code, name, price in currency, ADV shares, market cap in currency bn)
_CHINA_REAL: dict[Market, tuple[tuple[str, str, str, int, int], ...]] = {
    Market.SSE: (
        ("600519.SS", "Kweichow Moutai", "1480.00", 3_200_000, 1_860),
        ("601398.SS", "Industrial and Commercial Bank of China", "7.20", 250_000_000, 2_560),
        ("601288.SS", "Agricultural Bank of China", "6.00", 350_000_000, 2_100),
        ("601939.SS", "China Construction Bank", "9.20", 150_000_000, 2_300),
        ("601988.SS", "Bank of China", "5.60", 250_000_000, 1_650),
        ("600036.SS", "China Merchants Bank", "45.00", 60_000_000, 1_130),
        ("601318.SS", "Ping An Insurance (Group)", "56.00", 50_000_000, 1_020),
        ("600900.SS", "China Yangtze Power", "29.50", 40_000_000, 720),
        ("601857.SS", "PetroChina", "8.50", 150_000_000, 1_550),
        ("600028.SS", "China Petroleum & Chemical (Sinopec)", "5.80", 200_000_000, 700),
        ("601012.SS", "LONGi Green Energy Technology", "16.50", 80_000_000, 125),
        ("600276.SS", "Jiangsu Hengrui Pharmaceuticals", "55.00", 40_000_000, 350),
        ("600030.SS", "CITIC Securities", "28.00", 120_000_000, 410),
        ("601166.SS", "Industrial Bank", "22.00", 70_000_000, 460),
        ("600887.SS", "Inner Mongolia Yili Industrial Group", "28.00", 30_000_000, 178),
        ("601888.SS", "China Tourism Group Duty Free", "65.00", 20_000_000, 135),
        ("688981.SS", "Semiconductor Manufacturing International", "90.00", 60_000_000, 720),
        ("600309.SS", "Wanhua Chemical Group", "60.00", 20_000_000, 188),
        ("601899.SS", "Zijin Mining Group", "20.00", 200_000_000, 530),
        ("600050.SS", "China United Network Communications", "5.60", 250_000_000, 175),
        ("601628.SS", "China Life Insurance", "38.00", 20_000_000, 1_000),
        ("600104.SS", "SAIC Motor", "16.50", 30_000_000, 190),
        ("600690.SS", "Haier Smart Home", "26.00", 30_000_000, 245),
        ("601633.SS", "Great Wall Motor", "24.00", 40_000_000, 205),
    ),
    Market.SZSE: (
        ("000001.SZ", "Ping An Bank", "11.50", 120_000_000, 223),
        ("000858.SZ", "Wuliangye Yibin", "125.00", 20_000_000, 485),
        ("300750.SZ", "Contemporary Amperex Technology (CATL)", "260.00", 25_000_000, 1_180),
        ("002594.SZ", "BYD", "110.00", 30_000_000, 1_000),
        ("000333.SZ", "Midea Group", "72.00", 40_000_000, 550),
        ("000651.SZ", "Gree Electric Appliances", "45.00", 40_000_000, 250),
        ("002415.SZ", "Hangzhou Hikvision Digital Technology", "28.00", 40_000_000, 260),
        ("000568.SZ", "Luzhou Laojiao", "120.00", 8_000_000, 177),
        ("300059.SZ", "East Money Information", "23.00", 300_000_000, 360),
        ("002475.SZ", "Luxshare Precision Industry", "35.00", 80_000_000, 255),
        ("300760.SZ", "Shenzhen Mindray Bio-Medical Electronics", "230.00", 6_000_000, 280),
        ("000002.SZ", "China Vanke", "6.50", 150_000_000, 78),
        ("002714.SZ", "Muyuan Foods", "40.00", 25_000_000, 220),
        ("000725.SZ", "BOE Technology Group", "4.20", 600_000_000, 158),
        ("300124.SZ", "Shenzhen Inovance Technology", "65.00", 25_000_000, 175),
        ("002352.SZ", "S.F. Holding", "48.00", 20_000_000, 240),
        ("000063.SZ", "ZTE", "33.00", 80_000_000, 158),
        ("002230.SZ", "iFlytek", "48.00", 50_000_000, 111),
        ("300015.SZ", "Aier Eye Hospital Group", "12.50", 100_000_000, 117),
        ("000100.SZ", "TCL Technology Group", "4.60", 300_000_000, 86),
    ),
}

# (code, name, price HK$, ADV shares, market cap HK$bn, board lot)
_HKEX_REAL: tuple[tuple[str, str, str, int, int, int], ...] = (
    ("0700.HK", "Tencent Holdings", "500.00", 18_000_000, 4_600, 100),
    ("9988.HK", "Alibaba Group Holding", "115.00", 80_000_000, 2_200, 100),
    ("3690.HK", "Meituan", "125.00", 40_000_000, 760, 100),
    ("1299.HK", "AIA Group", "70.00", 25_000_000, 740, 200),
    ("0005.HK", "HSBC Holdings", "95.00", 25_000_000, 1_670, 400),
    ("0941.HK", "China Mobile", "85.00", 15_000_000, 1_830, 500),
    ("0939.HK", "China Construction Bank", "7.50", 250_000_000, 1_800, 1_000),
    ("1398.HK", "Industrial and Commercial Bank of China", "6.00", 250_000_000, 2_200, 1_000),
    ("3988.HK", "Bank of China", "4.40", 350_000_000, 1_400, 1_000),
    ("2318.HK", "Ping An Insurance (Group)", "50.00", 40_000_000, 910, 500),
    ("1810.HK", "Xiaomi", "55.00", 150_000_000, 1_430, 200),
    ("9618.HK", "JD.com", "130.00", 12_000_000, 400, 50),
    ("1211.HK", "BYD Company", "120.00", 15_000_000, 1_100, 500),
    ("0388.HK", "Hong Kong Exchanges and Clearing", "400.00", 8_000_000, 507, 100),
    ("0883.HK", "CNOOC", "18.00", 60_000_000, 860, 1_000),
    ("0857.HK", "PetroChina", "6.80", 150_000_000, 1_440, 2_000),
    ("2020.HK", "ANTA Sports Products", "90.00", 8_000_000, 252, 200),
    ("1024.HK", "Kuaishou Technology", "60.00", 25_000_000, 260, 100),
    ("9999.HK", "NetEase", "190.00", 5_000_000, 600, 100),
    ("9888.HK", "Baidu", "85.00", 10_000_000, 240, 50),
    ("0016.HK", "Sun Hung Kai Properties", "85.00", 3_000_000, 246, 500),
    ("0001.HK", "CK Hutchison Holdings", "45.00", 8_000_000, 172, 500),
    ("0002.HK", "CLP Holdings", "66.00", 3_000_000, 167, 500),
    ("0003.HK", "Hong Kong and China Gas", "6.70", 15_000_000, 125, 1_000),
    ("0011.HK", "Hang Seng Bank", "110.00", 3_000_000, 210, 100),
    ("0027.HK", "Galaxy Entertainment Group", "35.00", 10_000_000, 153, 1_000),
    ("2628.HK", "China Life Insurance", "18.00", 40_000_000, 500, 1_000),
    ("0981.HK", "Semiconductor Manufacturing International", "50.00", 80_000_000, 400, 500),
    ("0175.HK", "Geely Automobile Holdings", "17.00", 60_000_000, 172, 1_000),
    ("2269.HK", "WuXi Biologics (Cayman)", "25.00", 50_000_000, 105, 500),
)

# (ticker, name, price US$, ADV shares, market cap US$bn)
_US_REAL: dict[Market, tuple[tuple[str, str, str, int, int], ...]] = {
    Market.NYSE: (
        ("JPM", "JPMorgan Chase", "280.00", 9_000_000, 780),
        ("V", "Visa", "345.00", 7_000_000, 670),
        ("MA", "Mastercard", "570.00", 3_000_000, 520),
        ("UNH", "UnitedHealth Group", "300.00", 12_000_000, 275),
        ("JNJ", "Johnson & Johnson", "160.00", 8_000_000, 385),
        ("WMT", "Walmart", "97.00", 17_000_000, 780),
        ("XOM", "Exxon Mobil", "110.00", 15_000_000, 470),
        ("PG", "Procter & Gamble", "155.00", 7_000_000, 365),
        ("HD", "Home Depot", "375.00", 3_500_000, 375),
        ("KO", "Coca-Cola", "70.00", 14_000_000, 300),
        ("BAC", "Bank of America", "46.00", 38_000_000, 350),
        ("CVX", "Chevron", "150.00", 8_000_000, 300),
        ("LLY", "Eli Lilly", "770.00", 3_500_000, 730),
        ("ORCL", "Oracle", "230.00", 12_000_000, 650),
        ("ABBV", "AbbVie", "190.00", 6_000_000, 335),
        ("MRK", "Merck & Co.", "80.00", 12_000_000, 200),
        ("PFE", "Pfizer", "24.00", 40_000_000, 137),
        ("DIS", "Walt Disney", "115.00", 9_000_000, 207),
        ("NKE", "Nike", "70.00", 14_000_000, 103),
        ("BA", "Boeing", "215.00", 8_000_000, 162),
        ("CAT", "Caterpillar", "400.00", 3_000_000, 188),
        ("GS", "Goldman Sachs Group", "700.00", 2_200_000, 215),
        ("IBM", "International Business Machines", "260.00", 4_500_000, 242),
        ("T", "AT&T", "28.00", 35_000_000, 200),
        ("VZ", "Verizon Communications", "43.00", 18_000_000, 181),
        ("MCD", "McDonald's", "300.00", 3_500_000, 215),
        ("CRM", "Salesforce", "260.00", 7_000_000, 250),
        ("GE", "GE Aerospace", "240.00", 6_000_000, 256),
        ("UBER", "Uber Technologies", "90.00", 20_000_000, 188),
        ("TSM", "Taiwan Semiconductor Manufacturing (ADR)", "230.00", 12_000_000, 1_200),
        ("BABA", "Alibaba Group Holding (ADR)", "120.00", 18_000_000, 285),
    ),
    Market.NASDAQ: (
        ("AAPL", "Apple", "210.00", 55_000_000, 3_150),
        ("MSFT", "Microsoft", "500.00", 20_000_000, 3_700),
        ("NVDA", "NVIDIA", "175.00", 200_000_000, 4_250),
        ("AMZN", "Amazon.com", "225.00", 40_000_000, 2_400),
        ("GOOGL", "Alphabet (Class A)", "190.00", 32_000_000, 2_300),
        ("META", "Meta Platforms", "720.00", 12_000_000, 1_810),
        ("TSLA", "Tesla", "320.00", 100_000_000, 1_030),
        ("AVGO", "Broadcom", "290.00", 22_000_000, 1_360),
        ("COST", "Costco Wholesale", "980.00", 2_000_000, 435),
        ("NFLX", "Netflix", "1200.00", 3_500_000, 510),
        ("AMD", "Advanced Micro Devices", "160.00", 45_000_000, 260),
        ("PEP", "PepsiCo", "140.00", 7_000_000, 192),
        ("ADBE", "Adobe", "370.00", 3_500_000, 157),
        ("CSCO", "Cisco Systems", "68.00", 20_000_000, 270),
        ("INTC", "Intel", "22.00", 90_000_000, 96),
        ("QCOM", "Qualcomm", "155.00", 8_000_000, 170),
        ("INTU", "Intuit", "740.00", 1_700_000, 207),
        ("AMGN", "Amgen", "290.00", 2_800_000, 156),
        ("TXN", "Texas Instruments", "200.00", 6_500_000, 182),
        ("PYPL", "PayPal Holdings", "70.00", 10_000_000, 68),
        ("SBUX", "Starbucks", "90.00", 10_000_000, 102),
        ("MU", "Micron Technology", "120.00", 22_000_000, 134),
        ("PDD", "PDD Holdings (ADR)", "110.00", 9_000_000, 153),
        ("ARM", "Arm Holdings (ADR)", "150.00", 5_000_000, 159),
        ("ASML", "ASML Holding (ADR)", "750.00", 1_600_000, 295),
        ("PLTR", "Palantir Technologies", "155.00", 80_000_000, 365),
        ("COIN", "Coinbase Global", "330.00", 10_000_000, 84),
        ("MSTR", "Strategy (MicroStrategy)", "400.00", 15_000_000, 110),
    ),
}

# --------------------------------------------------------------------------------------
# Name parts for generated companies
# --------------------------------------------------------------------------------------

# (romanised, Japanese) place and house names that Japanese company names start with.
_JA_PREFIXES: tuple[tuple[str, str], ...] = (
    ("Kanto", "関東"), ("Hokuriku", "北陸"), ("Tohoku", "東北"), ("Chubu", "中部"),
    ("Kinki", "近畿"), ("Kyushu", "九州"), ("Shikoku", "四国"), ("Sanyo", "山陽"),
    ("Sanin", "山陰"), ("Tokai", "東海"), ("Hokkaido", "北海道"), ("Nihon", "日本"),
    ("Daito", "大東"), ("Taiyo", "太陽"), ("Asahi", "旭"), ("Fuji", "富士"),
    ("Yamato", "大和"), ("Chuo", "中央"), ("Toyo", "東洋"), ("Seiwa", "誠和"),
    ("Daiichi", "第一"), ("Meiwa", "明和"), ("Shinwa", "新和"), ("Kyowa", "協和"),
    ("Sanwa", "三和"), ("Osaka", "大阪"), ("Nagoya", "名古屋"), ("Kobe", "神戸"),
    ("Yokohama", "横浜"), ("Kyoto", "京都"), ("Sendai", "仙台"), ("Hiroshima", "広島"),
    ("Niigata", "新潟"), ("Shizuoka", "静岡"), ("Okayama", "岡山"), ("Kumamoto", "熊本"),
    ("Nagano", "長野"), ("Gifu", "岐阜"), ("Toyama", "富山"), ("Fukui", "福井"),
    ("Kanazawa", "金沢"), ("Hamamatsu", "浜松"), ("Sapporo", "札幌"), ("Akita", "秋田"),
    ("Aomori", "青森"), ("Iwate", "岩手"), ("Tochigi", "栃木"), ("Gunma", "群馬"),
    ("Saitama", "埼玉"), ("Chiba", "千葉"), ("Mie", "三重"), ("Shiga", "滋賀"),
    ("Nara", "奈良"), ("Wakayama", "和歌山"), ("Tottori", "鳥取"), ("Shimane", "島根"),
    ("Yamaguchi", "山口"), ("Tokushima", "徳島"), ("Kagawa", "香川"), ("Ehime", "愛媛"),
    ("Kochi", "高知"), ("Fukuoka", "福岡"), ("Saga", "佐賀"), ("Nagasaki", "長崎"),
    ("Oita", "大分"), ("Miyazaki", "宮崎"), ("Kagoshima", "鹿児島"), ("Okinawa", "沖縄"),
    ("Tokyo", "東京"), ("Shin-Nihon", "新日本"), ("Nansei", "南西"), ("Hokuyo", "北洋"),
    ("Kinsei", "錦正"), ("Heiwa", "平和"), ("Marusan", "丸三"), ("Yamaichi", "山一"),
)

# (romanised, Japanese) business words of traditional company names.
_JA_CORES: tuple[tuple[str, str], ...] = (
    ("Seiki", "精機"), ("Denko", "電工"), ("Kogyo", "工業"), ("Shoji", "商事"),
    ("Kensetsu", "建設"), ("Yakuhin", "薬品"), ("Kagaku", "化学"), ("Denki", "電機"),
    ("Tsushin", "通信"), ("Unyu", "運輸"), ("Shokuhin", "食品"), ("Kinzoku", "金属"),
    ("Sangyo", "産業"), ("Fudosan", "不動産"), ("Seisakusho", "製作所"), ("Koki", "工機"),
    ("Denshi", "電子"), ("Kosan", "興産"), ("Kaihatsu", "開発"), ("Soko", "倉庫"),
    ("Seishi", "製紙"), ("Boeki", "貿易"), ("Kikai", "機械"), ("Kozai", "鋼材"),
    ("Setsubi", "設備"), ("Giken", "技研"), ("Sekkei", "設計"), ("Butsuryu", "物流"),
    ("Shiryo", "飼料"), ("Seiyaku", "製薬"), ("Tekko", "鉄工"), ("Jushi", "樹脂"),
    ("Seimitsu", "精密"), ("Kasei", "化成"), ("Densetsu", "電設"), ("Kaiun", "海運"),
    ("Tsusho", "通商"), ("Ryutsu", "流通"), ("Hanbai", "販売"), ("Shuzo", "酒造"),
    ("Seika", "製菓"), ("Seifun", "製粉"), ("Suisan", "水産"), ("Kisen", "汽船"),
)

# (romanised, katakana) parts of the English-style names common among Growth listings.
_KANA_PARTS: tuple[tuple[str, str], ...] = (
    ("Next", "ネクスト"), ("Cloud", "クラウド"), ("Data", "データ"), ("Link", "リンク"),
    ("Bio", "バイオ"), ("Tech", "テック"), ("Smart", "スマート"), ("Medical", "メディカル"),
    ("Works", "ワークス"), ("Lab", "ラボ"), ("Vision", "ビジョン"), ("Sync", "シンク"),
    ("Pay", "ペイ"), ("Gene", "ジーン"), ("Mind", "マインド"), ("Robo", "ロボ"),
    ("Edge", "エッジ"), ("Quantum", "クオンタム"), ("Green", "グリーン"),
    ("Energy", "エナジー"), ("Brain", "ブレイン"), ("Hub", "ハブ"), ("Force", "フォース"),
    ("Arc", "アーク"), ("Nova", "ノヴァ"), ("Rise", "ライズ"), ("Field", "フィールド"),
    ("Wave", "ウェーブ"), ("Core", "コア"), ("Logic", "ロジック"), ("Stage", "ステージ"),
    ("Frontier", "フロンティア"), ("Agri", "アグリ"), ("Care", "ケア"), ("Space", "スペース"),
    ("Neo", "ネオ"), ("Matrix", "マトリックス"), ("Hero", "ヒーロー"), ("Fun", "ファン"),
)

_CN_PLACES = (
    "Jiangsu", "Zhejiang", "Guangdong", "Shandong", "Sichuan", "Hunan", "Hubei", "Fujian",
    "Anhui", "Henan", "Hebei", "Shaanxi", "Yunnan", "Guangxi", "Jiangxi", "Shenzhen",
    "Hangzhou", "Suzhou", "Ningbo", "Xiamen", "Chengdu", "Wuhan", "Chongqing", "Tianjin",
    "Qingdao", "Dalian", "Harbin", "Changsha", "Nanjing", "Hefei", "Zhengzhou", "Kunming",
)
_CN_BRANDS = (
    "Huaxin", "Zhongtian", "Jinlong", "Tianrun", "Hengtong", "Xinda", "Hongda", "Yuanda",
    "Shengda", "Dongfang", "Zhongke", "Haili", "Ruifeng", "Jiahe", "Kaisheng", "Fuda",
    "Tongda", "Hengtai", "Huayang", "Jinyuan", "Ruida", "Sanhe", "Wanfeng", "Xinyuan",
    "Yongtai", "Zhongyuan", "Tianyu", "Baofeng", "Chuangxin", "Guoxin", "Huarui", "Lianchuang",
)
_CN_SECTORS = (
    "Technology", "Pharmaceutical", "New Energy", "New Materials", "Electronics",
    "Environmental Protection", "Machinery", "Chemical", "Agriculture", "Textile",
    "Auto Parts", "Real Estate", "Logistics", "Semiconductor", "Intelligent Equipment",
    "Biotechnology", "Special Steel", "Nonferrous Metals", "Food", "Cable",
    "Optoelectronics", "Precision Manufacturing",
)
_HK_FIRSTS = (
    "Sino", "China", "Asia", "Pacific", "Greater Bay", "Hong Kong", "Golden", "Imperial",
    "Dragon", "Pearl River", "Jade", "Victory", "Fortune", "Grand", "Harbour", "Oriental",
    "Silver", "Century", "Kowloon", "Lion Rock", "Phoenix", "Prosperity", "Tai Hing",
    "Wing Lee", "Kwong Fat", "Sun Fook", "Ocean", "Summit", "Eternal", "Rising",
)
_HK_SECTORS = (
    "Energy", "Resources", "Properties", "Technology", "Healthcare", "Finance",
    "Entertainment", "Logistics", "Agriculture", "Environmental", "Education", "Consumer",
    "Media", "Infrastructure", "Gaming", "Jewellery", "Textiles", "Construction", "Dairy",
    "Water",
)
_HK_SUFFIXES = ("Holdings", "Group", "International", "International Holdings", "Group Holdings")
_US_FIRSTS = (
    "Summit", "Pioneer", "Atlas", "Northstar", "Blue Ridge", "Cedar", "Harbor", "Granite",
    "Evergreen", "Liberty", "Frontier", "Meridian", "Keystone", "Sierra", "Cascade",
    "Redwood", "Lakeshore", "Ironwood", "Silver Lake", "Beacon", "Horizon", "Patriot",
    "Pinnacle", "Crescent", "Orion", "Apex", "Vertex", "Nova", "Helix", "Polaris", "Aurora",
    "Sterling", "Coastal", "Heartland", "Prairie", "Magnolia", "Willow", "Falcon", "Eagle",
    "Bluewater", "Copper Hill", "Red Rock", "Tidewater", "Lone Pine", "Clearview",
)
_US_SECONDS = (
    "Therapeutics", "Biosciences", "Bancorp", "Energy", "Semiconductor", "Software",
    "Robotics", "Medical", "Pharmaceuticals", "Realty", "Industries", "Networks", "Systems",
    "Materials", "Logistics", "Foods", "Brands", "Mining", "Aerospace", "Diagnostics",
    "Genomics", "Financial", "Capital", "Resources", "Technologies", "Solar", "Wireless",
    "Data", "Health", "Minerals",
)
_US_SUFFIXES = ("Inc.", "Corp.", "Holdings", "Group", "Co.")
# fmt: on


# --------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Tier:
    """Distribution of one slice of a market's generated names.

    Log-normal draws are ``exp(N(log(median), sigma))`` clamped to ``[low, high]``;
    quantities are in the instrument currency (major units) unless noted.
    """

    share: float  # fraction of the market's generated names in this tier
    price: tuple[float, float, float, float]  # median, sigma, low, high
    # Regular tiers: market cap (median, sigma, low, high) and daily turnover as a
    # fraction of shares outstanding (median, sigma, low, high).
    market_cap: tuple[float, float, float, float] | None = None
    turnover: tuple[float, float, float, float] | None = None
    # Illiquid tiers: shares outstanding and ADV shares, log-uniform (low, high), and a
    # cap on the ADV value in yen.
    shares_out: tuple[float, float] | None = None
    adv: tuple[float, float] | None = None
    adv_jpy_cap: int | None = None


_REGULAR, _ILLIQUID = "regular", "illiquid"

# Price tiers are log-uniform for illiquid names (sigma 0 means "uniform in log space
# between low and high", the median unused), log-normal for regular ones.
_TIERS: dict[Market, dict[str, _Tier]] = {
    Market.TSE_PRIME: {
        _REGULAR: _Tier(
            share=1.0,
            price=(1_800, 0.75, 120, 45_000),
            market_cap=(60e9, 1.0, 12e9, 4e12),
            turnover=(0.004, 0.6, 0.0005, 0.03),
        ),
    },
    Market.TSE_STANDARD: {
        _ILLIQUID: _Tier(
            share=0.45,
            price=(0, 0, 100, 499),
            shares_out=(4e6, 40e6),
            adv=(2_000, 50_000),
            adv_jpy_cap=9_000_000,
        ),
        _REGULAR: _Tier(
            share=0.55,
            price=(900, 0.7, 150, 20_000),
            market_cap=(8e9, 0.9, 1.5e9, 8e11),
            turnover=(0.0015, 0.8, 0.0001, 0.02),
        ),
    },
    Market.TSE_GROWTH: {
        _ILLIQUID: _Tier(
            share=0.30,
            price=(0, 0, 100, 499),
            shares_out=(3e6, 30e6),
            adv=(2_000, 50_000),
            adv_jpy_cap=9_000_000,
        ),
        _REGULAR: _Tier(
            share=0.70,
            price=(700, 0.8, 120, 15_000),
            market_cap=(6e9, 1.0, 1e9, 5e11),
            turnover=(0.008, 0.9, 0.0005, 0.08),
        ),
    },
    Market.SSE: {
        _ILLIQUID: _Tier(
            share=0.30,
            price=(0, 0, 2.0, 8.0),
            shares_out=(100e6, 500e6),
            adv=(20_000, 600_000),
            adv_jpy_cap=30_000_000,
        ),
        _REGULAR: _Tier(
            share=0.70,
            price=(18, 0.8, 2.5, 500),
            market_cap=(15e9, 0.9, 3e9, 400e9),
            turnover=(0.012, 0.7, 0.002, 0.08),
        ),
    },
    Market.SZSE: {
        _ILLIQUID: _Tier(
            share=0.30,
            price=(0, 0, 2.0, 8.0),
            shares_out=(80e6, 400e6),
            adv=(20_000, 600_000),
            adv_jpy_cap=30_000_000,
        ),
        _REGULAR: _Tier(
            share=0.70,
            price=(16, 0.8, 2.5, 400),
            market_cap=(12e9, 0.9, 3e9, 300e9),
            turnover=(0.015, 0.7, 0.002, 0.08),
        ),
    },
    Market.HKEX: {
        # HK "penny stocks", many on GEM (8xxx codes); prices kept at HK$0.20 or more
        # so that a whole-cent price step stays under 5 %.
        _ILLIQUID: _Tier(
            share=0.35,
            price=(0, 0, 0.20, 2.00),
            shares_out=(500e6, 5e9),
            adv=(20_000, 2_000_000),
            adv_jpy_cap=9_000_000,
        ),
        _REGULAR: _Tier(
            share=0.65,
            price=(12, 1.0, 2.0, 600),
            market_cap=(8e9, 1.1, 1e9, 500e9),
            turnover=(0.002, 0.8, 0.0002, 0.02),
        ),
    },
    Market.NYSE: {
        _ILLIQUID: _Tier(
            share=0.25,
            price=(0, 0, 1.0, 8.0),
            shares_out=(5e6, 40e6),
            adv=(3_000, 80_000),
            adv_jpy_cap=9_000_000,
        ),
        _REGULAR: _Tier(
            share=0.75,
            price=(55, 0.8, 5, 900),
            market_cap=(6e9, 1.2, 0.3e9, 300e9),
            turnover=(0.008, 0.6, 0.001, 0.05),
        ),
    },
    Market.NASDAQ: {
        _ILLIQUID: _Tier(
            share=0.25,
            price=(0, 0, 1.0, 8.0),
            shares_out=(5e6, 40e6),
            adv=(3_000, 80_000),
            adv_jpy_cap=9_000_000,
        ),
        _REGULAR: _Tier(
            share=0.75,
            price=(40, 0.9, 3, 900),
            market_cap=(3e9, 1.3, 0.2e9, 300e9),
            turnover=(0.012, 0.7, 0.001, 0.08),
        ),
    },
}

_HK_LOTS_REGULAR = (100, 200, 400, 500, 1_000, 2_000)
_HK_LOTS_PENNY = (2_000, 4_000, 5_000, 10_000)


class _Generator:
    """Stateful helper around one ``random.Random``; call order fixes the output."""

    def __init__(self, seed: int) -> None:
        # S311: a seeded PRNG on purpose; this is reproducible test data, not secrets.
        self.rng = random.Random(seed)  # noqa: S311
        self.fx = FxRates()
        self.codes: set[str] = set()
        self.names: set[str] = set()

    # ---- draws ------------------------------------------------------------------------

    def lognormal(self, params: tuple[float, float, float, float]) -> float:
        median, sigma, low, high = params
        return min(max(self.rng.lognormvariate(math.log(median), sigma), low), high)

    def log_uniform(self, low: float, high: float) -> float:
        return math.exp(self.rng.uniform(math.log(low), math.log(high)))

    def unique(self, draw: Callable[[], str], taken: set[str]) -> str:
        # Bounded retries: a generator bug should fail loudly, not spin.
        for _ in range(10_000):
            value = draw()
            if value not in taken:
                taken.add(value)
                return value
        raise RuntimeError("could not draw a unique value")

    # ---- codes ------------------------------------------------------------------------

    def tse_code(self, *, new_style: bool) -> str:
        if new_style:
            # Since 2024 the TSE hands out alphanumeric codes ("130A") to new listings.
            return self.unique(lambda: f"{self.rng.randint(130, 599)}A", self.codes)
        return self.unique(lambda: f"{self.rng.randint(1301, 9997):04d}", self.codes)

    def china_code(self, market: Market, *, star_or_chinext: bool) -> str:
        # SSE main board 600xxx-605xxx, STAR Market 688xxx; SZSE main board 000xxx-003xxx,
        # ChiNext 300xxx-301xxx.
        if market is Market.SSE:
            (low, high), suffix = (688000, 688999) if star_or_chinext else (600000, 605999), "SS"
        else:
            (low, high), suffix = (300000, 301599) if star_or_chinext else (1, 3999), "SZ"
        return self.unique(lambda: f"{self.rng.randint(low, high):06d}.{suffix}", self.codes)

    def hk_code(self, *, gem: bool) -> str:
        low, high = (8001, 8699) if gem else (100, 3999)
        return self.unique(lambda: f"{self.rng.randint(low, high):04d}.HK", self.codes)

    def us_ticker(self, name: str, market: Market) -> str:
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        initials = "".join(word[0] for word in name.split() if word[0].isalpha()).upper()
        length = 3 if market is Market.NYSE else 4

        def draw() -> str:
            head = initials[: self.rng.randint(1, min(2, len(initials)))]
            tail = "".join(self.rng.choice(letters) for _ in range(length - len(head)))
            return head + tail

        return self.unique(draw, self.codes)

    # ---- names ------------------------------------------------------------------------

    def japanese_name(self, *, katakana: bool) -> tuple[str, str]:
        def draw() -> str:
            if katakana:
                first, second = self.rng.sample(_KANA_PARTS, 2)
                return f"{first[0]}{second[0]}|{first[1]}{second[1]}"
            prefix = self.rng.choice(_JA_PREFIXES)
            core = self.rng.choice(_JA_CORES)
            roll = self.rng.random()
            if roll < 0.15:
                return f"{prefix[0]} {core[0]} Holdings|{prefix[1]}{core[1]}ホールディングス"
            if roll < 0.20:
                return f"{prefix[0]} {core[0]} Group|{prefix[1]}{core[1]}グループ"
            return f"{prefix[0]} {core[0]}|{prefix[1]}{core[1]}"

        name, name_ja = self.unique(draw, self.names).split("|")
        return name, name_ja

    def chinese_name(self) -> str:
        return self.unique(
            lambda: (
                f"{self.rng.choice(_CN_PLACES)} {self.rng.choice(_CN_BRANDS)} "
                f"{self.rng.choice(_CN_SECTORS)} Co."
            ),
            self.names,
        )

    def hk_name(self) -> str:
        return self.unique(
            lambda: (
                f"{self.rng.choice(_HK_FIRSTS)} {self.rng.choice(_HK_SECTORS)} "
                f"{self.rng.choice(_HK_SUFFIXES)}"
            ),
            self.names,
        )

    def us_name(self) -> str:
        return self.unique(
            lambda: (
                f"{self.rng.choice(_US_FIRSTS)} {self.rng.choice(_US_SECONDS)} "
                f"{self.rng.choice(_US_SUFFIXES)}"
            ),
            self.names,
        )

    # ---- symbols ----------------------------------------------------------------------

    def build(
        self,
        *,
        code: str,
        market: Market,
        name: str,
        name_ja: str | None,
        price_minor: int,
        adv_shares: int,
        market_cap_minor: int,
        lot_size: int,
        volatility_factor: float = 1.0,
    ) -> Symbol:
        """Assemble a symbol, deriving the yen figures and the volatility."""
        currency = MARKET_CURRENCY[market]
        minor = MINOR_PER_UNIT[currency]
        adv_jpy = self.fx.to_jpy(adv_shares * price_minor, currency, minor)
        volatility = min(0.15, estimate_daily_volatility(adv_jpy) * volatility_factor)
        return Symbol(
            symbol=code,
            market=market,
            name=name,
            name_ja=name_ja,
            currency=currency,
            price_minor=price_minor,
            minor_per_unit=minor,
            adv_shares=adv_shares,
            adv_jpy=adv_jpy,
            market_cap_jpy=self.fx.to_jpy(market_cap_minor, currency, minor),
            lot_size=lot_size,
            daily_volatility=round(volatility, 4),
        )

    def draw_figures(self, market: Market, tier: _Tier) -> tuple[int, int, int]:
        """Return (price_minor, adv_shares, market_cap_minor) for a generated name."""
        currency = MARKET_CURRENCY[market]
        minor = MINOR_PER_UNIT[currency]
        if tier.shares_out is not None and tier.adv is not None:
            _, _, low, high = tier.price
            price_minor = max(1, round(self.log_uniform(low, high) * minor))
            shares_out = round(self.log_uniform(*tier.shares_out))
            adv_shares = round(self.log_uniform(*tier.adv))
            if tier.adv_jpy_cap is not None:
                # Keep the tail below the cap in yen: these are the names a hijacked
                # account can move with a few million yen.
                yen_per_share = self.fx.to_jpy(price_minor, currency, minor) or 1
                adv_shares = min(adv_shares, tier.adv_jpy_cap // yen_per_share)
            return price_minor, max(adv_shares, 100), shares_out * price_minor
        if tier.market_cap is None or tier.turnover is None:
            raise ValueError("a regular tier needs market_cap and turnover")
        price = self.lognormal(tier.price)
        price_minor = max(1, round(price * minor))
        market_cap = self.lognormal(tier.market_cap)
        shares_out = market_cap / (price_minor / minor)
        adv_shares = max(100, round(shares_out * self.lognormal(tier.turnover)))
        return price_minor, adv_shares, round(shares_out) * price_minor

    def generated(self, market: Market, count: int) -> list[Symbol]:
        tiers = _TIERS[market]
        symbols: list[Symbol] = []
        for index in range(count):
            illiquid_share = tiers[_ILLIQUID].share if _ILLIQUID in tiers else 0.0
            # Stratify rather than draw the tier, so the tail size is exact and a seed
            # change cannot thin it out below what the tests and simulator rely on.
            is_illiquid = index < round(count * illiquid_share)
            tier = tiers[_ILLIQUID] if is_illiquid else tiers[_REGULAR]
            price_minor, adv_shares, cap_minor = self.draw_figures(market, tier)
            symbols.append(
                self.generated_symbol(
                    market, price_minor, adv_shares, cap_minor, illiquid=is_illiquid
                )
            )
        return symbols

    def generated_symbol(
        self,
        market: Market,
        price_minor: int,
        adv_shares: int,
        cap_minor: int,
        *,
        illiquid: bool,
    ) -> Symbol:
        name_ja: str | None = None
        lot = 100
        factor = self.rng.uniform(1.0, 1.2)
        if market in TSE_MARKETS:
            growth = market is Market.TSE_GROWTH
            katakana = self.rng.random() < (0.6 if growth else 0.1)
            name, name_ja = self.japanese_name(katakana=katakana)
            code = self.tse_code(new_style=growth and self.rng.random() < 0.03)
            if growth:
                factor *= 1.15  # young companies: wider swings at the same liquidity
        elif market in (Market.SSE, Market.SZSE):
            name = self.chinese_name()
            code = self.china_code(market, star_or_chinext=self.rng.random() < 0.2)
        elif market is Market.HKEX:
            name = self.hk_name()
            code = self.hk_code(gem=illiquid and self.rng.random() < 0.5)
            lot = self.rng.choice(_HK_LOTS_PENNY if illiquid else _HK_LOTS_REGULAR)
        else:
            name = self.us_name()
            code = self.us_ticker(name, market)
            lot = 1
        return self.build(
            code=code,
            market=market,
            name=name,
            name_ja=name_ja,
            price_minor=price_minor,
            adv_shares=adv_shares,
            market_cap_minor=cap_minor,
            lot_size=lot,
            volatility_factor=factor,
        )

    def real(self, market: Market) -> list[Symbol]:
        # Normalise the tables to (code, name, name_ja, price_minor, ADV, cap_minor, lot).
        rows: list[tuple[str, str, str | None, int, int, int, int]]
        if market in TSE_MARKETS:
            rows = [
                (code, name, name_ja, price, adv, cap_bn * 10**9, 100)
                for code, name, name_ja, price, adv, cap_bn in _TSE_REAL[market]
            ]
        elif market is Market.HKEX:
            rows = [
                (code, name, None, _cents(price), adv, cap_bn * 10**11, lot)
                for code, name, price, adv, cap_bn, lot in _HKEX_REAL
            ]
        else:
            lot = 100 if market in _CHINA_REAL else 1
            table = _CHINA_REAL[market] if market in _CHINA_REAL else _US_REAL[market]
            rows = [
                (code, name, None, _cents(price), adv, cap_bn * 10**11, lot)
                for code, name, price, adv, cap_bn in table
            ]
        symbols = [
            self.build(
                code=code,
                market=market,
                name=name,
                name_ja=name_ja,
                price_minor=price_minor,
                adv_shares=adv,
                market_cap_minor=cap_minor,
                lot_size=lot_size,
            )
            for code, name, name_ja, price_minor, adv, cap_minor, lot_size in rows
        ]
        for symbol in symbols:
            self.codes.add(symbol.symbol)
            self.names.add(symbol.name)
        return symbols


def _cents(price: str) -> int:
    return int(Decimal(price) * 100)


def generate_universe(seed: int = DEFAULT_SEED) -> list[Symbol]:
    """Return the symbol universe for ``seed``, sorted by market then code.

    Deterministic: the same seed gives the same list on every run. CPython's ``random``
    algorithms are stable across versions; a platform whose ``libm`` rounded ``log`` or
    ``exp`` differently in the last bit could in principle flip one rounded figure, which
    the byte-for-byte test would catch.
    """
    generator = _Generator(seed)
    # Register every real code and name first, so no generated one can take them.
    real = {market: generator.real(market) for market in MARKET_TARGETS}
    universe: list[Symbol] = []
    for market, target in MARKET_TARGETS.items():
        generated = generator.generated(market, target - len(real[market]))
        universe.extend(sorted(real[market] + generated, key=lambda symbol: symbol.symbol))
    return universe


def _default_output() -> Path:
    return Path(__file__).resolve().parent / "data" / DATA_FILE


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate (or with ``--check`` verify) the packaged symbol file.

    Returns the process exit status: 0, or 1 when ``--check`` finds a difference.
    """
    parser = argparse.ArgumentParser(
        prog="python -m kabuguard.broker.symbols",
        description="Generate the reference brokerage's symbol master (JSON Lines).",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--output", type=Path, default=_default_output())
    parser.add_argument("--check", action="store_true", help="exit 1 if the output file differs")
    args = parser.parse_args(argv)
    text = dumps_symbols(generate_universe(args.seed)).encode("utf-8")
    output: Path = args.output
    if args.check:
        current = output.read_bytes() if output.exists() else b""
        if current != text:
            sys.stderr.write(f"{output} is out of date; run without --check\n")
            return 1
        sys.stdout.write(f"{output} is up to date\n")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(text)
    lines = text.count(b"\n")
    sys.stdout.write(f"wrote {lines} symbols to {output}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
