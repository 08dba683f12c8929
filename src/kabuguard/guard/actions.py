"""The sensitive actions every channel must pass through ``Guard.check``."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """JSDA 2025 names login, withdrawal and change of the withdrawal account as the
    "important operations" (重要な操作) that need phishing-resistant MFA; the others
    are what an account takeover uses next (contacts, password, MFA, recovery) or
    what it is for (orders)."""

    LOGIN = "login"
    ORDER = "order"
    CANCEL_ORDER = "cancel_order"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    BANK_ACCOUNT_CHANGE = "bank_account_change"
    CONTACT_CHANGE = "contact_change"
    PASSWORD_CHANGE = "password_change"
    MFA_ENROLL = "mfa_enroll"
    MFA_REMOVE = "mfa_remove"
    RECOVERY = "recovery"
