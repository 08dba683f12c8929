"""The emoji challenge's vocabulary: its alphabet and grid shapes (``EmojiPreset``).

Plain data shared by the policy (which names a shape, ``emoji: {pick: 2, of: 10}``)
and identity (which draws and checks challenges, ``identity/emoji.py``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# Curated: single code points with default emoji presentation from Unicode 6.0 (shown
# as emoji on every current phone and PC without a variation selector); no faces or
# hands (skin-tone modifiers), no flags, no ZWJ sequences; no two alike in shape and
# colour, so a customer reading the e-mail on a small screen can match them.
EMOJI: tuple[str, ...] = (
    "🐶", "🐱", "🐼", "🐸", "🐧", "🐘", "🐢", "🐙", "🐝",  # animals
    "🍎", "🍌", "🍇", "🍉", "🍙", "🍣", "🍩", "🍄",  # food
    "🌻", "🌵", "🌙", "⭐", "🌈", "🔥", "⛄",  # nature
    "🚗", "🚲", "🚀", "⚽", "🎸", "🎁", "🔑", "🔔", "☕", "💡", "📷", "🏠", "🎈", "⌚",  # things
)
DIGITS: tuple[str, ...] = tuple("0123456789")

# Never in a symbol: they make one "emoji" several code points, or break the hash format.
_FORBIDDEN = frozenset("\u200d\ufe0f\ufe0e,|")
_SKIN_TONES = range(0x1F3FB, 0x1F400)
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)  # the letters of flags


def _check_symbol(symbol: str) -> None:
    if (len(symbol) != 1 or symbol in _FORBIDDEN or ord(symbol) in _SKIN_TONES
            or ord(symbol) in _REGIONAL_INDICATORS or unicodedata.category(symbol).startswith(("C", "Z"))):
        msg = f"not a usable challenge symbol: {symbol!r}"
        raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class EmojiPreset:
    """Pick ``k`` out of a grid of ``n`` symbols drawn from ``alphabet``.

    Raises ValueError unless ``1 <= k <= n <= len(alphabet)`` and the alphabet holds
    distinct single-code-point symbols (no flags, skin tones or joined sequences)."""

    name: str
    k: int
    n: int
    alphabet: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.name:
            msg = "a preset needs a name"
            raise ValueError(msg)
        if not 1 <= self.k <= self.n <= len(self.alphabet):
            msg = f"preset {self.name!r}: need 1 <= k <= n <= alphabet size"
            raise ValueError(msg)
        if len(set(self.alphabet)) != len(self.alphabet):
            msg = f"preset {self.name!r}: alphabet symbols must be distinct"
            raise ValueError(msg)
        for symbol in self.alphabet:
            _check_symbol(symbol)


PRESETS: Mapping[str, EmojiPreset] = MappingProxyType({
    "2of10": EmojiPreset(name="2of10", k=2, n=10, alphabet=EMOJI),
    "4of15": EmojiPreset(name="4of15", k=4, n=15, alphabet=EMOJI + DIGITS),
})


def emoji_preset(*, pick: int, of: int) -> EmojiPreset:
    """The challenge that picks ``pick`` out of a grid of ``of``: a shipped preset when
    one has that shape (``4of15`` keeps its digits), else one over ``EMOJI``.

    Raises ValueError unless ``1 <= pick <= of <= len(EMOJI)`` (or a preset's alphabet).

    >>> emoji_preset(pick=4, of=15) is PRESETS["4of15"]
    True
    >>> emoji_preset(pick=3, of=12).name
    '3of12'
    """
    name = f"{pick}of{of}"
    if name in PRESETS:
        return PRESETS[name]
    return EmojiPreset(name=name, k=pick, n=of, alphabet=EMOJI)
