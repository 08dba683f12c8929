"""Removing passkeys and the authenticator app through the JSON API, with a software
authenticator giving real WebAuthn answers: a passkey that is not the last goes at
once; the last one needs a fresh passkey and then what the policy says."""

from __future__ import annotations

import json
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from factories.apps import app_with_policy, policy_text
from factories.customers import PASSWORD, make_customer
from factories.mfa import add_app
from factories.soft_authenticator import SoftAuthenticator
from kabuguard.bus.models import OutboxEvent
from kabuguard.notify.models import Notice

ORIGIN = "http://localhost:8000"


def policy(section: str) -> str:
    return policy_text("test_removal_api") + f"mfa_removal: {section}\n"


COOLING_OFF = policy("{last_strong: cooling_off, cooling_off: 72h}")


@pytest.fixture
def env(database_url, clock, tmp_path):
    with app_with_policy(database_url, clock, tmp_path, COOLING_OFF,
                         webauthn_rp_id="localhost", webauthn_origins=[ORIGIN]) as pair:
        yield pair


def login(client, login_id):
    r = client.post("/api/v1/sessions", json={"login_id": login_id, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def register(client, auth, key, name="iPhone"):
    opts = client.post("/api/v1/passkeys/options", headers=auth).json()
    r = client.post("/api/v1/passkeys", headers=auth, json={
        "challenge_id": opts["challenge_id"], "name": name,
        "credential": key.create(opts["publicKey"], origin=ORIGIN)})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def step_up(client, auth, key):
    opts = client.post("/api/v1/step-up/passkey/options", headers=auth).json()
    r = client.post("/api/v1/step-up/passkey", headers=auth, json={
        "challenge_id": opts["challenge_id"],
        "credential": key.get(opts["publicKey"], origin=ORIGIN)})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def passkey_login(client, key):
    opts = client.post("/api/v1/sessions/passkey/options").json()
    return client.post("/api/v1/sessions/passkey", json={
        "challenge_id": opts["challenge_id"],
        "credential": key.get(opts["publicKey"], origin=ORIGIN)})


def mfa_events(services):
    with services.db.read() as session:
        return [json.loads(p) for p in session.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.type == "mfa_change")).all()]


def test_a_passkey_that_is_not_the_last_goes_at_once(env):
    services, client = env
    make_customer(services, login_id="rm1")
    auth = login(client, "rm1")
    first = register(client, auth, SoftAuthenticator())
    second = register(client, auth, SoftAuthenticator(), name="PC")
    r = client.delete(f"/api/v1/passkeys/{first}", headers=auth)
    assert (r.status_code, r.json()["status"]) == (200, "removed")
    listed = client.get("/api/v1/passkeys", headers=auth).json()
    assert [(p["id"], p["removal"]) for p in listed] == [(second, None)]
    assert [e["change"] for e in mfa_events(services)] == ["enroll", "enroll", "remove"]
    # The risk engine holds any further MFA change for 72 hours after a removal
    # (rule mfa_removed_then_action), before the route would look the passkey up.
    again = client.delete(f"/api/v1/passkeys/{first}", headers=auth)
    assert (again.status_code, again.json()["error"]) == (202, "action_held")
    assert "mfa_removed_then_action" in again.json()["reasons"]


def test_the_last_passkey_is_scheduled_still_works_and_can_be_cancelled(env, clock):
    services, client = env
    account = make_customer(services, login_id="rm2")
    auth = login(client, "rm2")
    key = SoftAuthenticator()
    cred = register(client, auth, key)
    r = client.delete(f"/api/v1/passkeys/{cred}", headers=auth)
    assert (r.status_code, r.json()["error"], r.json()["level"]) == (
        401, "step_up_required", "phishing_resistant")
    assert "last_strong_method" in r.json()["reasons"]
    auth = step_up(client, auth, key)
    r = client.delete(f"/api/v1/passkeys/{cred}", headers=auth)
    assert r.status_code == 202, r.text
    removal = r.json()["removal"]
    assert removal["effective_at"] == (clock.now + timedelta(hours=72)).isoformat()
    assert client.get("/api/v1/mfa-removals", headers=auth).json() == [removal]
    assert client.get("/api/v1/passkeys", headers=auth).json()[0]["removal"] == removal
    with services.db.read() as session:
        sent = session.scalars(select(Notice).where(Notice.customer_id == account,
                                                    Notice.kind == "mfa_removal_scheduled")).all()
    assert sorted(n.medium for n in sent) == ["email", "sms"]
    assert services.notifier.decode(sent[0])[1]["effective_at"] == removal["effective_at"]
    # Until then the passkey still logs in.
    assert passkey_login(client, key).status_code == 201
    # Cancel needs the session only.
    r = client.delete(f"/api/v1/mfa-removals/{removal['id']}", headers=auth)
    assert r.status_code == 200 and r.json()["cancelled_at"] is not None
    assert client.get("/api/v1/mfa-removals", headers=auth).json() == []
    assert client.delete(f"/api/v1/mfa-removals/{removal['id']}", headers=auth).status_code == 409
    # Asked again, it takes effect once the cooling-off is over.
    again = client.delete(f"/api/v1/passkeys/{cred}", headers=auth).json()["removal"]
    clock.advance(timedelta(hours=72))
    assert services.removals.run_due_removals() == 1
    auth = login(client, "rm2")  # the old session has timed out meanwhile
    assert client.get("/api/v1/passkeys", headers=auth).json() == []
    r = passkey_login(client, key)
    assert (r.status_code, r.json()["error"]) == (401, "passkey_invalid")
    assert mfa_events(services)[-1]["change"] == "remove"
    assert client.delete(f"/api/v1/mfa-removals/{again['id']}", headers=auth).json()["error"] \
        == "mfa_removal_not_pending"


def test_a_stale_passkey_confirmation_is_asked_again(env, clock):
    services, client = env
    make_customer(services, login_id="rm3")
    auth = login(client, "rm3")
    key = SoftAuthenticator()
    cred = register(client, auth, key)
    auth = step_up(client, auth, key)
    clock.advance(timedelta(minutes=6))
    r = client.delete(f"/api/v1/passkeys/{cred}", headers=auth)
    assert r.status_code == 401 and "stale_authentication" in r.json()["reasons"]
    assert client.get("/api/v1/mfa-removals", headers=auth).json() == []


@pytest.mark.parametrize("mode", ["forbid", "immediate"])
def test_forbid_and_immediate(database_url, clock, tmp_path, mode):
    with app_with_policy(database_url, clock, tmp_path, policy(f"{{last_strong: {mode}}}"),
                         webauthn_rp_id="localhost", webauthn_origins=[ORIGIN]) as env:
        services, client = env
        make_customer(services, login_id="rm4")
        auth = login(client, "rm4")
        key = SoftAuthenticator()
        cred = register(client, auth, key)
        auth = step_up(client, auth, key)
        r = client.delete(f"/api/v1/passkeys/{cred}", headers=auth)
        if mode == "forbid":
            assert (r.status_code, r.json()["error"]) == (403, "mfa_removal_forbidden")
            assert "register another passkey first" in r.json()["message"]
            assert len(client.get("/api/v1/passkeys", headers=auth).json()) == 1
            assert client.get("/api/v1/mfa-removals", headers=auth).json() == []
            assert [e["change"] for e in mfa_events(services)] == ["enroll"]
        else:
            assert (r.status_code, r.json()["status"]) == (200, "removed")
            assert client.get("/api/v1/passkeys", headers=auth).json() == []


def test_the_last_app_needs_a_fresh_code(env, clock):
    services, client = env
    account = make_customer(services, login_id="rm5")
    auth = login(client, "rm5")
    secret = client.post("/api/v1/totp", headers=auth).json()["secret"]
    totp = pyotp.TOTP(secret)
    assert client.post("/api/v1/totp/confirm", headers=auth,
                       json={"code": totp.at(clock.now)}).status_code == 200
    r = client.delete("/api/v1/totp", headers=auth)
    assert (r.status_code, r.json()["level"]) == (401, "otp")
    clock.advance(timedelta(seconds=30))
    r = client.post("/api/v1/step-up/totp", headers=auth, json={"code": totp.at(clock.now)})
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    r = client.delete("/api/v1/totp", headers=auth)
    assert r.status_code == 202 and r.json()["removal"]["method"] == "totp"
    clock.advance(timedelta(hours=72))
    # Listing applies a due removal even before the background loop does.
    auth = login(client, "rm5")
    assert client.get("/api/v1/mfa-removals", headers=auth).json() == []
    assert services.identity.strongest_enrolled(account).label == "password"


def test_the_app_goes_at_once_next_to_a_passkey(env):
    services, client = env
    account = make_customer(services, login_id="rm6")
    auth = login(client, "rm6")
    register(client, auth, SoftAuthenticator())
    add_app(services, account)  # beside the passkey, without the ceremony
    r = client.delete("/api/v1/totp", headers=auth)
    assert (r.status_code, r.json()["status"]) == (200, "removed")
