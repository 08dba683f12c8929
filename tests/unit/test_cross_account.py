import random

import pytest

from kabuguard.risk.cross_account import CrossAccountDetector, CrossSignal

DAY = 86_400.0
T0 = 1_744_070_400.0        # Tuesday 2025-04-08 09:00 JST: the TSE opens
SYMBOLS = {
    # thin TSE small cap (the 2025 targets traded < ¥20m a day)
    "THIN": {"symbol": "THIN", "market": "TSE_STANDARD", "adv_jpy": 20e6, "market_cap_jpy": 3e9},
    # liquid large cap
    "BIG": {"symbol": "BIG", "market": "TSE_PRIME", "adv_jpy": 50e9, "market_cap_jpy": 30e12},
    # liquid enough not to be restricted, thin enough to alert at a large crowd
    "MID": {"symbol": "MID", "market": "TSE_PRIME", "adv_jpy": 1e9, "market_cap_jpy": 200e9},
    # Shanghai small cap that trades a lot at home
    "CNSMALL": {"symbol": "CNSMALL", "market": "SSE", "adv_jpy": 2e9, "market_cap_jpy": 10e9},
    "CNLARGE": {"symbol": "CNLARGE", "market": "SSE", "adv_jpy": 2e9, "market_cap_jpy": 500e9},
}


def detector(**kwargs) -> CrossAccountDetector:
    return CrossAccountDetector(SYMBOLS, **kwargs)


def pump(d, symbol="THIN", *, buyers=30, span_s=40 * 60, start=T0, unusual=0.9, prefix="V"):
    """Hijacked sessions buying ``symbol``, evenly over ``span_s``."""
    return [d.on_order(f"{prefix}{i:04d}", symbol, "buy", 1_000_000.0, start + i * span_s / buyers,
                       unusual) for i in range(buyers)]


def news_surge(d, symbol="THIN", *, buyers=200, span_s=3_600.0, start=T0, seed=1):
    """Ordinary customers on their own devices: unusual 0 to 0.1."""
    rng = random.Random(seed)
    return [d.on_order(f"C{i:05d}", symbol, "buy", 300_000.0, start + i * span_s / buyers,
                       rng.uniform(0.0, 0.1)) for i in range(buyers)]


def test_news_surge_of_ordinary_buyers_is_not_restricted():
    d = detector()
    signals = news_surge(d)
    assert not any(s.restrict for s in signals)
    assert all(s.pump_score < d.pump_threshold for s in signals)
    assert all("illiquid_buy_surge" not in s.reasons for s in signals)
    assert signals[-1].buyers == 200
    assert signals[-1].reasons == ("news_surge",)
    alerts = [s.alert for s in signals if s.alert]
    assert [a["kind"] for a in alerts] == ["symbol_buy_surge"]      # informational, once
    assert not d.in_pump("THIN", T0 + 3_600)


def test_news_surge_with_some_customers_on_new_devices_is_not_restricted():
    # 5% of a real crowd are on a new phone or buy their first small cap: a little
    # unusual each. The crowd of ordinary buyers around them outweighs them.
    d = detector()
    rng = random.Random(3)
    signals = []
    for i in range(200):
        unusual = 0.65 if i % 20 == 7 else rng.uniform(0.0, 0.1)
        signals.append(d.on_order(f"C{i:05d}", "THIN", "buy", 300_000.0, T0 + i * 18, unusual))
    assert sum(s.restrict for s in signals) == 0
    assert not d.in_pump("THIN", T0 + 3_600)


def test_pump_restricts_exactly_once_at_the_crossing():
    d = detector()
    signals = pump(d)
    restricted = [i for i, s in enumerate(signals) if s.restrict]
    assert len(restricted) == 1
    crossing = restricted[0]
    # The crossing is the first order at or over the threshold with enough unusual buyers.
    assert all(s.pump_score < d.pump_threshold or i + 1 < d.min_unusual_buyers
               for i, s in enumerate(signals[:crossing]))
    assert signals[crossing].pump_score >= d.pump_threshold
    assert all(s.reasons == () for s in signals[:crossing])
    assert all(s.reasons == ("illiquid_buy_surge",) for s in signals[crossing:])
    assert crossing < 10                    # a handful of hijacked sessions is enough
    alert = signals[crossing].alert
    assert alert["kind"] == "symbol_pump"
    assert alert["symbol"] == "THIN"
    assert alert["restricted"] is True
    assert alert["buyers"] == crossing + 1
    assert alert["window_start_s"] == T0
    assert alert["window_end_s"] == T0 + crossing * 80
    accounts = [a["account"] for a in alert["top_accounts"]]
    assert accounts == sorted(accounts)     # equal weights: by account id
    assert all(s.alert is None for s in signals[crossing + 1:])
    # The score grows with every further hijacked buyer.
    scores = [s.pump_score for s in signals]
    assert scores == sorted(scores)


def test_top_accounts_are_ordered_by_weight_then_account():
    d = detector()
    signals = [d.on_order(f"V{9 - i}", "THIN", "buy", 1e6, T0 + i * 60, unusual)
               for i, unusual in enumerate([0.7, 0.95, 0.7, 0.95, 0.7])]
    alerts = [s.alert for s in signals if s.alert]
    assert len(alerts) == 1
    ranked = [(a["account"], a["weight"]) for a in alerts[0]["top_accounts"]]
    assert ranked == [("V8", 1.0), ("V7", 0.75), ("V9", 0.75)]


def test_pump_on_a_liquid_large_cap_is_not_restricted():
    d = detector()
    signals = pump(d, "BIG")
    assert not any(s.restrict for s in signals)
    assert all(s.alert is None for s in signals)
    assert all(s.reasons == () for s in signals)
    # The same crowd scores far lower than in the thin symbol.
    thin = pump(detector(), "THIN")
    assert signals[-1].pump_score * 10 < thin[-1].pump_score


def test_liquid_symbol_alerts_without_restriction_only_at_a_much_larger_crowd():
    d = detector()
    small = pump(d, "MID")
    assert all(s.alert is None and not s.restrict for s in small)
    d = detector()
    signals = pump(d, "MID", buyers=300, span_s=50 * 60)
    alerts = [s.alert for s in signals if s.alert]
    assert len(alerts) == 1
    assert alerts[0]["restricted"] is False
    assert alerts[0]["pump_score"] >= d.pump_threshold * d.liquid_alert_factor
    assert not any(s.restrict for s in signals)
    assert signals[-1].reasons == ("liquid_buy_surge",)


def test_foreign_small_cap_is_restricted_but_not_a_foreign_large_cap():
    assert any(s.restrict for s in pump(detector(), "CNSMALL"))
    assert not any(s.restrict for s in pump(detector(), "CNLARGE"))


def test_symbol_missing_from_reference_data_counts_as_thin():
    assert any(s.restrict for s in pump(detector(), "UNKNOWN"))


def test_slow_trickle_of_unusual_buyers_over_days_is_not_a_pump():
    d = detector()
    signals = pump(d, buyers=30, span_s=4 * DAY)       # one every 3.2 hours
    assert not any(s.restrict for s in signals)
    assert max(s.buyers for s in signals) == 1
    assert all(s.reasons == () for s in signals)


def test_restriction_comes_again_only_after_the_pump_state_has_ended():
    d = detector()
    first = pump(d)
    again_same_day = pump(d, start=T0 + 6 * 3_600, prefix="W")
    next_week = pump(d, start=T0 + 7 * DAY, prefix="X")
    assert sum(s.restrict for s in first) == 1
    assert sum(s.restrict for s in again_same_day) == 0
    assert sum(s.restrict for s in next_week) == 1


def beneficiary_setup(d):
    # A habitual small-cap trader who bought two months ago (outside the lookback).
    d.on_order("OLD", "THIN", "buy", 3_000_000.0, T0 - 60 * DAY, 0.05)
    # Bought 10 days before with an ordinary session (its own phone, home network).
    d.on_order("BEN", "THIN", "buy", 3_000_000.0, T0 - 10 * DAY, 0.1)
    # An account that bought in a hijacked session before (unusual): not a candidate.
    d.on_order("VICTIM0", "THIN", "buy", 3_000_000.0, T0 - 2 * DAY, 0.9)


def test_beneficiary_who_bought_before_and_sells_into_the_pump_is_flagged():
    d = detector()
    beneficiary_setup(d)
    pump(d)
    signal = d.on_order("BEN", "THIN", "sell", 5_000_000.0, T0 + 50 * 60, 0.1)
    assert signal.reasons == ("pump_beneficiary",)
    assert signal.beneficiary_score >= d.beneficiary_threshold
    assert not signal.restrict
    alert = signal.alert
    assert alert["kind"] == "pump_beneficiary"
    assert alert["account"] == "BEN"
    assert alert["bought_notional_jpy"] == 3_000_000.0
    assert alert["lead_days"] == pytest.approx(10.0)
    assert alert["pump_start_s"] == T0
    # Others selling into the same pump are not beneficiaries.
    for account in ("VICTIM0", "OLD", "V0003", "NOBODY"):
        other = d.on_order(account, "THIN", "sell", 5_000_000.0, T0 + 55 * 60, 0.1)
        assert other.beneficiary_score == 0.0, account
        assert other.reasons == (), account


def test_beneficiary_score_grows_with_the_share_of_the_pump_sold_and_an_early_buy():
    def score(*, lead_days: float, sold: float) -> float:
        d = detector()
        d.on_order("BEN", "THIN", "buy", 3_000_000.0, T0 - lead_days * DAY, 0.1)
        pump(d)
        return d.on_order("BEN", "THIN", "sell", sold, T0 + 50 * 60, 0.1).beneficiary_score

    assert score(lead_days=3, sold=10e6) > score(lead_days=3, sold=1e6)
    assert score(lead_days=3, sold=1e6) > score(lead_days=25, sold=1e6)
    assert score(lead_days=25, sold=1e6) > 0.0


def test_same_account_selling_into_a_news_surge_is_not_flagged():
    d = detector()
    beneficiary_setup(d)
    news_surge(d)
    signal = d.on_order("BEN", "THIN", "sell", 5_000_000.0, T0 + 50 * 60, 0.1)
    assert signal.beneficiary_score == 0.0
    assert signal.reasons == ()
    assert signal.alert is None


def test_beneficiary_selling_after_the_pump_state_has_ended_is_not_flagged():
    d = detector()
    beneficiary_setup(d)
    pump(d)
    signal = d.on_order("BEN", "THIN", "sell", 5_000_000.0, T0 + 3 * DAY, 0.1)
    assert signal.beneficiary_score == 0.0
    assert signal.reasons == ()


def test_baseline_makes_a_usual_crowd_no_surge():
    # Fifty ordinary buyers a day, every trading day for four weeks, spread over the day.
    d = detector()
    day0 = T0 - 28 * DAY
    signals = []
    for day in range(28):
        for i in range(50):
            signals.append(d.on_order(f"R{(day * 50 + i) % 400:04d}", "THIN", "buy", 2e5,
                                      day0 + day * DAY + i * 360, 0.05))
    assert all("news_surge" not in s.reasons for s in signals[50:])
    # The same fifty in one hour on a symbol nobody bought before is a surge.
    fresh = news_surge(detector(), "THIN", buyers=50)
    assert fresh[-1].reasons == ("news_surge",)


def test_baseline_crowd_lowers_the_pump_score_of_the_same_hijacked_buyers():
    busy = detector()
    for day in range(20):
        news_surge(busy, buyers=300, span_s=5 * 3_600, start=T0 - (20 - day) * DAY, seed=day)
    quiet = detector()
    assert pump(busy, buyers=8)[-1].pump_score < pump(quiet, buyers=8)[-1].pump_score


def run(events, **kwargs):
    d = detector(**kwargs)
    return [d.on_order(*event) for event in events]


def mixed_stream(n=3_000, seed=5):
    rng = random.Random(seed)
    symbols = ["THIN", "BIG", "MID", "CNSMALL", "OTHER"]
    events = []
    ts = T0 - 3 * DAY
    for i in range(n):
        ts += rng.expovariate(1 / 120)
        if i in (100, 1_050):            # a beneficiary buys early, sells into the pump
            events.append(("BEN", "THIN", "buy" if i == 100 else "sell", 2e6, ts, 0.0))
            continue
        if 1_000 <= i < 1_040:           # a pump in the middle of the stream
            events.append((f"V{i}", "THIN", "buy", 1e6, ts, rng.uniform(0.7, 1.0)))
            continue
        side = "buy" if rng.random() < 0.6 else "sell"
        symbol = rng.choice(symbols)
        if symbol == "THIN" and side == "sell":
            side = "buy"                 # no ordinary holder of THIN sells into the pump
        events.append((f"A{rng.randrange(300):03d}", symbol, side,
                       rng.uniform(1e5, 5e6), ts, 0.8 * rng.random() ** 8))
    return events


def as_tuple(s: CrossSignal):
    return (s.pump_score, s.buyers, s.restrict, s.reasons, s.beneficiary_score, s.alert)


def test_deterministic():
    events = mixed_stream()
    first, second = run(events), run(events)
    assert [as_tuple(s) for s in first] == [as_tuple(s) for s in second]
    # The stream does exercise a pump and a beneficiary.
    assert sum(s.restrict for s in first) == 1
    assert [s.alert["account"] for s in first if s.reasons == ("pump_beneficiary",)] == ["BEN"]


def test_causal_a_prefix_gives_the_same_signals():
    events = mixed_stream()
    full = [as_tuple(s) for s in run(events)]
    for cut in (1, 999, 1_020, 1_700):
        assert [as_tuple(s) for s in run(events[:cut])] == full[:cut]


def test_memory_per_symbol_is_bounded_and_counts_stay_right():
    d = detector()
    for i in range(10_000):     # 10,000 distinct buyers within the hour
        signal = d.on_order(f"C{i:05d}", "THIN", "buy", 1e5, T0 + i * 0.3, 0.05)
        assert d.memory("THIN")["window"] <= d.max_window_buyers
    memory = d.memory("THIN")
    assert memory["window"] == d.max_window_buyers
    assert memory["buckets"] <= 34
    assert memory["ledger"] == d.max_prior_buyers
    assert signal.buyers == 10_000              # evicted buyers still counted in the window
    # Two hours later every one of them has left the window.
    later = d.on_order("LATE", "THIN", "buy", 1e5, T0 + 3 * 3_600, 0.05)
    assert later.buyers == 1
    assert d.memory("THIN") == {"window": 1, "buckets": 0, "ledger": d.max_prior_buyers}


def test_flood_of_ordinary_buyers_keeps_the_unusual_ones_in_memory():
    d = detector(max_window_buyers=64)
    for i in range(5):
        d.on_order(f"V{i}", "THIN", "buy", 1e6, T0 + i, 0.45)       # weight 0.125: no pump
    for i in range(500):
        d.on_order(f"C{i:04d}", "THIN", "buy", 1e5, T0 + 10 + i, 0.0)
    assert d.memory("THIN")["window"] == 64
    assert [b["account"] for b in d.top_buyers("THIN")] == [f"V{i}" for i in range(5)]


def test_idle_symbols_are_dropped():
    d = detector()
    for i in range(100):
        d.on_order("A", f"S{i}", "buy", 1e5, T0 + i, 0.0)
    assert d.symbols_tracked == 100
    for i in range(1_024):
        d.on_order("A", "THIN", "buy", 1e5, T0 + 40 * DAY + i, 0.0)
    assert d.symbols_tracked == 1


def test_out_of_range_inputs():
    d = detector()
    with pytest.raises(ValueError, match="side"):
        d.on_order("A", "THIN", "hold", 1e5, T0, 0.0)
    # NaN unusual counts as fully unusual, out-of-range values are clipped.
    assert d.on_order("A", "THIN", "buy", 1e5, T0, float("nan")).pump_score > 0
    assert d.on_order("B", "THIN", "buy", 1e5, T0, -3.0).buyers == 2
    # A time going backwards is taken as the latest seen.
    assert d.on_order("C", "THIN", "buy", 1e5, T0 - 7_200, 0.0).buyers == 3
    with pytest.raises(ValueError, match="unusual_level"):
        detector(unusual_level=0.3)
