"""The stream guard with the risk engine off: the policy over a stream, with the
stream's own rules for sessions, challenges, freezes and restrictions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kabuguard.guard.policy import load_policy
from kabuguard.risk.stream_guard import StreamGuard, event_level

T0 = datetime(2026, 5, 11, 0, 0, tzinfo=UTC)
ACCOUNTS = {
    "A1": {"account": "A1", "opened": "2020-01-01", "methods_enrolled": ["password", "email_otp"],
           "cash_jpy": 1_000_000, "holdings": [], "home_country": "JP"},
    "A2": {"account": "A2", "opened": "2020-01-01",
           "methods_enrolled": ["password", "email_otp", "passkey"],
           "cash_jpy": 1_000_000, "holdings": [], "home_country": "JP"},
}


class Stream:
    """Builds events one after another, a second apart by default."""

    def __init__(self) -> None:
        self.n = 0
        self.ts = T0

    def ev(self, etype: str, *, account: str | None = "A1", session: str | None = "s1",
           after: timedelta = timedelta(seconds=1), **fields: object) -> dict:
        self.n += 1
        self.ts += after
        return {"id": f"e{self.n}", "ts": self.ts.isoformat(), "type": etype,
                "account": account, "session": session, "channel": "web",
                "ip": "192.0.2.10", "device": "d1", "user_agent": "UA", **fields}

    def login(self, methods: list[str], *, outcome: str = "success", **kw: object) -> dict:
        return self.ev("login", login_id="x", outcome=outcome, methods=methods, **kw)

    def order(self, **kw: object) -> dict:
        fields = {"order_id": f"o{self.n}", "symbol": "7203", "side": "buy", "quantity": 100,
                  "order_type": "market", "limit_price": None, "notional_jpy": 300_000}
        fields.update(kw)
        return self.ev("order", **fields)


def guard(policy: str) -> StreamGuard:
    return StreamGuard(load_policy(policy), {}, ACCOUNTS, risk=False)


def test_event_level_orders_methods() -> None:
    assert event_level([]) == 0
    assert event_level(["password"]) == 1
    assert event_level(["password", "emoji"]) == 2
    assert event_level(["passkey"]) == 3


def test_needs_asks_the_policy_level_for_a_login() -> None:
    s = Stream()
    assert guard("baseline_2024").needs(s.login([])) == "password"
    assert guard("email_otp_mandatory").needs(s.login([])) == "otp"
    # After the interim date a customer without a passkey is asked for one.
    assert guard("jsda_2025_mandatory").needs(s.login([], account="A2")) == "phishing_resistant"


def test_a_login_that_proves_the_policy_level_is_allowed_and_opens_the_session() -> None:
    g, s = guard("email_otp_mandatory"), Stream()
    assert g.decide(s.login(["password", "email_otp"]))["decision"] == "allow"
    assert g.needs(s.order()) is None
    assert g.decide(s.order())["decision"] == "allow"


def test_a_login_short_of_the_policy_is_a_challenge_and_its_session_carries_nothing() -> None:
    g, s = guard("email_otp_mandatory"), Stream()
    d = g.decide(s.login(["password"], outcome="bad_second_factor"))
    assert (d["decision"], d["level"]) == ("challenge", "otp")
    assert g.decide(s.order())["reasons"] == ["session_stopped"]


def test_failed_passwords_are_denied_with_their_outcome() -> None:
    g, s = guard("baseline_2024"), Stream()
    d = g.decide(s.login(["password"], outcome="bad_password", session=None))
    assert (d["decision"], d["reasons"]) == ("deny", ["bad_password"])


def test_per_order_confirmation_needs_methods_on_each_order() -> None:
    g, s = guard("emoji_all_trades"), Stream()
    g.decide(s.login(["password", "email_otp"]))
    assert g.needs(s.order()) == "otp"
    assert g.decide(s.order())["decision"] == "challenge"
    # The same order confirmed with an emoji before it was submitted passes.
    assert g.decide(s.order(methods=["emoji"]))["decision"] == "allow"


def test_stale_authentication_asks_again_and_a_step_up_on_the_event_counts() -> None:
    g, s = guard("email_otp_mandatory"), Stream()
    g.decide(s.login(["password", "email_otp"]))
    withdrawal = {"amount_jpy": 10_000, "bank_account": "b1"}
    later = s.ev("withdrawal", after=timedelta(minutes=20), **withdrawal)
    assert g.needs(later) == "otp"
    assert g.decide(later)["decision"] == "challenge"
    # The session carried on, so that challenge was passed: the next is fresh.
    assert g.decide(s.ev("withdrawal", **withdrawal))["decision"] == "allow"


def test_an_expired_session_proves_nothing() -> None:
    g, s = guard("baseline_2024"), Stream()
    g.decide(s.login(["password"]))
    d = g.decide(s.order(after=timedelta(hours=13)))
    assert d["decision"] == "challenge"


def test_customer_report_freezes_the_account_and_ends_its_sessions() -> None:
    g, s = guard("baseline_2024"), Stream()
    g.decide(s.login(["password"]))
    d = g.decide(s.ev("customer_report", session=None, report="not_me"))
    assert {"type": "freeze_account", "account": "A1"} in d["actions"]
    assert {"type": "revoke_session", "session": "s1"} in d["actions"]
    assert g.decide(s.login(["password"], session="s2"))["reasons"] == ["account_frozen"]


@pytest.mark.parametrize("policy", ["baseline_2024", "email_otp_mandatory", "emoji_all_trades",
                                    "jsda_2025_mandatory", "jsda_2025_recommended"])
def test_decisions_are_deterministic(policy: str) -> None:
    def run() -> list[dict]:
        g, s = guard(policy), Stream()
        events = [s.login(["password", "email_otp"]), s.order(), s.order(methods=["emoji"]),
                  s.ev("withdrawal", amount_jpy=5, bank_account="b"), s.ev("logout")]
        return [g.decide(e) for e in events]
    assert run() == run()
