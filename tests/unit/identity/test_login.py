from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from factories.customers import PASSWORD, make_customer
from kabuguard.domain.events import RequestContext
from kabuguard.identity.interfaces import LoginFailed, SessionInvalid, WeakPassword
from kabuguard.identity.models import Customer

CTX = RequestContext(ip="198.51.100.7", user_agent="Mozilla/5.0 test")


def test_login_opens_session_and_reports_previous_login(services, clock):
    make_customer(services, login_id="hanako2")
    first = services.identity.login_password(login_id="hanako2", password=PASSWORD, context=CTX)
    assert first.previous_login_at is None
    clock.advance(timedelta(hours=3))
    second = services.identity.login_password(
        login_id="hanako2", password=PASSWORD,
        context=RequestContext(ip="203.0.113.9", user_agent="other"))
    assert second.previous_login_at == first.session.created_at
    assert second.previous_login_ip == "198.51.100.7"
    info = services.identity.resolve_session(second.token)
    assert info.customer_id == second.session.customer_id
    prev = services.identity.previous_login(info.customer_id, before=info.created_at)
    assert prev is not None
    assert prev.ip == "198.51.100.7"


def test_wrong_password_and_unknown_user_fail_alike(services):
    make_customer(services, login_id="taro2")
    with pytest.raises(LoginFailed) as a:
        services.identity.login_password(login_id="taro2", password="nope-nope-nope", context=CTX)
    with pytest.raises(LoginFailed) as b:
        services.identity.login_password(login_id="ghost", password="nope-nope-nope", context=CTX)
    assert a.value.message == b.value.message
    assert a.value.status == 401


def test_session_idle_and_absolute_timeouts(services, clock):
    make_customer(services, login_id="idle1")
    res = services.identity.login_password(login_id="idle1", password=PASSWORD, context=CTX)
    clock.advance(timedelta(minutes=29))
    services.identity.resolve_session(res.token)
    clock.advance(timedelta(minutes=31))
    with pytest.raises(SessionInvalid):
        services.identity.resolve_session(res.token)
    res = services.identity.login_password(login_id="idle1", password=PASSWORD, context=CTX)
    for _ in range(26):  # active every 29 minutes, but past the 12 h absolute limit
        clock.advance(timedelta(minutes=29))
        try:
            services.identity.resolve_session(res.token)
        except SessionInvalid:
            break
    else:
        pytest.fail("the absolute timeout did not end the session")


def test_logout_revokes(services):
    make_customer(services, login_id="bye1")
    res = services.identity.login_password(login_id="bye1", password=PASSWORD, context=CTX)
    services.identity.logout(res.token, context=CTX)
    with pytest.raises(SessionInvalid):
        services.identity.resolve_session(res.token)


def test_only_token_hash_is_stored(services):
    from kabuguard.identity.models import WebSession

    make_customer(services, login_id="hash1")
    res = services.identity.login_password(login_id="hash1", password=PASSWORD, context=CTX)
    with services.db.read() as session:
        stored = session.execute(select(WebSession.token_hash)).scalars().all()
    assert res.token not in stored


def test_short_password_is_refused(services):
    with pytest.raises(WeakPassword), services.db.write() as session:
        services.identity.create_customer(session, customer_id="3000001", login_id="weak1",
                                          password="short", name="x", email="a@b.jp", phone=None)
    with services.db.read() as session:
        assert session.get(Customer, "3000001") is None
