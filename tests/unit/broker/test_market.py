"""The pure market model: TSE price limits, square-root impact, trading hours, FX."""

from __future__ import annotations

import doctest
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kabuguard.broker import market
from kabuguard.broker.market import (
    JPX_HOLIDAYS,
    NYSE_HOLIDAYS,
    FxRates,
    ImpactModel,
    Market,
    MarketState,
    Side,
    TradingCalendar,
    notional_jpy,
    tse_limit_width,
    tse_price_limits,
)
from kabuguard.broker.symbols import Symbol, load_symbols

JST = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2025, 6, 10, 10, 0, tzinfo=JST)  # a Tuesday, TSE open
# No example database: keeps the checkout clean and the runs reproducible.
PROPERTY = settings(database=None, max_examples=150, deadline=None)


def make_symbol(
    *,
    market: Market = Market.TSE_STANDARD,
    price_minor: int = 300,
    adv_shares: int = 10_000,
    daily_volatility: float = 0.08,
) -> Symbol:
    currency = market_currency(market)
    minor = 1 if currency == "JPY" else 100
    return Symbol(
        symbol="TEST",
        market=market,
        name="Test Kogyo",
        name_ja=None,
        currency=currency,
        price_minor=price_minor,
        minor_per_unit=minor,
        adv_shares=adv_shares,
        adv_jpy=FxRates().to_jpy(adv_shares * price_minor, currency, minor),
        market_cap_jpy=10**10,
        lot_size=100,
        daily_volatility=daily_volatility,
    )


def market_currency(code: Market) -> str:
    return str(market.MARKET_CURRENCY[code])


def test_doctests() -> None:
    result = doctest.testmod(market)
    assert result.attempted > 10
    assert result.failed == 0


# --------------------------------------------------------------------------------------
# TSE daily price limits
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "width"),
    [
        (1, 30),
        (99, 30),
        (100, 50),
        (199, 50),
        (200, 80),
        (499, 80),
        (500, 100),
        (699, 100),
        (700, 150),
        (999, 150),
        (1_000, 300),
        (1_499, 300),
        (1_500, 400),
        (2_000, 500),
        (3_000, 700),
        (5_000, 1_000),
        (7_000, 1_500),
        (10_000, 3_000),
        (15_000, 4_000),
        (20_000, 5_000),
        (30_000, 7_000),
        (50_000, 10_000),
        (70_000, 15_000),
        (100_000, 30_000),
        (49_999_999, 7_000_000),
        (50_000_000, 10_000_000),
        (900_000_000, 10_000_000),
    ],
)
def test_tse_limit_width_follows_the_jpx_table(base: int, width: int) -> None:
    assert tse_limit_width(base) == width


def test_tse_limit_width_rejects_a_zero_price() -> None:
    with pytest.raises(ValueError, match="at least"):
        tse_limit_width(0)


@PROPERTY
@given(st.integers(min_value=1, max_value=10**8), st.integers(min_value=1, max_value=10**8))
def test_tse_limit_width_is_monotone(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert tse_limit_width(low) <= tse_limit_width(high)
    floor, ceiling = tse_price_limits(low)
    assert 1 <= floor <= low < ceiling


# --------------------------------------------------------------------------------------
# Impact
# --------------------------------------------------------------------------------------


def test_impact_is_monotone_in_quantity() -> None:
    model = ImpactModel()
    symbol = make_symbol(market=Market.NYSE, price_minor=50_000, adv_shares=1_000_000)
    state = MarketState.initial(symbol, T0)
    impacts = [
        model.after_trade(symbol, state, "buy", quantity, T0).impact
        for quantity in (0, 100, 1_000, 10_000, 100_000)
    ]
    assert impacts[0] == 0
    assert impacts == sorted(impacts)
    assert len(set(impacts)) == len(impacts)


def test_impact_follows_the_square_root_law() -> None:
    model = ImpactModel(coefficient=0.9)
    symbol = make_symbol(market=Market.NASDAQ, adv_shares=1_000_000, daily_volatility=0.02)
    state = MarketState.initial(symbol, T0)
    one_adv = model.after_trade(symbol, state, Side.BUY, 1_000_000, T0).impact
    four_adv = model.after_trade(symbol, state, Side.BUY, 4_000_000, T0).impact
    assert one_adv == pytest.approx(0.9 * 0.02)
    assert four_adv == pytest.approx(2 * one_adv)  # four times the size, twice the move
    sold = model.after_trade(symbol, state, Side.SELL, 1_000_000, T0).impact
    assert sold == pytest.approx(-one_adv)


def test_impact_decays_with_the_half_life() -> None:
    model = ImpactModel(half_life=timedelta(minutes=30))
    symbol = make_symbol(market=Market.NYSE, price_minor=10_000, adv_shares=100_000)
    pumped = model.after_trade(symbol, MarketState.initial(symbol, T0), "buy", 100_000, T0)
    assert pumped.impact > 0.05
    half = model.decayed_impact(pumped, T0 + timedelta(minutes=30))
    quarter = model.decayed_impact(pumped, T0 + timedelta(hours=1))
    assert half == pytest.approx(pumped.impact / 2)
    assert quarter == pytest.approx(pumped.impact / 4)
    # After a day of quiet the price is back at its base.
    assert model.price_at(symbol, pumped, T0 + timedelta(days=1)) == symbol.price_minor


def test_after_trade_decays_before_adding() -> None:
    model = ImpactModel()
    symbol = make_symbol(market=Market.NYSE, price_minor=10_000, adv_shares=100_000)
    first = model.after_trade(symbol, MarketState.initial(symbol, T0), "buy", 10_000, T0)
    later = T0 + model.half_life
    second = model.after_trade(symbol, first, "buy", 10_000, later)
    assert second.impact == pytest.approx(first.impact / 2 + first.impact)
    assert second.updated_at == later


def test_an_earlier_timestamp_does_not_grow_the_impact() -> None:
    model = ImpactModel()
    symbol = make_symbol(market=Market.NYSE, price_minor=10_000, adv_shares=100_000)
    state = model.after_trade(symbol, MarketState.initial(symbol, T0), "buy", 10_000, T0)
    earlier = T0 - timedelta(minutes=5)
    assert model.decayed_impact(state, earlier) == state.impact
    assert model.after_trade(symbol, state, "buy", 0, earlier).updated_at == T0


def test_buying_an_illiquid_micro_cap_lifts_it_tens_of_percent() -> None:
    """The 2025 pump: several days' volume of a ¥100-¥500 stock, bought at once."""
    model = ImpactModel()
    micro_caps = [
        symbol
        for symbol in load_symbols().values()
        if symbol.is_tse and 100 <= symbol.price_minor <= 500 and symbol.adv_jpy < 10_000_000
    ]
    assert len(micro_caps) >= 200
    for symbol in micro_caps:
        state = MarketState.initial(symbol, T0)
        after = model.after_trade(symbol, state, "buy", 8 * symbol.adv_shares, T0)
        price = model.price_at(symbol, after, T0)
        rise = price / symbol.price_minor - 1
        limit_rise = tse_limit_width(symbol.price_minor) / symbol.price_minor
        assert rise >= min(0.20, limit_rise) - 1 / symbol.price_minor, symbol


def test_buying_a_mega_cap_with_the_same_yen_barely_moves_it() -> None:
    model = ImpactModel()
    symbols = load_symbols()
    # The largest yen amount any micro-cap pump above spends.
    pump_yen = max(
        8 * symbol.adv_jpy
        for symbol in symbols.values()
        if symbol.is_tse and 100 <= symbol.price_minor <= 500 and symbol.adv_jpy < 10_000_000
    )
    for code in ("7203", "6758", "8306", "9984"):
        symbol = symbols[code]
        quantity = pump_yen // symbol.price_minor
        after = model.after_trade(symbol, MarketState.initial(symbol, T0), "buy", quantity, T0)
        assert 0 < after.impact < 0.001, code
        assert model.price_at(symbol, after, T0) / symbol.price_minor - 1 < 0.001


def test_tse_price_is_clamped_at_the_daily_limit() -> None:
    model = ImpactModel()
    symbol = make_symbol(price_minor=300, adv_shares=10_000, daily_volatility=0.08)
    state = MarketState.initial(symbol, T0)
    up = model.after_trade(symbol, state, "buy", 10_000_000, T0)
    assert model.price_at(symbol, up, T0) == 380  # ストップ高: 300 + 80
    assert up.impact == pytest.approx(80 / 300)  # the decay starts from the limit
    down = model.after_trade(symbol, state, "sell", 10_000_000, T0)
    assert model.price_at(symbol, down, T0) == 220  # ストップ安: 300 - 80


def test_a_pump_in_several_orders_reaches_stop_high() -> None:
    model = ImpactModel()
    symbol = make_symbol(price_minor=250, adv_shares=12_000, daily_volatility=0.08)
    state = MarketState.initial(symbol, T0)
    for minute in range(0, 10, 2):
        state = model.after_trade(
            symbol, state, "buy", 2 * symbol.adv_shares, T0 + timedelta(minutes=minute)
        )
    last_trade = T0 + timedelta(minutes=8)
    assert model.price_at(symbol, state, last_trade) == 330  # 250 + 80
    # Once the buying stops the pump fades: halfway back within one half-life.
    faded = model.price_at(symbol, state, last_trade + model.half_life)
    assert faded == 250 + 40


def test_non_tse_prices_are_capped_by_max_impact_and_never_below_one() -> None:
    model = ImpactModel(max_impact=1.0)
    penny = make_symbol(market=Market.HKEX, price_minor=20, adv_shares=50_000, daily_volatility=0.1)
    state = MarketState.initial(penny, T0)
    crashed = model.after_trade(penny, state, "sell", 10**12, T0)
    assert crashed.impact == -1.0
    assert model.price_at(penny, crashed, T0) == 1
    pumped = model.after_trade(penny, state, "buy", 10**12, T0)
    assert model.price_at(penny, pumped, T0) == 40  # doubled, no daily limit in HK


def test_price_at_rejects_naive_datetimes() -> None:
    model = ImpactModel()
    symbol = make_symbol()
    state = MarketState.initial(symbol, T0)
    naive = datetime(2025, 6, 10, 10, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        model.price_at(symbol, state, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        model.after_trade(symbol, state, "buy", 100, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        MarketState(base_price_minor=300, impact=0.0, updated_at=naive)


def test_bad_trades_and_models_are_rejected() -> None:
    model = ImpactModel()
    symbol = make_symbol()
    state = MarketState.initial(symbol, T0)
    with pytest.raises(ValueError, match="hold"):
        model.after_trade(symbol, state, "hold", 100, T0)
    with pytest.raises(ValueError, match="negative"):
        model.after_trade(symbol, state, "buy", -1, T0)
    with pytest.raises(ValueError, match="half_life"):
        ImpactModel(half_life=timedelta(0))
    with pytest.raises(ValueError, match="coefficient"):
        ImpactModel(coefficient=0)
    with pytest.raises(ValueError, match="base_price_minor"):
        MarketState(base_price_minor=0, impact=0.0, updated_at=T0)


_trades = st.lists(
    st.tuples(
        st.sampled_from(["buy", "sell"]),
        st.integers(min_value=0, max_value=10**9),
        st.integers(min_value=0, max_value=3 * 3600),
    ),
    max_size=20,
)


@PROPERTY
@given(
    market_code=st.sampled_from(list(Market)),
    price_minor=st.integers(min_value=1, max_value=10**7),
    adv_shares=st.integers(min_value=0, max_value=10**9),
    volatility=st.floats(min_value=0.005, max_value=0.5),
    trades=_trades,
)
def test_prices_stay_positive_and_within_limits(
    market_code: Market,
    price_minor: int,
    adv_shares: int,
    volatility: float,
    trades: list[tuple[str, int, int]],
) -> None:
    model = ImpactModel()
    symbol = make_symbol(
        market=market_code,
        price_minor=price_minor,
        adv_shares=adv_shares,
        daily_volatility=volatility,
    )
    state = MarketState.initial(symbol, T0)
    now = T0
    for side, quantity, seconds in trades:
        now += timedelta(seconds=seconds)
        before = model.price_at(symbol, state, now)
        state = model.after_trade(symbol, state, side, quantity, now)
        after = model.price_at(symbol, state, now)
        assert after >= 1
        assert abs(state.impact) <= model.max_impact
        # A buy never lowers the price, a sell never raises it.
        assert after >= before if side == "buy" else after <= before
        if symbol.is_tse:
            floor, ceiling = tse_price_limits(price_minor)
            assert floor <= after <= ceiling


@PROPERTY
@given(
    small=st.integers(min_value=0, max_value=10**7),
    extra=st.integers(min_value=0, max_value=10**7),
    seconds=st.integers(min_value=0, max_value=10**6),
)
def test_more_shares_never_move_the_price_less_and_decay_only_shrinks(
    small: int, extra: int, seconds: int
) -> None:
    model = ImpactModel()
    symbol = make_symbol(market=Market.TSE_PRIME, price_minor=2_000, adv_shares=500_000)
    state = MarketState.initial(symbol, T0)
    a = model.after_trade(symbol, state, "buy", small, T0)
    b = model.after_trade(symbol, state, "buy", small + extra, T0)
    assert a.impact <= b.impact
    assert model.price_at(symbol, a, T0) <= model.price_at(symbol, b, T0)
    later = T0 + timedelta(seconds=seconds)
    assert 0 <= model.decayed_impact(b, later) <= b.impact


# --------------------------------------------------------------------------------------
# Trading hours
# --------------------------------------------------------------------------------------


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=JST)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("when", "is_open"),
    [
        (jst(2025, 6, 10, 8, 59), False),
        (jst(2025, 6, 10, 9, 0), True),
        (jst(2025, 6, 10, 10, 0), True),
        (jst(2025, 6, 10, 11, 29), True),
        (jst(2025, 6, 10, 11, 30), False),
        (jst(2025, 6, 10, 11, 45), False),  # lunch break
        (jst(2025, 6, 10, 12, 30), True),
        (jst(2025, 6, 10, 15, 29), True),  # closing auction, since Nov 2024
        (jst(2025, 6, 10, 15, 31), False),
        (jst(2025, 6, 14, 10, 0), False),  # Saturday
        (jst(2025, 6, 15, 10, 0), False),  # Sunday
        (jst(2026, 1, 1, 10, 0), False),  # New Year
        (jst(2026, 1, 2, 10, 0), False),
        (jst(2025, 12, 31, 10, 0), False),  # year-end closure
        (jst(2025, 12, 30, 10, 0), True),  # 大納会
        (jst(2026, 1, 5, 10, 0), True),  # 大発会
        (jst(2025, 5, 6, 10, 0), False),  # substitute holiday
        (jst(2026, 9, 22, 10, 0), False),  # citizens' holiday between two holidays
    ],
)
def test_tse_hours(when: datetime, is_open: bool) -> None:
    calendar = TradingCalendar()
    for code in ("TSE_PRIME", "TSE_STANDARD", "TSE_GROWTH"):
        assert calendar.is_open(code, when) is is_open


def test_is_open_accepts_any_timezone() -> None:
    calendar = TradingCalendar()
    assert calendar.is_open(Market.TSE_PRIME, datetime(2025, 6, 10, 1, 0, tzinfo=UTC))
    assert not calendar.is_open(Market.TSE_PRIME, datetime(2025, 6, 10, 7, 0, tzinfo=UTC))


def test_next_open_from_friday_evening_is_monday_morning() -> None:
    calendar = TradingCalendar()
    result = calendar.next_open(Market.TSE_PRIME, jst(2025, 6, 13, 18, 0))
    assert result == jst(2025, 6, 16, 9, 0)
    assert result.tzinfo is UTC


def test_next_open_cases() -> None:
    calendar = TradingCalendar()
    now = jst(2025, 6, 10, 10, 15)
    assert calendar.next_open("TSE_PRIME", now) == now  # open: now itself
    assert calendar.next_open("TSE_PRIME", jst(2025, 6, 10, 11, 45)) == jst(2025, 6, 10, 12, 30)
    assert calendar.next_open("TSE_PRIME", jst(2025, 6, 10, 7, 0)) == jst(2025, 6, 10, 9, 0)
    # Over the year-end closure: Dec 31 to Jan 4 (a Sunday) is shut.
    assert calendar.next_open("TSE_PRIME", jst(2025, 12, 30, 16, 0)) == jst(2026, 1, 5, 9, 0)
    # Golden Week 2025: May 3-6 closed.
    assert calendar.next_open("TSE_GROWTH", jst(2025, 5, 2, 15, 30)) == jst(2025, 5, 7, 9, 0)


@pytest.mark.parametrize("code", ["NYSE", "NASDAQ"])
def test_us_hours_follow_daylight_saving_time(code: str) -> None:
    calendar = TradingCalendar()
    # Winter (EST, UTC-5): 09:30 New York is 23:30 JST.
    assert not calendar.is_open(code, jst(2025, 1, 14, 23, 29))
    assert calendar.is_open(code, jst(2025, 1, 14, 23, 30))
    assert not calendar.is_open(code, jst(2025, 1, 14, 22, 30))
    assert calendar.is_open(code, jst(2025, 1, 15, 5, 59))  # 15:59 New York
    assert not calendar.is_open(code, jst(2025, 1, 15, 6, 0))
    # Summer (EDT, UTC-4): 09:30 New York is 22:30 JST.
    assert calendar.is_open(code, jst(2025, 7, 15, 22, 30))
    assert not calendar.is_open(code, jst(2025, 7, 15, 22, 29))
    assert not calendar.is_open(code, jst(2025, 7, 16, 5, 0))  # 16:00 New York
    # Independence Day.
    assert not calendar.is_open(code, datetime(2025, 7, 4, 10, 0, tzinfo=NEW_YORK))
    # Saturday morning in Tokyo is still Friday in New York.
    assert calendar.is_open(code, jst(2025, 6, 14, 1, 0))


def test_us_next_open_in_japanese_time() -> None:
    calendar = TradingCalendar()
    opens = calendar.next_open(Market.NYSE, jst(2025, 6, 10, 15, 0))
    assert opens == jst(2025, 6, 10, 22, 30)
    opens = calendar.next_open(Market.NASDAQ, jst(2025, 12, 10, 15, 0))
    assert opens == jst(2025, 12, 10, 23, 30)


def test_hkex_hours_are_one_hour_behind_tokyo() -> None:
    calendar = TradingCalendar()
    assert not calendar.is_open("HKEX", jst(2025, 6, 10, 10, 29))  # 09:29 HK
    assert calendar.is_open("HKEX", jst(2025, 6, 10, 10, 30))  # 09:30 HK
    assert calendar.is_open("HKEX", jst(2025, 6, 10, 12, 59))  # 11:59 HK
    assert not calendar.is_open("HKEX", jst(2025, 6, 10, 13, 30))  # lunch
    assert calendar.is_open("HKEX", jst(2025, 6, 10, 14, 0))  # 13:00 HK
    assert calendar.is_open("HKEX", jst(2025, 6, 10, 16, 59))  # 15:59 HK
    assert not calendar.is_open("HKEX", jst(2025, 6, 10, 17, 0))  # 16:00 HK
    assert calendar.next_open("HKEX", jst(2025, 6, 10, 9, 0)) == jst(2025, 6, 10, 10, 30)


@pytest.mark.parametrize("code", ["SSE", "SZSE"])
def test_china_hours_are_one_hour_behind_tokyo(code: str) -> None:
    calendar = TradingCalendar()
    assert not calendar.is_open(code, jst(2025, 6, 10, 10, 29))
    assert calendar.is_open(code, jst(2025, 6, 10, 10, 30))  # 09:30 Shanghai
    assert not calendar.is_open(code, jst(2025, 6, 10, 12, 30))  # 11:30, lunch
    assert calendar.is_open(code, jst(2025, 6, 10, 14, 0))  # 13:00
    assert calendar.is_open(code, jst(2025, 6, 10, 15, 59))  # 14:59, closing auction
    assert not calendar.is_open(code, jst(2025, 6, 10, 16, 0))  # 15:00
    assert calendar.next_open(code, jst(2025, 6, 10, 12, 45)) == jst(2025, 6, 10, 14, 0)


def test_custom_holidays_replace_the_defaults() -> None:
    calendar = TradingCalendar({"HKEX": [date(2025, 6, 10)]})
    assert not calendar.is_open("HKEX", jst(2025, 6, 10, 11, 0))
    assert calendar.next_open("HKEX", jst(2025, 6, 10, 11, 0)) == jst(2025, 6, 11, 10, 30)
    # Markets left out have no holidays at all.
    assert calendar.is_open("TSE_PRIME", jst(2026, 1, 2, 10, 0))
    with pytest.raises(ValueError, match="unknown market"):
        TradingCalendar({"LSE": []})


def test_a_market_closed_for_good_is_an_error() -> None:
    every_day = [date(2024, 12, 1) + timedelta(days=n) for n in range(800)]
    calendar = TradingCalendar({"NYSE": every_day})
    with pytest.raises(ValueError, match="no trading day"):
        calendar.next_open("NYSE", jst(2025, 1, 1, 0, 0))


def test_calendar_rejects_naive_times_and_unknown_markets() -> None:
    calendar = TradingCalendar()
    naive = datetime(2025, 6, 10, 10, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.is_open("TSE_PRIME", naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.next_open("TSE_PRIME", naive)
    with pytest.raises(ValueError, match="unknown market"):
        calendar.is_open("TSE", T0)


def test_shipped_holidays_are_weekdays_in_range() -> None:
    # A weekday list catches a wrong substitute holiday or a typo in the year.
    for holidays in (JPX_HOLIDAYS, NYSE_HOLIDAYS):
        assert all(day.weekday() < 5 for day in holidays)
        assert {day.year for day in holidays} == {2025, 2026, 2027}
    for year in (2025, 2026, 2027):
        assert date(year, 1, 1) in JPX_HOLIDAYS or date(year, 1, 1).weekday() >= 5
        assert date(year, 12, 31) in JPX_HOLIDAYS or date(year, 12, 31).weekday() >= 5


# --------------------------------------------------------------------------------------
# FX
# --------------------------------------------------------------------------------------


def test_default_rates() -> None:
    fx = FxRates()
    assert fx.rate("USD") == Decimal(150)
    assert fx.rate("CNY") == Decimal(21)
    assert fx.rate("HKD") == Decimal("19.5")
    assert fx.rate("JPY") == Decimal(1)


@pytest.mark.parametrize(
    ("amount_minor", "currency", "minor_per_unit", "yen"),
    [
        (12_345, "USD", 100, 18_518),  # 18,517.5 rounds up
        (-12_345, "USD", 100, -18_518),  # and its mirror rounds away from zero
        (1, "USD", 100, 2),  # 1.5
        (1, "HKD", 100, 0),  # 0.195
        (3, "HKD", 100, 1),  # 0.585
        (1_001, "HKD", 100, 195),  # 195.195
        (148_000, "CNY", 100, 31_080),
        (2_850, "JPY", 1, 2_850),
        (0, "USD", 100, 0),
    ],
)
def test_to_jpy_rounds_half_up(
    amount_minor: int, currency: str, minor_per_unit: int, yen: int
) -> None:
    assert FxRates().to_jpy(amount_minor, currency, minor_per_unit) == yen


def test_to_jpy_is_exact_for_large_amounts() -> None:
    # 10^15 cents would lose pennies as a float; Decimal keeps them.
    assert FxRates().to_jpy(10**15 + 1, "HKD", 100) == 195_000_000_000_000


def test_to_jpy_rejects_unknown_currency_and_bad_units() -> None:
    with pytest.raises(ValueError, match="EUR"):
        FxRates().to_jpy(100, "EUR", 100)
    with pytest.raises(ValueError, match="minor_per_unit"):
        FxRates().to_jpy(100, "USD", 0)


def test_from_mapping_overrides_defaults() -> None:
    fx = FxRates.from_mapping({"USD": Decimal("148.25"), "hkd": "19", "CNY": 20, "JPY": 1})
    assert fx == FxRates(usd=Decimal("148.25"), cny=Decimal(20), hkd=Decimal(19))
    assert FxRates.from_mapping({"USD": 148.1}).usd == Decimal("148.1")
    assert FxRates.from_mapping({}) == FxRates()


@pytest.mark.parametrize(
    ("rates", "message"),
    [
        ({"EUR": "160"}, "unknown currency code 'EUR'"),
        ({"USD": "0"}, "USD rate must be positive"),
        ({"HKD": -19.5}, "HKD rate must be positive"),
        ({"CNY": "NaN"}, "CNY rate must be positive"),
        ({"USD": "Infinity"}, "USD rate must be positive"),
        ({"USD": "abc"}, "USD rate must be a number"),
        ({"USD": True}, "USD rate must be a number"),
        ({"JPY": "2"}, "JPY rate must be 1"),
    ],
)
def test_from_mapping_rejects_bad_rates(rates: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FxRates.from_mapping(rates)  # type: ignore[arg-type]


def test_direct_construction_validates() -> None:
    with pytest.raises(ValueError, match="USD rate must be positive"):
        FxRates(usd=Decimal(0))


def test_notional_jpy() -> None:
    fx = FxRates()
    symbols = load_symbols()
    assert notional_jpy(symbols["7203"], 2_850, 100, fx) == 285_000
    assert notional_jpy(symbols["AAPL"], 21_000, 10, fx) == 315_000
    assert notional_jpy(symbols["0700.HK"], 50_000, 100, fx) == 975_000
    assert notional_jpy(symbols["600519.SS"], 148_000, 100, fx) == 3_108_000
    assert notional_jpy(symbols["AAPL"], 21_000, 10, FxRates(usd=Decimal(100))) == 210_000
    with pytest.raises(ValueError, match="negative"):
        notional_jpy(symbols["AAPL"], 21_000, -1, fx)
