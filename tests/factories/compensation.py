"""Worked-example compensation cases (hand computations in
tests/unit/ops/test_compensation.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from kabuguard.domain.events import JST
from kabuguard.ops.compensation import CaseInputs, FraudTrade

PRICES_AS_OF = datetime(2025, 5, 1, 15, 0, tzinfo=JST)


def trade(day: str, hhmm: str, symbol: str, side: str, quantity: int, price: str,
          fee: int = 0, trade_id: str = "") -> FraudTrade:
    hour, minute = (int(x) for x in hhmm.split(":"))
    y, m, d = (int(x) for x in day.split("-"))
    return FraudTrade(datetime(y, m, d, hour, minute, tzinfo=JST), symbol, side, quantity,
                      Decimal(price), fee, trade_id or f"{day}T{hhmm}-{symbol}-{side}")


# Example A: the 2025 pattern. The customer held 1,000 Toyota (7203). The intruder sold
# them, bought a low-priced small cap (5721) twice, then sold part of it at a loss.
A_TRADES = (
    trade("2025-04-08", "10:00", "7203", "sell", 1_000, "2800", 550),
    trade("2025-04-08", "10:05", "5721", "buy", 10_000, "250", 1_100),
    trade("2025-04-08", "10:30", "5721", "buy", 2_000, "280", 330),
    trade("2025-04-08", "14:00", "5721", "sell", 4_000, "200", 440),
)
# The next morning, after the customer had been told (17:00 the day before) and had not
# changed the password, the intruder bought more.
A_LATE_BUY = trade("2025-04-09", "10:00", "5721", "buy", 5_000, "150", 550)
A_CUTOFF = datetime(2025, 4, 8, 17, 0, tzinfo=JST)
A_PRICES = {"7203": Decimal("3000"), "5721": Decimal("120")}


def case_a(*, late_buy: bool = False, case_id: str = "C-A") -> CaseInputs:
    trades = (*A_TRADES, A_LATE_BUY) if late_buy else A_TRADES
    return CaseInputs(case_id=case_id, account_id="ACC-A", trades=trades,
                      own_holdings={"7203": 1_000}, current_prices_yen=A_PRICES,
                      prices_as_of=PRICES_AS_OF)
