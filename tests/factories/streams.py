"""Hand-made interchange streams (EVENTS.md) for the risk engine's tests: a small
brokerage with a customer history, and helpers that write one event at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kabuguard.domain.netinfo import IpRanges
from kabuguard.guard.policy import load_policy
from kabuguard.risk.stream_guard import StreamGuard

T0 = datetime(2026, 5, 11, 0, 0, tzinfo=UTC)  # 09:00 JST, after the JSDA interim date
HOME_IP = "192.0.2.10"        # JP residential (packaged sample table)
MOBILE_IP = "192.0.2.140"     # JP mobile
HOSTING_IP = "198.51.100.10"  # US hosting
VPN_IP = "203.0.113.10"       # NL VPN
KOREA_IP = "203.0.113.200"    # KR residential
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/138.0 Safari/537.36"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 "
          "Version/18.5 Mobile/15E148 Safari/604.1")

SYMBOLS: dict[str, dict[str, Any]] = {
    "7203": {"symbol": "7203", "market": "TSE_PRIME", "name": "Toyota", "currency": "JPY",
             "price": 3000, "adv_shares": 20_000_000, "adv_jpy": 60_000_000_000,
             "market_cap_jpy": 40_000_000_000_000, "lot_size": 100},
    "9999": {"symbol": "9999", "market": "TSE_GROWTH", "name": "Tiny", "currency": "JPY",
             "price": 200, "adv_shares": 100_000, "adv_jpy": 20_000_000,
             "market_cap_jpy": 3_000_000_000, "lot_size": 100},
    "002999": {"symbol": "002999", "market": "SZSE", "name": "Small CN", "currency": "CNY",
               "price": 5, "adv_shares": 1_000_000, "adv_jpy": 100_000_000,
               "market_cap_jpy": 10_000_000_000, "lot_size": 100},
}


def account(name: str, *, methods: tuple[str, ...] = ("password", "email_otp"),
            cash: int = 2_000_000, holdings: tuple[tuple[str, int], ...] = (("7203", 500),),
            device: str | None = None, ip: str = HOME_IP, ua: str = CHROME) -> dict[str, Any]:
    seen = "2026-05-01T09:00:00+09:00"
    return {"account": name, "opened": "2019-04-01", "methods_enrolled": list(methods),
            "cash_jpy": cash, "holdings": [{"symbol": s, "quantity": q} for s, q in holdings],
            "home_country": "JP", "bank_account": f"bank-{name}",
            "devices": [{"device": device or f"dev-{name}", "user_agent": ua, "last_seen": seen}],
            "networks": [{"ip": ip, "ip_asn": 64500, "ip_country": "JP",
                          "ip_kind": "residential", "last_seen": seen}]}


class Brokerage:
    """One stream: accounts, a StreamGuard, and a clock moving forward event by event."""

    def __init__(self, accounts: list[dict[str, Any]], *, policy: str = "email_otp_mandatory",
                 risk: bool = True, start: datetime = T0) -> None:
        self.accounts = {a["account"]: a for a in accounts}
        self.guard = StreamGuard(load_policy(policy), SYMBOLS, self.accounts, risk=risk,
                                 ip_ranges=IpRanges.packaged())
        self.ts = start
        self.n = 0
        self.events: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []

    def event(self, etype: str, acct: str | None, *, session: str | None = None,
              ip: str = HOME_IP, device: str | None = "default", ua: str = CHROME,
              after: timedelta = timedelta(seconds=30), **fields: Any) -> dict[str, Any]:
        self.n += 1
        self.ts += after
        if device == "default":
            device = f"dev-{acct}"
        event = {"id": f"e{self.n}", "ts": self.ts.isoformat(), "type": etype, "account": acct,
                 "session": session, "channel": "web", "ip": ip, "device": device,
                 "user_agent": ua, **fields}
        decision = self.guard.decide(event)
        self.events.append(event)
        self.decisions.append(decision)
        return decision

    def login(self, acct: str, session: str, *, methods: tuple[str, ...] = ("password", "email_otp"),
              outcome: str = "success", **kw: Any) -> dict[str, Any]:
        return self.event("login", acct, session=session, login_id=f"id-{acct}",
                          outcome=outcome, methods=list(methods), **kw)

    def order(self, acct: str, session: str, symbol: str, side: str, quantity: int,
              **kw: Any) -> dict[str, Any]:
        sym = SYMBOLS[symbol]
        notional = int(sym["adv_jpy"] / sym["adv_shares"] * quantity)
        return self.event("order", acct, session=session, order_id=f"o{self.n + 1}",
                          symbol=symbol, side=side, quantity=quantity, order_type="market",
                          limit_price=None, notional_jpy=notional, **kw)

    def withdraw(self, acct: str, session: str, amount: int, **kw: Any) -> dict[str, Any]:
        return self.event("withdrawal", acct, session=session, amount_jpy=amount,
                          bank_account=kw.pop("bank_account", f"bank-{acct}"), **kw)


def stopped(decision: dict[str, Any], can_pass: tuple[str, ...] = ("otp",)) -> bool:
    """EVENTS.md: stopped by this decision (hold, deny, or a challenge the actor cannot pass)."""
    kind = decision["decision"]
    return kind in ("hold", "deny") or (kind == "challenge" and decision.get("level") not in can_pass)
