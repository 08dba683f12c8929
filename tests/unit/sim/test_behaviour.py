import tracemalloc
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from importlib import resources

import pytest

from kabuguard.broker.market import TradingCalendar
from kabuguard.broker.symbols import load_symbols
from kabuguard.domain.events import JST
from kabuguard.sim.behaviour import (
    BehaviourTables,
    CustomerState,
    DeviceChangeIntent,
    LoginIntent,
    LogoutIntent,
    OrderIntent,
    WithdrawalIntent,
    customer_day,
    iter_intents,
    surge_day,
)
from kabuguard.sim.population import generate_population, packaged_networks
from kabuguard.sim.scenario import ScenarioError, load_scenario, parse_scenario

SYMBOLS = load_symbols()
CALENDAR = TradingCalendar()
MONDAY = date(2025, 4, 7)
SEED = 11


@pytest.fixture(scope="module")
def scenario():
    return load_scenario()


@pytest.fixture(scope="module")
def tables(scenario):
    return BehaviourTables(scenario, SYMBOLS.values(), seed=SEED)


@pytest.fixture(scope="module")
def population(scenario):
    return list(generate_population(scenario, customers=4_000, seed=SEED,
                                    symbols=SYMBOLS.values()))


@pytest.fixture(scope="module")
def week(scenario, population):
    """Seven days of the 4,000 customers, in stream order."""
    return list(iter_intents(population, days=7, start=MONDAY, scenario=scenario,
                             seed=SEED, symbols=SYMBOLS.values()))


def days_of(customer, scenario, tables, days, start=MONDAY):
    state = CustomerState.of(customer)
    return [customer_day(customer, start + timedelta(days=d), scenario=scenario, seed=SEED,
                         symbols=tables, calendar=CALENDAR, state=state, start=start)
            for d in range(days)]


def test_same_seed_same_intents_and_customer_i_independent_of_n(scenario, tables,
                                                                 population):
    for customer in population[:200]:
        assert days_of(customer, scenario, tables, 3) == days_of(customer, scenario,
                                                                 tables, 3)
    small = list(iter_intents(population[:50], days=2, start=MONDAY, scenario=scenario,
                              seed=SEED, symbols=SYMBOLS.values()))
    large = list(iter_intents(population[:500], days=2, start=MONDAY, scenario=scenario,
                              seed=SEED, symbols=SYMBOLS.values()))
    accounts = {c.account for c in population[:50]}
    assert small == [i for i in large if i.account in accounts]
    assert small   # 50 customers over two days do something


def test_the_stream_is_in_time_order_and_each_day_in_its_jst_date(week):
    assert [i.ts for i in week] == sorted(i.ts for i in week)
    dates = {i.ts.astimezone(JST).date() for i in week}
    assert dates <= {MONDAY + timedelta(days=d) for d in range(7)}


def test_session_rates_converge_to_the_scenario(scenario, population, week):
    level = {c.account: c.activity for c in population}
    per_level = Counter(level.values())
    logins = Counter(level[i.account] for i in week if isinstance(i, LoginIntent))
    for name in ("daily", "weekly"):
        rate = logins[name] / per_level[name] / 7
        expected = scenario.sessions_per_day[name]
        # Life events and the surge add a few sessions on top of the Poisson draw.
        assert expected * 0.93 < rate < expected * 1.15, (name, rate, expected)


def test_sessions_are_login_actions_logout_without_overlap(week):
    open_session: dict[str, bool] = {}
    for intent in week:
        if isinstance(intent, LoginIntent):
            assert not open_session.get(intent.account)
            open_session[intent.account] = True
        elif isinstance(intent, LogoutIntent):
            assert open_session.pop(intent.account)
        elif not isinstance(intent, DeviceChangeIntent):   # replaced before logging in
            assert open_session.get(intent.account), intent
    assert not open_session


def test_orders_are_whole_lots_and_never_sell_more_than_held(population, week):
    held = {c.account: dict(c.holdings) for c in population}
    orders = [i for i in week if isinstance(i, OrderIntent)]
    assert len(orders) > 500
    sides = Counter(o.side for o in orders)
    assert sides["buy"] and sides["sell"]
    for order in orders:
        symbol = SYMBOLS[order.symbol]
        assert order.quantity > 0
        assert order.quantity % symbol.lot_size == 0
        book = held[order.account]
        if order.side == "sell":
            assert order.quantity <= book.get(order.symbol, 0), order
            book[order.symbol] -= order.quantity
        else:
            book[order.symbol] = book.get(order.symbol, 0) + order.quantity
        assert (order.order_type == "limit") == (order.limit_price is not None)


def test_times_are_mostly_in_plausible_hours(week):
    logins = [i for i in week if isinstance(i, LoginIntent)]
    hours = Counter(i.ts.astimezone(JST).hour for i in logins)
    night = sum(hours[h] for h in range(6))
    assert night / len(logins) < 0.05
    market = sum(hours[h] for h in range(9, 16))
    assert market / len(logins) > 0.3


def test_fewer_orders_on_weekends(week):
    per_day = Counter(i.ts.astimezone(JST).date() for i in week if isinstance(i, OrderIntent))
    weekday = sum(per_day[MONDAY + timedelta(days=d)] for d in (0, 1, 3)) / 3   # no surge
    weekend = (per_day[MONDAY + timedelta(days=5)] + per_day[MONDAY + timedelta(days=6)]) / 2
    assert weekend < weekday * 0.6


def test_typo_rate_matches_the_scenario(scenario, week):
    logins = [i for i in week if isinstance(i, LoginIntent)]
    share = sum(i.typos > 0 for i in logins) / len(logins)
    assert abs(share - scenario.password_typo_per_login) < 0.01
    assert max(i.typos for i in logins) <= 2


def test_travellers_log_in_from_their_destination(scenario, tables, population):
    _, ranges, _ = packaged_networks()
    travellers = [c for c in population if c.traveller and c.sessions_per_day >= 0.4][:60]
    foreign = 0
    for customer in travellers:
        state = CustomerState.of(customer)
        for d in range(120):
            day = MONDAY + timedelta(days=d)
            intents = customer_day(customer, day, scenario=scenario, seed=SEED,
                                   symbols=tables, calendar=CALENDAR, state=state)
            for login in (i for i in intents if isinstance(i, LoginIntent)):
                info = ranges.lookup(login.ip)
                if state.trip is not None:
                    assert info.country == state.trip[0]
                    foreign += 1
                else:
                    assert info.country is not None
    assert foreign > 10


def test_phone_replacement_and_bank_change_then_withdrawal(tables):
    scenario = replace(load_scenario(), phone_replacement_per_year=365.0,
                       bank_change_per_year=365.0)
    local = BehaviourTables(scenario, SYMBOLS.values(), seed=SEED)
    customer = next(c for c in generate_population(scenario, customers=500, seed=SEED,
                                                   symbols=SYMBOLS.values())
                    if any(d.kind == "phone" for d in c.devices) and c.cash_jpy > 0)
    state = CustomerState.of(customer)
    first = customer_day(customer, MONDAY, scenario=scenario, seed=SEED, symbols=local,
                         calendar=CALENDAR, state=state)
    change = next(i for i in first if isinstance(i, DeviceChangeIntent))
    assert change.new_device in {d.device for d in state.devices}
    assert change.old_device not in {d.device for d in state.devices}
    login = next(i for i in first if isinstance(i, LoginIntent))
    assert login.device == change.new_device
    assert state.bank_changed_on == MONDAY
    due = state.withdraw_on
    assert due is not None and due > MONDAY
    withdrawals = []
    day = MONDAY
    while day < due:
        day += timedelta(days=1)
        intents = customer_day(customer, day, scenario=scenario, seed=SEED, symbols=local,
                               calendar=CALENDAR, state=state)
        withdrawals += [i for i in intents if isinstance(i, WithdrawalIntent)]
    assert withdrawals and withdrawals[-1].ts.astimezone(JST).date() == due


def test_the_surge_concentrates_buys_of_one_thin_symbol(scenario, tables, week):
    day = surge_day(scenario, start=MONDAY, calendar=CALENDAR)
    assert day == MONDAY + timedelta(days=2)
    buys = Counter(i.symbol for i in week if isinstance(i, OrderIntent) and i.side == "buy"
                   and i.ts.astimezone(JST).date() == day)
    symbol, count = buys.most_common(1)[0]
    assert symbol == tables.surge_symbol
    assert count > 5 * buys.most_common(2)[1][1]
    assert SYMBOLS[symbol].adv_jpy < 100_000_000
    times = [i.ts.astimezone(JST) for i in week if isinstance(i, OrderIntent)
             and i.symbol == symbol and i.ts.astimezone(JST).date() == day]
    start = scenario.surge.start_jst_minutes / 60
    assert sum(start <= t.hour + t.minute / 60 <= start + scenario.surge.window_hours + 0.5
               for t in times) / len(times) > 0.9
    other_days = sum(1 for i in week if isinstance(i, OrderIntent) and i.symbol == symbol
                     and i.ts.astimezone(JST).date() != day)
    assert other_days < count / 5


DEFAULT_TEXT = resources.files("kabuguard.sim").joinpath("scenarios/default.yaml").read_text(
    encoding="utf-8")


@pytest.mark.parametrize(("old", "new", "reason"), [
    ("  join_share: 0.25", "  join_share: 1.5", "surge.join_share must be at most 1"),
    ("  day_offset: 2", "  day_offset: 2.5", "surge.day_offset must be a whole number"),
    ("  start_jst: \"09:00\"", "  start_jst: \"25:00\"", "surge.start_jst must be a JST time"),
    ("  window_hours: 3", "  window_hours: 0", "surge.window_hours must be more than 0"),
    ("  symbol: auto", "  symbol: [x]", "surge.symbol must be a symbol code"),
    ("  symbol: auto", "  symbol: auto\n  colour: red", "unknown field 'colour' in surge"),
    ("  start_jst: \"09:00\"", "  start_jst: \"22:00\"", "the surge must end before midnight"),
])
def test_bad_surge_sections_are_refused_with_their_line(old, new, reason):
    assert old in DEFAULT_TEXT
    text = DEFAULT_TEXT.replace(old, new)
    needle = new.splitlines()[-1]
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row == needle)
    if reason.startswith(("the surge", "surge.window")):
        line = next(n for n, row in enumerate(text.splitlines(), 1)
                    if row.startswith("  window_hours"))
    with pytest.raises(ScenarioError) as err:
        parse_scenario(text, source="s.yaml")
    assert str(err.value).startswith(f"s.yaml:{line}: {reason}"), str(err.value)


def test_the_surge_is_optional_and_a_wrong_symbol_is_refused():
    head, _, _ = DEFAULT_TEXT.partition("\nsurge:")
    assert parse_scenario(head).surge is None
    big = max((s for s in SYMBOLS.values() if s.is_tse), key=lambda s: s.market_cap_jpy)
    fixed = parse_scenario(DEFAULT_TEXT.replace("symbol: auto", f"symbol: '{big.symbol}'"))
    with pytest.raises(ValueError, match="not a thin TSE small cap"):
        BehaviourTables(fixed, SYMBOLS.values(), seed=1)


def _peak_bytes(population, scenario, days):
    tracemalloc.start()
    count = 0
    for _ in iter_intents(population, days=days, start=MONDAY, scenario=scenario,
                          seed=SEED, symbols=SYMBOLS.values()):
        count += 1
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, count


def test_streaming_memory_does_not_grow_with_days(scenario, population):
    customers = population[:1_000]
    one_peak, one_count = _peak_bytes(customers, scenario, 1)
    ten_peak, ten_count = _peak_bytes(customers, scenario, 10)
    assert ten_count > 5 * one_count
    assert ten_peak < one_peak * 1.6, (one_peak, ten_peak)


def test_a_retiree_sells_everything_then_withdraws(monkeypatch, scenario, tables, population):
    monkeypatch.setattr("kabuguard.sim.behaviour.RETIREE_SELL_ALL_PER_DAY", 1.0)
    retiree = next(c for c in population if c.trading_style == "retiree_sell_all")
    state = CustomerState.of(retiree)
    intents = customer_day(retiree, MONDAY, scenario=scenario, seed=SEED, symbols=tables,
                           calendar=CALENDAR, state=state)
    sold = {i.symbol: i.quantity for i in intents
            if isinstance(i, OrderIntent) and i.side == "sell"}
    assert sold == dict(retiree.holdings)
    withdrawal = next(i for i in intents if isinstance(i, WithdrawalIntent))
    assert withdrawal.ts > max(i.ts for i in intents if isinstance(i, OrderIntent))
    assert state.sold_everything and state.holdings == {} and state.cash_jpy == 0
    later = customer_day(retiree, MONDAY + timedelta(days=1), scenario=scenario, seed=SEED,
                         symbols=tables, calendar=CALENDAR, state=state)
    assert not any(isinstance(i, OrderIntent) for i in later)
