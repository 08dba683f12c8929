"""SelfLockService and the login paths of a self-locked account."""

from __future__ import annotations

import json
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from factories.customers import PASSWORD, make_customer
from factories.mfa import add_app, add_passkey
from kabuguard.audit.models import AuditRecord
from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.assurance import Method
from kabuguard.domain.events import RequestContext
from kabuguard.guard.interfaces import StepUpRequired
from kabuguard.identity.interfaces import UNLOCK_SCOPE, AccountLocked, LoginFailed
from kabuguard.identity.methods import Level
from kabuguard.identity.models import Customer, LoginRecord
from kabuguard.identity.self_lock import NotLocked, UnlockExpired
from kabuguard.notify.models import Notice

CTX = RequestContext(ip="198.51.100.7", user_agent="Mozilla/5.0 test")


def login(services, login_id):
    return services.identity.login_password(login_id=login_id, password=PASSWORD, context=CTX)


def open_unlock_session(services, customer, *, level=Level.PHISHING_RESISTANT):
    """What a passkey login does for a locked account (the ceremony itself is tested
    through HTTP in tests/functional/test_self_lock.py)."""
    with services.db.write() as session:
        return services.identity.open_session(
            session, customer, login_token="t", level=level, methods=["passkey"],
            context=CTX, now=services.identity.clock())


def test_lock_ends_every_session_reports_and_notifies(services, clock):
    customer = make_customer(services, login_id="lock1")
    first, second = login(services, "lock1"), login(services, "lock1")
    assert services.self_lock.lock(customer, context=CTX) == 2
    for result in (first, second):
        with pytest.raises(Exception, match="ended"):
            services.identity.resolve_session(result.token)
    assert services.self_lock.locked_at(customer) == clock.now
    with services.db.read() as session:
        [event] = session.scalars(select(OutboxEvent.payload)
                                  .where(OutboxEvent.type == "customer_report")).all()
        sent = session.scalars(select(Notice).where(Notice.kind == "self_lock")).all()
    assert json.loads(event)["report"] == "self_lock"
    assert sorted(n.medium for n in sent) == ["email", "sms"]
    assert services.notifier.decode(sent[0])[1] == {"at": clock.now.isoformat()}
    # Locking again ends sessions again but reports and notifies once.
    clock.advance(timedelta(minutes=1))
    assert services.self_lock.lock(customer, context=CTX) == 0
    assert services.self_lock.locked_at(customer) == clock.now - timedelta(minutes=1)
    with services.db.read() as session:
        assert len(session.scalars(select(Notice).where(Notice.kind == "self_lock")).all()) == 2


def test_lock_with_password_answers_like_the_login(services):
    customer = make_customer(services, login_id="lock2")
    with pytest.raises(LoginFailed) as wrong:
        services.self_lock.lock_with_password(login_id="lock2", password="wrong-wrong-1",
                                              context=CTX)
    with pytest.raises(LoginFailed) as unknown:
        services.self_lock.lock_with_password(login_id="ghost", password="wrong-wrong-1",
                                              context=CTX)
    with pytest.raises(LoginFailed) as login_failure:
        services.identity.login_password(login_id="ghost", password="x" * 12, context=CTX)
    assert wrong.value.message == unknown.value.message == login_failure.value.message
    with services.db.read() as session:
        assert session.get(Customer, customer).failed_logins == 1  # counts as a failure
    assert services.self_lock.locked_at(customer) is None
    services.self_lock.lock_with_password(login_id="lock2", password=PASSWORD, context=CTX)
    assert services.self_lock.locked_at(customer) is not None
    with services.db.read() as session:
        actions = session.scalars(select(AuditRecord.action)
                                  .where(AuditRecord.subject == customer)).all()
    assert "self_lock_refused" in actions and "customer_report" in actions


@pytest.mark.parametrize(("setup", "unlock"), [
    ("passkey", "passkey"), ("passkey_and_app", "passkey"), ("none", "support")])
def test_a_locked_password_login_says_how_to_unlock(services, setup, unlock):
    customer = make_customer(services, login_id=f"lk_{setup}")
    if setup.startswith("passkey"):
        add_passkey(services, customer)
    if setup.endswith("app"):
        add_app(services, customer)
    services.self_lock.lock(customer, context=CTX)
    with pytest.raises(AccountLocked) as err:
        login(services, f"lk_{setup}")
    assert err.value.unlock == unlock and err.value.status == 403
    # A wrong password still gets the plain login failure: the lock is not disclosed.
    with pytest.raises(LoginFailed):
        services.identity.login_password(login_id=f"lk_{setup}", password="wrong-wrong-1",
                                         context=CTX)
    with services.db.read() as session:
        outcomes = session.scalars(select(LoginRecord.outcome)
                                   .where(LoginRecord.customer_id == customer)).all()
    assert "self_locked" in outcomes


def test_an_app_customer_unlocks_through_the_second_step(services, clock):
    customer = make_customer(services, login_id="lock3")
    _app_id, secret = add_app(services, customer)
    services.self_lock.lock(customer, context=CTX)
    with pytest.raises(StepUpRequired) as step:
        login(services, "lock3")
    assert step.value.params["account_locked"] is True
    result = services.authenticator_app.login(
        login_challenge=step.value.params["login_challenge"],
        code=pyotp.TOTP(secret).at(clock.now), context=CTX)
    assert result.session.scope == UNLOCK_SCOPE
    info = services.identity.resolve_session(result.token)
    token, full = services.self_lock.unlock(info, result.token, context=CTX)
    assert full.scope is None and services.self_lock.locked_at(customer) is None
    assert services.identity.resolve_session(token).scope is None
    with pytest.raises(Exception, match="ended"):
        services.identity.resolve_session(result.token)  # the unlock token is replaced


def test_unlock_needs_a_fresh_proof_at_the_strongest_level(services, clock):
    customer = make_customer(services, login_id="lock4")
    add_passkey(services, customer)
    services.self_lock.lock(customer, context=CTX)
    # An app code (say, a challenge obtained before the lock) is not the strongest.
    weak = open_unlock_session(services, customer, level=Level.OTP)
    with pytest.raises(UnlockExpired):
        services.self_lock.unlock(services.identity.resolve_session(weak.token), weak.token,
                                  context=CTX)
    with pytest.raises(Exception, match="ended"):
        services.identity.resolve_session(weak.token)
    stale = open_unlock_session(services, customer)
    info = services.identity.resolve_session(stale.token)
    clock.advance(timedelta(minutes=6))
    with pytest.raises(UnlockExpired):
        services.self_lock.unlock(info, stale.token, context=CTX)
    assert services.self_lock.locked_at(customer) is not None
    fresh = open_unlock_session(services, customer)
    assert fresh.session.scope == UNLOCK_SCOPE
    token, _ = services.self_lock.unlock(services.identity.resolve_session(fresh.token),
                                         fresh.token, context=CTX)
    with pytest.raises(NotLocked):
        services.self_lock.unlock(services.identity.resolve_session(token), token, context=CTX)
    with services.db.read() as session:
        actions = session.scalars(select(AuditRecord.action)
                                  .where(AuditRecord.subject == customer)).all()
    assert actions.count("self_unlock_refused") == 2 and "account_self_unlocked" in actions


def test_a_customer_with_only_a_password_cannot_unlock_online(services):
    customer = make_customer(services, login_id="lock5")
    services.self_lock.lock(customer, context=CTX)
    assert services.self_lock.unlock_method(customer) == "support"
    sneaky = open_unlock_session(services, customer, level=Level.PASSWORD)
    with pytest.raises(AccountLocked) as err:
        services.self_lock.unlock(services.identity.resolve_session(sneaky.token),
                                  sneaky.token, context=CTX)
    assert err.value.unlock == "support"


def test_a_self_locked_customer_is_offered_no_code_to_the_mailbox_or_phone(services, clock):
    """Otherwise an e-mailed code would open the unlock-only session, and unlock it."""
    account = make_customer(services)
    assert Method.EMAIL_OTP in services.identity.second_factors(account)
    with services.db.write() as session:
        session.get(Customer, account).self_locked_at = clock()
    assert services.identity.second_factors(account) == []
