"""入出金: balances, the demo deposit, withdrawal to the registered bank account and
the cash ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.broker.services import BrokerService
from kabuguard.domain.errors import KabuguardError
from kabuguard.guard.actions import Action
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.web.customer.forms import (
    error_text,
    new_form_key,
    notice_text,
    parse_whole,
)
from kabuguard.web.deps import BrokerDep, LangDep, WebSessionDep
from kabuguard.web.guarding import WithdrawalCheckWeb, guarded_web, is_held
from kabuguard.web.security import check_csrf, request_context
from kabuguard.web.templating import render

router = APIRouter(include_in_schema=False)

LEDGER_LIMIT = 100
NOTICES = {"deposited": "cash.notice_deposited", "withdrawn": "cash.notice_withdrawn",
           "withdrawal_held": "cash.notice_withdrawal_held"}


@router.get("/cash")
def cash_page(request: Request, session: WebSessionDep, broker: BrokerDep, lang: LangDep,
              notice: str = "") -> Response:
    return _render_cash(request, broker, session, lang,
                        notice=notice_text(notice, NOTICES, lang))


@router.post("/cash/deposit", dependencies=[Depends(guarded_web(Action.DEPOSIT))])
def deposit(request: Request, session: WebSessionDep, broker: BrokerDep, lang: LangDep,
            csrf_token: Annotated[str, Form(max_length=200)] = "",
            amount_jpy: Annotated[str, Form(max_length=30)] = "",
            idempotency_key: Annotated[str, Form(max_length=100)] = "") -> Response:
    """A simulated deposit: the reference brokerage has no bank link, so this stands
    in for the customer's bank transfer arriving."""
    check_csrf(session.csrf_token, csrf_token)
    try:
        broker.deposit(session.account_id, parse_whole(amount_jpy, field="amount_jpy"),
                       context=request_context(request, session=session.public_id),
                       idempotency_key=idempotency_key or None)
    except KabuguardError as exc:
        return _render_cash(request, broker, session, lang, deposit_error=error_text(exc, lang),
                            deposit_amount=amount_jpy, status_code=exc.status)
    return RedirectResponse("/cash?notice=deposited", status_code=303)


@router.post("/cash/withdraw")
def withdraw(request: Request, session: WebSessionDep, broker: BrokerDep, lang: LangDep,
             check: WithdrawalCheckWeb,
             csrf_token: Annotated[str, Form(max_length=200)] = "",
             amount_jpy: Annotated[str, Form(max_length=30)] = "",
             idempotency_key: Annotated[str, Form(max_length=100)] = "") -> Response:
    check_csrf(session.csrf_token, csrf_token)
    try:
        amount = parse_whole(amount_jpy, field="amount_jpy")
        fields = broker.withdrawal_fields(session.account_id, amount)
    except KabuguardError as exc:
        return _withdraw_error(request, broker, session, lang, exc, amount_jpy)
    decision = check(fields)  # the guard's answers are web/errors.py's
    try:
        outcome = broker.withdraw(session.account_id, amount,
                                  context=request_context(request, session=session.public_id),
                                  idempotency_key=idempotency_key or None,
                                  hold=is_held(decision))
    except KabuguardError as exc:
        return _withdraw_error(request, broker, session, lang, exc, amount_jpy)
    notice = "withdrawal_held" if outcome.status_code == 202 else "withdrawn"
    return RedirectResponse(f"/cash?notice={notice}", status_code=303)


def _withdraw_error(request: Request, broker: BrokerService, session: SessionInfo, lang: str,
                    exc: KabuguardError, amount_jpy: str) -> Response:
    return _render_cash(request, broker, session, lang,
                        withdraw_error=error_text(exc, lang), withdraw_amount=amount_jpy,
                        withdraw_error_code=exc.code, status_code=exc.status)


def _render_cash(request: Request, broker: BrokerService, session: SessionInfo, lang: str, *,
                 notice: str | None = None, deposit_error: str | None = None,
                 withdraw_error: str | None = None, deposit_amount: str = "",
                 withdraw_amount: str = "", withdraw_error_code: str | None = None,
                 status_code: int = 200) -> Response:
    bank = broker.bank_account(session.account_id)
    now = broker.clock()
    return render(
        request, "customer/cash.html", lang=lang, status_code=status_code,
        portfolio=broker.portfolio(session.account_id), bank=bank,
        cooling_off=bank is not None and now < bank["usable_from"],
        movements=broker.cash_movements(session.account_id, limit=LEDGER_LIMIT),
        notice=notice, deposit_error=deposit_error, withdraw_error=withdraw_error,
        deposit_amount=deposit_amount, withdraw_amount=withdraw_amount,
        withdraw_error_code=withdraw_error_code,
        csrf_token=session.csrf_token, idempotency_key=new_form_key(),
        deposit_key=new_form_key())
