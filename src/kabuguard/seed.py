"""Demo data: a few customers with cash, a bank account and holdings of well-known
and small-cap symbols, so the site has something to show on first start."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from kabuguard.broker.interfaces import BankDetails
from kabuguard.broker.models import Holding
from kabuguard.container import Services
from kabuguard.identity.models import Customer


@dataclass(frozen=True)
class DemoCustomer:
    account_id: str
    login_id: str
    password: str
    name: str
    email: str
    phone: str
    cash_yen: int
    holdings: tuple[tuple[str, int], ...]
    language: str = "ja"


DEMO_CUSTOMERS = (
    DemoCustomer("1000001", "hanako", "hanako-demo-2025", "山田 花子", "hanako@example.jp",
                 "09012345678", 3_000_000, (("7203", 300), ("6758", 100), ("AAPL", 20))),
    DemoCustomer("1000002", "taro", "taro-demo-2025", "鈴木 太郎", "taro@example.jp",
                 "08098765432", 12_500_000, (("8306", 1000), ("9984", 200), ("0700.HK", 200))),
    DemoCustomer("1000003", "emily", "emily-demo-2025", "Emily Carter", "emily@example.com",
                 "07011112222", 800_000, (("NVDA", 10),), language="en"),
)


def seed_demo(services: Services) -> list[DemoCustomer]:
    """Create the demo customers that are missing; existing ones are left alone, so
    seeding twice is harmless. Returns the customers created."""
    created = []
    with services.db.write() as session:
        existing = set(session.execute(select(Customer.login_id)).scalars())
        for demo in DEMO_CUSTOMERS:
            if demo.login_id in existing:
                continue
            services.identity.create_customer(
                session, customer_id=demo.account_id, login_id=demo.login_id,
                password=demo.password, name=demo.name, email=demo.email, phone=demo.phone,
                language=demo.language)
            session.flush()
            services.broker.open_account(
                session, account_id=demo.account_id, cash_yen=demo.cash_yen,
                bank=BankDetails("みずほ銀行", "101", f"12{demo.account_id[-5:]}",
                                 "ヤマダ ハナコ" if demo.login_id == "hanako" else demo.name))
            for code, qty in demo.holdings:
                sym = services.broker.symbol(code)
                cost = services.broker.to_yen(sym, sym.price_minor * qty)
                session.add(Holding(account_id=demo.account_id, symbol=sym.symbol,
                                    quantity=qty, reserved_qty=0, cost_yen=cost))
            services.journal.record_admin(
                session, ts=services.broker.clock(), actor="system", action="seed_holdings",
                subject=demo.account_id, payload={"holdings": [list(h) for h in demo.holdings]})
            created.append(demo)
    return created
