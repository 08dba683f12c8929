"""Passkeys (WebAuthn): the one module that imports py_webauthn.

The 2025 JSDA guideline makes phishing-resistant multi-factor authentication mandatory,
by default, at login, withdrawal and withdrawal bank-account change (JP-RULES.md J-M1,
FSA supervisory guideline F-6), naming passkeys as the example. A passkey resists
real-time phishing because the browser puts the page's origin into the signed
``clientDataJSON`` and the authenticator scopes the key to the RP ID: a relay site at
another origin gets a response this module refuses.

This module is a thin, exact wrapper with no database and no web code:

- options for ``navigator.credentials.create()`` / ``get()`` as JSON-ready dicts, with
  the policy fixed here (discoverable credentials, user verification required);
- verification of the browser's ``PublicKeyCredential.toJSON()`` output, always with
  ``require_user_verification=True``, plus the checks py_webauthn leaves to the RP
  (signature counter, backup eligibility, cross-origin frames, user handle);
- typed errors with stable codes, mapped from py_webauthn's messages.

The caller keeps the challenge (single use, expiring: WebAuthn Level 3 §13.4.3,
https://www.w3.org/TR/webauthn-3/#sctn-cryptographic-challenges), looks the stored
credential up with :func:`credential_id_of`, and stores what the verify functions return.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Final
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    decode_credential_public_key,
    decoded_public_key_to_cryptography,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidBackupFlags,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
    WebAuthnException,
)
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from kabuguard.domain.errors import InvalidInput, Unauthorized

__all__ = [
    "CEREMONY_TIMEOUT",
    "SUPPORTED_ALGORITHMS",
    "BackupEligibilityChanged",
    "MalformedCredential",
    "PasskeyChallengeMismatch",
    "PasskeyInvalid",
    "PasskeyUserNotVerified",
    "PasskeyWrongOrigin",
    "PasskeyWrongRpId",
    "RegisteredPasskey",
    "RelyingParty",
    "SignCountRegression",
    "VerifiedAssertion",
    "authentication_options",
    "b64url_decode",
    "b64url_encode",
    "credential_id_of",
    "registration_options",
    "verify_authentication",
    "verify_registration",
]

# With user verification required the spec recommends 300,000 to 600,000 ms: a PIN or a
# fingerprint takes longer than a touch, and users with disabilities need more time.
# https://www.w3.org/TR/webauthn-3/#sctn-timeout-recommended-range
CEREMONY_TIMEOUT: Final = timedelta(minutes=5)

# Ordered by preference (§5.4 pubKeyCredParams, "most preferred first"). ES256 is what
# every platform authenticator offers; EdDSA and RS256 keep older security keys and
# Windows Hello usable. https://www.w3.org/TR/webauthn-3/#sctn-alg-identifier
SUPPORTED_ALGORITHMS: Final = (
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
)

# §13.4.3: challenges must be at least 16 bytes; py_webauthn's own default is 64.
_MIN_CHALLENGE_BYTES: Final = 16
# §5.4.3: user.id (the user handle) is at most 64 bytes.
_MAX_USER_HANDLE_BYTES: Final = 64
# §7.1 (Level 3): "Verify that the credentialId is ≤ 1023 bytes." Applied before the
# lookup too, so an attacker cannot make the caller query the database with megabytes.
_MAX_CREDENTIAL_ID_BYTES: Final = 1023

_B64URL_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# WHATWG URL parsing reads a host whose last label is a number (decimal, 0x-hex) as an
# IPv4 address: "127.1" and "0x7f.1" are both 127.0.0.1 to a browser.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")


# --------------------------------------------------------------------------- errors


class PasskeyInvalid(Unauthorized):
    """A passkey response failed verification (the generic case).

    ``reason`` is py_webauthn's explanation (or ours); it names the failed check and never
    contains key material, signatures or challenges.
    """

    code = "passkey_invalid"
    default_message: ClassVar[str] = "The passkey response could not be verified."

    def __init__(self, reason: str = "", message: str | None = None) -> None:
        text = message or self.default_message
        super().__init__(f"{text} ({reason})" if reason else text)
        self.reason = reason


class PasskeyWrongOrigin(PasskeyInvalid):
    """clientDataJSON.origin is not one of the RP's origins, or the ceremony ran inside a
    cross-origin frame: the signature of real-time phishing (a relay site).
    https://www.w3.org/TR/webauthn-3/#sctn-validating-origin
    """

    code = "passkey_wrong_origin"
    default_message = "The passkey was used on a site that is not ours."


class PasskeyWrongRpId(PasskeyInvalid):
    """authenticatorData.rpIdHash is not SHA-256 of our RP ID: the credential is scoped
    to another relying party. https://www.w3.org/TR/webauthn-3/#sctn-authenticator-data
    """

    code = "passkey_wrong_rp_id"
    default_message = "The passkey belongs to another relying party."


class PasskeyChallengeMismatch(PasskeyInvalid):
    """clientDataJSON.challenge is not the challenge issued for this ceremony: a replayed
    or stale response. https://www.w3.org/TR/webauthn-3/#sctn-cryptographic-challenges
    """

    code = "passkey_challenge_mismatch"
    default_message = "The passkey response does not answer the current challenge."


class PasskeyUserNotVerified(PasskeyInvalid):
    """The UV flag is not set: the authenticator proved possession but not the user (no
    PIN, no biometric). Required at every ceremony here, so a passkey counts as two
    factors. https://www.w3.org/TR/webauthn-3/#enum-userVerificationRequirement
    """

    code = "passkey_user_not_verified"
    default_message = "The passkey did not verify the user (PIN or biometrics)."


class SignCountRegression(PasskeyInvalid):
    """The signature counter did not increase: a signal that the private key may have
    been cloned (§6.1.1, https://www.w3.org/TR/webauthn-3/#sctn-sign-counter).

    Raised only after the signature verified, so the signal is authentic and the caller
    may flag the credential. The counts are attributes, not message text.
    """

    code = "passkey_sign_count_regression"
    default_message = "The passkey's signature counter went backwards; it may have been cloned."

    def __init__(self, *, stored_sign_count: int, new_sign_count: int) -> None:
        super().__init__(f"counter {new_sign_count} is not greater than {stored_sign_count}")
        self.stored_sign_count = stored_sign_count
        self.new_sign_count = new_sign_count


class BackupEligibilityChanged(PasskeyInvalid):
    """The BE flag differs from the one recorded at registration. BE is fixed when the
    credential is created and must never change (§6.1.3,
    https://www.w3.org/TR/webauthn-3/#sctn-credential-backup); a change means a
    different or misbehaving authenticator.
    """

    code = "passkey_backup_eligibility_changed"
    default_message = "The passkey's backup eligibility changed since it was registered."

    def __init__(self, *, stored: bool, current: bool) -> None:
        super().__init__(f"backup eligible was {stored}, now {current}")
        self.stored = stored
        self.current = current


class MalformedCredential(InvalidInput):
    """The browser's JSON is not a PublicKeyCredential: bad JSON, missing or ill-typed
    members, bad base64url, id and rawId that disagree, unparsable clientDataJSON,
    authenticatorData or attestationObject.
    https://www.w3.org/TR/webauthn-3/#dom-publickeycredential-tojson
    """

    code = "passkey_malformed_credential"

    def __init__(self, reason: str) -> None:
        super().__init__(f"The passkey response is malformed ({reason}).")
        self.reason = reason


# --------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """Who we are to authenticators: the RP ID and the origins the browser may report.

    ``rp_id`` must be a host name, never an IP address (§5.1.3 step "rp.id is a
    registrable domain suffix of or equal to the effective domain": IP hosts have no
    domain suffix). Every origin's host must equal ``rp_id`` or be a subdomain of it
    (§13.4.9, https://www.w3.org/TR/webauthn-3/#sctn-validating-origin). Origins are
    compared as exact strings, the way the browser serialises them, so they are
    validated in that form here: scheme, host, optional non-default port, nothing else.

    Raises ``ValueError`` on a bad configuration (pydantic settings turn it into a
    validation error at start-up).

    >>> RelyingParty("localhost", "Kabuguard Securities", ("http://localhost:8000",)).rp_id
    'localhost'
    >>> RelyingParty("127.0.0.1", "Kabuguard Securities", ("http://127.0.0.1:8000",))
    Traceback (most recent call last):
    ...
    ValueError: rp_id '127.0.0.1' is an IP address; an RP ID must be a host name
    """

    rp_id: str
    rp_name: str
    origins: tuple[str, ...]

    def __post_init__(self) -> None:
        _validate_rp_id(self.rp_id)
        if not self.rp_name.strip():
            raise ValueError("rp_name must not be empty")
        if isinstance(self.origins, str):
            # tuple("https://x") would silently become a tuple of characters.
            raise ValueError("origins must be a tuple of origins, not one string")
        origins = tuple(self.origins)
        if not origins:
            raise ValueError("origins must name at least one origin")
        for origin in origins:
            _validate_origin(origin, self.rp_id)
        object.__setattr__(self, "origins", origins)


@dataclass(frozen=True, slots=True)
class RegisteredPasskey:
    """What to store for a new credential (§7.1 "credential record",
    https://www.w3.org/TR/webauthn-3/#credential-record).

    ``public_key`` is the COSE_Key bytes (§6.5.1.1) to pass back to
    :func:`verify_authentication`; ``backup_eligible`` must be stored and passed back too.
    """

    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    backup_eligible: bool
    backed_up: bool
    transports: list[str]
    user_verified: bool


@dataclass(frozen=True, slots=True)
class VerifiedAssertion:
    """A verified login (§7.2). Store ``new_sign_count`` and ``backed_up``.

    ``user_handle`` is what the authenticator returned (always present for a
    discoverable credential); the owner of ``credential_id`` decides who logs in.
    """

    credential_id: bytes
    new_sign_count: int
    backed_up: bool
    user_verified: bool
    user_handle: bytes | None
    backup_eligible: bool


# --------------------------------------------------------------------------- helpers


def b64url_encode(data: bytes) -> str:
    """Base64url without padding, as WebAuthn's JSON forms use (§5.1 Base64URLString).

    >>> b64url_encode(b"\\xfb\\xff")
    '-_8'
    >>> b64url_encode(b"")
    ''
    """
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url decoding; padding optional. Raises ``ValueError`` on anything
    else (Python's own decoder silently skips foreign characters).

    >>> b64url_decode("-_8")
    b'\\xfb\\xff'
    >>> b64url_decode("-_8=")
    b'\\xfb\\xff'
    >>> b64url_decode("a+b/")
    Traceback (most recent call last):
    ...
    ValueError: not base64url
    """
    stripped = text.rstrip("=")
    if not _B64URL_ALPHABET.fullmatch(stripped) or len(stripped) % 4 == 1:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except binascii.Error as exc:  # pragma: no cover - excluded by the checks above
        raise ValueError("not base64url") from exc


def credential_id_of(credential: dict[str, Any] | str) -> bytes:
    """The credential id of a browser response, to look the stored key up before
    verifying (§7.2 step "identify the credential being used").

    Returns the decoded ``rawId``. Raises :class:`MalformedCredential` when the JSON is
    not an object, ``id``/``rawId`` are missing, not base64url, disagree, or longer than
    1023 bytes.

    >>> credential_id_of({"id": "AQID", "rawId": "AQID"})
    b'\\x01\\x02\\x03'
    """
    data = _load_json_object(credential)
    cred_id, raw_id = data.get("id"), data.get("rawId")
    if not isinstance(cred_id, str) or not isinstance(raw_id, str):
        raise MalformedCredential("id and rawId must be strings")
    try:
        decoded = b64url_decode(raw_id)
    except ValueError:
        raise MalformedCredential("rawId is not base64url") from None
    if not decoded:
        raise MalformedCredential("rawId is empty")
    if cred_id != b64url_encode(decoded):
        raise MalformedCredential("id and rawId differ")
    if len(decoded) > _MAX_CREDENTIAL_ID_BYTES:
        raise MalformedCredential("credential id is longer than 1023 bytes")
    return decoded


# --------------------------------------------------------------------------- options


def registration_options(
    rp: RelyingParty,
    *,
    user_id: bytes,
    user_name: str,
    display_name: str,
    exclude_credential_ids: list[bytes],
    challenge: bytes | None = None,
) -> tuple[dict[str, Any], bytes]:
    """Options for ``navigator.credentials.create()`` (§5.4,
    https://www.w3.org/TR/webauthn-3/#dictdef-publickeycredentialcreationoptions).

    Policy: a discoverable credential (residentKey "required", §5.4.6) so customers can
    log in without typing an id; user verification "required" (§5.8.6); attestation
    "none" (§8.7: we do not restrict authenticator models, and asking for attestation
    makes browsers show an extra consent prompt); ES256, EdDSA, RS256; 5 minutes.
    ``exclude_credential_ids`` lists the customer's existing credentials so the same
    authenticator is not registered twice.

    ``user_id`` is the user handle: 1 to 64 random bytes, never the login id or any
    personal data (§14.6.1). Returns ``(options, challenge)``; the caller keeps the
    challenge for :func:`verify_registration`. Raises ``ValueError`` on bad arguments.
    """
    if not 1 <= len(user_id) <= _MAX_USER_HANDLE_BYTES:
        raise ValueError("user_id must be 1 to 64 bytes (WebAuthn §5.4.3)")
    _check_challenge(challenge)
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=rp.rp_name,
        user_id=user_id,
        user_name=user_name,
        user_display_name=display_name,
        challenge=challenge,
        timeout=_timeout_ms(),
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in exclude_credential_ids],
        supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
    )
    return json.loads(options_to_json(options)), options.challenge


def authentication_options(
    rp: RelyingParty,
    *,
    allow_credential_ids: list[bytes] | None = None,
    challenge: bytes | None = None,
) -> tuple[dict[str, Any], bytes]:
    """Options for ``navigator.credentials.get()`` (§5.5,
    https://www.w3.org/TR/webauthn-3/#dictdef-publickeycredentialrequestoptions).

    With no ``allow_credential_ids`` the list is empty and the browser offers the
    customer's discoverable credentials (username-less login); with a list (a step-up
    for a known customer) only those. User verification is "required". Returns
    ``(options, challenge)``. Raises ``ValueError`` on a challenge under 16 bytes.
    """
    _check_challenge(challenge)
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=challenge,
        timeout=_timeout_ms(),
        allow_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in allow_credential_ids or []],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return json.loads(options_to_json(options)), options.challenge


# --------------------------------------------------------------------------- verification


def verify_registration(
    rp: RelyingParty,
    *,
    credential: dict[str, Any] | str,
    expected_challenge: bytes,
) -> RegisteredPasskey:
    """Verify the response of ``navigator.credentials.create()`` (§7.1,
    https://www.w3.org/TR/webauthn-3/#sctn-registering-a-new-credential).

    py_webauthn checks type, challenge, origin, rpIdHash, UP, UV (always required here),
    the algorithm and the "none" attestation; this adds the cross-origin frame check
    (§13.4.9), the 1023-byte credential id limit and a check that the public key is a
    valid key of the algorithm it names (py_webauthn only reads its ``alg`` when the
    attestation is "none"), so a stored key always verifies later. The caller must still refuse a
    credential id already registered to anyone (§7.1, last steps).

    Returns a :class:`RegisteredPasskey`. Raises :class:`MalformedCredential`,
    :class:`PasskeyWrongOrigin`, :class:`PasskeyWrongRpId`,
    :class:`PasskeyChallengeMismatch`, :class:`PasskeyUserNotVerified` or
    :class:`PasskeyInvalid`.
    """
    parsed = _parse_registration(credential)
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=expected_challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            require_user_presence=True,
            require_user_verification=True,
            supported_pub_key_algs=list(SUPPORTED_ALGORITHMS),
        )
    except WebAuthnException as exc:
        raise _translate(exc) from exc
    except (LookupError, ValueError, TypeError) as exc:
        # py_webauthn 3.0.1 indexes the COSE map without checks: a key missing "alg"
        # from the client ends in KeyError, which must not become a server error.
        raise MalformedCredential("the credential public key is not a COSE key") from exc
    _refuse_cross_origin(parsed.response.client_data_json)
    _check_credential_public_key(verified.credential_public_key)
    return RegisteredPasskey(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=verified.aaguid,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
        transports=[t.value for t in parsed.response.transports or []],
        user_verified=verified.user_verified,
    )


def verify_authentication(
    rp: RelyingParty,
    *,
    credential: dict[str, Any] | str,
    expected_challenge: bytes,
    stored_public_key: bytes,
    stored_sign_count: int,
    stored_backup_eligible: bool | None = None,
    expected_user_handle: bytes | None = None,
) -> VerifiedAssertion:
    """Verify the response of ``navigator.credentials.get()`` (§7.2,
    https://www.w3.org/TR/webauthn-3/#sctn-verifying-assertion) against the stored
    credential the caller found with :func:`credential_id_of`.

    py_webauthn checks type, challenge, origin, rpIdHash, UP, UV (always required here)
    and the signature. Then, in the spec's order (after the signature, so every signal
    below is authentic):

    - cross-origin frame: refused (§13.4.9);
    - signature counter (§6.1.1): when either the stored or the new count is non-zero
      the new one must be greater, else :class:`SignCountRegression`; 0 and 0 passes
      (synced passkeys never count);
    - backup eligibility (§6.1.3): when ``stored_backup_eligible`` is given, the BE flag
      must equal it, else :class:`BackupEligibilityChanged`;
    - user handle (§7.2 step 6): when ``expected_user_handle`` (the owner's handle) is
      given and the response carries one, they must be equal. For a username-less login
      the caller must also require ``user_handle`` to be present.

    Returns a :class:`VerifiedAssertion`. Raises :class:`MalformedCredential` or a
    :class:`PasskeyInvalid` subclass; ``ValueError`` when ``stored_public_key`` cannot be
    decoded (a corrupt record: an internal error, not a failed login).
    """
    parsed = _parse_authentication(credential)
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=expected_challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            credential_public_key=stored_public_key,
            # NOTE: 0 turns py_webauthn's counter check off (it can never fail against
            # 0). py_webauthn compares counters *before* the signature, so a forged
            # response with a low counter would raise the cloning alarm and could get a
            # genuine passkey suspended. We compare after the signature, as §7.2 does.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (InvalidAuthenticationResponse, InvalidBackupFlags) as exc:
        raise _translate(exc) from exc
    except (WebAuthnException, LookupError, ValueError, TypeError) as exc:
        # Everything from the response is parsed inside py_webauthn's wrapped steps;
        # what is left can only come from decoding stored_public_key, which
        # verify_registration checked: the stored record is corrupt. That is not the
        # customer's failure, so not Unauthorized.
        raise ValueError("stored_public_key is not a usable COSE public key") from exc
    _refuse_cross_origin(parsed.response.client_data_json)
    _check_sign_count(stored=stored_sign_count, new=verified.new_sign_count)
    backup_eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    if stored_backup_eligible is not None and backup_eligible != stored_backup_eligible:
        raise BackupEligibilityChanged(stored=stored_backup_eligible, current=backup_eligible)
    user_handle = parsed.response.user_handle
    if expected_user_handle is not None and user_handle is not None and user_handle != expected_user_handle:
        # userHandle is not covered by the signature: trusting it over the credential's
        # owner would let one customer's passkey log in as another.
        raise PasskeyInvalid("userHandle does not belong to the credential's owner")
    return VerifiedAssertion(
        credential_id=verified.credential_id,
        new_sign_count=verified.new_sign_count,
        backed_up=verified.credential_backed_up,
        user_verified=verified.user_verified,
        user_handle=user_handle,
        backup_eligible=backup_eligible,
    )


# --------------------------------------------------------------------------- internals


def _timeout_ms() -> int:
    return int(CEREMONY_TIMEOUT / timedelta(milliseconds=1))


def _check_challenge(challenge: bytes | None) -> None:
    if challenge is not None and len(challenge) < _MIN_CHALLENGE_BYTES:
        raise ValueError("a challenge must be at least 16 bytes (WebAuthn §13.4.3)")


def _check_sign_count(*, stored: int, new: int) -> None:
    """§6.1.1 / §7.2: "If authData.signCount is nonzero or credentialRecord.signCount is
    nonzero", the new count must be greater. This includes stored > 0 and new == 0: a
    counter that once counted does not stop, so a 0 then is a second copy of the key.
    """
    if (stored or new) and new <= stored:
        raise SignCountRegression(stored_sign_count=stored, new_sign_count=new)


def _check_credential_public_key(cose_key: bytes) -> None:
    """The key must load and match its COSE algorithm (§5.8.5, §6.5.1.1): ES256 on
    P-256, EdDSA on Ed25519, RS256 with at least 2048 bits."""
    try:
        decoded = decode_credential_public_key(cose_key)
        key = decoded_public_key_to_cryptography(decoded)
    except (WebAuthnException, LookupError, ValueError, TypeError) as exc:
        raise PasskeyInvalid("the credential public key is not a valid key") from exc
    if decoded.alg == COSEAlgorithmIdentifier.ECDSA_SHA_256:
        ok = isinstance(key, EllipticCurvePublicKey) and isinstance(key.curve, SECP256R1)
    elif decoded.alg == COSEAlgorithmIdentifier.EDDSA:
        ok = isinstance(key, Ed25519PublicKey)
    else:
        ok = isinstance(key, RSAPublicKey) and key.key_size >= 2048
    if not ok:
        raise PasskeyInvalid("the credential public key does not match its algorithm")


def _refuse_cross_origin(client_data_json: bytes) -> None:
    # A brokerage is never embedded in another site's iframe; a ceremony run in one is
    # a framing attack (§13.4.9). py_webauthn parses crossOrigin but does not act on it.
    if parse_client_data_json(client_data_json).cross_origin:
        raise PasskeyWrongOrigin("the ceremony ran in a cross-origin frame")


def _load_json_object(credential: dict[str, Any] | str) -> dict[str, Any]:
    if isinstance(credential, str):
        try:
            credential = json.loads(credential)
        except ValueError:
            raise MalformedCredential("not JSON") from None
    if not isinstance(credential, dict):
        raise MalformedCredential("not a JSON object")
    return credential


def _parse_registration(credential: dict[str, Any] | str) -> RegistrationCredential:
    data = _checked_json(credential)
    try:
        return parse_registration_credential_json(data)
    except (InvalidJSONStructure, InvalidRegistrationResponse) as exc:
        raise MalformedCredential(str(exc)) from exc


def _parse_authentication(credential: dict[str, Any] | str) -> AuthenticationCredential:
    data = _checked_json(credential)
    try:
        return parse_authentication_credential_json(data)
    except (InvalidJSONStructure, InvalidAuthenticationResponse) as exc:
        raise MalformedCredential(str(exc)) from exc


def _checked_json(credential: dict[str, Any] | str) -> dict[str, Any]:
    """The JSON object, with id/rawId checked by our strict decoder first: py_webauthn's
    base64url decoding drops characters outside the alphabet instead of failing."""
    data = _load_json_object(credential)
    credential_id_of(data)
    return data


# py_webauthn 3.0.1 raises one exception type per ceremony; the message says which
# check failed. Each prefix is pinned by a test, so an upgrade that rewords one fails
# loudly instead of degrading the error to PasskeyInvalid.
_MESSAGE_PREFIXES: Final[tuple[tuple[str, type[PasskeyInvalid] | None], ...]] = (
    ("Unexpected client data origin", PasskeyWrongOrigin),
    ("Unexpected RP ID hash", PasskeyWrongRpId),
    ("Client data challenge was not expected challenge", PasskeyChallengeMismatch),
    ("User verification is required", PasskeyUserNotVerified),
    # None: structural problems, reported as MalformedCredential.
    ("id and raw_id were not equivalent", None),
    ("clientDataJSON was malformed", None),
    ("authenticatorData was malformed", None),
    ("attestationObject was malformed", None),
)


def _translate(exc: WebAuthnException) -> PasskeyInvalid | MalformedCredential:
    reason = str(exc)
    if isinstance(exc, InvalidRegistrationResponse | InvalidAuthenticationResponse):
        for prefix, error in _MESSAGE_PREFIXES:
            if reason.startswith(prefix):
                return MalformedCredential(reason) if error is None else error(reason)
    # Anything else (bad signature, user not present, unsupported algorithm, BS without
    # BE, an unreadable stored key) is a generic failure with py_webauthn's reason.
    return PasskeyInvalid(reason or type(exc).__name__)


def _validate_rp_id(rp_id: str) -> None:
    try:
        ipaddress.ip_address(rp_id.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValueError(f"rp_id {rp_id!r} is an IP address; an RP ID must be a host name")
    labels = rp_id.split(".")
    if len(rp_id) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            f"rp_id {rp_id!r} is not a host name (lower-case letters, digits and hyphens; "
            "internationalised names in punycode; no scheme, port or path)"
        )
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        raise ValueError(f"rp_id {rp_id!r} is an IP address to a browser; an RP ID must be a host name")
    if len(labels) == 1 and rp_id != "localhost":
        # A single label is a top-level domain or a public suffix, never a registrable
        # domain; browsers refuse it as an RP ID. localhost is the development exception.
        raise ValueError(f"rp_id {rp_id!r} must be a registrable domain such as example.co.jp")


def _is_localhost(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def _validate_origin(origin: str, rp_id: str) -> None:
    if not isinstance(origin, str):
        raise ValueError(f"origin {origin!r} is not a string")
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"origin {origin!r} is not a valid origin: {exc}") from None
    host = parts.hostname or ""
    if parts.scheme == "https" or (parts.scheme == "http" and _is_localhost(host)):
        default_port = 443 if parts.scheme == "https" else 80
    else:
        # WebAuthn needs a secure context: https, or http on localhost only.
        raise ValueError(f"origin {origin!r} must use https (http is allowed for localhost only)")
    if port == default_port:
        raise ValueError(f"origin {origin!r} names the default port; browsers omit it, so it never matches")
    serialised = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    if origin != serialised:
        # The browser reports the serialised origin; anything else (a path, a trailing
        # slash, capitals, user info) could never be equal to it.
        raise ValueError(f"origin {origin!r} is not a serialised origin; expected the form {serialised!r}")
    if host != rp_id and not host.endswith("." + rp_id):
        raise ValueError(f"origin {origin!r} is not on {rp_id!r} or one of its subdomains")
