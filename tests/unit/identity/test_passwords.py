from __future__ import annotations

from argon2 import PasswordHasher

from kabuguard.identity.passwords import OWASP_HASHER, PasswordService


def test_owasp_argon2id_parameters():
    h = PasswordService().hash("a long passphrase")
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert OWASP_HASHER.time_cost == 2


def test_verify_and_wrong_password():
    svc = PasswordService()
    h = svc.hash("a long passphrase")
    assert svc.verify(h, "a long passphrase")
    assert not svc.verify(h, "a long passphrasE")
    assert not svc.verify(None, "a long passphrase")
    assert not svc.verify("not-a-hash", "x")


def test_old_parameters_need_rehash():
    old = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("pw-123456789")
    svc = PasswordService()
    assert svc.verify(old, "pw-123456789")
    assert svc.needs_rehash(old)
    assert not svc.needs_rehash(svc.hash("pw-123456789"))
