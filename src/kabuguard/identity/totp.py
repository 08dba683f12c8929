"""Authenticator-app codes: TOTP (RFC 6238) with HMAC-SHA1, 6 digits, 30-second steps.

Those parameters are what every authenticator app supports (they are the defaults of
the Key URI format), so they are fixed here. The only place that imports ``pyotp``.

A TOTP code is phishable (``Level.OTP``): a real-time relay forwards it within its
window. Replay of a captured code is refused: the caller stores the step returned by
``verify_totp`` and passes it back as ``last_used_step`` (RFC 6238 §5.2: "the verifier
MUST NOT accept the second attempt of the OTP after the successful validation has been
issued for the first OTP").
"""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import datetime

import pyotp

from kabuguard.identity.interfaces import CodeReused, WrongCode
from kabuguard.identity.onetime import normalize_code, require_aware

DIGITS = 6
INTERVAL_SECONDS = 30
SECRET_BYTES = 20  # 160 bits, the key length RFC 4226 §4 recommends
DEFAULT_ISSUER = "Kabuguard Securities"


def new_totp_secret() -> str:
    """A new shared secret: 160 random bits as 32 base32 characters, no padding."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def provisioning_uri(secret: str, *, account_name: str, issuer: str = DEFAULT_ISSUER) -> str:
    """The ``otpauth://totp/...`` URI to show as a QR code on the enrolment page.

    It embeds the secret: render it on that page only, never send or log it. The app
    shows ``issuer`` and ``account_name``; prefer the login id to personal data.

    Raises ValueError for an invalid secret or a ``:`` in either name (the Key URI
    format uses it as the separator)."""
    if ":" in account_name or ":" in issuer:
        msg = "account_name and issuer must not contain ':'"
        raise ValueError(msg)
    return _totp(secret).provisioning_uri(name=account_name, issuer_name=issuer)


def verify_totp(secret: str, code: str, *, now: datetime, last_used_step: int | None,
                valid_window: int = 1) -> int:
    """Check an authenticator code. Returns the time step it matched; store it as the
    next ``last_used_step`` with a compare-and-set (``... WHERE last_used_step IS NULL
    OR last_used_step < :step``), so two parallel requests with one code cannot both pass.

    ``valid_window`` steps either side of the current one are accepted, for clock
    drift and typing time (the default, 1, is RFC 6238 §5.2's recommendation).

    Raises CodeFormatInvalid unless the code is 6 digits (surrounding spaces allowed),
    WrongCode when it matches no step in the window, CodeReused when it only matches
    steps at or before ``last_used_step``. ValueError for a naive ``now``, a negative
    window or an invalid secret.
    """
    require_aware(now)
    if valid_window < 0:
        msg = "valid_window must be >= 0"
        raise ValueError(msg)
    given = normalize_code(code, digits=DIGITS).encode()
    totp = _totp(secret)
    current = totp.timecode(now)
    # Compare with every step in the window, without stopping at the first match, so
    # the time taken does not tell which step (if any) matched.
    matched = [step for step in range(max(0, current - valid_window), current + valid_window + 1)
               if hmac.compare_digest(totp.generate_otp(step).encode(), given)]
    if not matched:
        raise WrongCode()
    fresh = [step for step in matched if last_used_step is None or step > last_used_step]
    if not fresh:
        raise CodeReused()
    # The latest step: if one code happens to match two steps, returning the earlier
    # one would let the same code be accepted again at the later one.
    return max(fresh)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL_SECONDS)
