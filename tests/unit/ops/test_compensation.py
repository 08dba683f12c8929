"""Compensation figures against hand computations, then properties over random cases.

Every expected figure below is worked out by hand in the comment above it; rounding is
half up, to the yen, per line (ops/compensation.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories.compensation import A_CUTOFF, PRICES_AS_OF, case_a, trade
from kabuguard.domain.events import JST
from kabuguard.ops.compensation import (
    CaseInputs,
    CompensationInputError,
    CompensationResult,
    Exclusion,
    FraudTrade,
    LineCode,
    LineKind,
    NegligenceFactor,
    Position,
    compute_compensation,
)
from kabuguard.ops.compensation_policy import Method

L = LineCode
MFA_OFF = NegligenceFactor(Decimal("0.3"), "the customer had turned off login MFA on 2025-03-30",
                           "supervisor-1")

# ---------------------------------------------------------------------------------------
# Example A (factories/compensation.py): own 1,000 × 7203 sold; 5721 bought twice, part
# sold at a loss; fees on every trade. Current prices 7203 ¥3,000, 5721 ¥120.
#
#   T1 sell 7203 1,000 @ 2,800  value 2,800,000  fee   550   (own holding)
#   T2 buy  5721 10,000 @ 250   value 2,500,000  fee 1,100
#   T3 buy  5721 2,000 @ 280    value   560,000  fee   330
#   T4 sell 5721 4,000 @ 200    value   800,000  fee   440   (from the T2 lot, oldest first)
#
# 5721: the 4,000 sold cost 2,500,000 × 4,000/10,000 = 1,000,000
#       realised loss   = 1,000,000 − 800,000                        =   200,000
#       still held      = 6,000 (cost 1,500,000) + 2,000 (cost 560,000) = 8,000, cost 2,060,000
#       worth now       = 8,000 × 120                                 =   960,000
#       unrealised loss = 2,060,000 − 960,000                         = 1,100,000
#       loss on bought  = 200,000 + 1,100,000                         = 1,300,000
# 7203: buy back 1,000 × 3,000 = 3,000,000; loss on sold own = 3,000,000 − 2,800,000 = 200,000
# fees = 550 + 1,100 + 330 + 440 = 2,420; buys 3,060,000; sells 3,600,000
# ---------------------------------------------------------------------------------------


def test_example_a_line_items_shared_by_every_preset(presets):
    result = compute_compensation(case_a(), presets["full_cash"])
    assert [(code, result.amount(code)) for code in (
        L.BUY_VALUE, L.SELL_VALUE, L.LOSS_BOUGHT_REALISED, L.LOSS_BOUGHT_UNREALISED,
        L.LOSS_ON_BOUGHT, L.OWN_SOLD_PROCEEDS, L.OWN_BUYBACK_COST, L.LOSS_ON_SOLD_OWN,
        L.FEES_PAID)] == [
        (L.BUY_VALUE, 3_060_000), (L.SELL_VALUE, 3_600_000),
        (L.LOSS_BOUGHT_REALISED, 200_000), (L.LOSS_BOUGHT_UNREALISED, 1_100_000),
        (L.LOSS_ON_BOUGHT, 1_300_000), (L.OWN_SOLD_PROCEEDS, 2_800_000),
        (L.OWN_BUYBACK_COST, 3_000_000), (L.LOSS_ON_SOLD_OWN, 200_000), (L.FEES_PAID, 2_420)]


@pytest.mark.parametrize("name", ["sbi_2025", "rakuten_2025"])
def test_example_a_sbi_and_rakuten_pay_half_the_bought_loss_fees_and_sympathy(presets, name):
    # 50% × 1,300,000 = 650,000; fees 100% = 2,420; sympathy 10,000; the sold Toyota
    # (loss 200,000) is not compensated.  650,000 + 2,420 + 10,000 = 662,420
    result = compute_compensation(case_a(), presets[name])
    assert result.amount(L.BASIS) == 1_300_000
    assert result.amount(L.LOSS_COMPENSATION) == 650_000
    assert result.amount(L.FEE_REFUND) == 2_420
    assert result.amount(L.SYMPATHY_PAYMENT) == 10_000
    assert result.total_yen == 662_420


def test_example_a_matsui_includes_the_loss_on_the_sold_holdings(presets):
    # 50% × (1,300,000 + 200,000) = 750,000; no fee refund or sympathy reported for Matsui.
    result = compute_compensation(case_a(), presets["matsui_2025"])
    assert result.amount(L.BASIS) == 1_500_000
    assert result.amount(L.FEE_REFUND) == 0
    assert result.total_yen == 750_000


def test_example_a_sbi_neotrade_nets_buys_against_sells(presets):
    # buys − sells − bought shares still held at today's price
    # = 3,060,000 − 3,600,000 − 960,000 = −1,500,000 → 0; only the sympathy 10,000.
    # (The intruder paid for the pump stock with the customer's Toyota: no net cash left.)
    result = compute_compensation(case_a(), presets["sbi_neotrade_2025"])
    assert result.amount(L.BASIS) == 0
    assert result.total_yen == 10_000


def test_example_a_full_cash(presets):
    # 1,300,000 + 200,000 + 2,420 = 1,502,420
    result = compute_compensation(case_a(), presets["full_cash"])
    assert result.total_yen == 1_502_420 == result.full_loss_yen


@pytest.mark.parametrize("name", ["restoration", "nomura_2025"])
def test_example_a_restoration(presets, name):
    # Give back 1,000 × 7203 (3,000,000 at today's price); take the 8,000 × 5721 still held
    # (960,000); put the cash back: the intruder's buys and fees took 3,060,000 + 2,420,
    # its sells added 3,600,000, so −537,580 is debited.
    # Value to the customer = firm's cost = 3,000,000 − 537,580 − 960,000 = 1,502,420,
    # the same as full cash compensation.
    result = compute_compensation(case_a(), presets[name])
    assert result.method is Method.RESTORATION
    assert result.restoration.shares_to_return == (Position("7203", 1_000, Decimal(3000), 3_000_000),)
    assert result.restoration.positions_to_remove == (Position("5721", 8_000, Decimal(120), 960_000),)
    assert result.amount(L.CASH_ADJUSTMENT) == -537_580 == result.cash_to_customer_yen
    assert result.amount(L.REMOVED_POSITIONS_VALUE) == -960_000
    assert result.total_yen == 1_502_420


def test_example_a_case_by_case_with_negligence_and_a_cutoff(presets):
    # With the late buy of 2025-04-09 excluded by the cut-off (2025-04-08 17:00), the
    # figures are example A's: full loss 1,502,420 (loss 1,500,000 + fees 2,420).
    # Reduction 30% × 1,502,420 = 450,726; total 1,502,420 − 450,726 = 1,051,694.
    result = compute_compensation(case_a(late_buy=True), presets["case_by_case"],
                                  negligence=MFA_OFF, cutoff=A_CUTOFF)
    assert [e.reason for e in result.excluded] == [Exclusion.AFTER_CUTOFF]
    assert result.amount(L.LOSS_COMPENSATION) == 1_500_000
    assert result.amount(L.FEE_REFUND) == 2_420
    assert result.amount(L.NEGLIGENCE_REDUCTION) == -450_726
    assert result.total_yen == 1_051_694


def test_the_cutoff_keeps_later_purchases_out(presets):
    # Without the cut-off the late buy counts: 5,000 more 5721 at 150 (750,000, fee 550)
    # worth 600,000 now. Loss on bought 1,300,000 + 150,000 = 1,450,000; fees 2,970;
    # full 1,450,000 + 200,000 + 2,970 = 1,652,970; 30% = 495,891; total 1,157,079.
    result = compute_compensation(case_a(late_buy=True), presets["case_by_case"],
                                  negligence=MFA_OFF)
    assert result.total_yen == 1_157_079
    assert result.total_yen > 1_051_694


def test_case_by_case_needs_a_person_to_set_the_negligence_factor(presets):
    with pytest.raises(CompensationInputError, match="negligence factor set by a person"):
        compute_compensation(case_a(), presets["case_by_case"])
    none = NegligenceFactor(Decimal(0), "reviewed: no fault found", "supervisor-1")
    assert compute_compensation(case_a(), presets["case_by_case"], negligence=none
                                ).total_yen == 1_502_420


def test_restoration_is_granted_whole(presets):
    with pytest.raises(CompensationInputError, match="restoration"):
        compute_compensation(case_a(), presets["restoration"], negligence=MFA_OFF)


def test_negligence_reduces_loss_and_fees_but_not_the_sympathy_payment(presets):
    # SBI with 30%: (650,000 + 2,420) × 30% = 195,726; 652,420 − 195,726 + 10,000 = 466,694
    result = compute_compensation(case_a(), presets["sbi_2025"], negligence=MFA_OFF)
    assert result.amount(L.NEGLIGENCE_REDUCTION) == -195_726
    assert result.total_yen == 466_694


# ---------------------------------------------------------------------------------------
# Example B: the customer's own cash paid for the pump stock; a sell at a decimal price.
#   B1 buy  5721 3,000 @ 333    value 999,000  fee 275
#   B2 sell 5721 1,000 @ 301.5  value 301,500  fee 110
# Price now 150. The 1,000 sold cost 999,000 / 3 = 333,000: realised 31,500; 2,000 held
# cost 666,000, worth 300,000: unrealised 366,000; loss on bought 397,500.
# ---------------------------------------------------------------------------------------


def case_b() -> CaseInputs:
    return CaseInputs("C-B", "ACC-B", (
        trade("2025-05-12", "09:10", "5721", "buy", 3_000, "333", 275),
        trade("2025-05-12", "13:40", "5721", "sell", 1_000, "301.5", 110),
    ), {}, {"5721": Decimal(150)}, PRICES_AS_OF)


def test_example_b_under_four_presets(presets):
    # Neotrade: 999,000 − 301,500 − 300,000 = 397,500; 50% = 198,750; + 10,000 = 208,750
    # SBI:      50% × 397,500 = 198,750; fees 275 + 110 = 385; + 10,000 = 209,135
    # Matsui:   50% × (397,500 + 0) = 198,750
    # Full:     397,500 + 385 = 397,885
    totals = {name: compute_compensation(case_b(), presets[name]).total_yen
              for name in ("sbi_neotrade_2025", "sbi_2025", "matsui_2025", "full_cash")}
    assert totals == {"sbi_neotrade_2025": 208_750, "sbi_2025": 209_135,
                      "matsui_2025": 198_750, "full_cash": 397_885}
    result = compute_compensation(case_b(), presets["sbi_2025"])
    assert (result.amount(L.LOSS_BOUGHT_REALISED), result.amount(L.LOSS_BOUGHT_UNREALISED)) == (
        31_500, 366_000)


# Example C: rounding. Buy 3 @ 100.5 = 301.5 → 302 (half up). Sell 1 @ 90. Price now
# 80.25. The share sold cost 302/3 = 100.67 → 101, leaving 201 for 2 shares; realised
# 101 − 90 = 11; 2 held worth 160.5 → 161; unrealised 201 − 161 = 40; loss 51.
# SBI: 50% × 51 = 25.5 → 26, + 10,000 = 10,026.
def test_example_c_rounds_half_up_once_per_line(presets):
    case = CaseInputs("C-C", "ACC-C", (
        trade("2025-05-12", "09:00", "130A", "buy", 3, "100.5"),
        trade("2025-05-12", "09:30", "130A", "sell", 1, "90"),
    ), {}, {"130A": Decimal("80.25")}, PRICES_AS_OF)
    result = compute_compensation(case, presets["sbi_2025"])
    assert result.amount(L.BUY_VALUE) == 302
    assert (result.amount(L.LOSS_BOUGHT_REALISED), result.amount(L.LOSS_BOUGHT_UNREALISED)) == (11, 40)
    assert result.amount(L.LOSS_COMPENSATION) == 26
    assert result.total_yen == 10_026


# Example D: one sell takes the intruder's lot and the customer's own shares.
# Own 500 × 8306. Buy 300 @ 1,000 (300,000). Sell 600 @ 900 (540,000): 300 from the lot,
# 300 own, proceeds split 270,000 / 270,000. Realised 300,000 − 270,000 = 30,000.
# Own 300 bought back at 950 = 285,000; loss 15,000.
# Matsui 50% × 45,000 = 22,500. SBI 50% × 30,000 + 10,000 = 25,000.
# Restoration: return 300 (285,000), cash 300,000 − 540,000 = −240,000 → 45,000.
def case_d() -> CaseInputs:
    return CaseInputs("C-D", "ACC-D", (
        trade("2025-05-13", "09:00", "8306", "buy", 300, "1000"),
        trade("2025-05-13", "10:00", "8306", "sell", 600, "900"),
    ), {"8306": 500}, {"8306": Decimal(950)}, PRICES_AS_OF)


def test_example_d_a_sell_split_between_bought_lot_and_own_holding(presets):
    totals = {name: compute_compensation(case_d(), presets[name]).total_yen
              for name in ("matsui_2025", "sbi_2025", "restoration", "full_cash")}
    assert totals == {"matsui_2025": 22_500, "sbi_2025": 25_000, "restoration": 45_000,
                      "full_cash": 45_000}
    result = compute_compensation(case_d(), presets["restoration"])
    assert result.restoration.shares_to_return == (Position("8306", 300, Decimal(950), 285_000),)
    assert result.restoration.positions_to_remove == ()


# Example E: the intruder sells 1,000 own 7203 at 2,800, then buys 400 back at 2,900.
# Now 3,000. Bought: 400 worth 1,200,000 for 1,160,000, a 40,000 gain → loss 0.
# Own: 3,000,000 − 2,800,000 = 200,000. Full cash 200,000 (the gain is not clawed back).
# Restoration nets the 400 (they stay), returns 600 (1,800,000), cash
# 1,160,000 − 2,800,000 = −1,640,000 → 160,000: it restores exactly, windfall included.
def test_example_e_restoration_nets_a_symbol_sold_and_bought(presets):
    case = CaseInputs("C-E", "ACC-E", (
        trade("2025-05-14", "09:00", "7203", "sell", 1_000, "2800"),
        trade("2025-05-14", "09:20", "7203", "buy", 400, "2900"),
    ), {"7203": 1_000}, {"7203": Decimal(3000)}, PRICES_AS_OF)
    restoration = compute_compensation(case, presets["restoration"])
    assert restoration.restoration.netted == (Position("7203", 400, Decimal(3000), 1_200_000),)
    assert restoration.restoration.shares_to_return == (
        Position("7203", 600, Decimal(3000), 1_800_000),)
    assert restoration.restoration.positions_to_remove == ()
    assert restoration.total_yen == 160_000
    assert compute_compensation(case, presets["full_cash"]).total_yen == 200_000


def test_nomura_covers_fraud_up_to_2025_06_28_jst(presets):
    # 23:59 JST on 06-28 is in; 00:30 JST on 06-29 (15:30 UTC on 06-28) is out.
    inside = trade("2025-06-28", "23:59", "5721", "buy", 100, "200")
    outside = trade("2025-06-29", "00:30", "5721", "buy", 100, "200")
    case = CaseInputs("C-F", "ACC-F", (inside, outside), {}, {"5721": Decimal(100)},
                      PRICES_AS_OF)
    result = compute_compensation(case, presets["nomura_2025"])
    assert result.included == (inside,)
    assert [(e.trade, e.reason) for e in result.excluded] == [
        (outside, Exclusion.AFTER_COVERED_PERIOD)]
    # 100 × 200 paid, worth 100 × 100 now: the firm takes them, restoring 20,000 cash.
    assert result.total_yen == 20_000 - 10_000


def test_a_case_with_nothing_covered_pays_no_sympathy(presets):
    late = trade("2026-02-01", "10:00", "5721", "buy", 100, "200")
    case = CaseInputs("C-G", "ACC-G", (late,), {}, {"5721": Decimal(100)}, PRICES_AS_OF)
    result = compute_compensation(case, presets["sbi_neotrade_2025"])
    assert result.included == ()
    assert result.total_yen == 0


def test_an_impossible_sell_is_refused(presets):
    case = CaseInputs("C-H", "ACC-H", (trade("2025-05-12", "09:00", "7203", "sell", 1_001, "2800"),),
                      {"7203": 1_000}, {"7203": Decimal(3000)}, PRICES_AS_OF)
    with pytest.raises(CompensationInputError, match="held 0 bought by the intruder and 1000"):
        compute_compensation(case, presets["sbi_2025"])


def test_a_missing_price_is_refused(presets):
    case = CaseInputs("C-I", "ACC-I", (trade("2025-05-12", "09:00", "5721", "buy", 100, "200"),),
                      {}, {}, PRICES_AS_OF)
    with pytest.raises(CompensationInputError, match="no current price for 5721"):
        compute_compensation(case, presets["sbi_2025"])


@pytest.mark.parametrize("bad", [{"price_yen": 250.0}, {"quantity": 0}, {"fee_yen": -1},
                                 {"side": "short"}, {"ts": datetime(2025, 4, 8)}])  # noqa: DTZ001
def test_bad_trades_are_refused(bad):
    fields = {"ts": datetime(2025, 4, 8, tzinfo=JST), "symbol": "5721", "side": "buy",
              "quantity": 100, "price_yen": Decimal(250), "fee_yen": 0} | bad
    with pytest.raises(CompensationInputError):
        FraudTrade(**fields)


def test_a_negligence_factor_needs_a_reason_and_stays_within_0_and_1():
    with pytest.raises(CompensationInputError, match="reason"):
        NegligenceFactor(Decimal("0.3"), " ", "sup")
    with pytest.raises(CompensationInputError, match="between 0 and 1"):
        NegligenceFactor(Decimal("1.1"), "why", "sup")


def test_the_snapshot_round_trips_and_its_digest_binds_it(presets):
    result = compute_compensation(case_a(late_buy=True), presets["case_by_case"],
                                  negligence=MFA_OFF, cutoff=A_CUTOFF)
    again = CompensationResult.from_dict(result.to_dict())
    assert again == result
    assert again.digest() == result.digest()
    other = compute_compensation(case_a(late_buy=True), presets["case_by_case"],
                                 negligence=MFA_OFF)
    assert other.digest() != result.digest()


# ------------------------------------------------------------------------- properties

SYMBOLS = ("7203", "5721", "130A")
CASH_PRESETS = ("sbi_2025", "rakuten_2025", "matsui_2025", "sbi_neotrade_2025", "full_cash")


@st.composite
def cases(draw, integral_prices: bool = False):
    """A consistent random timeline: sells never exceed what the account held."""
    price = (st.integers(1, 5_000).map(Decimal) if integral_prices
             else st.integers(10, 50_000).map(lambda tenths: Decimal(tenths) / 10))
    own = {s: draw(st.integers(0, 3) .map(lambda k: k * 100)) for s in SYMBOLS}
    available = dict(own)
    trades = []
    for minute in range(draw(st.integers(1, 8))):
        symbol = draw(st.sampled_from(SYMBOLS))
        if available[symbol] and draw(st.booleans()):
            quantity = draw(st.integers(1, available[symbol]))
            side = "sell"
            available[symbol] -= quantity
        else:
            quantity = draw(st.integers(1, 500))
            side = "buy"
            available[symbol] += quantity
        trades.append(FraudTrade(datetime(2025, 4, 8, 10, minute, tzinfo=JST), symbol, side,
                                 quantity, draw(price), draw(st.integers(0, 2_000))))
    return CaseInputs("C-P", "ACC-P", tuple(trades), own,
                      {s: draw(price) for s in SYMBOLS}, PRICES_AS_OF)


factors = st.integers(0, 100).map(lambda pct: Decimal(pct) / 100)
PROPERTY = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(case=cases(), factor=factors)
def test_cash_totals_are_never_negative_nor_above_full_cash(presets, case, factor):
    full = compute_compensation(case, presets["full_cash"])
    assert full.total_yen == full.full_loss_yen >= 0
    negligence = NegligenceFactor(factor, "property test", "hypothesis")
    for name in CASH_PRESETS:
        result = compute_compensation(case, presets[name], negligence=negligence)
        assert result.total_yen >= 0
        assert result.total_yen - result.amount(L.SYMPATHY_PAYMENT) <= full.total_yen
        # The amount lines add up to the total on every statement.
        assert sum(line.amount_yen for line in result.lines
                   if line.kind is LineKind.AMOUNT) == result.total_yen


@PROPERTY
@given(case=cases(), low=factors, high=factors)
def test_more_negligence_never_pays_more(presets, case, low, high):
    low, high = sorted((low, high))
    for name in ("case_by_case", "sbi_2025", "matsui_2025"):
        paid = [compute_compensation(case, presets[name],
                                     negligence=NegligenceFactor(f, "why", "who")).total_yen
                for f in (low, high)]
        assert paid[0] >= paid[1]


@PROPERTY
@given(case=cases(integral_prices=True))
def test_restoration_is_worth_the_exact_loss_and_never_more_than_full_cash(presets, case):
    # With whole-yen prices nothing rounds: the firm's cost of restoring equals the net
    # loss (bought + sold own + fees, gains included), which the floors of full cash
    # can only raise.
    restoration = compute_compensation(case, presets["restoration"])
    net = (restoration.amount(L.LOSS_BOUGHT_REALISED) + restoration.amount(L.LOSS_BOUGHT_UNREALISED)
           + restoration.amount(L.OWN_BUYBACK_COST) - restoration.amount(L.OWN_SOLD_PROCEEDS)
           + restoration.amount(L.FEES_PAID))
    assert restoration.total_yen == net
    assert restoration.total_yen <= compute_compensation(case, presets["full_cash"]).total_yen


@PROPERTY
@given(case=cases())
def test_snapshots_round_trip(presets, case):
    for name in ("restoration", "sbi_neotrade_2025"):
        result = compute_compensation(case, presets[name])
        assert CompensationResult.from_dict(result.to_dict()) == result
