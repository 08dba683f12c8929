from __future__ import annotations

import pytest

from kabuguard.crypto import FieldCipher, KeyError_, generate_key


def test_round_trip_and_rotation():
    old, new = generate_key(), generate_key()
    c_old = FieldCipher([old])
    blob = c_old.encrypt("1234567")
    assert "1234567" not in blob
    rotated = FieldCipher([new, old])
    assert rotated.decrypt(blob) == "1234567"
    with pytest.raises(KeyError_):
        FieldCipher([new]).decrypt(blob)


def test_bad_key_is_a_clear_error():
    with pytest.raises(KeyError_, match="not a Fernet key"):
        FieldCipher(["too-short"])


def test_tokens_are_stable_and_opaque():
    c = FieldCipher([generate_key()])
    a = c.token("bank", "みずほ|101|1234567")
    assert a == c.token("bank", "みずほ|101|1234567")
    assert a.startswith("bank_")
    assert "1234567" not in a
    assert a != c.token("bank", "みずほ|101|1234568")


def test_seal_round_trips_and_refuses_any_alteration():
    old, new = generate_key(), generate_key()
    cipher = FieldCipher([old])
    sealed = cipher.seal("login", ["abc", "12"])
    assert cipher.unseal("login", sealed) == ["abc", "12"]
    assert FieldCipher([new, old]).unseal("login", sealed) == ["abc", "12"]  # rotation
    assert FieldCipher([new]).unseal("login", sealed) is None
    assert cipher.unseal("step_up", sealed) is None  # made for another purpose
    body, mac = sealed.rsplit(".", 1)
    assert cipher.unseal("login", body.replace("12", "13") + "." + mac) is None
    assert cipher.unseal("login", body + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B")) is None
    assert cipher.unseal("login", "") is None and cipher.unseal("login", mac) is None
    with pytest.raises(ValueError, match="must not contain"):
        cipher.seal("login", ["a.b"])
