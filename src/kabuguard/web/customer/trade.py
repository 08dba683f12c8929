"""The trade page: symbol search, the live quote, and the order form.

The estimated cost is shown by ``site.js`` as the customer types; the broker computes
and checks the real amount when the order arrives, so nothing here is trusted from
the browser but the customer's intent.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote as urlquote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse
from starlette.responses import RedirectResponse, Response

from kabuguard.broker.interfaces import OrderRequest, QuoteView
from kabuguard.broker.services import BrokerService
from kabuguard.domain.errors import KabuguardError, UnknownSymbol
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.web.customer.forms import (
    error_field,
    error_text,
    new_form_key,
    normalize_number,
    normalize_text,
    parse_whole,
)
from kabuguard.web.deps import BrokerDep, LangDep, WebSessionDep
from kabuguard.web.guarding import OrderCheckWeb, is_held
from kabuguard.web.i18n import format_jst, format_price
from kabuguard.web.security import check_csrf, request_context
from kabuguard.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/trade")
def trade_page(request: Request, session: WebSessionDep, broker: BrokerDep, lang: LangDep,
               symbol: Annotated[str, Query(max_length=20)] = "",
               q: Annotated[str, Query(max_length=40)] = "") -> Response:
    return _render_trade(request, broker, session, lang, symbol=normalize_text(symbol),
                         query=normalize_text(q), form=None)


@router.post("/trade")
def trade_submit(
    request: Request, session: WebSessionDep, broker: BrokerDep, lang: LangDep,
    check: OrderCheckWeb,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    symbol: Annotated[str, Form(max_length=20)] = "",
    side: Annotated[str, Form(max_length=10)] = "",
    order_type: Annotated[str, Form(max_length=10)] = "market",
    quantity: Annotated[str, Form(max_length=30)] = "",
    limit_price: Annotated[str, Form(max_length=30)] = "",
    idempotency_key: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    check_csrf(session.csrf_token, csrf_token)
    form = {"side": side, "order_type": order_type, "quantity": quantity,
            "limit_price": limit_price}
    try:
        req = OrderRequest(
            symbol=normalize_text(symbol), side=side,
            quantity=parse_whole(quantity, field="quantity"), order_type=order_type,
            # A market order ignores a price left in the (then hidden) limit field.
            limit_price=normalize_number(limit_price) if order_type == "limit" else None)
        fields = broker.order_fields(req)
    except KabuguardError as exc:
        return _render_trade(request, broker, session, lang, symbol=normalize_text(symbol),
                             query="", form=form, error=error_text(exc, lang),
                             field=error_field(exc), status_code=exc.status)
    # Outside the try: the guard's answers (a step-up page carrying this form, a
    # refusal) are web/errors.py's, not the form's.
    decision = check(fields)
    try:
        outcome = broker.place_order(
            session.account_id, req,
            context=request_context(request, session=session.public_id),
            idempotency_key=idempotency_key or None, hold=is_held(decision))
    except KabuguardError as exc:
        return _render_trade(request, broker, session, lang, symbol=normalize_text(symbol),
                             query="", form=form, error=error_text(exc, lang),
                             field=error_field(exc), status_code=exc.status)
    notice = "held" if outcome.status_code == 202 else "placed"
    return RedirectResponse(f"/orders/{urlquote(outcome.body['id'], safe='')}?notice={notice}",
                            status_code=303)


@router.get("/quote/{symbol}")
def quote_json(symbol: str, session: WebSessionDep, broker: BrokerDep,
               lang: LangDep) -> JSONResponse:
    """The live quote the trade page polls (``site.js``): ``QuoteView.to_dict()`` plus
    the price and next opening already formatted for the customer."""
    del session  # only logged-in customers see quotes; the dependency checks that
    try:
        view = broker.quote(symbol)
    except UnknownSymbol as exc:
        return JSONResponse(exc.to_dict(), status_code=exc.status)
    return JSONResponse({**view.to_dict(), **_quote_display(view, lang)},
                        headers={"Cache-Control": "no-store"})


def _quote_display(view: QuoteView, lang: str) -> dict[str, Any]:
    return {
        "price_display": format_price(view.price_minor, view.minor_per_unit, view.currency),
        "next_open_display": format_jst(view.next_open, lang),
    }


def _render_trade(request: Request, broker: BrokerService, session: SessionInfo, lang: str,
                  *, symbol: str, query: str, form: dict[str, str] | None,
                  error: str | None = None, field: str | None = None,
                  status_code: int = 200) -> Response:
    # Each match with its current price, not the symbol master's reference price.
    results = [(sym, broker.quote(sym.symbol)) for sym in broker.search_symbols(query)] \
        if query else []
    view = None
    if symbol:
        try:
            view = broker.quote(symbol)
        except UnknownSymbol as exc:
            error = error or error_text(exc, lang)
            field = field or "symbol"
            status_code = max(status_code, exc.status)
    portfolio = broker.portfolio(session.account_id)
    holding = next((h for h in portfolio.holdings if view and h.symbol == view.symbol), None)
    if form is None:
        form = {"side": "buy", "order_type": "market",
                "quantity": str(view.lot_size) if view else "", "limit_price": ""}
    fx_rate = broker.fx_rate(view.currency) if view else Decimal(1)
    return render(
        request, "customer/trade.html", lang=lang, status_code=status_code,
        query=query, symbol=symbol, results=results, quote=view, holding=holding,
        portfolio=portfolio, form=form, error=error, field=field, fx_rate=fx_rate,
        estimate_yen=_estimate_yen(view, form, fx_rate),
        display=_quote_display(view, lang) if view else None,
        csrf_token=session.csrf_token, idempotency_key=new_form_key(),
    )


def _estimate_yen(view: QuoteView | None, form: dict[str, str], fx_rate: Decimal) -> int | None:
    """The server's own estimate for the form as shown: quantity times the limit (for
    a limit order) or the current price, in yen. None when the input is not usable."""
    if view is None:
        return None
    try:
        qty = int(normalize_number(form.get("quantity", "")))
        if form.get("order_type") == "limit":
            unit_price = Decimal(normalize_number(form.get("limit_price", "")))
        else:
            unit_price = Decimal(view.price_minor) / view.minor_per_unit
    except (ValueError, InvalidOperation):
        return None
    if qty <= 0 or not unit_price.is_finite() or unit_price <= 0:
        return None
    return int(unit_price * qty * fx_rate)
