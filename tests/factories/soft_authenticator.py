"""A software authenticator (and the browser around it) that produces real WebAuthn
responses for tests: ECDSA P-256 keys, CBOR, "none" attestation, nothing mocked.

``create()`` and ``get()`` take the options our server sends (the JSON of
``navigator.credentials.create/get``) and return what the browser posts back: the
output of ``PublicKeyCredential.toJSON()`` (WebAuthn Level 3 §5.1,
https://www.w3.org/TR/webauthn-3/#dom-publickeycredential-tojson). Keyword arguments
produce each bad case: another origin, another RP ID hash, UV off, a chosen counter,
BE/BS flags, a cross-origin frame, another signing key.

With a ``seed`` everything is deterministic (keys, credential ids, RFC 6979 signatures),
which is how ``tests/fixtures/webauthn/recorded.json`` is made::

    .venv/bin/python tests/factories/soft_authenticator.py --write
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kabuguard.identity.webauthn import (
    RelyingParty,
    authentication_options,
    b64url_decode,
    b64url_encode,
    registration_options,
)

# Authenticator data flags, §6.1 https://www.w3.org/TR/webauthn-3/#sctn-authenticator-data
FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_BE = 0x08
FLAG_BS = 0x10
FLAG_AT = 0x40

ES256 = -7
# Order of the P-256 group: private scalars are 1 … n-1.
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

FIXTURE_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "webauthn" / "recorded.json"


class NotAllowedError(Exception):
    """What the browser raises when no credential fits (DOMException NotAllowedError)."""


class InvalidStateError(Exception):
    """What the browser raises when the authenticator holds an excluded credential."""


@dataclass
class SoftCredential:
    """One discoverable credential held by the authenticator."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int
    backup_eligible: bool
    backed_up: bool

    @property
    def cose_public_key(self) -> bytes:
        """The EC2 COSE_Key (§6.5.1.1), canonical CBOR as CTAP2 encodes it."""
        return cose_key(self.private_key.public_key())


def cose_key(public_key: ec.EllipticCurvePublicKey) -> bytes:
    numbers = public_key.public_numbers()
    # kty EC2, alg ES256, crv P-256, x, y
    return cbor2.dumps(
        {1: 2, 3: ES256, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")},
        canonical=True,
    )


class SoftAuthenticator:
    """A passkey provider: by default like a synced passkey (BE and BS set, counter
    always 0, platform attachment); ``counter=True`` behaves like a security key."""

    def __init__(
        self,
        *,
        seed: str | None = None,
        aaguid: bytes = bytes(16),
        counter: bool = False,
        backup_eligible: bool = True,
        backed_up: bool = True,
        attachment: str = "platform",
        transports: tuple[str, ...] = ("hybrid", "internal"),
    ) -> None:
        self.seed = seed
        self.aaguid = aaguid
        self.counter = counter
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.attachment = attachment
        self.transports = transports
        self.credentials: dict[bytes, SoftCredential] = {}

    # ------------------------------------------------------------------ keys

    def new_key(self, label: str) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
        """A credential id and key pair: derived from the seed, or random."""
        if self.seed is None:
            return secrets.token_bytes(32), ec.generate_private_key(ec.SECP256R1())
        material = f"{self.seed}/{label}".encode()
        scalar = int.from_bytes(hashlib.sha256(b"key/" + material).digest(), "big") % (_P256_ORDER - 1) + 1
        return hashlib.sha256(b"id/" + material).digest(), ec.derive_private_key(scalar, ec.SECP256R1())

    # ------------------------------------------------------------------ ceremonies

    def create(
        self,
        options: dict[str, Any] | str,
        *,
        origin: str,
        user_verified: bool = True,
        user_present: bool = True,
        rp_id: str | None = None,
        backup_eligible: bool | None = None,
        backed_up: bool | None = None,
        sign_count: int = 0,
        cross_origin: bool = False,
        client_data_type: str = "webauthn.create",
        cose_public_key: bytes | None = None,
    ) -> dict[str, Any]:
        """``navigator.credentials.create()`` then ``toJSON()`` (§5.1.3, §6.3.2).

        ``rp_id`` overrides the RP ID that is hashed into authenticatorData (and scopes
        the credential), as a phishing site's own RP ID would; ``cose_public_key``
        replaces the attested public key (a broken authenticator).
        """
        opts = _load(options)
        if not any(p.get("alg") == ES256 for p in opts["pubKeyCredParams"]):
            raise NotAllowedError("this authenticator only does ES256")
        scoped_rp_id = rp_id or opts["rp"]["id"]
        excluded = {b64url_decode(c["id"]) for c in opts.get("excludeCredentials", [])}
        if excluded & {cid for cid, c in self.credentials.items() if c.rp_id == scoped_rp_id}:
            raise InvalidStateError("the authenticator already holds an excluded credential")

        credential_id, key = self.new_key(f"{scoped_rp_id}/{len(self.credentials)}")
        cred = SoftCredential(
            credential_id=credential_id,
            private_key=key,
            rp_id=scoped_rp_id,
            user_handle=b64url_decode(opts["user"]["id"]),
            sign_count=sign_count,
            backup_eligible=self.backup_eligible if backup_eligible is None else backup_eligible,
            backed_up=self.backed_up if backed_up is None else backed_up,
        )
        self.credentials[credential_id] = cred

        # §6.5.1 attested credential data: AAGUID, L, credentialId, credentialPublicKey
        attested = (
            self.aaguid
            + len(credential_id).to_bytes(2, "big")
            + credential_id
            + (cose_public_key or cred.cose_public_key)
        )
        auth_data = (
            authenticator_data(
                rp_id=scoped_rp_id,
                flags=_flags(user_present, user_verified, cred.backup_eligible, cred.backed_up) | FLAG_AT,
                sign_count=sign_count,
            )
            + attested
        )
        # §8.7 "none" attestation: empty attStmt. CTAP2 canonical key order.
        attestation_object = cbor2.dumps(
            {"fmt": "none", "attStmt": {}, "authData": auth_data}, canonical=True
        )
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {
            "id": b64url_encode(credential_id),
            "rawId": b64url_encode(credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url_encode(
                    client_data_json(client_data_type, opts["challenge"], origin, cross_origin=cross_origin)
                ),
                "attestationObject": b64url_encode(attestation_object),
                "authenticatorData": b64url_encode(auth_data),
                "transports": sorted(self.transports),
                "publicKey": b64url_encode(spki),
                "publicKeyAlgorithm": ES256,
            },
            "authenticatorAttachment": self.attachment,
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict[str, Any] | str,
        *,
        origin: str,
        user_verified: bool = True,
        user_present: bool = True,
        sign_count: int | None = None,
        credential_id: bytes | None = None,
        rp_id: str | None = None,
        backup_eligible: bool | None = None,
        backed_up: bool | None = None,
        cross_origin: bool = False,
        signing_key: ec.EllipticCurvePrivateKey | None = None,
        client_data_type: str = "webauthn.get",
        user_handle: bytes | None = None,
    ) -> dict[str, Any]:
        """``navigator.credentials.get()`` then ``toJSON()`` (§5.1.4, §6.3.3).

        Picks ``credential_id``, else the first allowed credential held, else (empty
        allow list) the newest discoverable credential for the RP. ``sign_count`` sets
        the counter (else it counts up with ``counter=True``, or stays 0);
        ``signing_key`` signs with another key; ``user_handle`` replaces the returned
        userHandle (it is not signed).
        """
        opts = _load(options)
        cred = self._pick(opts, credential_id)
        if sign_count is not None:
            cred.sign_count = sign_count
        elif self.counter:
            cred.sign_count += 1
        auth_data = authenticator_data(
            rp_id=rp_id or cred.rp_id,
            flags=_flags(
                user_present,
                user_verified,
                cred.backup_eligible if backup_eligible is None else backup_eligible,
                cred.backed_up if backed_up is None else backed_up,
            ),
            sign_count=cred.sign_count,
        )
        client_data = client_data_json(client_data_type, opts["challenge"], origin, cross_origin=cross_origin)
        # §6.3.3: the signature covers authenticatorData || SHA-256(clientDataJSON).
        # RFC 6979 deterministic ECDSA, so seeded runs give byte-identical fixtures.
        signature = (signing_key or cred.private_key).sign(
            auth_data + hashlib.sha256(client_data).digest(),
            ec.ECDSA(hashes.SHA256(), deterministic_signing=True),
        )
        return {
            "id": b64url_encode(cred.credential_id),
            "rawId": b64url_encode(cred.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url_encode(client_data),
                "authenticatorData": b64url_encode(auth_data),
                "signature": b64url_encode(signature),
                "userHandle": b64url_encode(user_handle or cred.user_handle),
            },
            "authenticatorAttachment": self.attachment,
            "clientExtensionResults": {},
        }

    def _pick(self, opts: dict[str, Any], credential_id: bytes | None) -> SoftCredential:
        if credential_id is not None:
            return self.credentials[credential_id]
        allowed = [b64url_decode(c["id"]) for c in opts.get("allowCredentials", [])]
        if allowed:
            for cid in allowed:
                if cid in self.credentials:
                    return self.credentials[cid]
            raise NotAllowedError("no allowed credential on this authenticator")
        held = [c for c in self.credentials.values() if c.rp_id == opts["rpId"]]
        if not held:
            raise NotAllowedError("no discoverable credential for this RP")
        return held[-1]


def authenticator_data(*, rp_id: str, flags: int, sign_count: int) -> bytes:
    """rpIdHash (32) || flags (1) || signCount (4, big-endian), §6.1."""
    return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + sign_count.to_bytes(4, "big")


def client_data_json(type_: str, challenge: str, origin: str, *, cross_origin: bool = False) -> bytes:
    """The bytes a browser signs over, in its serialisation order (§5.8.1.1,
    https://www.w3.org/TR/webauthn-3/#clientdatajson-serialization)."""
    data: dict[str, Any] = {
        "type": type_,
        "challenge": challenge,
        "origin": origin,
        "crossOrigin": cross_origin,
    }
    if cross_origin:
        data["topOrigin"] = "https://embedding.example"
    return json.dumps(data, separators=(",", ":")).encode()


def _flags(up: bool, uv: bool, be: bool, bs: bool) -> int:
    return (FLAG_UP * up) | (FLAG_UV * uv) | (FLAG_BE * be) | (FLAG_BS * bs)


def _load(options: dict[str, Any] | str) -> dict[str, Any]:
    return json.loads(options) if isinstance(options, str) else options


# ---------------------------------------------------------------------- recorded fixture

FIXTURE_RP = RelyingParty("localhost", "Kabuguard Securities", ("http://localhost:8000",))
FIXTURE_SEED = "kabuguard-recorded-fixture-v1"
FIXTURE_USER_ID = bytes(range(1, 33))
FIXTURE_REGISTRATION_CHALLENGE = hashlib.sha256(b"registration challenge").digest()
FIXTURE_AUTHENTICATION_CHALLENGE = hashlib.sha256(b"authentication challenge").digest()


def recorded_fixture() -> dict[str, Any]:
    """A registration and a login made with pinned keys and challenges.

    Deterministic: the same bytes every time, so a test can both verify the committed
    file and show that this function is how it was made. A security-key-like
    credential (counter on, BE off) so that the counter check has something to check.
    """
    authenticator = SoftAuthenticator(
        seed=FIXTURE_SEED,
        counter=True,
        backup_eligible=False,
        backed_up=False,
        attachment="cross-platform",
        transports=("usb",),
    )
    origin = FIXTURE_RP.origins[0]
    reg_options, _ = registration_options(
        FIXTURE_RP,
        user_id=FIXTURE_USER_ID,
        user_name="fixture@example.jp",
        display_name="Fixture User",
        exclude_credential_ids=[],
        challenge=FIXTURE_REGISTRATION_CHALLENGE,
    )
    registration = authenticator.create(reg_options, origin=origin)
    auth_options, _ = authentication_options(FIXTURE_RP, challenge=FIXTURE_AUTHENTICATION_CHALLENGE)
    authentication = authenticator.get(auth_options, origin=origin)
    (cred,) = authenticator.credentials.values()
    return {
        "comment": "Made by tests/factories/soft_authenticator.py recorded_fixture(); do not edit.",
        "rp": {"rp_id": FIXTURE_RP.rp_id, "rp_name": FIXTURE_RP.rp_name, "origins": list(FIXTURE_RP.origins)},
        "user_id": b64url_encode(FIXTURE_USER_ID),
        "registration": {
            "challenge": b64url_encode(FIXTURE_REGISTRATION_CHALLENGE),
            "options": reg_options,
            "credential": registration,
        },
        "authentication": {
            "challenge": b64url_encode(FIXTURE_AUTHENTICATION_CHALLENGE),
            "options": auth_options,
            "credential": authentication,
        },
        "expected": {
            "credential_id": b64url_encode(cred.credential_id),
            "public_key": b64url_encode(cred.cose_public_key),
            "registration_sign_count": 0,
            "authentication_sign_count": 1,
            "aaguid": "00000000-0000-0000-0000-000000000000",
        },
    }


def write_fixture(path: Path = FIXTURE_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recorded_fixture(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: .venv/bin/python tests/factories/soft_authenticator.py --write")
    write_fixture()
    print(f"wrote {FIXTURE_PATH}")
