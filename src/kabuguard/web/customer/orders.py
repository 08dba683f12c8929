"""Order and execution history (注文照会), one order's confirmation, cancellation."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote as urlquote

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.broker.market import MINOR_PER_UNIT, Currency
from kabuguard.broker.services import BrokerService
from kabuguard.domain.errors import KabuguardError, UnknownSymbol
from kabuguard.guard.actions import Action
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.web.customer.display import CANCELLABLE
from kabuguard.web.customer.forms import error_text, notice_text
from kabuguard.web.deps import BrokerDep, LangDep, WebSessionDep
from kabuguard.web.guarding import guarded_web
from kabuguard.web.i18n import format_price
from kabuguard.web.security import check_csrf, request_context
from kabuguard.web.templating import render

router = APIRouter(include_in_schema=False)

HISTORY_LIMIT = 200
# The broker has no single-order lookup yet; the confirmation page finds the order
# among the account's latest ones (an order just placed is always among them).
NOTICES = {"placed": "orders.notice_placed", "cancelled": "orders.notice_cancelled",
           "held": "orders.notice_held"}


@router.get("/orders")
def orders_page(request: Request, session: WebSessionDep, broker: BrokerDep,
                lang: LangDep) -> Response:
    return _render_orders(request, broker, session, lang)


@router.get("/orders/{order_id}")
def order_page(order_id: str, request: Request, session: WebSessionDep, broker: BrokerDep,
               lang: LangDep, notice: str = "") -> Response:
    order = _find_order(broker, session.account_id, order_id)
    next_open = None
    if order["status"] == "queued":
        try:
            next_open = broker.quote(order["symbol"]).next_open
        except UnknownSymbol:  # a delisted symbol: the order will be rejected
            next_open = None
    return render(
        request, "customer/order.html", lang=lang, order=order, next_open=next_open,
        cancellable=order["status"] in CANCELLABLE, csrf_token=session.csrf_token,
        notice=notice_text(notice, NOTICES, lang))


@router.post("/orders/{order_id}/cancel",
             dependencies=[Depends(guarded_web(Action.CANCEL_ORDER))])
def cancel_order(order_id: str, request: Request, session: WebSessionDep, broker: BrokerDep,
                 lang: LangDep,
                 csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(session.csrf_token, csrf_token)
    try:
        broker.cancel_order(session.account_id, order_id,
                            context=request_context(request, session=session.public_id))
    except KabuguardError as exc:
        return _render_orders(request, broker, session, lang, error=error_text(exc, lang),
                              status_code=exc.status)
    return RedirectResponse(f"/orders/{urlquote(order_id, safe='')}?notice=cancelled",
                            status_code=303)


def _find_order(broker: BrokerService, account_id: str, order_id: str) -> dict[str, Any]:
    return with_display(broker.order(account_id, order_id))


def with_display(order: dict[str, Any]) -> dict[str, Any]:
    """The order with its limit and fill prices written in its currency.

    >>> with_display({"currency": "USD", "limit_price": 230.1, "fill_price": None})["limit_display"]
    '$230.10'
    """
    unit = MINOR_PER_UNIT.get(Currency(order["currency"]), 1)

    def shown(value: float | None) -> str | None:
        if value is None:
            return None
        return format_price(round(value * unit), unit, order["currency"])

    return {**order, "limit_display": shown(order["limit_price"]),
            "fill_display": shown(order["fill_price"])}


def _render_orders(request: Request, broker: BrokerService, session: SessionInfo, lang: str,
                   *, error: str | None = None, status_code: int = 200) -> Response:
    orders = [with_display(o) for o in broker.orders(session.account_id, limit=HISTORY_LIMIT)]
    fills = [o for o in orders if o["status"] == "filled"]
    return render(
        request, "customer/orders.html", lang=lang, status_code=status_code, orders=orders,
        fills=fills, cancellable=CANCELLABLE, csrf_token=session.csrf_token, error=error)
