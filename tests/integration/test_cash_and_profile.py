"""Deposits, withdrawals, the bank-account cooling-off, contacts encrypted at rest."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from factories.customers import make_customer
from kabuguard.broker.interfaces import BankDetails
from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.errors import CoolingOff, InsufficientFunds, InvalidInput
from kabuguard.domain.events import RequestContext

CTX = RequestContext(ip="192.0.2.10", device="dev-test-0000000001", user_agent="pytest")
NEW_BANK = BankDetails("三井住友銀行", "250", "7654321", "ヤマダ ハナコ")


def test_withdrawal_goes_to_registered_account(services):
    account = make_customer(services, cash_yen=100_000)
    out = services.broker.withdraw(account, 30_000, context=CTX)
    assert out.status_code == 201
    assert out.body["cash_jpy"] == 70_000
    with pytest.raises(InsufficientFunds):
        services.broker.withdraw(account, 70_001, context=CTX)


@pytest.mark.parametrize("amount", [0, -1, 10**12, True, 1.5, "100"])
def test_bad_amounts_are_refused(services, amount):
    account = make_customer(services, cash_yen=100_000)
    with pytest.raises(InvalidInput):
        services.broker.withdraw(account, amount, context=CTX)
    with pytest.raises(InvalidInput):
        services.broker.deposit(account, amount, context=CTX)
    assert services.broker.portfolio(account).cash_yen == 100_000


def test_new_bank_account_has_cooling_off(services, clock):
    account = make_customer(services, cash_yen=100_000)
    changed = services.broker.change_bank_account(account, NEW_BANK, context=CTX)
    assert changed["number_masked"] == "***4321"
    with pytest.raises(CoolingOff) as info:
        services.broker.withdraw(account, 1_000, context=CTX)
    assert info.value.status == 409
    clock.advance(timedelta(hours=71, minutes=59))
    with pytest.raises(CoolingOff):
        services.broker.withdraw(account, 1_000, context=CTX)
    clock.advance(timedelta(minutes=1))
    assert services.broker.withdraw(account, 1_000, context=CTX).status_code == 201


@pytest.mark.parametrize("bank", [
    BankDetails("", "250", "7654321", "A"),
    BankDetails("X銀行", "25", "7654321", "A"),
    BankDetails("X銀行", "250", "765432", "A"),
    BankDetails("X銀行", "250", "76543210", "A"),
    BankDetails("X銀行", "250", "7654321", " "),
])
def test_bad_bank_details_are_refused(services, bank):
    account = make_customer(services)
    before = services.broker.bank_account(account)
    with pytest.raises(InvalidInput):
        services.broker.change_bank_account(account, bank, context=CTX)
    assert services.broker.bank_account(account) == before


def test_personal_data_is_encrypted_at_rest(services):
    account = make_customer(services)
    services.broker.change_bank_account(account, NEW_BANK, context=CTX)
    services.identity.change_contact(account, field="email", value="new.addr@example.jp",
                                     context=CTX)
    services.identity.change_contact(account, field="phone", value="080-5555-6666",
                                     context=CTX)
    assert services.identity.profile(account)["email"] == "new.addr@example.jp"
    assert services.identity.profile(account)["phone"] == "08055556666"
    with services.db.read() as session:
        dump = " ".join(
            str(row) for table in ("customers", "bank_accounts", "outbox", "audit_log")
            for row in session.execute(text(f"SELECT * FROM {table}")).all()
        )
    for secret in ("7654321", "new.addr@example.jp", "08055556666", "ヤマダ ハナコ"):
        assert secret not in dump


def test_every_change_writes_an_interchange_event(services):
    account = make_customer(services, cash_yen=100_000)
    services.broker.deposit(account, 5_000, context=CTX)
    services.broker.withdraw(account, 1_000, context=CTX)
    services.broker.change_bank_account(account, NEW_BANK, context=CTX)
    with services.db.read() as session:
        events = [json.loads(p) for p in session.execute(
            select(OutboxEvent.payload).order_by(OutboxEvent.seq)).scalars()]
    types = [e["type"] for e in events]
    assert types == ["deposit", "withdrawal", "bank_account_change"]
    common = {"id", "ts", "type", "account", "session", "channel", "ip", "device", "user_agent"}
    for event in events:
        assert common <= event.keys()
        assert event["ts"].endswith("+09:00")
    assert events[1]["amount_jpy"] == 1_000
    assert events[1]["bank_account"].startswith("bank_")
