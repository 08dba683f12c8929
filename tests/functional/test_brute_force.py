"""Thousands of password guesses from many addresses leave the account protected, and
the real customer still gets in with a passkey; messages reveal nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from factories.customers import PASSWORD, make_customer
from factories.soft_authenticator import SoftAuthenticator
from kabuguard.domain.events import RequestContext
from kabuguard.identity.interfaces import LoginFailed
from kabuguard.identity.models import Customer, LoginRecord
from kabuguard.identity.services import LOGIN_FAILED_MESSAGE
from kabuguard.identity.throttle import FailureThrottle, LoginThrottled

ORIGIN = "http://localhost:8000"


def guess(services, login_id, password, ip):
    try:
        services.identity.login_password(login_id=login_id, password=password,
                                         context=RequestContext(ip=ip))
    except LoginFailed as exc:
        return exc.message
    except LoginThrottled:
        return "throttled"
    return "ok"


def test_distributed_guessing_locks_password_login_but_not_the_passkey(services, client):
    account = make_customer(services, login_id="target1")
    key = SoftAuthenticator()
    # The customer registered a passkey earlier.
    token = client.post("/api/v1/sessions", json={"login_id": "target1", "password": PASSWORD})
    auth = {"Authorization": f"Bearer {token.json()['token']}"}
    opts = client.post("/api/v1/passkeys/options", headers=auth).json()
    assert client.post("/api/v1/passkeys", headers=auth, json={
        "challenge_id": opts["challenge_id"], "name": "phone",
        "credential": key.create(opts["publicKey"], origin=ORIGIN)}).status_code == 201
    # 2,000 guesses from 1,000 addresses in 250 networks: no address trips the throttle.
    outcomes = {guess(services, "target1", f"guess-{i:06d}x", f"198.51.{i % 250}.{i % 4 + 1}")
                for i in range(2_000)}
    assert outcomes == {LOGIN_FAILED_MESSAGE}
    with services.db.read() as session:
        customer = session.get(Customer, account)
    assert customer.password_locked_at is not None
    # Even the right password does not get in now...
    assert guess(services, "target1", PASSWORD, "203.0.113.5") != "ok"
    # ... but the customer's passkey does, and reopens password login.
    opts = client.post("/api/v1/sessions/passkey/options").json()
    r = client.post("/api/v1/sessions/passkey", json={
        "challenge_id": opts["challenge_id"],
        "credential": key.get(opts["publicKey"], origin=ORIGIN)})
    assert r.status_code == 201, r.text
    assert guess(services, "target1", PASSWORD, "203.0.113.5") == "ok"


def test_locked_and_unknown_accounts_answer_like_a_wrong_password(services):
    make_customer(services, login_id="target2")
    for i in range(5):
        guess(services, "target2", f"wrong-{i}-pass", f"192.0.2.{i + 1}")
    locked = guess(services, "target2", PASSWORD, "192.0.2.50")
    wrong = guess(services, "target2", "another-wrong-one", "192.0.2.51")
    unknown = guess(services, "no-such-user", "whatever-password", "192.0.2.52")
    assert locked == wrong == unknown
    with services.db.read() as session:
        outcomes = session.execute(select(LoginRecord.outcome).order_by(LoginRecord.id)).scalars().all()
    assert outcomes[-3:] == ["locked", "locked", "unknown_user"]


def test_one_address_is_throttled_before_its_guesses_are_checked(services):
    make_customer(services, login_id="target3")
    results = [guess(services, "target3", f"stuffed-{i}-pw", "203.0.113.66") for i in range(30)]
    assert results[19] != "throttled"
    assert results[20:] == ["throttled"] * 10
    # Another address is not throttled (the account itself locked after 5 failures).
    assert guess(services, "target3", PASSWORD, "192.0.2.200") != "throttled"
    make_customer(services, login_id="bystander")
    assert guess(services, "bystander", PASSWORD, "192.0.2.200") == "ok"


def test_network_throttle_and_bounded_memory():
    from datetime import UTC, datetime, timedelta

    t = FailureThrottle(per_ip=1000, per_network=5, max_keys=50)
    now = datetime(2025, 4, 1, tzinfo=UTC)
    for i in range(5):
        t.record_failure(f"203.0.113.{i}", now)
    with pytest.raises(LoginThrottled):
        t.check("203.0.113.200", now)
    t.check("203.0.114.1", now)  # the next /24 is another network
    t.check("203.0.113.200", now + timedelta(minutes=11))  # the window has passed
    for i in range(500):
        t.record_failure(f"10.{i // 250}.{i % 250}.1", now)
    assert len(t._events) <= 50
