"""Streams of interchange events (EVENTS.md) built one after another, for the stream
guard's and the decision API's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 5, 11, 0, 0, tzinfo=UTC)
ACCOUNTS = {
    "A1": {"account": "A1", "opened": "2020-01-01", "methods_enrolled": ["password", "email_otp"],
           "cash_jpy": 1_000_000, "holdings": [], "home_country": "JP"},
    "A2": {"account": "A2", "opened": "2020-01-01",
           "methods_enrolled": ["password", "email_otp", "passkey"],
           "cash_jpy": 1_000_000, "holdings": [], "home_country": "JP"},
}


class Stream:
    """Events a second apart by default, with ids ``<prefix>1``, ``<prefix>2``, …"""

    def __init__(self, start: datetime = T0, prefix: str = "e") -> None:
        self.n = 0
        self.ts = start
        self.prefix = prefix

    def ev(self, etype: str, *, account: str | None = "A1", session: str | None = "s1",
           after: timedelta = timedelta(seconds=1), **fields: Any) -> dict[str, Any]:
        self.n += 1
        self.ts += after
        return {"id": f"{self.prefix}{self.n}", "ts": self.ts.isoformat(), "type": etype,
                "account": account, "session": session, "channel": "web",
                "ip": "192.0.2.10", "device": "d1", "user_agent": "UA", **fields}

    def login(self, methods: list[str], *, outcome: str = "success", **kw: Any) -> dict[str, Any]:
        return self.ev("login", login_id="x", outcome=outcome, methods=methods, **kw)

    def order(self, **kw: Any) -> dict[str, Any]:
        fields = {"order_id": f"o{self.n}", "symbol": "7203", "side": "buy", "quantity": 100,
                  "order_type": "market", "limit_price": None, "notional_jpy": 300_000}
        fields.update(kw)
        return self.ev("order", **fields)

    def withdrawal(self, amount_jpy: int = 50_000, **kw: Any) -> dict[str, Any]:
        return self.ev("withdrawal", amount_jpy=amount_jpy, bank_account="b1", **kw)

    def report(self, **kw: Any) -> dict[str, Any]:
        return self.ev("customer_report", session=None, report="not_me", **kw)
