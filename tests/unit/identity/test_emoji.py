from __future__ import annotations

import unicodedata
from collections import Counter
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kabuguard.identity.emoji import (
    DIGITS,
    EMOJI,
    PRESETS,
    EmojiChallenge,
    EmojiPreset,
    guess_probability,
    issue_emoji_challenge,
    verify_emoji,
)
from kabuguard.identity.interfaces import (
    CodeExpired,
    EmojiPickInvalid,
    TooManyAttempts,
    WrongCode,
    WrongEmoji,
)

KEY = b"k" * 32
T0 = datetime(2025, 4, 8, 1, 0, tzinfo=UTC)


def issue(name: str = "2of10", **kwargs) -> EmojiChallenge:
    return issue_emoji_challenge(PRESETS[name], now=T0, key=KEY, **kwargs)


def check(challenge: EmojiChallenge, picked, *, now: datetime = T0, attempts: int = 0,
          grid=None, key: bytes = KEY, max_attempts: int = 3) -> None:
    verify_emoji(picked=picked, grid=challenge.grid if grid is None else grid,
                 answer_hash=challenge.answer_hash, expires_at=challenge.expires_at,
                 attempts=attempts, now=now, key=key, max_attempts=max_attempts)


def a_wrong_grid_symbol(challenge: EmojiChallenge) -> str:
    return next(s for s in challenge.grid if s not in challenge.answer)


# --- presets and the alphabet ----------------------------------------------------------

def test_presets_match_the_case():
    assert (PRESETS["2of10"].k, PRESETS["2of10"].n) == (2, 10)
    assert (PRESETS["4of15"].k, PRESETS["4of15"].n) == (4, 15)
    assert set(DIGITS) <= set(PRESETS["4of15"].alphabet)  # "including digits"
    assert not set(DIGITS) & set(PRESETS["2of10"].alphabet)


def test_guess_probability():
    assert guess_probability(PRESETS["2of10"]) == Fraction(1, 90)
    assert guess_probability(PRESETS["4of15"]) == Fraction(1, 32_760)
    assert guess_probability(EmojiPreset(name="1of1", k=1, n=1, alphabet=EMOJI)) == 1


@pytest.mark.parametrize("symbol", EMOJI)
def test_the_alphabet_is_plain_single_emoji(symbol):
    assert len(symbol) == 1  # no ZWJ sequences, variation selectors or modifiers
    assert unicodedata.category(symbol) == "So"
    assert not 0x1F1E6 <= ord(symbol) <= 0x1F1FF  # flags are pairs of these
    assert not 0x1F3FB <= ord(symbol) <= 0x1F3FF  # skin tones
    # Faces and hands of people take skin tones; none are here.
    assert not 0x1F466 <= ord(symbol) <= 0x1F487
    assert not 0x1F600 <= ord(symbol) <= 0x1F64F
    assert unicodedata.name(symbol)


def test_the_alphabet_is_distinct_and_large_enough():
    assert len(set(EMOJI)) == len(EMOJI) >= 30
    assert len(EMOJI + DIGITS) >= PRESETS["4of15"].n


@pytest.mark.parametrize(("k", "n", "alphabet"), [
    (0, 10, EMOJI), (3, 2, EMOJI), (2, len(EMOJI) + 1, EMOJI),
    (2, 3, ("🐶", "🐶", "🐱", "🐼")),
    (1, 2, ("🐶", "🇯🇵")),  # a flag: two code points
    (1, 2, ("🐶", "\U0001F1EF")),  # half a flag
    (1, 2, ("🐶", "\U0001F3FB")),  # a skin-tone modifier alone
    (1, 2, ("🐶", "👨‍👩‍👧")),  # a ZWJ sequence
    (1, 2, ("🐶", "☕\ufe0f")),  # with a variation selector
    (1, 2, ("🐶", "|")), (1, 2, ("🐶", " ")), (1, 2, ("🐶", "")),
])
def test_bad_presets_are_refused(k, n, alphabet):
    with pytest.raises(ValueError):  # noqa: PT011 - several messages
        EmojiPreset(name="custom", k=k, n=n, alphabet=alphabet)


def test_a_custom_preset():
    preset = EmojiPreset(name="3of12", k=3, n=12, alphabet=EMOJI[:20])
    challenge = issue_emoji_challenge(preset, now=T0, key=KEY)
    assert (len(challenge.answer), len(challenge.grid), challenge.preset) == (3, 12, "3of12")
    check(challenge, list(challenge.answer))


# --- issuing -------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PRESETS))
def test_issue_draws_a_grid_and_an_ordered_answer_from_it(name):
    preset = PRESETS[name]
    challenge = issue(name)
    assert len(challenge.grid) == len(set(challenge.grid)) == preset.n
    assert set(challenge.grid) <= set(preset.alphabet)
    assert len(challenge.answer) == len(set(challenge.answer)) == preset.k
    assert set(challenge.answer) <= set(challenge.grid)
    assert challenge.expires_at == T0 + timedelta(minutes=5)
    assert len(challenge.answer_hash) == 64
    check(challenge, list(challenge.answer))


def test_repr_hides_the_answer():
    challenge = issue("4of15")
    text = repr(challenge)
    assert "answer=" not in text
    assert "".join(challenge.answer) not in text.replace("".join(challenge.grid), "")
    assert "grid=" in text


@pytest.mark.parametrize("kwargs", [{"ttl": timedelta(0)}, {"key": b"short"},
                                    {"now": datetime(2025, 4, 8, 1, 0)}])  # noqa: DTZ001
def test_issue_refuses_bad_arguments(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 - several messages
        issue_emoji_challenge(PRESETS["2of10"], **{"now": T0, "key": KEY, **kwargs})


# --- verifying -----------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PRESETS))
def test_order_matters(name):
    challenge = issue(name)
    with pytest.raises(WrongEmoji) as err:
        check(challenge, list(reversed(challenge.answer)))
    assert err.value.attempts_left == 2
    assert isinstance(err.value, WrongCode)  # callers may catch both kinds together


@pytest.mark.parametrize("name", list(PRESETS))
def test_wrong_symbols_and_wrong_counts(name):
    challenge = issue(name)
    answer = list(challenge.answer)
    for picked in ([*answer[:-1], a_wrong_grid_symbol(challenge)], answer[:-1],
                   [*answer, a_wrong_grid_symbol(challenge)]):
        with pytest.raises(WrongEmoji):
            check(challenge, picked)


def test_attempts_count_down_and_then_stop():
    challenge = issue()
    wrong = list(reversed(challenge.answer))
    lefts = []
    for attempts in range(3):
        with pytest.raises(WrongEmoji) as err:
            check(challenge, wrong, attempts=attempts)
        lefts.append(err.value.attempts_left)
    assert lefts == [2, 1, 0]
    with pytest.raises(TooManyAttempts) as err:  # before comparing: the right answer too
        check(challenge, list(challenge.answer), attempts=3)
    assert err.value.max_attempts == 3


def test_expiry_edges():
    challenge = issue(ttl=timedelta(minutes=2))
    check(challenge, list(challenge.answer), now=challenge.expires_at - timedelta(microseconds=1))
    with pytest.raises(CodeExpired) as err:
        check(challenge, list(challenge.answer), now=challenge.expires_at, attempts=3)
    assert err.value.expired_at == T0 + timedelta(minutes=2)


@pytest.mark.parametrize(("picked", "reason"), [
    ([], "empty"), (["🦄"], "not_on_grid"), (["<script>"], "not_on_grid"),
])
def test_picks_that_cannot_be_an_answer(picked, reason):
    challenge = issue()
    if picked and picked[0] == "🦄":
        assert "🦄" not in EMOJI
    with pytest.raises(EmojiPickInvalid) as err:
        check(challenge, picked)
    assert err.value.reason == reason


def test_a_repeated_pick_is_refused():
    challenge = issue()
    with pytest.raises(EmojiPickInvalid) as err:
        check(challenge, [challenge.answer[0], challenge.answer[0]])
    assert err.value.reason == "duplicate"


def test_a_symbol_of_the_alphabet_but_not_of_this_grid_is_refused():
    challenge = issue()
    off_grid = next(s for s in EMOJI if s not in challenge.grid)
    with pytest.raises(EmojiPickInvalid):
        check(challenge, [challenge.answer[0], off_grid])


def test_a_variation_selector_or_spaces_around_a_pick_do_not_matter():
    challenge = issue("4of15")
    check(challenge, [f" {s}\ufe0f" for s in challenge.answer])


def test_the_answer_only_passes_with_its_own_grid():
    challenge = issue()
    with pytest.raises(WrongEmoji):
        check(challenge, list(challenge.answer), grid=tuple(reversed(challenge.grid)))


def test_another_key_does_not_pass():
    challenge = issue()
    with pytest.raises(WrongEmoji):
        check(challenge, list(challenge.answer), key=b"x" * 32)


def test_errors_do_not_carry_the_answer():
    challenge = issue("4of15")
    with pytest.raises(WrongEmoji) as err:
        check(challenge, list(reversed(challenge.answer)))
    text = f"{err.value} {err.value!r} {err.value.to_dict()}"
    # Digits of the alphabet may appear as the count of attempts left; emoji may not.
    assert not any(symbol in text for symbol in challenge.grid if symbol not in DIGITS)
    assert "answer" not in text


@pytest.mark.parametrize("kwargs", [{"attempts": -1}, {"max_attempts": 0}, {"key": b"short"}])
def test_verify_refuses_bad_arguments(kwargs):
    challenge = issue()
    with pytest.raises(ValueError):  # noqa: PT011 - several messages
        check(challenge, list(challenge.answer), **kwargs)


# --- the draws -----------------------------------------------------------------------

def test_every_symbol_and_every_position_comes_up():
    draws = 3000
    challenges = [issue("4of15") for _ in range(draws)]
    alphabet = PRESETS["4of15"].alphabet
    in_grid = Counter(s for c in challenges for s in c.grid)
    assert set(in_grid) == set(alphabet)
    # Each symbol is in a grid with probability 15/48: expected 937.5 of 3,000.
    expected = draws * 15 / len(alphabet)
    assert all(0.75 * expected < n < 1.25 * expected for n in in_grid.values()), in_grid
    # Every grid position holds the first answer symbol about 1/15 of the time (200).
    first = Counter(c.grid.index(c.answer[0]) for c in challenges)
    assert set(first) == set(range(15))
    assert all(120 < n < 290 for n in first.values()), first
    # Digits turn up in answers as well as emoji.
    assert any(s in DIGITS for c in challenges for s in c.answer)


def test_orders_of_a_pair_are_equally_likely():
    # For a fixed grid symbol pair both orders must come up: order carries the entropy.
    challenges = [issue() for _ in range(2000)]
    before = Counter(c.grid.index(c.answer[0]) < c.grid.index(c.answer[1]) for c in challenges)
    assert 850 < before[True] < 1150, before


@settings(max_examples=50)
@given(name=st.sampled_from(sorted(PRESETS)), data=st.data())
def test_only_the_exact_ordered_answer_passes(name, data):
    challenge = issue(name)
    check(challenge, list(challenge.answer))
    picked = data.draw(st.lists(st.sampled_from(challenge.grid), min_size=1,
                                max_size=len(challenge.grid), unique=True))
    if tuple(picked) == challenge.answer:
        check(challenge, picked)
    else:
        with pytest.raises(WrongEmoji):
            check(challenge, picked)
