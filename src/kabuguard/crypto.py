"""Encryption of personal data at rest and opaque tokens for it.

Bank account numbers, e-mail addresses and phone numbers are stored encrypted with
Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``); ``MultiFernet`` lets keys be
rotated (the first key encrypts, every key decrypts). Events and logs carry only
``token()``: a keyed hash that identifies a value without revealing it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class KeyError_(ValueError):  # noqa: N801 - avoids shadowing the builtin KeyError
    """A data key is malformed."""


class FieldCipher:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            msg = "at least one data key is needed"
            raise KeyError_(msg)
        fernets = []
        for i, key in enumerate(keys, 1):
            try:
                fernets.append(Fernet(key.encode()))
            except (ValueError, binascii.Error):
                msg = (f"data key #{i} is not a Fernet key (32 bytes, url-safe base64); "
                       "generate one with `kabuguard keygen`")
                raise KeyError_(msg) from None
        self._fernet = MultiFernet(fernets)
        self._token_key = hashlib.sha256(b"kabuguard token v1|" + keys[0].encode()).digest()

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken:
            msg = "stored personal data cannot be decrypted with the configured data keys"
            raise KeyError_(msg) from None

    def token(self, kind: str, value: str) -> str:
        """A stable opaque token for ``value`` (e.g. ``bank_3f…``), safe in events and logs."""
        digest = hmac.new(self._token_key, f"{kind}|{value}".encode(), hashlib.sha256).digest()
        return f"{kind}_{base64.b32encode(digest[:10]).decode().lower()}"


def generate_key() -> str:
    return Fernet.generate_key().decode()
