"""OutOfBandService: e-mail/SMS codes and the emoji challenge against the database —
bound, hashed at rest, expiring, single-use, attempt-limited, paced, never logged."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
import structlog
from sqlalchemy import func, select

from factories.apps import policy_text
from factories.customers import FAST_PASSWORDS, PASSWORD, make_customer
from kabuguard.audit.models import AuditRecord
from kabuguard.container import Services, build_services
from kabuguard.domain.errors import InvalidInput
from kabuguard.domain.events import Channel, RequestContext
from kabuguard.guard.interfaces import StepUpRequired
from kabuguard.identity import onetime
from kabuguard.identity.interfaces import (
    CodeExpired,
    CodeFormatInvalid,
    EmojiPickInvalid,
    LoginFailed,
    MethodNotOffered,
    SessionInfo,
    TooManyAttempts,
    WrongCode,
    WrongEmoji,
)
from kabuguard.identity.methods import Level, Method
from kabuguard.identity.models import (
    Customer,
    LoginRecord,
    OutOfBandChallenge,
    Passkey,
    TotpAuthenticator,
)
from kabuguard.identity.outofband import (
    MAX_CODE_ATTEMPTS,
    MAX_EMOJI_ATTEMPTS,
    CodeResendThrottled,
    NoCodeRequested,
)
from kabuguard.notify.models import Notice
from kabuguard.settings import load_settings

CTX = RequestContext(ip="198.51.100.7", user_agent="test")
API = RequestContext(ip="198.51.100.7", channel=Channel.API)


@pytest.fixture
def make_services(database_url, clock):
    built: list[Services] = []

    def make(policy: str) -> Services:
        settings = load_settings(database_url=database_url, market_hours="always_open",
                                 policy=policy)
        built.append(build_services(settings, clock=clock, passwords=FAST_PASSWORDS))
        return built[-1]

    yield make
    for services in built:
        services.close()


@pytest.fixture
def svc(make_services) -> Services:
    return make_services("email_otp_mandatory")


def login_challenge(services: Services, login_id: str) -> tuple[str, list[str]]:
    with pytest.raises(StepUpRequired) as info:
        services.identity.login_password(login_id=login_id, password=PASSWORD, context=CTX)
    return info.value.params["login_challenge"], info.value.params["methods"]


def last_notice(services: Services) -> tuple[Notice, str, dict]:
    with services.db.read() as session:
        # The code's notice, not the login's (the journal queues that one too).
        notice = session.scalars(
            select(Notice).where(Notice.kind.in_(["one_time_code", "emoji_challenge"]))
            .order_by(Notice.created_at.desc(), Notice.id.desc()).limit(1)).one()
    address, params = services.notifier.decode(notice)
    return notice, address, params


def session_of(services: Services, login_id: str) -> tuple[str, SessionInfo]:
    """A session at the password level, as a step-up finds it."""
    with services.db.write() as session:
        customer = session.scalars(select(Customer).where(Customer.login_id == login_id)).one()
        result = services.identity.open_session(
            session, customer.id, login_token="login_x", level=Level.PASSWORD,
            methods=["password"], context=CTX, now=services.identity.clock())
    return result.token, result.session


def audit_actions(services: Services) -> list[str]:
    with services.db.read() as session:
        return list(session.scalars(select(AuditRecord.action).order_by(AuditRecord.seq)))


def test_login_with_an_e_mail_code(svc, clock):
    account = make_customer(svc, login_id="mail1")
    challenge, methods = login_challenge(svc, "mail1")
    assert methods == ["email_otp", "sms_otp"]  # no app registered: totp is not listed
    delivery = svc.outofband.send_for_login(login_challenge=challenge, method="email_otp",
                                            context=CTX)
    assert (delivery.method, delivery.medium, delivery.purpose) == ("email_otp", "email", "login")
    assert delivery.attempts_left == MAX_CODE_ATTEMPTS
    notice, address, params = last_notice(svc)
    assert (notice.kind, notice.medium, address) == ("one_time_code", "email",
                                                     f"u{account}@example.jp")
    assert params["purpose"] == "login"
    code = params["code"]
    assert len(code) == 6 and code.isdigit()
    # The login challenge lives 5 minutes: the code does not outlive it.
    assert delivery.expires_at == clock.now + timedelta(minutes=5)
    assert params["expires_minutes"] == 5
    result = svc.outofband.login(login_challenge=challenge, answer=code, context=CTX)
    info = svc.identity.resolve_session(result.token)
    assert info.auth_level == Level.OTP
    # Single use: the login and the code are gone.
    with pytest.raises(LoginFailed):
        svc.outofband.login(login_challenge=challenge, answer=code, context=CTX)
    assert "second_factor_sent" in audit_actions(svc)


def test_codes_are_hashed_at_rest_and_bound_to_their_purpose(svc):
    make_customer(svc, login_id="hash1")
    challenge, _ = login_challenge(svc, "hash1")
    svc.outofband.send_for_login(login_challenge=challenge, method="email_otp", context=CTX)
    code = last_notice(svc)[2]["code"]
    with svc.db.read() as session:
        row = session.scalars(select(OutOfBandChallenge)).one()
    assert code not in (row.secret_hash, row.binding, row.id)
    assert challenge not in row.binding  # the login challenge is a bearer secret too
    assert row.secret_hash == onetime.hash_code(purpose="login", code=code, key=svc.outofband.key)
    assert row.secret_hash != onetime.hash_code(purpose="withdrawal", code=code,
                                                key=svc.outofband.key)


def test_sms_code_goes_to_the_registered_phone_and_needs_one(svc):
    make_customer(svc, login_id="sms1")
    challenge, _ = login_challenge(svc, "sms1")
    svc.outofband.send_for_login(login_challenge=challenge, method="sms_otp", context=CTX)
    notice, address, params = last_notice(svc)
    assert (notice.medium, address) == ("sms", "09000000000")
    svc.outofband.login(login_challenge=challenge, answer=params["code"], context=CTX)
    # Without a phone there is no SMS code (and it is not offered).
    account = make_customer(svc, login_id="sms2")
    with svc.db.write() as session:
        session.get(Customer, account).phone_enc = None
    challenge, methods = login_challenge(svc, "sms2")
    assert methods == ["email_otp"]
    with pytest.raises(MethodNotOffered):
        svc.outofband.send_for_login(login_challenge=challenge, method="sms_otp", context=CTX)


def test_methods_the_policy_does_not_offer_are_refused(make_services):
    services = make_services("emoji_all_trades")
    make_customer(services, login_id="offer1")
    challenge, methods = login_challenge(services, "offer1")
    assert methods == ["emoji"]
    for method in ("email_otp", "sms_otp", "totp", "passkey", "nonsense"):
        with pytest.raises(MethodNotOffered):
            services.outofband.send_for_login(login_challenge=challenge, method=method,
                                              context=CTX)


def test_strongest_enrolled_counts_an_offered_e_mail_code(svc, make_services, tmp_path):
    account = make_customer(svc, login_id="strong1")
    assert svc.identity.strongest_enrolled(account) is Level.OTP
    assert svc.identity.second_factors(account) == [Method.EMAIL_OTP, Method.SMS_OTP]
    jsda = make_services("jsda_2025_mandatory")
    assert jsda.identity.strongest_enrolled(account) is Level.OTP
    # A policy offering only the app (the default) leaves such a customer at password.
    path = tmp_path / "app_only.yaml"
    path.write_text(policy_text("app_only"), encoding="utf-8")
    assert make_services(str(path)).identity.strongest_enrolled(account) is Level.PASSWORD


def test_expiry(svc, clock):
    make_customer(svc, login_id="exp1")
    token, info = session_of(svc, "exp1")
    delivery = svc.outofband.send_for_step_up(info, method="email_otp", action="withdrawal",
                                              context=CTX)
    assert delivery.expires_at == clock.now + timedelta(minutes=10)
    code = last_notice(svc)[2]["code"]
    assert last_notice(svc)[2]["purpose"] == "withdrawal"
    clock.advance(timedelta(minutes=10))
    with pytest.raises(CodeExpired):
        svc.outofband.step_up(info, token, answer=code, context=CTX)
    # The login's code dies with its login challenge.
    challenge, _ = login_challenge(svc, "exp1")
    clock.advance(timedelta(minutes=1))
    svc.outofband.send_for_login(login_challenge=challenge, method="email_otp", context=CTX)
    code = last_notice(svc)[2]["code"]
    clock.advance(timedelta(minutes=4))
    with pytest.raises(LoginFailed):
        svc.outofband.login(login_challenge=challenge, answer=code, context=CTX)


def test_five_wrong_codes_burn_it_and_each_is_audited(svc):
    account = make_customer(svc, login_id="burn1")
    challenge, _ = login_challenge(svc, "burn1")
    svc.outofband.send_for_login(login_challenge=challenge, method="email_otp", context=CTX)
    code = last_notice(svc)[2]["code"]
    wrong = "000000" if code != "000000" else "111111"
    lefts = []
    for _ in range(MAX_CODE_ATTEMPTS):
        with pytest.raises(WrongCode) as info:
            svc.outofband.login(login_challenge=challenge, answer=wrong, context=CTX)
        lefts.append(info.value.attempts_left)
    assert lefts == [4, 3, 2, 1, 0]
    with pytest.raises(TooManyAttempts):
        svc.outofband.login(login_challenge=challenge, answer=code, context=CTX)
    assert svc.outofband.pending_for_login(challenge) is None
    assert audit_actions(svc).count("second_factor_rejected") == MAX_CODE_ATTEMPTS
    with svc.db.read() as session:
        outcomes = list(session.scalars(select(LoginRecord.outcome).where(
            LoginRecord.customer_id == account, LoginRecord.outcome == "bad_second_factor")))
        assert len(outcomes) == MAX_CODE_ATTEMPTS
        payloads = list(session.scalars(select(AuditRecord.payload)))
    assert all(code not in str(p) for p in payloads)
    # The login itself is still open: a new code may be requested (paced).
    with pytest.raises(CodeResendThrottled):
        svc.outofband.send_for_login(login_challenge=challenge, method="email_otp",
                                     context=CTX)


def test_an_entry_that_is_no_code_is_not_counted(svc):
    make_customer(svc, login_id="fmt1")
    challenge, _ = login_challenge(svc, "fmt1")
    svc.outofband.send_for_login(login_challenge=challenge, method="email_otp", context=CTX)
    for entry in ("12ab56", "", ["1", "2"]):
        with pytest.raises(CodeFormatInvalid):
            svc.outofband.login(login_challenge=challenge, answer=entry, context=CTX)
    assert svc.outofband.pending_for_login(challenge).attempts_left == MAX_CODE_ATTEMPTS
    code = last_notice(svc)[2]["code"]
    # Full-width digits, as a Japanese IME types them, are the same code.
    full_width = code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    svc.outofband.login(login_challenge=challenge, answer=f" {full_width} ", context=CTX)


def test_step_up_code_is_single_use_and_bound_to_its_session(svc):
    make_customer(svc, login_id="bind1")
    token, info = session_of(svc, "bind1")
    other_token, other = session_of(svc, "bind1")
    svc.outofband.send_for_step_up(info, method="email_otp", action="withdrawal", context=CTX)
    code = last_notice(svc)[2]["code"]
    with pytest.raises(NoCodeRequested):
        svc.outofband.step_up(other, other_token, answer=code, context=CTX)
    new_token, fresh = svc.outofband.step_up(info, token, answer=code, context=CTX)
    assert (fresh.auth_level, fresh.step_up_action) == (Level.OTP, "withdrawal")
    assert fresh.step_up_at == fresh.authenticated_at
    with pytest.raises(NoCodeRequested):
        svc.outofband.step_up(info, new_token, answer=code, context=CTX)
    assert "step_up" in audit_actions(svc)


def test_a_new_code_replaces_the_pending_one(svc, clock):
    make_customer(svc, login_id="repl1")
    token, info = session_of(svc, "repl1")
    svc.outofband.send_for_step_up(info, method="email_otp", action="withdrawal", context=CTX)
    first = last_notice(svc)[2]["code"]
    clock.advance(timedelta(seconds=60))
    svc.outofband.send_for_step_up(info, method="sms_otp", action="withdrawal", context=CTX)
    second = last_notice(svc)[2]["code"]
    if first != second:
        with pytest.raises(WrongCode):
            svc.outofband.step_up(info, token, answer=first, context=CTX)
    svc.outofband.step_up(info, token, answer=second, context=CTX)


def test_resending_is_paced_per_customer(svc, clock):
    make_customer(svc, login_id="pace1")
    _token, info = session_of(svc, "pace1")
    start = clock.now
    svc.outofband.send_for_step_up(info, method="email_otp", action="withdrawal", context=CTX)
    clock.advance(timedelta(seconds=59))
    with pytest.raises(CodeResendThrottled) as info_:
        svc.outofband.send_for_step_up(info, method="email_otp", action="withdrawal",
                                       context=CTX)
    assert info_.value.retry_after_seconds == 1
    assert info_.value.status == 429
    # The pace is the customer's, whatever asks: a login's second step shares it.
    challenge, _ = login_challenge(svc, "pace1")
    with pytest.raises(CodeResendThrottled):
        svc.outofband.send_for_login(login_challenge=challenge, method="email_otp",
                                     context=CTX)
    for _ in range(4):
        clock.advance(timedelta(seconds=61))
        svc.outofband.send_for_step_up(info, method="email_otp", action="withdrawal",
                                       context=CTX)
    clock.advance(timedelta(seconds=61))
    with pytest.raises(CodeResendThrottled) as info_:
        svc.outofband.send_for_step_up(info, method="email_otp", action="withdrawal",
                                       context=CTX)
    assert info_.value.retry_after_seconds == (start + timedelta(hours=1) - clock.now).seconds
    clock.now = start + timedelta(hours=1, seconds=1)
    svc.outofband.send_for_step_up(info, method="email_otp", action="withdrawal", context=CTX)
    with svc.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Notice).where(
                Notice.kind == "one_time_code")) == 6


def test_the_comparison_is_constant_time(svc, monkeypatch):
    make_customer(svc, login_id="ct1")
    token, info = session_of(svc, "ct1")
    svc.outofband.send_for_step_up(info, method="email_otp", action="withdrawal", context=CTX)
    code = last_notice(svc)[2]["code"]
    calls = []
    real = onetime.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(onetime.hmac, "compare_digest", spy)
    with pytest.raises(WrongCode):
        svc.outofband.step_up(info, token, answer="000000" if code != "000000" else "111111",
                              context=CTX)
    svc.outofband.step_up(info, token, answer=code, context=CTX)
    assert len(calls) == 2  # every comparison of a code went through compare_digest


def test_a_step_up_that_cannot_reach_the_actions_level_sends_nothing(make_services):
    services = make_services("jsda_2025_mandatory")
    account = make_customer(services, login_id="pr1")
    with services.db.write() as session:  # a passkey: no interim discount any more
        session.add(Passkey(credential_id="cred-pr1", customer_id=account, public_key=b"k",
                            sign_count=0, backup_eligible=False, backed_up=False,
                            aaguid="0" * 36, name="phone", created_at=services.identity.clock()))
    info = SessionInfo(public_id="ses_x", customer_id=account, account_id=account,
                       csrf_token="x", created_at=services.identity.clock(), channel="web")
    with pytest.raises(MethodNotOffered, match="passkey"):
        services.outofband.send_for_step_up(info, method="email_otp", action="withdrawal",
                                            context=CTX)
    with pytest.raises(InvalidInput, match="Unknown action"):
        services.outofband.send_for_step_up(info, method="email_otp", action="transfer",
                                            context=CTX)


@pytest.mark.parametrize(("policy", "k", "n"), [("emoji_all_trades", 2, 10),
                                                ("emoji_all_trades_4of15", 4, 15)])
def test_emoji_step_up_grid_shape_and_order(make_services, policy, k, n):
    services = make_services(policy)
    make_customer(services, login_id="emo1")
    token, info = session_of(services, "emo1")
    delivery = services.outofband.send_for_step_up(info, method="emoji", action="order",
                                                   context=API)
    assert (len(delivery.grid), len(set(delivery.grid)), delivery.pick) == (n, n, k)
    assert delivery.attempts_left == MAX_EMOJI_ATTEMPTS
    notice, _address, params = last_notice(services)
    assert (notice.kind, notice.medium) == ("emoji_challenge", "email")
    answer = params["emojis"]
    assert len(answer) == k and set(answer) <= set(delivery.grid)
    assert params["purpose"] == "order"
    with services.db.read() as session:
        row = session.scalars(select(OutOfBandChallenge)).one()
    assert row.grid == "".join(delivery.grid)  # the grid is fixed per challenge
    assert "".join(answer) not in row.secret_hash
    with pytest.raises(WrongEmoji) as wrong:
        services.outofband.step_up(info, token, answer=list(reversed(answer)), context=API)
    assert wrong.value.attempts_left == MAX_EMOJI_ATTEMPTS - 1
    # Picks that cannot be an answer are refused without counting.
    off_grid = next(e for e in services.guard.policy.emoji.alphabet if e not in delivery.grid)
    for picks, reason in [([], "empty"), ([off_grid, *answer[1:]], "not_on_grid"),
                          ([answer[0], answer[0]], "duplicate"), ("".join(answer), "empty")]:
        with pytest.raises(EmojiPickInvalid) as invalid:
            services.outofband.step_up(info, token, answer=picks, context=API)
        assert invalid.value.reason == reason
    assert services.outofband.pending_for_step_up(info).attempts_left == MAX_EMOJI_ATTEMPTS - 1
    # The emoji variation selector some keyboards add changes nothing.
    _new_token, fresh = services.outofband.step_up(
        info, token, answer=[f"{answer[0]}\ufe0f", *answer[1:]], context=API)
    assert fresh.step_up_action == "order"


def test_emoji_attempts_are_three(make_services):
    services = make_services("emoji_all_trades")
    make_customer(services, login_id="emo2")
    challenge, _ = login_challenge(services, "emo2")
    services.outofband.send_for_login(login_challenge=challenge, method="emoji", context=CTX)
    answer = last_notice(services)[2]["emojis"]
    for _ in range(MAX_EMOJI_ATTEMPTS):
        with pytest.raises(WrongEmoji):
            services.outofband.login(login_challenge=challenge, answer=answer[::-1],
                                     context=CTX)
    with pytest.raises(TooManyAttempts):
        services.outofband.login(login_challenge=challenge, answer=answer, context=CTX)


def test_no_code_or_emoji_reaches_the_logs(make_services):
    services = make_services("email_otp_mandatory")
    make_customer(services, login_id="log1")
    with structlog.testing.capture_logs() as logs:
        challenge, _ = login_challenge(services, "log1")
        services.outofband.send_for_login(login_challenge=challenge, method="email_otp",
                                          context=CTX)
        code = last_notice(services)[2]["code"]
        with pytest.raises(WrongCode):
            services.outofband.login(login_challenge=challenge,
                                     answer="000000" if code != "000000" else "111111",
                                     context=CTX)
        services.outofband.login(login_challenge=challenge, answer=code, context=CTX)
    events = [entry["event"] for entry in logs]
    assert "second_factor.sent" in events and "second_factor.rejected" in events
    assert code not in repr(logs)
    assert challenge not in repr(logs)


def test_an_authenticator_app_counts_only_where_the_policy_offers_it(make_services, clock):
    services = make_services("emoji_all_trades")
    account = make_customer(services, login_id="app1")
    with services.db.write() as session:
        session.add(TotpAuthenticator(id="totp_app1", customer_id=account,
                                      secret_enc=services.cipher.encrypt(pyotp.random_base32()),
                                      created_at=clock.now, confirmed_at=clock.now))
    assert services.identity.second_factors(account) == [Method.EMOJI]
    token, info = session_of(services, "app1")
    with pytest.raises(MethodNotOffered):
        services.authenticator_app.step_up(info, token, code="123456", context=CTX)


def test_a_step_up_for_a_once_only_action_is_spent_once(svc):
    make_customer(svc, login_id="spend1")
    token, info = session_of(svc, "spend1")
    svc.outofband.send_for_step_up(info, method="email_otp", action="order", context=CTX)
    _token, fresh = svc.outofband.step_up(info, token, answer=last_notice(svc)[2]["code"],
                                          context=CTX)
    assert svc.identity.spend_step_up(info.public_id, seen=fresh.step_up_at)
    assert not svc.identity.spend_step_up(info.public_id, seen=fresh.step_up_at)
    assert svc.identity.resolve_session(_token).step_up_at is None
