"""Create customers with accounts for tests."""

from __future__ import annotations

import itertools

from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from kabuguard.broker.interfaces import BankDetails
from kabuguard.broker.models import Holding
from kabuguard.container import Services
from kabuguard.identity.passwords import PasswordService

_ids = itertools.count(2_000_001)
# Fast argon2id for tests that create many customers; the production parameters are
# tested in tests/unit/identity.
FAST_PASSWORDS = PasswordService(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
PASSWORD = "correct-horse-battery"


def make_customer(services: Services, *, cash_yen: int = 1_000_000,
                  holdings: dict[str, int] | None = None, login_id: str | None = None,
                  password: str = PASSWORD) -> str:
    """A customer with an account, a usable bank account and optional holdings; returns
    the account id (which is also the customer id)."""
    account_id = str(next(_ids))
    with services.db.write() as session:
        services.identity.create_customer(
            session, customer_id=account_id, login_id=login_id or f"user{account_id}",
            password=password, name=f"Test {account_id}", email=f"u{account_id}@example.jp",
            phone="09000000000")
        session.flush()
        services.broker.open_account(session, account_id=account_id, cash_yen=cash_yen,
                                     bank=BankDetails("テスト銀行", "001", "1234567", "テスト"))
        _add_holdings(session, services, account_id, holdings or {})
    return account_id


def _add_holdings(session: Session, services: Services, account_id: str,
                  holdings: dict[str, int]) -> None:
    for code, qty in holdings.items():
        sym = services.broker.symbol(code)
        session.add(Holding(account_id=account_id, symbol=sym.symbol, quantity=qty,
                            reserved_qty=0, cost_yen=services.broker.to_yen(sym, sym.price_minor * qty)))
