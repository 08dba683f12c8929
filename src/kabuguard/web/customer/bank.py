"""出金先口座: the registered withdrawal account and its change.

A new account receives money only after the cooling-off period: the page says so
before the change and shows the date after it, so that a customer whose account was
changed by someone else has time to notice (the notice of the change) and call.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.broker.interfaces import BankDetails
from kabuguard.broker.services import BrokerService
from kabuguard.domain.errors import KabuguardError
from kabuguard.guard.actions import Action
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.web.customer.display import cooling_off_hours
from kabuguard.web.customer.forms import (
    error_field,
    error_text,
    normalize_text,
    notice_text,
)
from kabuguard.web.deps import BrokerDep, LangDep, WebSessionDep
from kabuguard.web.guarding import guarded_web
from kabuguard.web.security import check_csrf, request_context
from kabuguard.web.templating import render

router = APIRouter(include_in_schema=False)

NOTICES = {"changed": "bank.notice_changed"}


@router.get("/bank")
def bank_page(request: Request, session: WebSessionDep, broker: BrokerDep, lang: LangDep,
              notice: str = "") -> Response:
    return _render_bank(request, broker, session, lang,
                        notice=notice_text(notice, NOTICES, lang))


@router.post("/bank", dependencies=[Depends(guarded_web(Action.BANK_ACCOUNT_CHANGE))])
def change_bank(request: Request, session: WebSessionDep, broker: BrokerDep, lang: LangDep,
                csrf_token: Annotated[str, Form(max_length=200)] = "",
                bank_name: Annotated[str, Form(max_length=80)] = "",
                branch_code: Annotated[str, Form(max_length=10)] = "",
                number: Annotated[str, Form(max_length=20)] = "",
                holder: Annotated[str, Form(max_length=80)] = "") -> Response:
    check_csrf(session.csrf_token, csrf_token)
    details = BankDetails(bank_name=normalize_text(bank_name),
                          branch_code=normalize_text(branch_code).replace("-", ""),
                          number=normalize_text(number).replace("-", ""),
                          holder=normalize_text(holder))
    try:
        broker.change_bank_account(session.account_id, details,
                                   context=request_context(request, session=session.public_id))
    except KabuguardError as exc:
        # The account number is not echoed back into the page.
        form = {"bank_name": bank_name, "branch_code": branch_code, "holder": holder}
        return _render_bank(request, broker, session, lang, form=form,
                            error=error_text(exc, lang), field=error_field(exc),
                            status_code=exc.status)
    return RedirectResponse("/bank?notice=changed", status_code=303)


def _render_bank(request: Request, broker: BrokerService, session: SessionInfo, lang: str, *,
                 notice: str | None = None, form: dict[str, str] | None = None,
                 error: str | None = None, field: str | None = None,
                 status_code: int = 200) -> Response:
    now = broker.clock()
    bank = broker.bank_account(session.account_id)
    return render(
        request, "customer/bank.html", lang=lang, status_code=status_code, bank=bank,
        cooling_off=bank is not None and now < bank["usable_from"],
        cooling_off_hours=cooling_off_hours(broker.bank_cooling_off),
        new_usable_from=now + broker.bank_cooling_off, notice=notice,
        form=form or {}, error=error, field=field, csrf_token=session.csrf_token)
