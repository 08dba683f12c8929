"""Passkey assertion verification per second on one core, against the bound set by one
raw ECDSA P-256 verification, measured in the same run.

What is timed, in this process pinned to one CPU:

1. ``verify_authentication`` (kabuguard.identity.webauthn, ES256): the browser's JSON
   dict in, a VerifiedAssertion out: JSON member checks, base64url, clientDataJSON and
   authenticatorData parsing, the COSE key decoded into a cryptography key, the
   signature verified, counter and flag checks. The response is a real one from the
   software authenticator in tests/factories (counter 0, so one response can be
   verified again and again: verification keeps no state).
2. ``authentication_options`` + ``verify_authentication``: the crypto part of a login
   ceremony (no database, no session, no HTTP).
3. One ``EllipticCurvePublicKey.verify`` with ``cryptography`` over the same bytes: the
   floor no WebAuthn verification can go under.

Each is run ``--repeats`` times for ``--seconds``; the best and the median are printed
(the machine is shared: compare within one run). Nothing is written to disk.

    .venv/bin/python bench/passkey_verify.py [--seconds 1.0] [--repeats 5]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from factories.soft_authenticator import SoftAuthenticator
from kabuguard.identity.webauthn import (
    RelyingParty,
    authentication_options,
    b64url_decode,
    registration_options,
    verify_authentication,
    verify_registration,
)

ORIGIN = "http://localhost:8000"


def pin_to_one_core() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` of wall time."""
    calls = 0
    batch = 64
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            fn()
        calls += batch
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def measure(name: str, fn: Callable[[], object], *, seconds: float, repeats: int) -> float:
    for _ in range(200):  # warm-up
        fn()
    rates = [rate(fn, seconds) for _ in range(repeats)]
    best, median = max(rates), statistics.median(rates)
    print(f"{name:<44} {best:>10,.0f}/s best  {median:>10,.0f}/s median  {1e6 / best:>8.1f} µs/call")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per repeat (1.0)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per measurement (5)")
    args = parser.parse_args()

    pinned = pin_to_one_core()
    print(f"python {platform.python_version()}, {platform.machine()}, {pinned}")

    rp = RelyingParty("localhost", "Kabuguard Securities", (ORIGIN,))
    authenticator = SoftAuthenticator(seed="bench")
    reg_options, reg_challenge = registration_options(
        rp, user_id=b"\x01" * 32, user_name="bench", display_name="Bench", exclude_credential_ids=[]
    )
    passkey = verify_registration(
        rp, credential=authenticator.create(reg_options, origin=ORIGIN), expected_challenge=reg_challenge
    )
    auth_options, challenge = authentication_options(rp)
    response = authenticator.get(auth_options, origin=ORIGIN)

    def verify() -> object:
        return verify_authentication(
            rp,
            credential=response,
            expected_challenge=challenge,
            stored_public_key=passkey.public_key,
            stored_sign_count=0,
            stored_backup_eligible=passkey.backup_eligible,
        )

    def ceremony() -> object:
        authentication_options(rp)
        return verify()

    # The same signature over the same bytes, verified by cryptography directly.
    (held,) = authenticator.credentials.values()
    public_key = held.private_key.public_key()
    signed = (
        b64url_decode(response["response"]["authenticatorData"])
        + hashlib.sha256(b64url_decode(response["response"]["clientDataJSON"])).digest()
    )
    signature = b64url_decode(response["response"]["signature"])
    algorithm = ec.ECDSA(hashes.SHA256())

    def raw_verify() -> None:
        public_key.verify(signature, signed, algorithm)

    verify()  # fails loudly here rather than inside the timing loop
    raw_verify()

    kw = {"seconds": args.seconds, "repeats": args.repeats}
    per_verify = measure("verify_authentication (ES256)", verify, **kw)
    per_ceremony = measure("authentication_options + verify_authentication", ceremony, **kw)
    per_raw = measure("raw ECDSA P-256 verify (cryptography)", raw_verify, **kw)

    print()
    print(f"verify_authentication: {per_verify:,.0f}/s per core ({1e6 / per_verify:.1f} µs)")
    print(f"raw ECDSA P-256 verify: {per_raw:,.0f}/s per core ({1e6 / per_raw:.1f} µs)")
    print(
        f"ratio: one verify_authentication costs {per_raw / per_verify:.2f} raw ECDSA verifications; "
        f"it runs at {per_verify / per_raw:.0%} of the ECDSA bound"
    )
    print(f"options + verify: {per_ceremony:,.0f}/s per core (goal for a full ceremony: ≥ 2,000/s)")


if __name__ == "__main__":
    main()
