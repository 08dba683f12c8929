from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kabuguard.domain.errors import InvalidInput, KabuguardError, Unauthorized
from kabuguard.identity import interfaces, onetime
from kabuguard.identity.interfaces import (
    CodeExpired,
    CodeFormatInvalid,
    CodeReused,
    EmojiPickInvalid,
    TooManyAttempts,
    WrongCode,
    WrongEmoji,
)
from kabuguard.identity.onetime import IssuedCode, issue_code, normalize_code, verify_code

KEY = b"k" * 32
T0 = datetime(2025, 4, 8, 1, 0, tzinfo=UTC)


def fixed_code(monkeypatch, value: int) -> None:
    monkeypatch.setattr(onetime.secrets, "randbelow", lambda _bound: value)


def check(issued: IssuedCode, given: str, *, now: datetime = T0, attempts: int = 0,
          purpose: str | None = None, key: bytes = KEY, max_attempts: int = 5) -> None:
    verify_code(given=given, code_hash=issued.code_hash, purpose=purpose or issued.purpose,
                expires_at=issued.expires_at, attempts=attempts, now=now, key=key,
                max_attempts=max_attempts)


def test_issue_draws_six_digits_and_stores_only_a_keyed_hash():
    issued = issue_code(purpose="login", now=T0, key=KEY)
    assert len(issued.code) == 6
    assert issued.code.isdigit()
    assert issued.expires_at == T0 + timedelta(minutes=5)
    assert issued.purpose == "login"
    expected = hmac.new(KEY, f"login|{issued.code}".encode(), hashlib.sha256).hexdigest()
    assert issued.code_hash == expected


def test_ttl_and_digits_are_configurable():
    issued = issue_code(purpose="withdrawal", now=T0, ttl=timedelta(minutes=10), digits=8, key=KEY)
    assert len(issued.code) == 8
    assert issued.expires_at == T0 + timedelta(minutes=10)
    check(issued, issued.code)


def test_leading_zeros_are_kept(monkeypatch):
    fixed_code(monkeypatch, 42)
    issued = issue_code(purpose="login", now=T0, key=KEY)
    assert issued.code == "000042"
    check(issued, "000042")
    with pytest.raises(WrongCode):
        check(issued, "42")


def test_repr_hides_the_code(monkeypatch):
    fixed_code(monkeypatch, 271828)
    issued = issue_code(purpose="login", now=T0, key=KEY)
    assert "271828" not in repr(issued)
    assert "271828" not in str(issued)
    assert "code=" not in repr(issued).replace("code_hash=", "")
    assert "expires_at=" in repr(issued)


def test_issued_code_is_frozen():
    issued = issue_code(purpose="login", now=T0, key=KEY)
    with pytest.raises(AttributeError):
        issued.code = "000000"  # type: ignore[misc]


def test_the_right_code_verifies():
    issued = issue_code(purpose="login", now=T0, key=KEY)
    check(issued, issued.code)
    check(issued, f" {issued.code} ")
    check(issued, issued.code.translate(str.maketrans("0123456789", "０１２３４５６７８９")))


def test_a_wrong_code_counts_down(monkeypatch):
    fixed_code(monkeypatch, 123456)
    issued = issue_code(purpose="login", now=T0, key=KEY)
    lefts = []
    for attempts in range(5):
        with pytest.raises(WrongCode) as err:
            check(issued, "654321", attempts=attempts)
        lefts.append(err.value.attempts_left)
        assert err.value.params == {"attempts_left": err.value.attempts_left}
    assert lefts == [4, 3, 2, 1, 0]
    assert str(WrongCode(attempts_left=1)) == "The code is not correct (1 attempt left)."


def test_too_many_attempts_is_checked_before_comparing():
    issued = issue_code(purpose="login", now=T0, key=KEY)
    check(issued, issued.code, attempts=4)  # the fifth try may still succeed
    with pytest.raises(TooManyAttempts) as err:
        check(issued, issued.code, attempts=5)
    assert err.value.max_attempts == 5
    with pytest.raises(TooManyAttempts):
        check(issued, issued.code, attempts=2, max_attempts=2)
    with pytest.raises(TooManyAttempts):  # even garbage is not looked at
        check(issued, "not a code", attempts=5)


def test_expiry_edges():
    issued = issue_code(purpose="login", now=T0, key=KEY)
    check(issued, issued.code, now=issued.expires_at - timedelta(microseconds=1))
    for now in (issued.expires_at, issued.expires_at + timedelta(days=1)):
        with pytest.raises(CodeExpired) as err:
            check(issued, issued.code, now=now)
        assert err.value.expired_at == issued.expires_at


def test_expiry_is_checked_before_attempts():
    issued = issue_code(purpose="login", now=T0, key=KEY)
    with pytest.raises(CodeExpired):
        check(issued, issued.code, now=issued.expires_at, attempts=99)


def test_a_code_for_another_purpose_does_not_pass():
    issued = issue_code(purpose="login", now=T0, key=KEY)
    with pytest.raises(WrongCode):
        check(issued, issued.code, purpose="withdrawal")


def test_a_code_hashed_with_another_key_does_not_pass():
    issued = issue_code(purpose="login", now=T0, key=KEY)
    with pytest.raises(WrongCode):
        check(issued, issued.code, key=b"x" * 32)


@pytest.mark.parametrize("entry", ["", "   ", "12a456", "12 3456", "+123456", "1" * 11, "1" * 100_000,
                                   "１２３４５六"])
def test_malformed_entries(entry):
    issued = issue_code(purpose="login", now=T0, key=KEY)
    with pytest.raises(CodeFormatInvalid) as err:
        check(issued, entry)
    assert err.value.digits is None


def test_normalize_code_with_a_length():
    assert normalize_code("\t000000 ", digits=6) == "000000"
    with pytest.raises(CodeFormatInvalid) as err:
        normalize_code("00000", digits=6)
    assert str(err.value) == "Enter the 6-digit code."
    assert err.value.params == {"digits": 6}


@pytest.mark.parametrize("kwargs", [
    {"ttl": timedelta(0)}, {"ttl": timedelta(seconds=-1)}, {"digits": 5}, {"digits": 11},
    {"key": b"short"}, {"purpose": ""}, {"purpose": "login|x"},
    {"now": datetime(2025, 4, 8, 1, 0)},  # noqa: DTZ001
])
def test_issue_refuses_bad_arguments(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 - several messages
        issue_code(**{"purpose": "login", "now": T0, "key": KEY, **kwargs})


@pytest.mark.parametrize("kwargs", [{"attempts": -1}, {"max_attempts": 0},
                                    {"now": datetime(2025, 4, 8, 1, 0)}])  # noqa: DTZ001
def test_verify_refuses_bad_arguments(kwargs):
    issued = issue_code(purpose="login", now=T0, key=KEY)
    with pytest.raises(ValueError):  # noqa: PT011 - several messages
        check(issued, issued.code, **kwargs)


def test_draws_are_uniform_enough():
    codes = [issue_code(purpose="login", now=T0, key=KEY).code for _ in range(4000)]
    for position in range(6):
        counts = Counter(code[position] for code in codes)
        assert set(counts) == set("0123456789")
        # Expected 400 each; the bounds are about 6 standard deviations wide.
        assert all(280 < n < 520 for n in counts.values()), (position, counts)
    assert len(set(codes)) > 3900  # about 8 collisions expected among 4,000 draws of 10^6


@given(value=st.integers(0, 999_999),
       purpose=st.text(min_size=1, max_size=30).filter(lambda p: "|" not in p))
def test_issue_then_verify_round_trip(value, purpose):
    with pytest.MonkeyPatch.context() as mp:
        fixed_code(mp, value)
        issued = issue_code(purpose=purpose, now=T0, key=KEY)
    assert issued.code == f"{value:06d}"
    check(issued, issued.code)
    with pytest.raises(WrongCode):
        check(issued, f"{(value + 1) % 1_000_000:06d}")


# --- the error tree ------------------------------------------------------------------

NEW_ERRORS = [CodeFormatInvalid, WrongCode, WrongEmoji, CodeExpired, TooManyAttempts, CodeReused,
              EmojiPickInvalid]
SAMPLES = [CodeFormatInvalid(digits=6), CodeFormatInvalid(), WrongCode(), WrongCode(attempts_left=2),
           WrongEmoji(attempts_left=0), CodeExpired(expired_at=T0), TooManyAttempts(max_attempts=5),
           CodeReused(), EmojiPickInvalid(reason="not_on_grid")]


def test_error_codes_are_unique():
    classes = {obj for obj in vars(interfaces).values()
               if isinstance(obj, type) and issubclass(obj, KabuguardError)}
    classes |= set(NEW_ERRORS)
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes)), Counter(codes)
    for cls in NEW_ERRORS:
        assert "code" in vars(cls), cls  # its own, not inherited


def test_error_bases():
    assert issubclass(CodeFormatInvalid, InvalidInput)
    assert issubclass(EmojiPickInvalid, InvalidInput)
    for cls in (WrongCode, WrongEmoji, CodeExpired, TooManyAttempts, CodeReused):
        assert issubclass(cls, Unauthorized)
    assert issubclass(WrongEmoji, WrongCode)


@pytest.mark.parametrize("error", SAMPLES, ids=lambda e: type(e).__name__)
def test_errors_serialize_for_the_api(error):
    body = json.loads(json.dumps(error.to_dict()))
    assert body["error"] == type(error).code
    assert body["message"] == str(error)
    assert str(error)[0].isupper()
    assert str(error).endswith(".")
