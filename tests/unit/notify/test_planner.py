"""The journal's listener: which notices an event queues, in the event's transaction."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from sqlalchemy import select, text

from factories.customers import make_customer
from kabuguard.domain.events import Channel, Event, EventType, RequestContext
from kabuguard.domain.netinfo import IpRanges
from kabuguard.notify.models import Notice
from kabuguard.notify.planner import NoticePlanner
from kabuguard.settings import ConfigError, load_settings


def _notices(services, account):
    with services.db.read() as session:
        return list(session.scalars(select(Notice).where(Notice.customer_id == account)
                                    .order_by(Notice.created_at, Notice.id)))


def test_the_previous_email_is_told_and_stored_nowhere_in_clear(services):
    account = make_customer(services)
    old = f"u{account}@example.jp"
    services.identity.change_contact(account, field="email", value="fresh@example.jp",
                                     context=RequestContext(ip="192.0.2.1"))
    notices = _notices(services, account)
    assert sorted(services.notifier.decode(n)[0] for n in notices) == sorted(
        [old, "fresh@example.jp"])
    assert {services.notifier.decode(n)[1]["field"] for n in notices} == {"email"}
    with services.db.read() as session:
        for table in ("audit_log", "outbox", "notices"):
            dump = " ".join(str(row) for row in session.execute(text(f"SELECT * FROM {table}")))
            assert old not in dump, table


def test_an_event_seen_twice_queues_its_notices_once(services, clock):
    account = make_customer(services)
    event = Event("evt_fixed_1", clock(), EventType.WITHDRAWAL, account,
                  RequestContext(ip="192.0.2.1"), {"amount_jpy": 5_000})
    planner = NoticePlanner(services.notifier, ip_ranges=services.ip_ranges)
    for _ in range(2):  # a relay that delivers at least once
        with services.db.write() as session:
            planner(session, event, {})
    [notice] = _notices(services, account)
    assert notice.kind == "withdrawal" and notice.dedupe_key == "evt_fixed_1"
    assert services.notifier.decode(notice)[1] == {
        "at": clock().astimezone(UTC).isoformat(), "amount_jpy": 5_000}


def test_events_without_a_notice_and_failed_writes_queue_nothing(services, clock):
    account = make_customer(services)
    for etype in (EventType.LOGOUT, EventType.DEPOSIT, EventType.RECOVERY,
                  EventType.CUSTOMER_REPORT):
        with services.db.write() as session:
            services.journal.record(session, Event(f"evt_{etype}", clock(), etype, account,
                                                   RequestContext(ip="::1")), actor="test")
    def fails_after_recording():
        with services.db.write() as session:
            services.journal.record(session, Event(
                "evt_rolled_back", clock(), EventType.WITHDRAWAL, account,
                RequestContext(ip="::1"), {"amount_jpy": 1}), actor="test")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fails_after_recording()
    assert _notices(services, account) == []


def test_a_login_names_the_country_and_a_known_device_is_routine(services, clock):
    account = make_customer(services, login_id="pl1")
    ctx = RequestContext(ip="203.0.113.200", channel=Channel.WEB, device="dev-0123456789abcdef",
                         user_agent="Mozilla/5.0 (Windows NT 10.0; Win64; x64) "
                                    "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36")
    services.identity.login_password(login_id="pl1", password="correct-horse-battery", context=ctx)
    clock.advance(timedelta(minutes=1))
    services.identity.login_password(login_id="pl1", password="correct-horse-battery", context=ctx)
    first, second = _notices(services, account)
    assert (first.kind, second.kind) == ("new_device", "login")
    params = services.notifier.decode(first)[1]
    assert params["country"] == "KR" and params["device"] == "Chrome 124 / Windows"
    assert params["channel"] == "web" and "203.0.113.200" not in str(params)


def test_a_firm_points_to_its_own_ip_table(tmp_path, database_url):
    table = tmp_path / "ranges.csv"
    table.write_text("cidr,country,asn,kind\n100.64.0.0/10,JP,64512,mobile\n", encoding="utf-8")
    settings = load_settings(database_url=database_url, ip_ranges=table)
    assert IpRanges.from_csv(settings.ip_ranges).lookup("100.64.1.2").kind == "mobile"
    table.write_text("cidr,country,asn,kind\n100.64.0.0/10,JP,64512,satellite\n",
                     encoding="utf-8")
    with pytest.raises(ConfigError, match="line 2: kind must be one of"):
        load_settings(database_url=database_url, ip_ranges=table)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(database_url=database_url, ip_ranges=tmp_path / "missing.csv")


@pytest.mark.parametrize(("status", "kinds"), [("filled", []), ("open", ["order"]),
                                               ("queued", ["order"])])
def test_an_order_filled_on_entry_leaves_its_message_to_the_execution(services, clock,
                                                                      status, kinds):
    account = make_customer(services)
    event = Event(f"evt_order_{status}", clock(), EventType.ORDER, account,
                  RequestContext(ip="192.0.2.1"),
                  {"order_id": "ord_1", "symbol": "7203", "side": "buy", "quantity": 100,
                   "order_type": "market", "limit_price": None, "notional_jpy": 300_000,
                   "status": status})
    planner = NoticePlanner(services.notifier, ip_ranges=services.ip_ranges)
    with services.db.write() as session:
        planner(session, event, {})
    assert [n.kind for n in _notices(services, account)] == kinds
