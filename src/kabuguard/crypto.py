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
        # Seals are checked against every key, so a rotation does not break the few
        # minutes of seals already handed out.
        self._seal_keys = [hashlib.sha256(b"kabuguard seal v1|" + k.encode()).digest()
                           for k in keys]

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


    def seal(self, kind: str, fields: list[str]) -> str:
        """``fields`` joined with a MAC, so they come back unaltered from a client
        (``unseal``). Not encrypted: seal nothing secret. Fields must not contain '.'.
        """
        if any("." in f for f in fields):
            msg = "sealed fields must not contain '.'"
            raise ValueError(msg)
        body = ".".join(fields)
        return f"{body}.{_mac(self._seal_keys[0], kind, body)}"

    def unseal(self, kind: str, sealed: str) -> list[str] | None:
        """The fields of a seal made for ``kind``, or None when it was altered, made for
        another kind or with an unknown key. The MAC is compared in constant time."""
        body, _, mac = sealed.rpartition(".")
        if not body:
            return None
        if not any(hmac.compare_digest(mac, _mac(key, kind, body)) for key in self._seal_keys):
            return None
        return body.split(".")


def _mac(key: bytes, kind: str, body: str) -> str:
    digest = hmac.new(key, f"{kind}|{body}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def generate_key() -> str:
    return Fernet.generate_key().decode()
