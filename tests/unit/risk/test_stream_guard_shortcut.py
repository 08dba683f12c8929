"""The stream guard's shortcut for plainly allowed events (``StreamGuard._plain``) gives the
answers (``needs``, ``decide``) ``Guard.check`` gives, with and without the risk engine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_stream_guard_policy import ACCOUNTS, Stream

from kabuguard.guard.policy import load_policy
from kabuguard.risk.stream_guard import StreamGuard

SYMBOLS = {"7203": {"symbol": "7203", "market": "TSE_PRIME", "name": "Toyota", "currency": "JPY",
                    "price": 3000, "adv_shares": 1e7, "adv_jpy": 3e10, "market_cap_jpy": 4e13},
           "9999": {"symbol": "9999", "market": "TSE_GROWTH", "name": "Tiny", "currency": "JPY",
                    "price": 100, "adv_shares": 1e5, "adv_jpy": 1e7, "market_cap_jpy": 1e9}}


def _events() -> list[dict]:
    s = Stream()
    withdrawal = {"amount_jpy": 10_000, "bank_account": "b1"}
    return [
        s.login(["password", "email_otp"]), s.order(), s.order(methods=["emoji"]),
        s.ev("withdrawal", **withdrawal), s.ev("withdrawal", after=timedelta(minutes=20), **withdrawal),
        s.order(symbol="9999", notional_jpy=5_000_000), s.ev("logout"),
        s.login(["password"], session="s2"), s.order(session="s2"),
        s.login(["password"], outcome="bad_password", session=None),
        s.login(["passkey"], account="A2", session="s3", channel="app"),
        s.order(account="A2", session="s3", channel="app"),
        s.order(account="A2", session="s3", channel="call_center"),
        s.login(["password", "sms_otp"], session="s4", ip="203.0.113.9", device="d9"),
        s.order(session="s4", ip="198.51.100.7", device="d10"),
        s.ev("mfa_change", account="A2", session="s3", change="remove", method="passkey"),
        s.order(account="A2", session="s3", after=timedelta(hours=13)),
    ]


@pytest.mark.parametrize("risk", [False, True])
@pytest.mark.parametrize("policy", ["baseline_2024", "email_otp_mandatory", "emoji_all_trades",
                                    "jsda_2025_mandatory", "jsda_2025_recommended"])
def test_the_shortcut_decides_as_guard_check(policy: str, risk: bool,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def run() -> list[tuple[str | None, dict]]:
        g = StreamGuard(load_policy(policy), SYMBOLS, ACCOUNTS, risk=risk)
        return [(g.needs(e), g.decide(e)) for e in _events()]

    taken = []
    plain = StreamGuard._plain
    monkeypatch.setattr(StreamGuard, "_plain",
                        lambda self, *a: taken.append(plain(self, *a)) or taken[-1])
    fast = run()
    monkeypatch.setattr(StreamGuard, "_plain", lambda self, *a: False)
    assert run() == fast
    assert any(taken) or policy == "emoji_all_trades"
