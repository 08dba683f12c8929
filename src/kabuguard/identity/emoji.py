"""The emoji challenge, as Rakuten Securities used it in 2025 (CASE.md, "What brokers did").

The customer is sent ``k`` symbols out of band (by e-mail) and picks them, in order,
from a grid of ``n`` shown on the site. Two presets ship: ``2of10`` (Rakuten's original,
which it returned to) and ``4of15`` (its 2025-06-08 version, whose alphabet included
digits). Only a keyed hash of grid and answer is stored.

The challenge is phishable (``Level.OTP``): a relay shows the victim the real grid and
forwards the picks. What it adds is that the answer travels by another channel.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

from kabuguard.domain.emoji_grids import (  # noqa: F401 - re-exported
    DIGITS,
    EMOJI,
    PRESETS,
    EmojiPreset,
    _check_symbol,
    emoji_preset,
)
from kabuguard.identity.interfaces import CodeExpired, EmojiPickInvalid, TooManyAttempts, WrongEmoji
from kabuguard.identity.onetime import require_aware, require_key


@dataclass(frozen=True, slots=True)
class EmojiChallenge:
    """A drawn challenge. Show ``grid``; send ``answer`` out of band once; store the rest.

    ``answer`` is left out of ``repr`` so that logging the object does not leak it."""

    preset: str
    grid: tuple[str, ...]
    answer: tuple[str, ...] = field(repr=False)
    answer_hash: str
    expires_at: datetime


def guess_probability(preset: EmojiPreset) -> Fraction:
    """The chance that one blind guess is right: 1 / (n·(n-1)·…·(n-k+1)), since the k
    answer symbols are distinct and their order counts.

    >>> guess_probability(PRESETS["2of10"])
    Fraction(1, 90)
    >>> guess_probability(PRESETS["4of15"])
    Fraction(1, 32760)
    """
    return Fraction(1, math.perm(preset.n, preset.k))


def issue_emoji_challenge(preset: EmojiPreset, *, now: datetime, ttl: timedelta = timedelta(minutes=5),
                          key: bytes) -> EmojiChallenge:
    """Draw a grid of ``preset.n`` distinct symbols in random order and an answer of
    ``preset.k`` distinct grid symbols in random order, valid until ``now + ttl``.

    Returns the EmojiChallenge. Raises ValueError for a naive ``now``, a ``ttl`` that is
    not positive or a key shorter than 16 bytes."""
    require_aware(now)
    require_key(key)
    if ttl <= timedelta(0):
        msg = "ttl must be positive"
        raise ValueError(msg)
    rng = secrets.SystemRandom()  # the OS generator: the draws must not be predictable
    grid = tuple(rng.sample(preset.alphabet, preset.n))
    answer = tuple(rng.sample(grid, preset.k))
    return EmojiChallenge(preset=preset.name, grid=grid, answer=answer,
                          answer_hash=_hash_answer(grid, answer, key), expires_at=now + ttl)


def verify_emoji(*, picked: Sequence[str], grid: Sequence[str], answer_hash: str, expires_at: datetime,
                 attempts: int, now: datetime, key: bytes, max_attempts: int = 3) -> None:
    """Check the customer's picks, in order. Returns None when they match.

    ``attempts`` is how many verifications of this challenge were already made; the
    caller counts one more on WrongEmoji and discards the challenge on success.

    Raises, in this order: CodeExpired when ``now >= expires_at``; TooManyAttempts when
    ``attempts >= max_attempts``; EmojiPickInvalid for no picks, a pick not on the grid
    or a repeated pick (none can be right, so the caller need not count it);
    WrongEmoji (with ``attempts_left``) for other symbols, another order or another
    number of picks. ValueError for naive datetimes, bad counts or a short key.
    """
    require_aware(now)
    require_aware(expires_at)
    require_key(key)
    if attempts < 0 or max_attempts < 1:
        msg = "attempts must be >= 0 and max_attempts >= 1"
        raise ValueError(msg)
    if now >= expires_at:
        raise CodeExpired(expired_at=expires_at)
    if attempts >= max_attempts:
        raise TooManyAttempts(max_attempts=max_attempts)
    # Some keyboards and browsers add the emoji variation selector (U+FE0F); the
    # alphabet has none, so it carries no meaning here.
    picks = tuple(pick.strip().replace("\ufe0f", "") for pick in picked)
    if not picks:
        raise EmojiPickInvalid(reason="empty")
    if any(pick not in grid for pick in picks):
        raise EmojiPickInvalid(reason="not_on_grid")
    if len(set(picks)) != len(picks):
        raise EmojiPickInvalid(reason="duplicate")
    expected = _hash_answer(tuple(grid), picks, key)
    if not hmac.compare_digest(expected.encode(), answer_hash.encode()):
        raise WrongEmoji(attempts_left=max_attempts - attempts - 1)


def _hash_answer(grid: tuple[str, ...], answer: tuple[str, ...], key: bytes) -> str:
    # The grid is hashed too, so an answer only passes with the grid it was drawn from.
    # Symbols are single code points without "|", so plain concatenation is unambiguous.
    message = f"emoji|{''.join(grid)}|{''.join(answer)}"
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
