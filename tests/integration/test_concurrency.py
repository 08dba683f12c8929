"""50 concurrent withdrawals and buys against one account never overdraw or oversell,
on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from factories.customers import make_customer
from kabuguard.broker.interfaces import OrderRequest
from kabuguard.broker.models import (
    Account,
    CashMovement,
    Execution,
    Holding,
    Order,
    Withdrawal,
)
from kabuguard.domain.errors import InsufficientFunds, InsufficientHoldings
from kabuguard.domain.events import RequestContext

CTX = RequestContext(ip="192.0.2.10")


def _run_all(jobs):
    def wrap(job):
        try:
            return ("ok", job())
        except (InsufficientFunds, InsufficientHoldings) as exc:
            return ("refused", exc)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(wrap, jobs))


def test_concurrent_withdrawals_and_buys_never_overdraw(services):
    broker = services.broker
    sym = broker.symbol("7203")
    price_yen = broker.quote("7203").price_jpy
    # Cash for roughly half of what the 50 requests together ask for.
    withdrawal = 40_000
    buy_cost = price_yen * 100
    demand = 25 * withdrawal + 25 * buy_cost
    start_cash = demand // 2
    account = make_customer(services, cash_yen=start_cash)
    jobs = []
    for i in range(50):
        if i % 2:
            jobs.append(lambda: broker.withdraw(account, withdrawal, context=CTX))
        else:
            jobs.append(lambda: broker.place_order(
                account, OrderRequest(sym.symbol, "buy", 100), context=CTX))
    results = _run_all(jobs)
    ok = [r for r in results if r[0] == "ok"]
    refused = [r for r in results if r[0] == "refused"]
    assert ok and refused, "the test must push the account past its cash"
    with services.db.read() as session:
        acct = session.get(Account, account)
        withdrawn = session.execute(select(func.coalesce(func.sum(Withdrawal.amount_yen), 0))
                                    .where(Withdrawal.account_id == account)).scalar_one()
        bought = session.execute(select(func.coalesce(func.sum(Execution.amount_yen), 0))
                                 .where(Execution.account_id == account)).scalar_one()
        ledger = session.execute(select(func.sum(CashMovement.amount_yen))
                                 .where(CashMovement.account_id == account)).scalar_one()
        holding = session.get(Holding, (account, sym.symbol))
        n_exec = session.execute(select(func.count()).select_from(Execution)
                                 .where(Execution.account_id == account)).scalar_one()
    assert acct.cash_yen >= 0
    assert acct.cash_yen == start_cash - withdrawn - bought == ledger
    assert holding.quantity == 100 * n_exec
    assert len(ok) == n_exec + session_count_withdrawals(services, account)


def session_count_withdrawals(services, account):
    with services.db.read() as session:
        return session.execute(select(func.count()).select_from(Withdrawal)
                               .where(Withdrawal.account_id == account)).scalar_one()


def test_concurrent_sells_never_oversell(services):
    broker = services.broker
    account = make_customer(services, cash_yen=0, holdings={"6758": 1000})
    jobs = [lambda: broker.place_order(account, OrderRequest("6758", "sell", 100), context=CTX)
            for _ in range(50)]
    results = _run_all(jobs)
    assert sum(1 for r in results if r[0] == "ok") == 10
    assert all(isinstance(r[1], InsufficientHoldings) for r in results if r[0] == "refused")
    with services.db.read() as session:
        holding = session.get(Holding, (account, "6758"))
        acct = session.get(Account, account)
    assert holding.quantity == 0
    assert holding.reserved_qty == 0
    assert acct.cash_yen > 0


def test_concurrent_queued_buys_never_over_reserve(services):
    """Orders queued while the market is closed reserve cash; reservations never
    exceed the cash, whatever the interleaving."""
    broker = services.broker
    broker.always_open = False  # the pinned clock is a Tuesday 10:00 JST ...
    account = make_customer(services, cash_yen=2_000_000)
    # ... when the New York market is closed, so US orders queue.
    jobs = [lambda: broker.place_order(account, OrderRequest("AAPL", "buy", 10), context=CTX)
            for _ in range(50)]
    results = _run_all(jobs)
    with services.db.read() as session:
        acct = session.get(Account, account)
    assert acct.reserved_yen <= acct.cash_yen == 2_000_000
    queued = [r[1] for r in results if r[0] == "ok"]
    assert queued and all(o.body["status"] == "queued" for o in queued)
    with services.db.read() as session:
        reserved = session.execute(select(func.sum(Order.reserved_yen))
                                   .where(Order.account_id == account)).scalar_one()
    assert reserved == acct.reserved_yen
