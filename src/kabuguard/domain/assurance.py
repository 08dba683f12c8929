"""The shared vocabulary of authentication: methods and the assurance levels they reach.

``Method`` holds exactly the ``methods`` values of the interchange format
(``shared/spec/EVENTS.md``, ``domain/events.schema.json``). ``Level`` follows the
authenticator assurance levels of NIST SP 800-63B, simplified to what the 2025 rules
distinguish:

- ``PASSWORD`` (about AAL1): a memorized secret alone.
- ``OTP`` (about AAL2): a second factor that the customer reads or approves and that a
  real-time phishing kit relays to the real site as the victim types it (e-mail and SMS
  codes, TOTP, the emoji challenge, push approval, a phone call). The 2025 takeovers
  went through these (CASE.md, "How").
- ``PHISHING_RESISTANT`` (about AAL3, "verifier impersonation resistance", SP 800-63B
  §5.2.5): the authenticator binds its answer to the site's origin, so a relay cannot
  reuse it (passkeys, PKI client certificates). The JSDA guideline (in force 2025-10-15)
  requires it at login, withdrawal and change of the withdrawal bank account.

The ``label`` of a level is its spelling in policy files and in ``decisions.jsonl``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import IntEnum, StrEnum
from types import MappingProxyType


class Method(StrEnum):
    """An authentication method, spelled as in the interchange format."""

    PASSWORD = "password"
    EMAIL_OTP = "email_otp"
    SMS_OTP = "sms_otp"
    TOTP = "totp"
    EMOJI = "emoji"
    APP_PUSH = "app_push"
    PHONE_CALL = "phone_call"
    PASSKEY = "passkey"
    PKI = "pki"


class Level(IntEnum):
    """Assurance levels, ordered so that ``max`` and ``>=`` compare strength.

    >>> Level.OTP > Level.PASSWORD
    True
    >>> Level.PHISHING_RESISTANT.label
    'phishing_resistant'
    >>> Level.from_label("otp")
    <Level.OTP: 2>
    """

    PASSWORD = 1
    OTP = 2
    PHISHING_RESISTANT = 3

    @property
    def label(self) -> str:
        """The lower-case name used in policy files and decisions (``otp``)."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Level:
        """The level spelled ``label``.

        Raises ValueError naming the allowed labels when ``label`` is none of them (the
        policy loader adds the file and line)."""
        for level in cls:
            if level.label == label:
                return level
        allowed = ", ".join(level.label for level in cls)
        msg = f"unknown assurance level {label!r}; expected one of: {allowed}"
        raise ValueError(msg)


# Read-only: one shared table, not a module global anyone can change.
METHOD_LEVEL: Mapping[Method, Level] = MappingProxyType({
    Method.PASSWORD: Level.PASSWORD,
    # Phishable: the customer reads, types or approves something a relay can forward.
    Method.EMAIL_OTP: Level.OTP,
    Method.SMS_OTP: Level.OTP,
    Method.TOTP: Level.OTP,
    Method.EMOJI: Level.OTP,
    Method.APP_PUSH: Level.OTP,
    Method.PHONE_CALL: Level.OTP,
    # Origin-bound: the answer is useless on any other site.
    Method.PASSKEY: Level.PHISHING_RESISTANT,
    Method.PKI: Level.PHISHING_RESISTANT,
})


def level_of(methods: Iterable[Method | str]) -> Level:
    """The highest level reached by ``methods`` (a login with password and TOTP is ``OTP``).

    Plain strings are accepted as interchange-format spellings.

    Raises ValueError for an unknown method, and for no method at all: an
    unauthenticated request has no level, and treating it as ``PASSWORD`` would
    overstate it.

    >>> level_of([Method.PASSWORD, Method.TOTP])
    <Level.OTP: 2>
    >>> level_of(["passkey"])
    <Level.PHISHING_RESISTANT: 3>
    """
    levels = [METHOD_LEVEL[Method(method)] for method in methods]
    if not levels:
        msg = "no authentication method given"
        raise ValueError(msg)
    return max(levels)
