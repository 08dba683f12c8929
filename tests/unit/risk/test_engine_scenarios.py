"""The engine on hand-made streams: each attack kind of the spec is stopped, each
legitimate trap passes (or at most asks for what the customer can give)."""

from __future__ import annotations

from datetime import timedelta

from factories.streams import (
    HOSTING_IP,
    IPHONE,
    KOREA_IP,
    MOBILE_IP,
    VPN_IP,
    Brokerage,
    account,
    stopped,
)

OTP = ("otp",)


def test_realtime_phishing_relay_login_is_asked_for_a_passkey() -> None:
    b = Brokerage([account("A")])
    d = b.login("A", "s1", ip=HOSTING_IP, device="kit", ua=IPHONE)
    assert d["decision"] == "challenge" and d["level"] == "phishing_resistant"
    assert stopped(d, OTP)  # the relay passes the OTP, never the passkey
    assert "risky_login" in d["reasons"]


def test_infostealer_session_replay_from_another_network_is_revoked() -> None:
    b = Brokerage([account("A", holdings=(("7203", 1000),))])
    assert b.login("A", "s1")["decision"] == "allow"
    d = b.order("A", "s1", "7203", "sell", 1000, ip=KOREA_IP)
    assert d["decision"] == "deny"
    assert {"type": "revoke_session", "session": "s1"} in d["actions"]
    # The stolen cookie carries nothing afterwards, from anywhere.
    assert b.order("A", "s1", "7203", "sell", 1000)["reasons"] == ["session_stopped"]


def test_credential_stuffing_source_is_refused_even_with_the_right_password() -> None:
    b = Brokerage([account(f"C{i}") for i in range(30)])
    for i in range(25):
        b.login(f"C{i}", f"f{i}", methods=("password",), outcome="bad_password",
                ip=HOSTING_IP, device=None, after=timedelta(seconds=2))
    d = b.login("C29", "hit", methods=("password", "email_otp"), ip=HOSTING_IP, device=None)
    assert stopped(d, OTP)
    assert {"ip_many_failures", "ip_attack_source"} <= set(d["reasons"])


def test_bank_account_change_then_withdrawal_is_held() -> None:
    b = Brokerage([account("A")])
    b.login("A", "s1")
    b.event("bank_account_change", "A", session="s1", bank_account="mule", methods=["email_otp"])
    d = b.withdraw("A", "s1", 1_500_000, bank_account="mule", methods=["email_otp"])
    assert d["decision"] == "hold" and "bank_change_then_withdrawal" in d["reasons"]


def test_legitimate_bank_change_and_a_withdrawal_days_later_pass() -> None:
    b = Brokerage([account("A")])
    b.login("A", "s1")
    b.event("bank_account_change", "A", session="s1", bank_account="new", methods=["email_otp"])
    b.event("logout", "A", session="s1")
    b.login("A", "s2", after=timedelta(days=4))
    d = b.withdraw("A", "s2", 1_500_000, bank_account="new", methods=["email_otp"])
    assert d["decision"] == "allow"


def test_low_and_slow_from_a_japanese_residential_proxy_is_asked_for_more() -> None:
    b = Brokerage([account("A", holdings=(("7203", 1000),))])
    d = b.login("A", "s1", ip="192.0.2.77", device="proxy-dev", ua=IPHONE)
    assert d["decision"] != "allow"
    assert stopped(d, OTP)


def test_own_device_and_network_pass_untouched() -> None:
    b = Brokerage([account("A", holdings=(("7203", 500),))])
    assert b.login("A", "s1")["decision"] == "allow"
    # Selling everything to retire, from the usual place: no reason to stop it.
    assert b.order("A", "s1", "7203", "sell", 500)["decision"] == "allow"
    assert b.withdraw("A", "s1", 1_000_000, methods=["email_otp"])["decision"] == "allow"


def test_travel_abroad_and_vpn_on_a_known_device_are_not_stopped_for_an_otp_customer() -> None:
    b = Brokerage([account("A"), account("B")])
    assert not stopped(b.login("A", "s1", ip=KOREA_IP), OTP)
    assert not stopped(b.login("B", "s2", ip=VPN_IP), OTP)


def test_unknown_session_change_of_browser_alone_is_only_reported() -> None:
    b = Brokerage([account("A")])
    b.login("A", "s1")
    d = b.order("A", "s1", "7203", "buy", 100, ua=IPHONE)
    assert d["decision"] == "allow"


def test_news_surge_of_ordinary_customers_does_not_restrict_the_symbol() -> None:
    b = Brokerage([account(f"C{i}", holdings=(("7203", 100), ("9999", 100))) for i in range(80)])
    for i in range(80):
        b.login(f"C{i}", f"s{i}", after=timedelta(seconds=20))
        d = b.order(f"C{i}", f"s{i}", "9999", "buy", 100)
        assert d["decision"] == "allow", d
    assert not [a for a in b.guard.alerts if a.get("kind") == "symbol_pump"]


def test_pump_through_hijacked_sessions_restricts_the_symbol_and_flags_the_beneficiary() -> None:
    hijacked = [account(f"H{i}") for i in range(20)]
    b = Brokerage([*hijacked, account("P")])
    b.login("P", "p1")
    b.order("P", "p1", "9999", "buy", 2000)
    b.event("logout", "P", session="p1")
    b.ts += timedelta(days=5)
    restricted_at = None
    for i in range(20):
        kit = {"ip": f"192.0.2.{150 + i}", "device": f"kit{i}", "ua": IPHONE}
        b.login(f"H{i}", f"h{i}", after=timedelta(seconds=40), **kit)
        d = b.order(f"H{i}", f"h{i}", "9999", "buy", 100, **kit)
        if {"type": "restrict_symbol", "symbol": "9999", "side": "buy"} in d["actions"]:
            restricted_at = i
        if restricted_at is not None and i > restricted_at:
            assert d["reasons"] == ["symbol_restricted"]
    assert restricted_at is not None and restricted_at < 10
    b.login("P", "p2")
    d = b.order("P", "p2", "9999", "sell", 2000)
    assert d["decision"] == "hold" and "pump_beneficiary" in d["reasons"]
    kinds = [a["kind"] for a in b.guard.alerts]
    assert kinds.count("symbol_pump") == 1 and "pump_beneficiary" in kinds


def test_mobile_login_on_the_customers_own_phone_passes() -> None:
    own_phone = account("A", device="phone-A", ip=MOBILE_IP, ua=IPHONE)
    own_phone["networks"][0].update(ip_asn=64501, ip_kind="mobile")
    b = Brokerage([own_phone])
    assert b.login("A", "s1", ip=MOBILE_IP, device="phone-A", ua=IPHONE)["decision"] == "allow"
