from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kabuguard
from kabuguard.identity.interfaces import CodeFormatInvalid, CodeReused, WrongCode
from kabuguard.identity.totp import DEFAULT_ISSUER, new_totp_secret, provisioning_uri, verify_totp

# RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
T0 = datetime(2025, 4, 8, 1, 0, tzinfo=UTC)  # a step boundary: 1744074000 = 30 * 58135800


def at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def code_at(secret: str, moment: datetime, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(moment, counter_offset=steps)


# The 8-digit values of Appendix B, truncated to their last 6 digits (RFC 4226 §5.3 takes
# the code modulo 10^digits).
@pytest.mark.parametrize(("unix", "code"), [
    (59, "287082"),  # 94287082
    (1111111109, "081804"),  # 07081804
    (1111111111, "050471"),  # 14050471
    (1234567890, "005924"),  # 89005924
    (2000000000, "279037"),  # 69279037
    (20000000000, "353130"),  # 65353130
])
def test_rfc6238_appendix_b_sha1_vectors(unix, code):
    assert verify_totp(RFC_SECRET, code, now=at(unix), last_used_step=None, valid_window=0) == unix // 30


def test_new_secret_is_160_bits_of_base32_and_fresh():
    secrets_ = {new_totp_secret() for _ in range(50)}
    assert len(secrets_) == 50
    for secret in secrets_:
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert len(base64.b32decode(secret)) == 20


def test_provisioning_uri_round_trips_through_an_authenticator_parser():
    secret = new_totp_secret()
    uri = provisioning_uri(secret, account_name="K0001234")
    assert uri.startswith("otpauth://totp/Kabuguard%20Securities:K0001234?")
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    assert (parsed.secret, parsed.issuer, parsed.name) == (secret, DEFAULT_ISSUER, "K0001234")
    assert (parsed.digits, parsed.interval) == (6, 30)


def test_provisioning_uri_with_a_japanese_issuer():
    uri = provisioning_uri(new_totp_secret(), account_name="K1", issuer="カブガード証券")
    assert pyotp.parse_uri(uri).issuer == "カブガード証券"


@pytest.mark.parametrize(("account_name", "issuer"), [("a:b", DEFAULT_ISSUER), ("K1", "Evil:Bank")])
def test_provisioning_uri_refuses_the_label_separator(account_name, issuer):
    with pytest.raises(ValueError, match="':'"):
        provisioning_uri(new_totp_secret(), account_name=account_name, issuer=issuer)


def test_a_code_is_accepted_once():
    secret = new_totp_secret()
    step = verify_totp(secret, code_at(secret, T0), now=T0, last_used_step=None)
    assert step == int(T0.timestamp()) // 30
    with pytest.raises(CodeReused):
        verify_totp(secret, code_at(secret, T0), now=T0 + timedelta(seconds=10), last_used_step=step)
    # The next step's code is a new code.
    later = T0 + timedelta(seconds=30)
    assert verify_totp(secret, code_at(secret, later), now=later, last_used_step=step) == step + 1


def test_an_older_code_after_a_newer_one_is_a_replay():
    secret = new_totp_secret()
    newer = verify_totp(secret, code_at(secret, T0), now=T0, last_used_step=None)
    with pytest.raises(CodeReused):  # the previous step's code, still inside the window
        verify_totp(secret, code_at(secret, T0, -1), now=T0, last_used_step=newer)


def test_a_code_ahead_of_the_clock_burns_the_steps_up_to_it():
    secret = new_totp_secret()
    ahead = verify_totp(secret, code_at(secret, T0, +1), now=T0, last_used_step=None)
    assert ahead == int(T0.timestamp()) // 30 + 1
    with pytest.raises(CodeReused):
        verify_totp(secret, code_at(secret, T0), now=T0, last_used_step=ahead)


@pytest.mark.parametrize(("offset", "window", "accepted"), [
    (0, 0, True), (-1, 0, False), (1, 0, False),
    (-1, 1, True), (1, 1, True), (-2, 1, False), (2, 1, False),
    (-2, 2, True), (2, 2, True), (-3, 2, False),
])
def test_window_edges(offset, window, accepted):
    secret = new_totp_secret()
    code = code_at(secret, T0, offset)
    current = int(T0.timestamp()) // 30
    if accepted:
        assert verify_totp(secret, code, now=T0, last_used_step=None, valid_window=window) == current + offset
    else:
        with pytest.raises(WrongCode) as err:
            verify_totp(secret, code, now=T0, last_used_step=None, valid_window=window)
        assert err.value.attempts_left is None


@pytest.mark.parametrize(("seconds", "step_offset"), [(0, 0), (29, 0), (30, 1), (59, 1), (-1, -1)])
def test_step_boundaries(seconds, step_offset):
    secret = new_totp_secret()
    now = T0 + timedelta(seconds=seconds)
    code = code_at(secret, now)
    expected = int(T0.timestamp()) // 30 + step_offset
    assert verify_totp(secret, code, now=now, last_used_step=None, valid_window=0) == expected


def test_any_timezone_is_the_same_instant():
    secret = new_totp_secret()
    jst = T0.astimezone(timezone(timedelta(hours=9)))
    assert verify_totp(secret, code_at(secret, T0), now=jst, last_used_step=None, valid_window=0) == (
        int(T0.timestamp()) // 30)


@pytest.mark.parametrize("entry", [" {c} ", "{c}\n", "\t{c}", "\u3000{c}\u3000"])
def test_surrounding_spaces_are_accepted(entry):
    secret = new_totp_secret()
    verify_totp(secret, entry.format(c=code_at(secret, T0)), now=T0, last_used_step=None)


def test_full_width_digits_from_a_japanese_ime_are_accepted():
    secret = new_totp_secret()
    full_width = code_at(secret, T0).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    verify_totp(secret, full_width, now=T0, last_used_step=None)


@pytest.mark.parametrize("entry", ["", "12345", "1234567", "12 345", "123 456", "abcdef", "-12345",
                                   "12345²", "١٢٣٤٥٦", "1" * 10_000])
def test_malformed_codes(entry):
    with pytest.raises(CodeFormatInvalid) as err:
        verify_totp(RFC_SECRET, entry, now=T0, last_used_step=None)
    assert err.value.digits == 6
    assert err.value.code == "otp_format_invalid"


def test_errors_do_not_carry_the_code_or_the_secret():
    secret = new_totp_secret()
    code = code_at(secret, T0)
    step = verify_totp(secret, code, now=T0, last_used_step=None)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for entry, last in [(code, step), (wrong, None)]:
        with pytest.raises((CodeReused, WrongCode)) as err:
            verify_totp(secret, entry, now=T0, last_used_step=last, valid_window=0)
        text = f"{err.value} {err.value!r} {err.value.to_dict()}"
        assert entry not in text
        assert secret not in text


def test_naive_clock_and_negative_window_are_programming_errors():
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_totp(RFC_SECRET, "287082", now=datetime(2025, 4, 8, 1, 0), last_used_step=None)  # noqa: DTZ001
    with pytest.raises(ValueError, match="valid_window"):
        verify_totp(RFC_SECRET, "287082", now=T0, last_used_step=None, valid_window=-1)


def test_a_corrupt_secret_is_a_programming_error():
    with pytest.raises(ValueError):  # noqa: PT011 - pyotp's own wording
        verify_totp("not base32!", "123456", now=T0, last_used_step=None)


@given(unix=st.integers(min_value=60, max_value=4_102_444_800), window=st.integers(0, 3))
def test_the_current_code_always_verifies(unix, window):
    now = at(unix)
    step = verify_totp(RFC_SECRET, code_at(RFC_SECRET, now), now=now, last_used_step=None,
                       valid_window=window)
    current = unix // 30
    # Usually the current step; a later one only when that step's code happens to be equal.
    assert current <= step <= current + window
    assert code_at(RFC_SECRET, now, step - current) == code_at(RFC_SECRET, now)
    with pytest.raises(CodeReused):
        verify_totp(RFC_SECRET, code_at(RFC_SECRET, now), now=now, last_used_step=step,
                    valid_window=window)


def test_pyotp_is_wrapped_once():
    src = Path(kabuguard.__file__).parent
    importers = {p.relative_to(src).as_posix() for p in src.rglob("*.py")
                 if re.search(r"^\s*(import|from)\s+pyotp\b", p.read_text("utf-8"), re.MULTILINE)}
    assert importers == {"identity/totp.py"}
