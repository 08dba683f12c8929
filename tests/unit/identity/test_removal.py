"""MfaRemovalService: which removal is the last strong one, and what each policy mode
does with it (immediate, scheduled with a cooling-off, forbidden)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from factories.apps import policy_text
from factories.customers import make_customer
from factories.mfa import add_app, add_passkey, session_info, use_policy
from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.events import RequestContext
from kabuguard.guard.interfaces import StepUpRequired
from kabuguard.identity.methods import Level, Method
from kabuguard.identity.models import Passkey, PendingMfaRemoval, TotpAuthenticator
from kabuguard.identity.removal import (
    LastMethodRemovalForbidden,
    MethodNotFound,
    RemovalAlreadyScheduled,
    RemovalNotFound,
    RemovalNotPending,
)
from kabuguard.notify.models import Notice

CTX = RequestContext(ip="198.51.100.7", user_agent="Mozilla/5.0 test")
PR, OTP = Level.PHISHING_RESISTANT, Level.OTP


def policy(mode: str) -> str:
    section = {"cooling_off": "{last_strong: cooling_off, cooling_off: 72h}",
               "forbid": "{last_strong: forbid}",
               "immediate": "{last_strong: immediate}"}[mode]
    return policy_text(f"removal_{mode}") + f"mfa_removal: {section}\n"


def removed(services, credential) -> bool:
    with services.db.read() as session:
        row = session.get(Passkey, credential)
        return row is not None and row.removed_at is not None


def mfa_events(services) -> list[dict]:
    with services.db.read() as session:
        rows = session.scalars(select(OutboxEvent.payload)
                               .where(OutboxEvent.type == "mfa_change")).all()
    return [json.loads(p) for p in rows]


def notices(services, kind: str) -> list[Notice]:
    with services.db.read() as session:
        return list(session.scalars(select(Notice).where(Notice.kind == kind)))


@pytest.fixture
def customer(services):
    use_policy(services, policy("cooling_off"))
    return make_customer(services)


def test_a_passkey_that_is_not_the_last_goes_at_once(services, clock, customer):
    first, second = add_passkey(services, customer), add_passkey(services, customer, name="PC")
    info = session_info(customer, level=Level.PASSWORD, authenticated_at=clock.now)
    result = services.removals.remove(info, method=Method.PASSKEY, credential=first,
                                      context=CTX)
    assert result["status"] == "removed"
    assert removed(services, first) and not removed(services, second)
    [event] = mfa_events(services)
    assert (event["change"], event["method"], event["ip"]) == ("remove", "passkey", CTX.ip)
    assert not notices(services, "mfa_removal_scheduled")  # the event's notice is central


def test_the_app_goes_at_once_when_a_passkey_stays(services, clock, customer):
    add_passkey(services, customer)
    add_app(services, customer)
    info = session_info(customer, level=Level.PASSWORD, authenticated_at=clock.now)
    assert services.removals.remove(info, method=Method.TOTP, credential=None,
                                    context=CTX)["status"] == "removed"
    assert services.identity.strongest_enrolled(customer) is PR


def test_the_last_passkey_needs_a_fresh_passkey_then_waits(services, clock, customer):
    key = add_passkey(services, customer, name="iPhone")
    add_app(services, customer)  # an app does not make the passkey any less the last
    otp = session_info(customer, level=OTP, authenticated_at=clock.now)
    with pytest.raises(StepUpRequired) as step:
        services.removals.remove(otp, method=Method.PASSKEY, credential=key, context=CTX)
    assert step.value.params["level"] == "phishing_resistant"
    stale = session_info(customer, level=PR, authenticated_at=clock.now - timedelta(minutes=6))
    with pytest.raises(StepUpRequired):
        services.removals.remove(stale, method=Method.PASSKEY, credential=key, context=CTX)
    fresh = session_info(customer, level=PR, authenticated_at=clock.now)
    result = services.removals.remove(fresh, method=Method.PASSKEY, credential=key, context=CTX)
    assert result["status"] == "scheduled"
    assert result["removal"]["effective_at"] == (clock.now + timedelta(hours=72)).isoformat()
    assert not removed(services, key)  # still works until then
    assert services.identity.strongest_enrolled(customer) is PR
    # Told on e-mail and SMS, with the contract's params.
    sent = notices(services, "mfa_removal_scheduled")
    assert sorted(n.medium for n in sent) == ["email", "sms"]
    _address, params = services.notifier.decode(sent[0])
    assert params == {"at": clock.now.isoformat(), "method": "passkey", "name": "iPhone",
                      "effective_at": (clock.now + timedelta(hours=72)).isoformat()}
    with pytest.raises(RemovalAlreadyScheduled):
        services.removals.remove(fresh, method=Method.PASSKEY, credential=key, context=CTX)
    clock.advance(timedelta(hours=71))
    assert services.removals.run_due_removals() == 0
    clock.advance(timedelta(hours=1))
    assert services.removals.run_due_removals() == 1
    assert services.removals.run_due_removals() == 0  # once
    assert removed(services, key)
    [event] = mfa_events(services)
    assert (event["change"], event["method"], event["ip"]) == ("remove", "passkey", CTX.ip)
    assert services.removals.pending(customer) == []


def test_cancel_keeps_the_method(services, clock, customer):
    key = add_passkey(services, customer)
    fresh = session_info(customer, level=PR, authenticated_at=clock.now)
    removal = services.removals.remove(fresh, method=Method.PASSKEY, credential=key,
                                       context=CTX)["removal"]
    stranger = session_info(make_customer(services), level=PR, authenticated_at=clock.now)
    with pytest.raises(RemovalNotFound):
        services.removals.cancel(stranger, removal["id"], context=CTX)
    # Cancelling needs no step-up: an old password session may do it.
    old = session_info(customer, level=Level.PASSWORD,
                       authenticated_at=clock.now - timedelta(hours=5))
    cancelled = services.removals.cancel(old, removal["id"], context=CTX)
    assert cancelled["cancelled_at"] == clock.now.isoformat()
    with pytest.raises(RemovalNotPending):
        services.removals.cancel(old, removal["id"], context=CTX)
    clock.advance(timedelta(days=4))
    assert services.removals.run_due_removals() == 0
    assert not removed(services, key)
    assert mfa_events(services) == []


def test_a_due_removal_cannot_be_cancelled_and_listing_applies_it(services, clock, customer):
    key = add_passkey(services, customer)
    fresh = session_info(customer, level=PR, authenticated_at=clock.now)
    removal = services.removals.remove(fresh, method=Method.PASSKEY, credential=key,
                                       context=CTX)["removal"]
    clock.advance(timedelta(hours=73))
    assert services.removals.pending(customer) == []  # lazily applied
    assert removed(services, key)
    with pytest.raises(RemovalNotPending):
        services.removals.cancel(fresh, removal["id"], context=CTX)


def test_with_the_last_passkey_scheduled_the_app_is_the_last(services, clock, customer):
    key = add_passkey(services, customer)
    add_app(services, customer)
    fresh = session_info(customer, level=PR, authenticated_at=clock.now)
    services.removals.remove(fresh, method=Method.PASSKEY, credential=key, context=CTX)
    # Without the rule, removing the app now would leave nothing but the password.
    result = services.removals.remove(fresh, method=Method.TOTP, credential=None, context=CTX)
    assert result["status"] == "scheduled"
    assert [r["method"] for r in services.removals.pending(customer)] == ["passkey", "totp"]


def test_the_last_app_without_a_passkey_needs_a_fresh_code(services, clock, customer):
    use_policy(services, policy("immediate"))
    app_id, _secret = add_app(services, customer)
    stale = session_info(customer, level=OTP, authenticated_at=clock.now - timedelta(minutes=6))
    with pytest.raises(StepUpRequired) as step:
        services.removals.remove(stale, method=Method.TOTP, credential=None, context=CTX)
    assert step.value.params["level"] == "otp"
    fresh = session_info(customer, level=OTP, authenticated_at=clock.now)
    assert services.removals.remove(fresh, method=Method.TOTP, credential=None,
                                    context=CTX)["status"] == "removed"
    with services.db.read() as session:
        assert session.get(TotpAuthenticator, app_id).removed_at == clock.now
    assert services.identity.strongest_enrolled(customer) is Level.PASSWORD


def test_forbid_refuses_and_changes_nothing(services, clock, customer):
    use_policy(services, policy("forbid"))
    key = add_passkey(services, customer)
    fresh = session_info(customer, level=PR, authenticated_at=clock.now)
    with pytest.raises(LastMethodRemovalForbidden) as err:
        services.removals.remove(fresh, method=Method.PASSKEY, credential=key, context=CTX)
    assert err.value.status == 403
    assert "register another passkey first" in err.value.message
    assert not removed(services, key)
    with services.db.read() as session:
        assert session.scalars(select(PendingMfaRemoval)).all() == []
    assert mfa_events(services) == []
    # A second passkey makes the first one removable at once.
    add_passkey(services, customer, name="PC")
    assert services.removals.remove(fresh, method=Method.PASSKEY, credential=key,
                                    context=CTX)["status"] == "removed"


def test_immediate_removes_the_last_passkey_after_the_step_up(services, clock, customer):
    use_policy(services, policy("immediate"))
    key = add_passkey(services, customer)
    fresh = session_info(customer, level=PR, authenticated_at=clock.now)
    assert services.removals.remove(fresh, method=Method.PASSKEY, credential=key,
                                    context=CTX)["status"] == "removed"
    assert services.identity.strongest_enrolled(customer) is Level.PASSWORD


def test_someone_elses_or_unknown_methods_are_not_found(services, clock, customer):
    other = make_customer(services)
    theirs = add_passkey(services, other)
    info = session_info(customer, level=PR, authenticated_at=clock.now)
    for method, credential in ((Method.PASSKEY, theirs), (Method.PASSKEY, "nope"),
                               (Method.TOTP, None), (Method.EMAIL_OTP, None)):
        with pytest.raises(MethodNotFound):
            services.removals.remove(info, method=method, credential=credential, context=CTX)
    assert not removed(services, theirs)
