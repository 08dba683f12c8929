"""The features a rule sees for one event (docs/risk-rules.md lists their meanings).

One slotted object per event, filled by ``risk/engine.py`` and read by the compiled
rules (``risk/rules.py``). Every feature has a value: numbers that do not apply take a
neutral default (``NEVER`` minutes for "never happened", 0 for amounts), so a rule never
has to test for None.
"""

from __future__ import annotations

# Minutes since something that never happened: larger than any window a rule uses.
NEVER = 1e9

DEFAULTS: dict[str, object] = {
    # common
    "type": "", "channel": "", "account_known": False, "account_age_days": NEVER,
    "hour_jst": 0, "ip_country": "", "ip_kind": "", "foreign_ip": False,
    "login_risk": 0.0, "login_reasons": frozenset(),
    "new_device": False, "new_ip": False, "new_asn": False, "new_country": False,
    "new_user_agent": False, "session_level": 0, "event_level": 0,
    "session_ip_changed": False, "session_asn_changed": False,
    "session_country_changed": False, "session_device_changed": False,
    "session_ua_changed": False,
    "mins_since_login": NEVER, "mins_since_bank_change": NEVER,
    "mins_since_contact_change": NEVER, "mins_since_password_change": NEVER,
    "mins_since_mfa_remove": NEVER, "mins_since_recovery": NEVER,
    "mins_since_risky_login": NEVER,
    "ip_failures": 0, "ip_accounts": 0, "asn_failures": 0,
    # order
    "side": "", "symbol": "", "market": "", "foreign_symbol": False, "illiquid": False,
    "adv_jpy": 0.0, "notional_jpy": 0.0, "notional_adv": 0.0, "notional_vs_history": 0.0,
    "first_buy_of_symbol": False, "never_bought_illiquid": False,
    "never_bought_foreign": False, "sell_share_of_holding": 0.0, "sold_share_24h": 0.0,
    # withdrawal
    "amount_jpy": 0.0, "withdraw_share": 0.0, "bank_changed_recently": False,
    # mfa / contact
    "mfa_change": "", "mfa_method": "", "contact_field": "",
    # cross-account
    "symbol_pump_score": 0.0, "symbol_buyers": 0, "symbol_restricted": False,
    "beneficiary_score": 0.0,
}

FEATURE_NAMES: tuple[str, ...] = tuple(DEFAULTS)


class Features:
    """The values of one event; starts at the defaults (class attributes), so the
    engine sets only what the event has."""

    __slots__ = FEATURE_NAMES

    def __init__(self) -> None:
        for name, value in DEFAULTS.items():
            object.__setattr__(self, name, value)

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in FEATURE_NAMES}
