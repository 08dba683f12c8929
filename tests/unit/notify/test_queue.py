"""SqlNotifier.queue: notices are rows of the caller's transaction, encrypted at rest."""

from __future__ import annotations

from sqlalchemy import select

from factories.customers import make_customer
from kabuguard.container import Services
from kabuguard.notify.interfaces import MANDATORY, Medium, NoticeKind, NullNotifier
from kabuguard.notify.models import Notice


def _notices(services: Services) -> list[Notice]:
    with services.db.read() as session:
        return list(session.scalars(select(Notice).order_by(Notice.created_at, Notice.id)))


def test_a_code_is_stored_encrypted_and_decodes(services: Services, clock) -> None:
    account = make_customer(services)
    with services.db.write() as session:
        n = services.notifier.queue(session, customer_id=account, kind=NoticeKind.ONE_TIME_CODE,
                                    params={"code": "493817"}, media=[Medium.SMS], now=clock())
    assert n == 1
    [notice] = _notices(services)
    assert notice.medium == "sms" and notice.status == "pending" and notice.language == "ja"
    assert "493817" not in notice.params_enc and "09000000000" not in notice.address_enc
    assert services.notifier.decode(notice) == ("09000000000", {"code": "493817"})


def test_previous_address_also_gets_it_and_dedupe_key_queues_once(
        services: Services, clock) -> None:
    account = make_customer(services)
    for _ in range(2):
        with services.db.write() as session:
            services.notifier.queue(
                session, customer_id=account, kind=NoticeKind.CONTACT_CHANGE,
                params={"field": "email"}, now=clock(), dedupe_key="evt_1",
                extra_addresses=[(Medium.EMAIL, "old@example.jp")])
    addresses = sorted(services.notifier.decode(n)[0] for n in _notices(services))
    assert addresses == sorted([f"u{account}@example.jp", "old@example.jp"])


def test_nothing_is_queued_when_the_transaction_rolls_back(
        services: Services, clock) -> None:
    account = make_customer(services)
    try:
        with services.db.write() as session:
            services.notifier.queue(session, customer_id=account, kind=NoticeKind.WITHDRAWAL,
                                    params={"amount_jpy": 1}, now=clock())
            raise RuntimeError
    except RuntimeError:
        pass
    assert _notices(services) == []


def test_security_notices_cannot_be_switched_off_but_routine_ones_can() -> None:
    assert NoticeKind.MFA_CHANGE in MANDATORY and NoticeKind.ORDER not in MANDATORY
    assert NullNotifier().queue(None, customer_id="x", kind=NoticeKind.LOGIN,  # type: ignore[arg-type]
                                params={}, now=None) == 0  # type: ignore[arg-type]
