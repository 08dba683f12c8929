"""Password hashing with argon2id (argon2-cffi) at OWASP's recommended parameters.

OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1. A stored hash made
with other parameters verifies and is then re-hashed (``needs_rehash``).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

OWASP_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1,
                              hash_len=32, salt_len=16)


class PasswordService:
    def __init__(self, hasher: PasswordHasher = OWASP_HASHER) -> None:
        self._hasher = hasher
        # Verified against when the login id is unknown, so the answer takes as long
        # as for a real customer and timing does not reveal who has an account.
        self._dummy = hasher.hash("kabuguard-timing-equaliser")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and bool(stored_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
