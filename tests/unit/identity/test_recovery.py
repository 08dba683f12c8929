"""RecoveryService: password re-check without enumeration, the e-mail code, the guard,
what completion changes, the notices and the cooling-off."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from factories.apps import policy_text
from factories.customers import PASSWORD, make_customer
from factories.recovery import notices, recovery_code
from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.errors import InvalidInput
from kabuguard.domain.events import RequestContext
from kabuguard.guard.interfaces import ActionDenied
from kabuguard.guard.policy import parse_policy
from kabuguard.guard.services import Guard
from kabuguard.identity.interfaces import (
    CodeExpired,
    CodeFormatInvalid,
    LoginFailed,
    SessionInvalid,
    TooManyAttempts,
    WrongCode,
)
from kabuguard.identity.models import Customer, Passkey, RecoveryRequest, TotpAuthenticator
from kabuguard.identity.recovery import (
    RecoveryInvalid,
    RecoveryNotAvailable,
    TooManyRecoveries,
)
from kabuguard.identity.services import LOCK_AFTER
from kabuguard.notify.models import Notice

CTX = RequestContext(ip="198.51.100.20", user_agent="Mozilla/5.0 test", device="dev-recovery-1")
OLD_PHONE = "09000000000"  # make_customer's
NEW_PHONE = "080-1111-2222"
NEW_PHONE_CLEAN = "08011112222"


def start(services, login_id, password=PASSWORD, phone=NEW_PHONE):
    return services.recovery.start(login_id=login_id, password=password, new_phone=phone,
                                   context=CTX)


def test_start_sends_the_code_to_the_email_and_a_warning_to_the_old_phone(services, clock):
    cid = make_customer(services, login_id="rec1")
    started = start(services, "rec1")
    assert started.expires_at == clock.now + timedelta(minutes=30)
    sent = sorted(notices(services, cid, "recovery_requested"), key=lambda n: n[0])
    assert [(m, a) for m, a, _ in sent] == [("email", f"u{cid}@example.jp"), ("sms", OLD_PHONE)]
    email_params, sms_params = sent[0][2], sent[1][2]
    assert email_params["at"] == clock.now.isoformat()
    assert len(email_params["code"]) == 8
    assert email_params["code"].isdigit()
    assert sms_params == {"at": clock.now.isoformat()}  # no code to the lost phone
    with services.db.read() as session:
        events = session.execute(select(OutboxEvent).where(
            OutboxEvent.account == cid, OutboxEvent.type == "recovery")).scalars().all()
    assert [json.loads(e.payload)["stage"] for e in events] == ["requested"]


def test_unknown_login_id_gets_the_same_answer_and_no_notice(services):
    cid = make_customer(services, login_id="rec2")
    with pytest.raises(LoginFailed) as unknown:
        start(services, "nobody-here")
    with pytest.raises(LoginFailed) as wrong:
        start(services, "rec2", password="wrong-password-123")
    assert unknown.value.to_dict() == wrong.value.to_dict()
    assert unknown.value.status == 401
    with services.db.read() as session:
        assert session.scalar(select(Notice.id).where(  # the lock's own notice aside
                Notice.kind.like("recovery%")).limit(1)) is None
        assert session.scalar(select(RecoveryRequest.id).limit(1)) is None
        # The wrong password counts towards the lock, as at login.
        assert session.get(Customer, cid).failed_logins == 1


def test_a_locked_account_stays_locked(services):
    cid = make_customer(services, login_id="rec3")
    for _ in range(LOCK_AFTER):
        with pytest.raises(LoginFailed):
            services.identity.login_password(login_id="rec3", password="wrong-password-123",
                                             context=CTX)
    with pytest.raises(LoginFailed) as exc:
        start(services, "rec3")  # the right password: still the login's one answer
    with pytest.raises(LoginFailed) as unknown:
        start(services, "nobody-here")
    assert exc.value.to_dict() == unknown.value.to_dict()
    with services.db.read() as session:
        assert session.get(Customer, cid).password_locked_at is not None
        assert session.scalar(select(Notice.id).where(  # the lock's own notice aside
                Notice.kind.like("recovery%")).limit(1)) is None


def test_a_malformed_phone_costs_no_password_attempt(services):
    cid = make_customer(services, login_id="rec4")
    with pytest.raises(InvalidInput) as exc:
        start(services, "rec4", password="wrong-password-123", phone="12-34")
    assert exc.value.params["field"] == "phone"
    with services.db.read() as session:
        assert session.get(Customer, cid).failed_logins == 0


def test_complete_recovers_the_account(services, clock):
    cid = make_customer(services, login_id="rec5")
    old = services.identity.login_password(login_id="rec5", password=PASSWORD, context=CTX)
    now = clock.now
    with services.db.write() as session:
        session.add(TotpAuthenticator(id="totp_rec5", customer_id=cid, secret_enc="x",
                                      created_at=now, confirmed_at=now))
        session.add(Passkey(credential_id="cred-rec5", customer_id=cid, public_key=b"k",
                            sign_count=0, backup_eligible=True, backed_up=True,
                            aaguid="00000000-0000-0000-0000-000000000000", name="iPhone",
                            created_at=now))
    started = start(services, "rec5")
    clock.advance(timedelta(minutes=3))
    done = services.recovery.complete(request_id=started.request_id,
                                      code=recovery_code(services, cid), context=CTX)
    until = clock.now + timedelta(hours=72)
    assert done.cooling_off_until == until
    assert done.phone_changed
    assert done.authenticator_apps_removed == 1
    assert done.sessions_ended == 1
    # The old session is out; the new one is at the otp level, with the restriction.
    with pytest.raises(SessionInvalid):
        services.identity.resolve_session(old.token, device=CTX.device)
    info = services.identity.resolve_session(done.login.token, device=CTX.device)
    assert info.auth_level == 2
    assert [r.until for r in info.restrictions] == [until]
    assert services.identity.profile(cid)["phone"] == NEW_PHONE_CLEAN
    with services.db.read() as session:
        assert session.get(TotpAuthenticator, "totp_rec5").removed_at == clock.now
        assert session.get(Passkey, "cred-rec5").removed_at is None  # kept for review
        assert session.get(Customer, cid).recovery_cooling_off_until == until
        row = session.get(RecoveryRequest, started.request_id)
        assert (row.status, row.completed_at, row.cooling_off_until) == ("completed",
                                                                       clock.now, until)
        types = [e.type for e in session.execute(select(OutboxEvent).where(
            OutboxEvent.account == cid).order_by(OutboxEvent.ts)).scalars()]
    assert {"contact_change", "mfa_change", "recovery"} <= set(types)
    assert types[-1] == "login"
    # The notice of completion goes to the e-mail, the new phone and the old phone.
    sent = notices(services, cid, "recovery_completed")
    assert sorted((m, a) for m, a, _ in sent) == sorted([
        ("email", f"u{cid}@example.jp"), ("sms", NEW_PHONE_CLEAN), ("sms", OLD_PHONE)])
    assert all(p == {"at": clock.now.isoformat(), "blocked_until": until.isoformat()}
               for _, _, p in sent)


def test_the_code_is_single_use(services):
    cid = make_customer(services, login_id="rec6")
    started = start(services, "rec6")
    code = recovery_code(services, cid)
    services.recovery.complete(request_id=started.request_id, code=code, context=CTX)
    with pytest.raises(RecoveryInvalid):
        services.recovery.complete(request_id=started.request_id, code=code, context=CTX)


def test_wrong_codes_are_counted_and_exhaust_the_request(services):
    cid = make_customer(services, login_id="rec7")
    started = start(services, "rec7")
    code = recovery_code(services, cid)
    wrong = "00000000" if code != "00000000" else "11111111"
    left = []
    for _ in range(5):
        with pytest.raises(WrongCode) as exc:
            services.recovery.complete(request_id=started.request_id, code=wrong, context=CTX)
        left.append(exc.value.attempts_left)
    assert left == [4, 3, 2, 1, 0]
    # Dead: even the right code no longer works, and nothing changed.
    with pytest.raises(RecoveryInvalid):
        services.recovery.complete(request_id=started.request_id, code=code, context=CTX)
    with services.db.read() as session:
        row = session.get(RecoveryRequest, started.request_id)
        assert (row.status, row.attempts) == ("failed", 5)
    assert services.identity.profile(cid)["phone"] == OLD_PHONE


def test_a_malformed_code_spends_no_attempt(services):
    cid = make_customer(services, login_id="rec8")
    started = start(services, "rec8")
    with pytest.raises(CodeFormatInvalid):
        services.recovery.complete(request_id=started.request_id, code="12ab", context=CTX)
    services.recovery.complete(request_id=started.request_id,
                               code=recovery_code(services, cid), context=CTX)


def test_an_expired_request_is_dead(services, clock):
    cid = make_customer(services, login_id="rec9")
    started = start(services, "rec9")
    clock.advance(timedelta(minutes=30))
    with pytest.raises(CodeExpired):
        services.recovery.complete(request_id=started.request_id,
                                   code=recovery_code(services, cid), context=CTX)
    with services.db.read() as session:
        assert session.get(RecoveryRequest, started.request_id).status == "expired"
    assert services.identity.profile(cid)["phone"] == OLD_PHONE


def test_a_newer_request_supersedes_the_pending_one(services, clock):
    cid = make_customer(services, login_id="rec10")
    first = start(services, "rec10")
    first_code = recovery_code(services, cid)
    clock.advance(timedelta(minutes=1))
    second = start(services, "rec10")
    with pytest.raises(RecoveryInvalid):
        services.recovery.complete(request_id=first.request_id, code=first_code, context=CTX)
    services.recovery.complete(request_id=second.request_id,
                               code=recovery_code(services, cid), context=CTX)


def test_requests_per_day_are_limited(services, clock):
    make_customer(services, login_id="rec11")
    for _ in range(5):
        start(services, "rec11")
        clock.advance(timedelta(minutes=1))
    with pytest.raises(TooManyRecoveries) as exc:
        start(services, "rec11")
    assert exc.value.status == 429
    clock.advance(timedelta(days=1))
    start(services, "rec11")


def test_no_code_or_phone_in_plaintext_at_rest(services, database_url):
    cid = make_customer(services, login_id="rec12")
    started = start(services, "rec12")
    code = recovery_code(services, cid)
    services.recovery.complete(request_id=started.request_id, code=code, context=CTX)
    tables = ("recovery_requests", "notices", "outbox", "audit_log", "customers",
              "auth_challenges")
    with services.db.read() as session:
        for table in tables:
            dump = " ".join(str(v) for row in session.execute(text(f"SELECT * FROM {table}"))
                            for v in row)
            assert code not in dump, table
            assert NEW_PHONE_CLEAN not in dump, table


def test_a_second_recovery_never_shortens_the_cooling_off(services, clock):
    cid = make_customer(services, login_id="rec13")
    first = start(services, "rec13")
    done = services.recovery.complete(request_id=first.request_id,
                                      code=recovery_code(services, cid), context=CTX)
    clock.advance(timedelta(hours=1))
    second = start(services, "rec13", phone="07033334444")
    again = services.recovery.complete(request_id=second.request_id,
                                       code=recovery_code(services, cid), context=CTX)
    assert again.cooling_off_until == clock.now + timedelta(hours=72)
    assert again.cooling_off_until > done.cooling_off_until
    # The phone it moved away from (the first recovery's) is told too.
    last = [(m, a) for m, a, p in notices(services, cid, "recovery_completed")
            if p["at"] == clock.now.isoformat()]
    assert sorted(last) == sorted([("email", f"u{cid}@example.jp"), ("sms", "07033334444"),
                                   ("sms", NEW_PHONE_CLEAN)])


def guard_for(extra: str = "", **actions: str) -> Guard:
    return Guard(parse_policy(policy_text("t", **actions) + extra))


def test_the_guard_decides_recovery(services):
    cid = make_customer(services, login_id="rec14")
    # A policy asking a passkey for recovery: nothing a recovery proves is enough.
    services.identity.guard = guard_for(recovery="{level: phishing_resistant}")
    with pytest.raises(RecoveryNotAvailable):
        start(services, "rec14")
    with services.db.read() as session:
        assert session.scalar(select(Notice.id).where(  # the lock's own notice aside
                Notice.kind.like("recovery%")).limit(1)) is None
    # Allowed at start, refused at completion (a channel deny, say, added meanwhile).
    services.identity.guard = guard_for(recovery="{level: otp}")
    started = start(services, "rec14")
    code = recovery_code(services, cid)
    services.identity.guard = guard_for("channels:\n  web:\n    recovery: deny\n",
                                        recovery="{level: otp}")
    with pytest.raises(ActionDenied):
        services.recovery.complete(request_id=started.request_id, code=code, context=CTX)
    with services.db.read() as session:
        assert session.get(RecoveryRequest, started.request_id).status == "refused"
    assert services.identity.profile(cid)["phone"] == OLD_PHONE


def test_too_many_attempts_when_the_row_is_somehow_over(services):
    # verify_code's own guard: a request whose attempts reached the limit is dead.
    cid = make_customer(services, login_id="rec15")
    started = start(services, "rec15")
    with services.db.write() as session:
        session.get(RecoveryRequest, started.request_id).attempts = 5
    with pytest.raises(TooManyAttempts):
        services.recovery.complete(request_id=started.request_id,
                                   code=recovery_code(services, cid), context=CTX)
