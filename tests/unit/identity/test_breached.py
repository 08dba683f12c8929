from __future__ import annotations

import hashlib

import pytest

from factories.customers import make_customer
from kabuguard.identity.breached import BreachedPasswords
from kabuguard.identity.interfaces import WeakPassword
from kabuguard.identity.models import Customer


def test_sample_corpus_finds_leaked_passwords():
    corpus = BreachedPasswords()
    assert corpus.count("password1234") == 1_186_233
    assert corpus.count("correct-horse-battery-staple-xyz") == 0
    with pytest.raises(WeakPassword, match="leaked passwords"):
        corpus.check("1234567890")


def test_range_files_with_and_without_extension(tmp_path):
    digest = hashlib.sha1(b"my-own-leaked-pw", usedforsecurity=False).hexdigest().upper()
    (tmp_path / digest[:5]).write_text(f"{'0' * 35}:3\n{digest[5:]}:42\n", encoding="ascii")
    assert BreachedPasswords(tmp_path).count("my-own-leaked-pw") == 42
    with pytest.raises(ValueError, match="not found"):
        BreachedPasswords(tmp_path / "missing")


def test_new_customer_with_a_leaked_password_is_refused_and_nothing_written(services):
    with pytest.raises(WeakPassword), services.db.write() as session:
        services.identity.create_customer(session, customer_id="4000001", login_id="leaky",
                                          password="password1234", name="x",
                                          email="x@example.jp", phone=None)
    with services.db.read() as session:
        assert session.get(Customer, "4000001") is None
    make_customer(services, login_id="fine")  # the factory's password is not in the sample
