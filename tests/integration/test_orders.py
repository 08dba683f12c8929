"""Orders, idempotency and input validation through the broker service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from factories.customers import make_customer
from kabuguard.broker.interfaces import OrderRequest
from kabuguard.broker.models import Account, Execution, Holding, Order, Quote
from kabuguard.domain.errors import (
    IdempotencyConflict,
    InsufficientFunds,
    InvalidInput,
    UnknownAccount,
    UnknownSymbol,
)
from kabuguard.domain.events import RequestContext
from kabuguard.store.base import Base

CTX = RequestContext(ip="192.0.2.10")


def row_counts(services) -> dict[str, int]:
    with services.db.read() as session:
        return {t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


def test_market_buy_executes_and_moves_cash_and_holdings(services):
    broker = services.broker
    account = make_customer(services, cash_yen=5_000_000)
    before = broker.quote("7203")
    out = broker.place_order(account, OrderRequest("7203", "buy", 100), context=CTX)
    assert out.status_code == 201
    assert out.body["status"] == "filled"
    assert out.body["fill_amount_jpy"] == before.price_jpy * 100
    p = broker.portfolio(account)
    assert p.cash_yen == 5_000_000 - before.price_jpy * 100
    assert [(h.symbol, h.quantity) for h in p.holdings] == [("7203", 100)]


def test_retried_order_with_same_idempotency_key_executes_once(services):
    broker = services.broker
    account = make_customer(services, cash_yen=5_000_000)
    req = OrderRequest("6758", "buy", 100)
    first = broker.place_order(account, req, context=CTX, idempotency_key="retry-key-0001")
    second = broker.place_order(account, req, context=CTX, idempotency_key="retry-key-0001")
    assert second.replayed and not first.replayed
    assert second.body == first.body
    with services.db.read() as session:
        assert session.execute(select(func.count()).select_from(Order)).scalar_one() == 1
        assert session.execute(select(func.count()).select_from(Execution)).scalar_one() == 1
    with pytest.raises(IdempotencyConflict):
        broker.place_order(account, OrderRequest("6758", "buy", 200), context=CTX,
                           idempotency_key="retry-key-0001")


@pytest.mark.parametrize(("req", "error"), [
    (OrderRequest("ZZZZ", "buy", 100), UnknownSymbol),
    (OrderRequest("7203", "buy", 0), InvalidInput),
    (OrderRequest("7203", "buy", -100), InvalidInput),
    (OrderRequest("7203", "buy", 150), InvalidInput),  # not a multiple of the 100-share lot
    (OrderRequest("7203", "hold", 100), InvalidInput),
    (OrderRequest("7203", "buy", 100, "stop"), InvalidInput),
    (OrderRequest("7203", "buy", 100, "limit", None), InvalidInput),
    (OrderRequest("7203", "buy", 100, "limit", "abc"), InvalidInput),
    (OrderRequest("7203", "buy", 100, "limit", "-5"), InvalidInput),
    (OrderRequest("7203", "buy", 100, "limit", "1000.5"), InvalidInput),  # yen has no decimals
    (OrderRequest("7203", "buy", 100, "market", "1000"), InvalidInput),
    (OrderRequest("7203", "buy", 10**9), InvalidInput),
    (OrderRequest("7203", "buy", 10_000), InsufficientFunds),
    (OrderRequest("7203", "buy", 1_000_000), InvalidInput),  # above the online maximum
])
def test_invalid_orders_are_refused_and_write_nothing(services, req, error):
    account = make_customer(services, cash_yen=100_000)
    before = row_counts(services)
    with pytest.raises(error) as info:
        services.broker.place_order(account, req, context=CTX)
    assert 400 <= info.value.status < 500
    assert info.value.message
    assert row_counts(services) == before


def test_unknown_account_is_404_and_writes_nothing(services):
    before = row_counts(services)
    with pytest.raises(UnknownAccount) as info:
        services.broker.place_order("9999999", OrderRequest("7203", "buy", 100), context=CTX)
    assert info.value.status == 404
    with pytest.raises(UnknownAccount):
        services.broker.withdraw("9999999", 1000, context=CTX)
    assert row_counts(services) == before


def test_sell_more_than_held_is_refused(services):
    account = make_customer(services, holdings={"6758": 100})
    with pytest.raises(Exception, match="Not enough 6758 shares"):
        services.broker.place_order(account, OrderRequest("6758", "sell", 200), context=CTX)


def test_illiquid_buy_lifts_price_and_liquid_barely_moves(services):
    broker = services.broker
    micro = next(s for s in broker.symbols.values()
                 if s.market.startswith("TSE") and 100 <= s.price_minor <= 500
                 and s.adv_shares <= 20_000)
    account = make_customer(services, cash_yen=200_000_000)
    p0 = broker.quote(micro.symbol).price_minor
    qty = micro.adv_shares * 3 // micro.lot_size * micro.lot_size
    broker.place_order(account, OrderRequest(micro.symbol, "buy", qty), context=CTX)
    p1 = broker.quote(micro.symbol).price_minor
    assert p1 >= p0 * 1.10
    big0 = broker.quote("7203").price_minor
    yen = p0 * qty
    big_qty = max(100, yen // big0 // 100 * 100)
    broker.place_order(account, OrderRequest("7203", "buy", big_qty), context=CTX)
    assert abs(broker.quote("7203").price_minor - big0) / big0 < 0.001


def test_queued_order_executes_when_market_opens(services, clock):
    broker = services.broker
    broker.always_open = False
    account = make_customer(services, cash_yen=5_000_000)
    # Tuesday 10:00 JST: New York is closed; AAPL queues and reserves cash.
    out = broker.place_order(account, OrderRequest("AAPL", "buy", 10), context=CTX)
    assert out.body["status"] == "queued"
    with services.db.read() as session:
        assert session.get(Account, account).reserved_yen > 0
    assert broker.run_due_orders() == 0
    clock.advance(timedelta(hours=14))  # 00:00 JST Wednesday = 10:00 New York (April, DST)
    assert broker.run_due_orders() == 1
    with services.db.read() as session:
        acct = session.get(Account, account)
        order = session.get(Order, out.body["id"])
        holding = session.get(Holding, (account, "AAPL"))
    assert order.status == "filled"
    assert acct.reserved_yen == 0
    assert holding.quantity == 10


def test_limit_order_rests_until_marketable_and_can_be_cancelled(services):
    broker = services.broker
    account = make_customer(services, cash_yen=5_000_000)
    q = broker.quote("7203")
    low = q.price_minor // 2
    out = broker.place_order(account, OrderRequest("7203", "buy", 100, "limit", str(low)),
                             context=CTX)
    assert out.body["status"] == "open"
    assert broker.portfolio(account).reserved_yen == low * 100
    cancelled = broker.cancel_order(account, out.body["id"], context=CTX)
    assert cancelled.body["status"] == "cancelled"
    assert broker.portfolio(account).reserved_yen == 0
    with services.db.read() as session:
        assert session.get(Quote, "7203") is not None
