from __future__ import annotations

from factories.customers import make_customer
from kabuguard.domain.events import RequestContext


def test_relay_publishes_committed_events_once_in_order(services):
    seen = []
    services.bus.subscribe(seen.append)
    account = make_customer(services, cash_yen=10_000)
    ctx = RequestContext(ip="192.0.2.1")
    services.broker.deposit(account, 1_000, context=ctx)
    services.broker.withdraw(account, 500, context=ctx)
    assert services.relay.relay_once() == 2
    assert services.relay.relay_once() == 0
    assert [e["type"] for e in seen] == ["deposit", "withdrawal"]
    assert seen[0]["account"] == account


def test_a_failing_subscriber_does_not_stop_others(services):
    seen = []

    def broken(_event):
        raise RuntimeError("boom")

    services.bus.subscribe(broken)
    services.bus.subscribe(seen.append)
    account = make_customer(services)
    services.broker.deposit(account, 1_000, context=RequestContext(ip="192.0.2.1"))
    services.relay.relay_once()
    assert len(seen) == 1
