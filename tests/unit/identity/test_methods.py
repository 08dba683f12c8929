from __future__ import annotations

import json
from importlib.resources import files

import pytest

from kabuguard.identity.methods import METHOD_LEVEL, Level, Method, level_of


def test_methods_are_exactly_the_interchange_format_values():
    schema = json.loads(files("kabuguard.domain").joinpath("events.schema.json").read_text("utf-8"))
    assert [m.value for m in Method] == schema["$defs"]["method"]["enum"]


def test_levels_are_ordered_and_labelled():
    assert Level.PASSWORD < Level.OTP < Level.PHISHING_RESISTANT
    assert [level.label for level in Level] == ["password", "otp", "phishing_resistant"]
    assert max(Level.OTP, Level.PHISHING_RESISTANT) is Level.PHISHING_RESISTANT


@pytest.mark.parametrize("level", list(Level))
def test_from_label_round_trips(level):
    assert Level.from_label(level.label) is level


@pytest.mark.parametrize("label", ["OTP", "aal2", "", "phishing-resistant", "1"])
def test_from_label_refuses_unknown_labels_and_lists_the_allowed_ones(label):
    with pytest.raises(ValueError, match="password, otp, phishing_resistant"):
        Level.from_label(label)


def test_every_method_has_a_level():
    assert set(METHOD_LEVEL) == set(Method)


def test_method_levels():
    assert METHOD_LEVEL[Method.PASSWORD] is Level.PASSWORD
    phishable = {Method.EMAIL_OTP, Method.SMS_OTP, Method.TOTP, Method.EMOJI, Method.APP_PUSH,
                 Method.PHONE_CALL}
    assert {m for m, level in METHOD_LEVEL.items() if level is Level.OTP} == phishable
    assert {m for m, level in METHOD_LEVEL.items() if level is Level.PHISHING_RESISTANT} == {
        Method.PASSKEY, Method.PKI}


def test_method_level_table_is_read_only():
    with pytest.raises(TypeError):
        METHOD_LEVEL[Method.SMS_OTP] = Level.PHISHING_RESISTANT  # type: ignore[index]


@pytest.mark.parametrize(("methods", "expected"), [
    ([Method.PASSWORD], Level.PASSWORD),
    ([Method.PASSWORD, Method.EMAIL_OTP], Level.OTP),
    ([Method.PASSWORD, Method.SMS_OTP, Method.EMOJI], Level.OTP),
    ([Method.PASSKEY], Level.PHISHING_RESISTANT),
    ([Method.PASSWORD, Method.TOTP, Method.PKI], Level.PHISHING_RESISTANT),
    (["password", "app_push"], Level.OTP),
    ((m for m in [Method.PHONE_CALL]), Level.OTP),
])
def test_level_of_is_the_highest(methods, expected):
    assert level_of(methods) is expected


def test_level_of_nothing_is_an_error_not_password():
    with pytest.raises(ValueError, match="no authentication method"):
        level_of([])


def test_level_of_unknown_method():
    with pytest.raises(ValueError, match="fido"):
        level_of(["password", "fido"])
