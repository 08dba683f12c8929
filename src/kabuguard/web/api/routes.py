"""JSON API (``/api/v1``) for the firm's own systems and the mobile app.

Clients log in at ``POST /api/v1/sessions`` and send the token as
``Authorization: Bearer …``. Order and withdrawal calls accept an ``Idempotency-Key``
header: a retry with the same key returns the first answer and executes nothing twice.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from kabuguard.broker.interfaces import BankDetails, OrderRequest, Outcome
from kabuguard.domain.errors import InvalidInput
from kabuguard.domain.events import Channel
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import ActionHeld, Decision
from kabuguard.identity.interfaces import ENROL_SCOPE, UNLOCK_SCOPE
from kabuguard.identity.services import validate_email, validate_phone
from kabuguard.web.deps import (
    ApiSessionDep,
    AuthenticatorAppDep,
    BrokerDep,
    IdentityDep,
    OutOfBandDep,
    PasskeysDep,
    RemovalsDep,
)
from kabuguard.web.guarding import OrderCheckApi, WithdrawalCheckApi, guarded_api, is_held
from kabuguard.web.security import request_context

router = APIRouter(prefix="/api/v1", tags=["api"])

IdemKey = Annotated[str | None, Header(alias="Idempotency-Key",
                                       description="8-100 characters; retries reuse it")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginBody(Strict):
    login_id: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    channel: Literal["app", "api"] = "api"


class OrderBody(Strict):
    symbol: str = Field(min_length=1, max_length=20)
    side: Literal["buy", "sell"]
    quantity: StrictInt = Field(gt=0)
    order_type: Literal["market", "limit"] = "market"
    limit_price: str | float | None = Field(default=None, description="instrument currency")


class AmountBody(Strict):
    amount_jpy: StrictInt = Field(gt=0)


class BankBody(Strict):
    bank_name: str = Field(min_length=1, max_length=80)
    branch_code: str = Field(pattern=r"^[0-9]{3}$")
    number: str = Field(pattern=r"^[0-9]{7}$")
    holder: str = Field(min_length=1, max_length=80)


class PasskeyAnswer(Strict):
    challenge_id: str = Field(min_length=1, max_length=200)
    credential: dict[str, Any]


class PasskeyRegistration(PasskeyAnswer):
    name: str = Field(min_length=1, max_length=60)


class CodeBody(Strict):
    code: str = Field(min_length=1, max_length=20)


class TotpLoginBody(Strict):
    login_challenge: str = Field(min_length=1, max_length=40)
    code: str = Field(min_length=1, max_length=20)
    channel: Literal["app", "api"] = "api"


class SendCodeBody(Strict):
    method: Literal["email_otp", "sms_otp", "emoji"]


class LoginSendCodeBody(SendCodeBody):
    login_challenge: str = Field(min_length=1, max_length=40)
    channel: Literal["app", "api"] = "api"


class StepUpSendCodeBody(SendCodeBody):
    action: str = Field(min_length=1, max_length=30,
                        description="the `action` of the step_up_required answer")


class AnswerBody(Strict):
    """A one-time code, or the emoji picked, in the order they were sent."""

    code: str | None = Field(default=None, min_length=1, max_length=20)
    emojis: list[str] | None = Field(default=None, min_length=1, max_length=15)

    def answer(self) -> str | list[str]:
        if (self.code is None) == (self.emojis is None):
            raise InvalidInput("Send either the code or the emojis picked.", field="code")
        if self.emojis is not None:
            return [pick[:8] for pick in self.emojis]
        return self.code or ""


class LoginAnswerBody(AnswerBody):
    login_challenge: str = Field(min_length=1, max_length=40)
    channel: Literal["app", "api"] = "api"


class PasswordBody(Strict):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class ProfileBody(Strict):
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=20)


def _answer(outcome: Outcome) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)


def _answer_or_held(outcome: Outcome, decision: Decision, name: str) -> JSONResponse:
    """A held order or withdrawal answers as the guard's ActionHeld does (202
    ``action_held``, with the reasons), carrying what was stored for review."""
    if outcome.status_code != 202:
        return _answer(outcome)
    held = ActionHeld(decision, **{name: outcome.body})
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return JSONResponse(held.to_dict(), status_code=held.status, headers=headers)


def _ctx(request: Request, session: Any) -> Any:
    channel = Channel.APP if session.channel == "app" else Channel.API
    return request_context(request, channel=channel, session=session.public_id)


@router.post("/sessions", status_code=201)
def login(body: LoginBody, request: Request, identity: IdentityDep) -> dict[str, Any]:
    """Log in with login id and password; returns the bearer token."""
    channel = Channel.APP if body.channel == "app" else Channel.API
    result = identity.login_password(login_id=body.login_id, password=body.password,
                                     context=request_context(request, channel=channel))
    return {
        "token": result.token, "session": result.session.public_id,
        "account": result.session.account_id,
        "unlock_only": result.session.scope == UNLOCK_SCOPE,
            # True: no passkey yet where one is required; only registering one works.
            "enrol_only": result.session.scope == ENROL_SCOPE,
        "previous_login": {"at": result.previous_login_at.isoformat(),
                           "ip": result.previous_login_ip}
        if result.previous_login_at else None,
    }


@router.post("/sessions/passkey/options")
def passkey_login_options(passkeys: PasskeysDep) -> dict[str, Any]:
    """Start a username-less passkey login: WebAuthn request options and the id of the
    single-use challenge (valid 5 minutes)."""
    return passkeys.login_begin()


@router.post("/sessions/passkey", status_code=201)
def passkey_login(body: PasskeyAnswer, request: Request, passkeys: PasskeysDep,
                  channel: Annotated[Literal["app", "api"], Query()] = "api") -> dict[str, Any]:
    """Finish a passkey login with the browser's or app's assertion; returns the token."""
    ctx = request_context(request, channel=Channel.APP if channel == "app" else Channel.API)
    result = passkeys.login_finish(challenge_id=body.challenge_id, credential=body.credential,
                                   context=ctx)
    return {"token": result.token, "session": result.session.public_id,
            "account": result.session.account_id, "level": "phishing_resistant",
            "unlock_only": result.session.scope == UNLOCK_SCOPE,
            # True: no passkey yet where one is required; only registering one works.
            "enrol_only": result.session.scope == ENROL_SCOPE,
            # True: the password is known to be leaked; only PUT /password works.
            "password_change_required": result.session.password_change_required}


@router.get("/passkeys")
def list_passkeys(session: ApiSessionDep, passkeys: PasskeysDep,
                  removals: RemovalsDep) -> list[dict[str, Any]]:
    """The customer's passkeys; ``removal`` is the scheduled removal of one, if any."""
    # Listing applies removals that have fallen due first (besides the background loop).
    pending = {r["credential"]: r for r in removals.pending(session.customer_id)
               if r["method"] == "passkey"}
    return [{**p, "removal": pending.get(p["id"])} for p in passkeys.list(session.customer_id)]


@router.post("/passkeys/options", dependencies=[Depends(guarded_api(Action.MFA_ENROLL))])
def passkey_registration_options(request: Request, session: ApiSessionDep,
                                 passkeys: PasskeysDep) -> dict[str, Any]:
    return passkeys.registration_begin(session, _bearer(request))


@router.post("/passkeys", status_code=201,
             dependencies=[Depends(guarded_api(Action.MFA_ENROLL))])
def register_passkey(body: PasskeyRegistration, request: Request, session: ApiSessionDep,
                     passkeys: PasskeysDep) -> dict[str, Any]:
    return passkeys.registration_finish(session, _bearer(request),
                                        challenge_id=body.challenge_id,
                                        credential=body.credential, name=body.name,
                                        context=_ctx(request, session))


@router.post("/step-up/passkey/options")
def step_up_options(request: Request, session: ApiSessionDep,
                    passkeys: PasskeysDep) -> dict[str, Any]:
    """After a ``step_up_required`` answer: options to confirm with a passkey."""
    return passkeys.step_up_begin(session, _bearer(request))


@router.post("/step-up/passkey")
def step_up(body: PasskeyAnswer, request: Request, session: ApiSessionDep,
            passkeys: PasskeysDep) -> dict[str, Any]:
    """Confirm with a passkey; the session gets a new token (use it for the retry)."""
    token, fresh = passkeys.step_up_finish(session, _bearer(request),
                                           challenge_id=body.challenge_id,
                                           credential=body.credential,
                                           context=_ctx(request, session))
    return {"token": token, "level": "phishing_resistant",
            "authenticated_at": fresh.authenticated_at.isoformat()
            if fresh.authenticated_at else None}


@router.put("/password", dependencies=[Depends(guarded_api(Action.PASSWORD_CHANGE))])
def change_password(body: PasswordBody, request: Request, session: ApiSessionDep,
                    identity: IdentityDep) -> dict[str, Any]:
    """Change the password (breached passwords are refused); every other session ends."""
    ended = identity.change_password(session, current=body.current_password,
                                     new=body.new_password, context=_ctx(request, session))
    return {"changed": True, "other_sessions_ended": ended}


@router.post("/totp", dependencies=[Depends(guarded_api(Action.MFA_ENROLL))])
def totp_enroll(session: ApiSessionDep, app: AuthenticatorAppDep) -> dict[str, Any]:
    """Register an authenticator app: a new secret (shown once) and its otpauth URI for
    a QR code; confirm with a first code at ``/totp/confirm``."""
    return app.enroll_begin(session)


@router.post("/totp/confirm", dependencies=[Depends(guarded_api(Action.MFA_ENROLL))])
def totp_confirm(body: CodeBody, request: Request, session: ApiSessionDep,
                 app: AuthenticatorAppDep) -> dict[str, Any]:
    return app.enroll_confirm(session, code=body.code, context=_ctx(request, session))


@router.post("/sessions/totp", status_code=201)
def totp_login(body: TotpLoginBody, request: Request, app: AuthenticatorAppDep
               ) -> dict[str, Any]:
    """Second step of a password login answered with ``step_up_required``: the code
    from the authenticator app and the ``login_challenge`` that answer carried."""
    ctx = request_context(request, channel=Channel.APP if body.channel == "app" else Channel.API)
    result = app.login(login_challenge=body.login_challenge, code=body.code, context=ctx)
    return {"token": result.token, "session": result.session.public_id,
            "account": result.session.account_id, "level": "otp",
            "unlock_only": result.session.scope == UNLOCK_SCOPE,
            # True: no passkey yet where one is required; only registering one works.
            "enrol_only": result.session.scope == ENROL_SCOPE,
            # True: the password is known to be leaked; only PUT /password works.
            "password_change_required": result.session.password_change_required}


@router.post("/sessions/code/send", status_code=202)
def login_send_code(body: LoginSendCodeBody, request: Request, outofband: OutOfBandDep
                    ) -> dict[str, Any]:
    """Second step of a password login answered with ``step_up_required`` (its
    ``methods`` name what this customer can use): send a one-time code by e-mail or
    SMS, or an emoji challenge by e-mail. The answer carries the ``grid`` to show and
    how many to ``pick``; post the code or the picks to ``/sessions/code``. Paced:
    one per minute, five per hour (429 with ``retry_after_seconds``)."""
    ctx = request_context(request, channel=Channel.APP if body.channel == "app" else Channel.API)
    delivery = outofband.send_for_login(login_challenge=body.login_challenge,
                                        method=body.method, context=ctx)
    return delivery.to_dict()


@router.post("/sessions/code", status_code=201)
def login_with_code(body: LoginAnswerBody, request: Request, outofband: OutOfBandDep
                    ) -> dict[str, Any]:
    """Finish the login with the code (``code``) or the emoji picked in order
    (``emojis``); returns the token. A wrong answer may be retried while the code has
    ``attempts_left``."""
    ctx = request_context(request, channel=Channel.APP if body.channel == "app" else Channel.API)
    result = outofband.login(login_challenge=body.login_challenge, answer=body.answer(),
                             context=ctx)
    return {"token": result.token, "session": result.session.public_id,
            "account": result.session.account_id, "level": "otp"}


@router.post("/step-up/code/send", status_code=202)
def step_up_send_code(body: StepUpSendCodeBody, request: Request, session: ApiSessionDep,
                      outofband: OutOfBandDep) -> dict[str, Any]:
    """After a ``step_up_required`` answer listing ``email_otp``, ``sms_otp`` or
    ``emoji`` in its ``methods``: send the code (or emoji) for that ``action``."""
    delivery = outofband.send_for_step_up(session, method=body.method, action=body.action,
                                          context=_ctx(request, session))
    return delivery.to_dict()


@router.post("/step-up/code")
def step_up_code(body: AnswerBody, request: Request, session: ApiSessionDep,
                 outofband: OutOfBandDep) -> dict[str, Any]:
    """Confirm with the code or the emoji picked (level ``otp``); the session gets a new
    token: retry the original request with it."""
    token, fresh = outofband.step_up(session, _bearer(request), answer=body.answer(),
                                     context=_ctx(request, session))
    return {"token": token, "level": "otp",
            "authenticated_at": fresh.authenticated_at.isoformat()
            if fresh.authenticated_at else None}


@router.post("/step-up/totp")
def step_up_totp(body: CodeBody, request: Request, session: ApiSessionDep,
                 app: AuthenticatorAppDep) -> dict[str, Any]:
    """Confirm with an authenticator-app code (level ``otp``); the session gets a new
    token (use it for the retry)."""
    token, fresh = app.step_up(session, _bearer(request), code=body.code,
                               context=_ctx(request, session))
    return {"token": token, "level": "otp",
            "authenticated_at": fresh.authenticated_at.isoformat()
            if fresh.authenticated_at else None}


def _bearer(request: Request) -> str:
    return request.headers["authorization"].partition(" ")[2].strip()


@router.delete("/sessions/current", status_code=204)
def logout(request: Request, session: ApiSessionDep, identity: IdentityDep) -> None:
    identity.logout(_bearer(request), context=_ctx(request, session))


@router.get("/portfolio")
def portfolio(session: ApiSessionDep, broker: BrokerDep) -> dict[str, Any]:
    return broker.portfolio(session.account_id).to_dict()


@router.get("/symbols")
def symbols(broker: BrokerDep, _session: ApiSessionDep,
            q: Annotated[str, Query(min_length=1, max_length=40)]) -> list[dict[str, Any]]:
    return [s.to_interchange() for s in broker.search_symbols(q)]


@router.get("/quotes/{symbol}")
def quote(symbol: str, broker: BrokerDep, _session: ApiSessionDep) -> dict[str, Any]:
    return broker.quote(symbol).to_dict()


@router.post("/orders", status_code=201)
def place_order(body: OrderBody, request: Request, session: ApiSessionDep, broker: BrokerDep,
                check: OrderCheckApi, idempotency_key: IdemKey = None) -> JSONResponse:
    """Place a market or limit order. 201 with the order (``filled`` when executed at
    once, ``queued`` outside trading hours, ``open`` for a resting limit); 202
    ``action_held`` with the order (``held``) when the guard holds it for review."""
    limit = None if body.limit_price is None else str(body.limit_price)
    req = OrderRequest(symbol=body.symbol, side=body.side, quantity=body.quantity,
                       order_type=body.order_type, limit_price=limit)
    decision = check(broker.order_fields(req))
    outcome = broker.place_order(session.account_id, req, context=_ctx(request, session),
                                 idempotency_key=idempotency_key, hold=is_held(decision))
    return _answer_or_held(outcome, decision, "order")


@router.get("/orders")
def list_orders(session: ApiSessionDep, broker: BrokerDep,
                limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict[str, Any]]:
    return broker.orders(session.account_id, limit=limit)


@router.post("/orders/{order_id}/cancel",
             dependencies=[Depends(guarded_api(Action.CANCEL_ORDER))])
def cancel_order(order_id: str, request: Request, session: ApiSessionDep,
                 broker: BrokerDep) -> JSONResponse:
    return _answer(broker.cancel_order(session.account_id, order_id,
                                       context=_ctx(request, session)))


@router.get("/cash")
def cash(session: ApiSessionDep, broker: BrokerDep,
         limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    p = broker.portfolio(session.account_id)
    return {
        "cash_jpy": p.cash_yen, "reserved_jpy": p.reserved_yen, "available_jpy": p.available_yen,
        "movements": [{"ts": m.ts.isoformat(), "kind": m.kind, "amount_jpy": m.amount_yen,
                       "balance_after_jpy": m.balance_after_yen, "reference": m.reference}
                      for m in broker.cash_movements(session.account_id, limit=limit)],
    }


@router.post("/deposits", status_code=201,
             dependencies=[Depends(guarded_api(Action.DEPOSIT))])
def deposit(body: AmountBody, request: Request, session: ApiSessionDep, broker: BrokerDep,
            idempotency_key: IdemKey = None) -> JSONResponse:
    """Simulated deposit (the reference brokerage has no real bank link)."""
    return _answer(broker.deposit(session.account_id, body.amount_jpy,
                                  context=_ctx(request, session),
                                  idempotency_key=idempotency_key))


@router.post("/withdrawals", status_code=201)
def withdraw(body: AmountBody, request: Request, session: ApiSessionDep, broker: BrokerDep,
             check: WithdrawalCheckApi, idempotency_key: IdemKey = None) -> JSONResponse:
    """Withdraw to the registered bank account. 201 with the withdrawal; 202
    ``action_held`` with it (``held``) when the guard holds it for review."""
    decision = check(broker.withdrawal_fields(session.account_id, body.amount_jpy))
    outcome = broker.withdraw(session.account_id, body.amount_jpy,
                              context=_ctx(request, session),
                              idempotency_key=idempotency_key, hold=is_held(decision))
    return _answer_or_held(outcome, decision, "withdrawal")


@router.get("/bank-account")
def bank_account(session: ApiSessionDep, broker: BrokerDep) -> dict[str, Any]:
    bank = broker.bank_account(session.account_id)
    if bank is None:
        return {"bank_account": None}
    return {**bank, "usable_from": bank["usable_from"].isoformat(),
            "registered_at": bank["registered_at"].isoformat()}


@router.put("/bank-account", dependencies=[Depends(guarded_api(Action.BANK_ACCOUNT_CHANGE))])
def change_bank_account(body: BankBody, request: Request, session: ApiSessionDep,
                        broker: BrokerDep) -> dict[str, Any]:
    return broker.change_bank_account(
        session.account_id,
        BankDetails(body.bank_name, body.branch_code, body.number, body.holder),
        context=_ctx(request, session))


@router.get("/profile")
def profile(session: ApiSessionDep, identity: IdentityDep) -> dict[str, Any]:
    return identity.profile(session.customer_id)


@router.patch("/profile", dependencies=[Depends(guarded_api(Action.CONTACT_CHANGE))])
def change_profile(body: ProfileBody, request: Request, session: ApiSessionDep,
                   identity: IdentityDep) -> dict[str, Any]:
    if body.email is None and body.phone is None:
        raise InvalidInput("Send email or phone to change.", field="email")
    # Each field is its own change (own event, own notice) but the request as a whole
    # is checked first, so a bad phone does not leave a changed e-mail behind.
    if body.email is not None:
        validate_email(body.email)
    if body.phone is not None:
        validate_phone(body.phone)
    ctx = _ctx(request, session)
    if body.email is not None:
        identity.change_contact(session.customer_id, field="email", value=body.email, context=ctx)
    if body.phone is not None:
        identity.change_contact(session.customer_id, field="phone", value=body.phone, context=ctx)
    return identity.profile(session.customer_id)


# After DELETE /sessions/current, so that "current" is not taken for a session id.
@router.get("/sessions")
def list_sessions(session: ApiSessionDep, identity: IdentityDep) -> list[dict[str, Any]]:
    return [{"session": ws.public_id, "created_at": ws.created_at.isoformat(),
             "last_seen_at": ws.last_seen_at.isoformat(), "ip": ws.ip,
             "user_agent": ws.user_agent, "channel": ws.channel,
             "current": ws.public_id == session.public_id}
            for ws in identity.list_sessions(session.customer_id)]


@router.delete("/sessions/{public_id}", status_code=204)
def revoke_session(public_id: str, request: Request, session: ApiSessionDep,
                   identity: IdentityDep) -> None:
    identity.revoke_session(session.customer_id, public_id, context=_ctx(request, session))


@router.post("/sessions/revoke-all")
def logout_everywhere(request: Request, session: ApiSessionDep,
                      identity: IdentityDep) -> dict[str, int]:
    """Log out on every device, this one included."""
    return {"sessions_ended": identity.logout_everywhere(session.customer_id,
                                                         context=_ctx(request, session))}
