"""One-time codes sent by e-mail or SMS.

Only a keyed hash of the code is stored: ``HMAC-SHA256(key, "<purpose>|<code>")``, so a
leaked table of pending codes does not reveal them (a plain hash of six digits would
fall to a million guesses), and a code issued for one purpose (``login``) does not
pass for another (``withdrawal``). The plaintext ``IssuedCode.code`` is sent once and
never stored or logged.

These codes are phishable (``Level.OTP``): real-time phishing kits relayed them in the
2025 takeovers (CASE.md). NIST SP 800-63B §5.1.3 treats SMS as restricted. They remain
the interim method the FSA/JSDA guidelines allow until phishing-resistant MFA is in
place, and a recovery channel.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kabuguard.identity.interfaces import CodeExpired, CodeFormatInvalid, TooManyAttempts, WrongCode

MIN_KEY_BYTES = 16
MIN_DIGITS = 6  # NIST SP 800-63B §5.1.3.1: at least 6 decimal digits for out-of-band secrets
MAX_DIGITS = 10
# Bounds the work done on an entry before it is rejected (a form field can hold megabytes).
_MAX_ENTRY_CHARS = 64
# Japanese input methods often type full-width digits; they mean the same code.
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A freshly drawn code. Send ``code`` once and keep only the rest.

    ``code`` is left out of ``repr`` so that logging the object does not leak it."""

    code: str = field(repr=False)
    code_hash: str
    expires_at: datetime
    purpose: str


def normalize_code(given: str, *, digits: int | None = None) -> str:
    """The code as ASCII digits: surrounding spaces (including the full-width space)
    dropped and full-width digits mapped to ASCII.

    With ``digits``, the length must be exactly that; without, 1 to ``MAX_DIGITS``.
    Raises CodeFormatInvalid otherwise (letters, inner spaces, signs, other scripts).

    >>> normalize_code(" 012345\\n", digits=6)
    '012345'
    >>> normalize_code("\\u3000０１２３４５", digits=6)
    '012345'
    """
    if not isinstance(given, str) or len(given) > _MAX_ENTRY_CHARS:
        raise CodeFormatInvalid(digits=digits)
    text = given.strip().translate(_FULL_WIDTH_DIGITS)
    # isascii() first: isdigit() alone also accepts "²" or Arabic-Indic digits.
    well_formed = text.isascii() and text.isdigit()
    length_ok = len(text) == digits if digits is not None else 0 < len(text) <= MAX_DIGITS
    if not (well_formed and length_ok):
        raise CodeFormatInvalid(digits=digits)
    return text


def hash_code(*, purpose: str, code: str, key: bytes) -> str:
    """``HMAC-SHA256(key, "<purpose>|<code>")`` as lower-case hex.

    Raises ValueError for a key shorter than ``MIN_KEY_BYTES`` or a purpose that is
    empty or contains ``|`` (the separator)."""
    require_key(key)
    _require_purpose(purpose)
    return hmac.new(key, f"{purpose}|{code}".encode(), hashlib.sha256).hexdigest()


def issue_code(*, purpose: str, now: datetime, ttl: timedelta = timedelta(minutes=5),
               digits: int = 6, key: bytes) -> IssuedCode:
    """Draw a uniform ``digits``-digit code (leading zeros allowed) valid until ``now + ttl``.

    Returns the IssuedCode. Raises ValueError for a naive ``now``, a ``ttl`` that is not
    positive, ``digits`` outside ``MIN_DIGITS``..``MAX_DIGITS``, a short key or a bad
    purpose."""
    require_aware(now)
    if ttl <= timedelta(0):
        msg = "ttl must be positive"
        raise ValueError(msg)
    if not MIN_DIGITS <= digits <= MAX_DIGITS:
        msg = f"digits must be between {MIN_DIGITS} and {MAX_DIGITS}"
        raise ValueError(msg)
    # randbelow is uniform over 0..10**digits-1; zero-padding keeps every code the same length.
    code = f"{secrets.randbelow(10**digits):0{digits}d}"
    return IssuedCode(code=code, code_hash=hash_code(purpose=purpose, code=code, key=key),
                      expires_at=now + ttl, purpose=purpose)


def verify_code(*, given: str, code_hash: str, purpose: str, expires_at: datetime, attempts: int,
                now: datetime, key: bytes, max_attempts: int = 5) -> None:
    """Check ``given`` against a stored code. Returns None when it matches.

    ``attempts`` is how many verifications of this code were already made. The caller
    counts one more on WrongCode (persisting it before answering, so parallel requests
    cannot exceed the limit) and discards the code on success: it is single-use.

    Checked in this order, so no comparison happens once the code is dead:

    - CodeExpired: ``now >= expires_at`` (the code is valid strictly before it);
    - TooManyAttempts: ``attempts >= max_attempts``;
    - CodeFormatInvalid: not 1 to ``MAX_DIGITS`` digits after trimming;
    - WrongCode (with ``attempts_left`` after this one): another code, or the right code
      for another purpose (the two are indistinguishable by design).

    Raises ValueError for a naive ``now``/``expires_at``, negative ``attempts`` or
    ``max_attempts`` below 1.
    """
    require_aware(now)
    require_aware(expires_at)
    if attempts < 0 or max_attempts < 1:
        msg = "attempts must be >= 0 and max_attempts >= 1"
        raise ValueError(msg)
    if now >= expires_at:
        raise CodeExpired(expired_at=expires_at)
    if attempts >= max_attempts:
        raise TooManyAttempts(max_attempts=max_attempts)
    # The length is not checked against the issued one (verify does not know it); a
    # code of another length simply does not match.
    code = normalize_code(given)
    expected = hash_code(purpose=purpose, code=code, key=key)
    if not hmac.compare_digest(expected.encode(), code_hash.encode()):
        raise WrongCode(attempts_left=max_attempts - attempts - 1)


def require_key(key: bytes) -> None:
    """Raises ValueError unless ``key`` is bytes of at least ``MIN_KEY_BYTES``."""
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        msg = f"the HMAC key must be at least {MIN_KEY_BYTES} bytes"
        raise ValueError(msg)


def _require_purpose(purpose: str) -> None:
    if not purpose or "|" in purpose:
        msg = "purpose must be non-empty and must not contain '|'"
        raise ValueError(msg)


def require_aware(moment: datetime) -> None:
    """Raises ValueError for a naive datetime."""
    # A naive datetime would be compared in an unknown zone (or raise TypeError later).
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = "datetimes must be timezone-aware"
        raise ValueError(msg)
