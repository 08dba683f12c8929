"""The stock the firm ends up holding from restorations, against the 5% report threshold.

Restoration (原状回復) takes the intruder's purchases out of the victim's account, so the
firm holds them: across many victims of one pump, a small cap can pile up on its books
(in 2025 one firm ended up with 14.99% of a small cap this way). Crossing 5% of an
issuer's shares obliges a large-shareholding report (大量保有報告書, 金融商品取引法
第27条の23: 株券等保有割合が100分の5を超える者, within five business days), so the console
warns while the firm is still below it. The denominator is the issuer's issued shares
(発行済株式総数, treasury shares included), which is what the symbol master's market
capitalisation divided by the price gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from kabuguard.broker.market import FxRates
from kabuguard.broker.symbols import Symbol
from kabuguard.ops.compensation import CompensationInputError, CompensationResult, round_yen

APPROACHING_SHARE = Decimal("0.04")
REPORT_SHARE = Decimal("0.05")


class PositionLevel(StrEnum):
    OK = "ok"
    APPROACHING = "approaching"  # at or above the warning share, not above 5%
    REPORT_REQUIRED = "report_required"  # above 5%: a large-shareholding report is due


@dataclass(frozen=True, slots=True)
class FirmPosition:
    """``share`` is exact (shares / shares_outstanding); ``headroom_shares`` is how many
    more shares the firm may take before it exceeds the report threshold (0 once over)."""

    symbol: str
    shares: int
    from_restorations: int
    shares_outstanding: int
    share: Decimal
    level: PositionLevel
    headroom_shares: int
    case_ids: tuple[str, ...]

    @property
    def percent(self) -> str:
        """The share in percent, two decimals, for people ("4.00%")."""
        return f"{(self.share * 100).quantize(Decimal('0.01'))}%"


def firm_position(results: Iterable[CompensationResult], shares_outstanding: Mapping[str, int],
                  *, other_holdings: Mapping[str, int] | None = None,
                  approaching_share: Decimal = APPROACHING_SHARE,
                  report_share: Decimal = REPORT_SHARE) -> dict[str, FirmPosition]:
    """Per symbol, the shares the firm holds from the restorations in ``results`` (cash
    results take nothing) plus ``other_holdings`` (its own book, if known), as a share of
    the issuer and a warning level. To warn *before* a restoration, pass the approved
    results and the proposed one together.

    Raises CompensationInputError for a symbol without shares outstanding: a position
    that cannot be measured must not pass as harmless.

    >>> firm_position([], {"5721": 1_000_000}, other_holdings={"5721": 40_000})["5721"].level
    <PositionLevel.APPROACHING: 'approaching'>
    """
    if not Decimal(0) < approaching_share <= report_share < 1:
        raise CompensationInputError("need 0 < approaching_share <= report_share < 1")
    taken: dict[str, int] = {}
    cases: dict[str, list[str]] = {}
    for result in results:
        if result.restoration is None:
            continue
        for position in result.restoration.positions_to_remove:
            taken[position.symbol] = taken.get(position.symbol, 0) + position.quantity
            cases.setdefault(position.symbol, []).append(result.inputs.case_id)
    other = dict(other_holdings or {})
    out: dict[str, FirmPosition] = {}
    for symbol in sorted(taken.keys() | other.keys()):
        outstanding = shares_outstanding.get(symbol)
        if not outstanding or outstanding < 1:
            raise CompensationInputError(f"no shares outstanding for {symbol}", symbol=symbol)
        shares = taken.get(symbol, 0) + other.get(symbol, 0)
        share = Decimal(shares) / Decimal(outstanding)
        if share > report_share:
            level = PositionLevel.REPORT_REQUIRED
        elif share >= approaching_share:
            level = PositionLevel.APPROACHING
        else:
            level = PositionLevel.OK
        # The most shares that still keep the firm at or below the threshold.
        limit = int((report_share * outstanding).to_integral_value(rounding=ROUND_CEILING))
        if Decimal(limit) / outstanding > report_share:
            limit -= 1
        out[symbol] = FirmPosition(
            symbol=symbol, shares=shares, from_restorations=taken.get(symbol, 0),
            shares_outstanding=outstanding, share=share, level=level,
            headroom_shares=max(0, limit - shares), case_ids=tuple(cases.get(symbol, ())))
    return out


def shares_outstanding(symbols: Mapping[str, Symbol], *,
                       fx: FxRates | None = None) -> dict[str, int]:
    """Issued shares per symbol from the master: market capitalisation in yen divided by
    the price in yen (converted at ``fx``, the rates the master was generated with by
    default), rounded half up.

    >>> from kabuguard.broker.symbols import load_symbols
    >>> shares_outstanding(load_symbols())["7203"]   # Toyota: ¥45tn at ¥2,850
    15789473684
    """
    rates = fx or FxRates()
    out: dict[str, int] = {}
    for code, symbol in symbols.items():
        price_yen = (Decimal(symbol.price_minor) * rates.rate(symbol.currency)
                     / symbol.minor_per_unit)
        out[code] = round_yen(Decimal(symbol.market_cap_jpy) / price_yen)
    return out
