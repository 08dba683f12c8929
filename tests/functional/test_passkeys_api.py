"""Passkeys through the JSON API with a software authenticator producing real
WebAuthn responses: register, log in without a user name, step up, and the refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from factories.apps import app_with_policy, policy_text
from factories.customers import PASSWORD, make_customer
from factories.soft_authenticator import SoftAuthenticator
from kabuguard.audit.models import AuditRecord

ORIGIN = "http://localhost:8000"
# Password login, but a passkey no older than 5 minutes to withdraw.
POLICY = policy_text("test_passkey_withdrawal",
                     withdrawal="{level: phishing_resistant, max_age: 5m}")

@pytest.fixture
def env(database_url, clock, tmp_path):
    with app_with_policy(database_url, clock, tmp_path, POLICY, webauthn_rp_id="localhost",
                         webauthn_origins=[ORIGIN]) as pair:
        yield pair


def login(client, login_id):
    r = client.post("/api/v1/sessions", json={"login_id": login_id, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def register(client, auth, authenticator, name="iPhone"):
    opts = client.post("/api/v1/passkeys/options", headers=auth).json()
    assert opts["publicKey"]["authenticatorSelection"]["userVerification"] == "required"
    cred = authenticator.create(opts["publicKey"], origin=ORIGIN)
    r = client.post("/api/v1/passkeys", headers=auth, json={
        "challenge_id": opts["challenge_id"], "credential": cred, "name": name})
    assert r.status_code == 201, r.text
    return r.json()


def test_register_then_log_in_with_the_passkey(env):
    services, client = env
    account = make_customer(services, login_id="pk1")
    auth = login(client, "pk1")
    key = SoftAuthenticator()
    registered = register(client, auth, key)
    listed = client.get("/api/v1/passkeys", headers=auth).json()
    assert [p["id"] for p in listed] == [registered["id"]]
    opts = client.post("/api/v1/sessions/passkey/options").json()
    assert opts["publicKey"].get("allowCredentials", []) == []  # username-less
    assertion = key.get(opts["publicKey"], origin=ORIGIN)
    r = client.post("/api/v1/sessions/passkey",
                    json={"challenge_id": opts["challenge_id"], "credential": assertion})
    assert r.status_code == 201, r.text
    assert r.json()["account"] == account
    token = {"Authorization": f"Bearer {r.json()['token']}"}
    assert client.get("/api/v1/portfolio", headers=token).status_code == 200
    # The same assertion again (a replay) is refused: the challenge was used.
    again = client.post("/api/v1/sessions/passkey",
                        json={"challenge_id": opts["challenge_id"], "credential": assertion})
    assert again.status_code == 401
    assert again.json()["error"] == "challenge_invalid"


def test_step_up_with_a_passkey_unlocks_the_withdrawal(env, clock):
    services, client = env
    account = make_customer(services, cash_yen=50_000, login_id="pk2")
    auth = login(client, "pk2")
    key = SoftAuthenticator()
    register(client, auth, key)
    r = client.post("/api/v1/withdrawals", json={"amount_jpy": 1_000}, headers=auth)
    assert (r.status_code, r.json()["level"]) == (401, "phishing_resistant")
    opts = client.post("/api/v1/step-up/passkey/options", headers=auth).json()
    assert len(opts["publicKey"]["allowCredentials"]) == 1
    r = client.post("/api/v1/step-up/passkey", headers=auth, json={
        "challenge_id": opts["challenge_id"],
        "credential": key.get(opts["publicKey"], origin=ORIGIN)})
    assert r.status_code == 200, r.text
    new_auth = {"Authorization": f"Bearer {r.json()['token']}"}
    # The old token stopped working at the step-up (a new session id).
    assert client.get("/api/v1/portfolio", headers=auth).status_code == 401
    r = client.post("/api/v1/withdrawals", json={"amount_jpy": 1_000}, headers=new_auth)
    assert r.status_code == 201, r.text
    assert services.broker.portfolio(account).cash_yen == 49_000
    clock.advance(timedelta(minutes=6))  # the step-up is only good for 5 minutes
    r = client.post("/api/v1/withdrawals", json={"amount_jpy": 1_000}, headers=new_auth)
    assert r.json()["reasons"] == ["stale_authentication"]


@pytest.mark.parametrize(("tamper", "error"), [
    ({"origin": "https://kabuguard-login.example"}, "passkey_wrong_origin"),
    ({"user_verified": False}, "passkey_user_not_verified"),
    ({"rp_id": "evil.example"}, "passkey_wrong_rp_id"),
])
def test_phished_or_weak_assertions_are_refused_and_audited(env, tamper, error):
    services, client = env
    make_customer(services, login_id="pk3")
    auth = login(client, "pk3")
    key = SoftAuthenticator()
    register(client, auth, key)
    opts = client.post("/api/v1/sessions/passkey/options").json()
    kwargs = {"origin": ORIGIN, **tamper}
    r = client.post("/api/v1/sessions/passkey", json={
        "challenge_id": opts["challenge_id"], "credential": key.get(opts["publicKey"], **kwargs)})
    assert r.status_code == 401
    assert r.json()["error"] == error
    with services.db.read() as session:
        actions = session.execute(select(AuditRecord.action).order_by(AuditRecord.seq)).scalars().all()
    assert actions[-1] == "passkey_rejected"


def test_another_customers_passkey_cannot_step_up_my_session(env):
    services, client = env
    make_customer(services, login_id="pk4")
    make_customer(services, login_id="pk5")
    mine, theirs = SoftAuthenticator(), SoftAuthenticator()
    register(client, login(client, "pk4"), mine)
    other_auth = login(client, "pk5")
    register(client, other_auth, theirs)
    opts = client.post("/api/v1/step-up/passkey/options", headers=other_auth).json()
    forged = mine.get({**opts["publicKey"], "allowCredentials": []}, origin=ORIGIN)
    r = client.post("/api/v1/step-up/passkey", headers=other_auth,
                    json={"challenge_id": opts["challenge_id"], "credential": forged})
    assert r.status_code == 401
    assert r.json()["error"] == "passkey_invalid"


def test_expired_or_foreign_challenges_are_refused(env, clock):
    services, client = env
    make_customer(services, login_id="pk6")
    auth = login(client, "pk6")
    key = SoftAuthenticator()
    opts = client.post("/api/v1/passkeys/options", headers=auth).json()
    clock.advance(timedelta(minutes=6))
    auth = login(client, "pk6")
    r = client.post("/api/v1/passkeys", headers=auth, json={
        "challenge_id": opts["challenge_id"], "name": "x",
        "credential": key.create(opts["publicKey"], origin=ORIGIN)})
    assert r.json()["error"] == "challenge_invalid"
    # A registration challenge cannot be answered from another session.
    opts = client.post("/api/v1/passkeys/options", headers=auth).json()
    other = login(client, "pk6")
    r = client.post("/api/v1/passkeys", headers=other, json={
        "challenge_id": opts["challenge_id"], "name": "x",
        "credential": key.create(opts["publicKey"], origin=ORIGIN)})
    assert r.json()["error"] == "challenge_invalid"
    assert client.get("/api/v1/passkeys", headers=other).json() == []


def test_registration_event_is_written(env):
    services, client = env
    make_customer(services, login_id="pk7")
    register(client, login(client, "pk7"), SoftAuthenticator())
    from kabuguard.bus.models import OutboxEvent

    with services.db.read() as session:
        types = session.execute(select(OutboxEvent.payload).where(
            OutboxEvent.type == "mfa_change")).scalars().all()
    assert len(types) == 1
    assert '"method":"passkey"' in types[0]


def test_login_challenge_is_single_use_expiring_and_tamper_proof(env, clock):
    """The login options store nothing: the challenge travels sealed in challenge_id.
    A refused answer burns it too, an altered or stale one is refused, each audited."""
    services, client = env
    make_customer(services, login_id="pk7")
    key = SoftAuthenticator()
    register(client, login(client, "pk7"), key)

    def answer(opts, **tamper):
        return client.post("/api/v1/sessions/passkey", json={
            "challenge_id": opts["challenge_id"],
            "credential": key.get(opts["publicKey"], **{"origin": ORIGIN, **tamper})})

    # A phished answer (wrong origin) is refused, and the genuine one cannot follow it.
    opts = client.post("/api/v1/sessions/passkey/options").json()
    assert answer(opts, origin="https://evil.example").json()["error"] == "passkey_wrong_origin"
    assert answer(opts).json()["error"] == "challenge_invalid"
    # Stale: the ceremony's five minutes have passed.
    opts = client.post("/api/v1/sessions/passkey/options").json()
    clock.advance(timedelta(minutes=6))
    assert answer(opts).json()["error"] == "challenge_invalid"
    # Altered: another challenge spliced into the sealed id (keeping its MAC).
    opts = client.post("/api/v1/sessions/passkey/options").json()
    nonce, challenge, expires, mac = opts["challenge_id"].split(".")
    forged = {**opts, "challenge_id": ".".join([nonce, "A" * len(challenge), expires, mac])}
    assert answer(forged).json()["error"] == "challenge_invalid"
    with services.db.read() as session:
        rejected = session.execute(select(AuditRecord.payload).where(
            AuditRecord.action == "passkey_rejected")).scalars().all()
    assert len(rejected) == 4
    # And the untouched options still work once.
    assert answer(opts).status_code == 201
    assert answer(opts).json()["error"] == "challenge_invalid"
