"""Every event kabuguard writes validates against the interchange schema
(shared/spec/events.schema.json, vendored in the package so a replay can use it)."""

from __future__ import annotations

import json
from datetime import timedelta
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from sqlalchemy import select

from factories.customers import PASSWORD, make_customer
from kabuguard.broker.interfaces import BankDetails, OrderRequest
from kabuguard.bus.models import OutboxEvent
from kabuguard.domain.events import Channel, RequestContext

SHARED = Path(__file__).resolve().parents[4] / "shared" / "spec" / "events.schema.json"


def _schema() -> dict:
    return json.loads(resources.files("kabuguard.domain").joinpath("events.schema.json")
                      .read_text(encoding="utf-8"))


def test_vendored_schema_matches_shared_spec():
    if not SHARED.exists():
        pytest.skip("shared/spec is not beside this checkout")
    assert json.loads(SHARED.read_text(encoding="utf-8")) == _schema()


def test_all_written_events_validate(services, clock):
    validator = Draft202012Validator(_schema(), format_checker=FormatChecker())
    ctx = RequestContext(ip="2001:db8::1", channel=Channel.APP, session="ses_x",
                         device="dev-0123456789abcdef", user_agent="KabuApp/1.0")
    account = make_customer(services, cash_yen=5_000_000, holdings={"6758": 100},
                            login_id="schema1")
    identity, broker = services.identity, services.broker
    identity.login_password(login_id="schema1", password=PASSWORD, context=ctx)
    with pytest.raises(Exception, match="incorrect"):
        identity.login_password(login_id="schema1", password="wrong-wrong", context=ctx)
    with pytest.raises(Exception, match="incorrect"):
        identity.login_password(login_id="nobody", password="wrong-wrong", context=ctx)
    broker.place_order(account, OrderRequest("7203", "buy", 100), context=ctx)
    broker.place_order(account, OrderRequest("6758", "sell", 100, "limit", "99999"), context=ctx)
    broker.place_order(account, OrderRequest("AAPL", "buy", 1, "limit", "180.25"), context=ctx)
    broker.deposit(account, 1_000, context=ctx)
    broker.withdraw(account, 1_000, context=ctx)
    broker.change_bank_account(account, BankDetails("A銀行", "123", "1234567", "X"), context=ctx)
    identity.change_contact(account, field="email", value="x@example.jp", context=ctx)
    clock.advance(timedelta(minutes=1))
    with services.db.read() as session:
        events = [json.loads(p) for p in session.execute(
            select(OutboxEvent.payload).order_by(OutboxEvent.seq)).scalars()]
    assert {e["type"] for e in events} >= {"login", "order", "deposit", "withdrawal",
                                           "bank_account_change", "contact_change"}
    for event in events:
        errors = sorted(validator.iter_errors(event), key=str)
        assert not errors, (event, [e.message for e in errors])
    assert len({e["id"] for e in events}) == len(events)
