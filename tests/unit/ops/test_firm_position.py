"""The firm's position from restorations against the 5% large-shareholding threshold."""

from __future__ import annotations

from decimal import Decimal

import pytest

from factories.compensation import case_a
from kabuguard.broker.symbols import load_symbols
from kabuguard.ops.compensation import CompensationInputError, compute_compensation
from kabuguard.ops.firm_position import PositionLevel, firm_position, shares_outstanding

# Example A's restoration takes 8,000 shares of 5721 (test_compensation.py). With
# 1,000,000 shares outstanding each case is 0.8% of the issuer.
OUTSTANDING = {"5721": 1_000_000, "7203": 15_789_473_684}


def restorations(presets, count):
    return [compute_compensation(case_a(case_id=f"C-{n}"), presets["restoration"])
            for n in range(count)]


@pytest.mark.parametrize(("cases", "shares", "level", "headroom"), [
    (4, 32_000, PositionLevel.OK, 18_000),
    (5, 40_000, PositionLevel.APPROACHING, 10_000),  # 4.0%: warn
    (6, 48_000, PositionLevel.APPROACHING, 2_000),
    (7, 56_000, PositionLevel.REPORT_REQUIRED, 0),  # 5.6% > 5%: report due
])
def test_levels_as_restorations_pile_up(presets, cases, shares, level, headroom):
    position = firm_position(restorations(presets, cases), OUTSTANDING)["5721"]
    assert (position.shares, position.level, position.headroom_shares) == (shares, level, headroom)
    assert position.case_ids == tuple(f"C-{n}" for n in range(cases))


def test_exactly_five_percent_is_not_above_it(presets):
    # FIEA Art. 27-23: the report is due when the holding *exceeds* 5%.
    position = firm_position(restorations(presets, 6), OUTSTANDING,
                             other_holdings={"5721": 2_000})["5721"]
    assert position.shares == 50_000
    assert position.share == Decimal("0.05")
    assert position.level is PositionLevel.APPROACHING
    assert position.headroom_shares == 0
    assert position.percent == "5.00%"


def test_a_proposed_restoration_is_checked_before_it_crosses(presets):
    approved = restorations(presets, 6)
    before = firm_position(approved, OUTSTANDING)["5721"]
    proposed = compute_compensation(case_a(case_id="C-new"), presets["restoration"])
    after = firm_position([*approved, proposed], OUTSTANDING)["5721"]
    assert before.level is PositionLevel.APPROACHING
    assert proposed.restoration.positions_to_remove[0].quantity > before.headroom_shares
    assert after.level is PositionLevel.REPORT_REQUIRED


def test_cash_compensation_leaves_the_firm_nothing(presets):
    cash = [compute_compensation(case_a(), presets[name]) for name in ("sbi_2025", "full_cash")]
    assert firm_position(cash, OUTSTANDING) == {}


def test_a_symbol_without_shares_outstanding_is_refused(presets):
    with pytest.raises(CompensationInputError, match="no shares outstanding for 5721"):
        firm_position(restorations(presets, 1), {})


def test_shares_outstanding_from_the_symbol_master():
    symbols = load_symbols()
    shares = shares_outstanding(symbols)
    # Toyota ¥45tn at ¥2,850; Apple $3.15tn at $210 (¥150/$): 15bn shares.
    assert shares["7203"] == 15_789_473_684
    assert shares["AAPL"] == 15_000_000_000
    # Every symbol: shares × price gives back its market cap to within half a share.
    for code, symbol in symbols.items():
        price_yen = Decimal(symbol.market_cap_jpy) / shares[code]
        assert abs(shares[code] * price_yen - symbol.market_cap_jpy) <= price_yen / 2 + 1
