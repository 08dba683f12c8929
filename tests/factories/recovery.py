"""Read what an account recovery queued: the e-mail's code and the notices' addresses."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from kabuguard.container import Services
from kabuguard.notify.models import Notice


def notices(services: Services, customer_id: str, kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(medium, address, params) of every notice of ``kind`` queued for the customer."""
    with services.db.read() as session:
        rows = session.execute(select(Notice).where(Notice.customer_id == customer_id,
                                                    Notice.kind == kind)
                               .order_by(Notice.created_at, Notice.id)).scalars().all()
    return [(row.medium, *services.notifier.decode(row)) for row in rows]


def recovery_code(services: Services, customer_id: str) -> str:
    """The code of the latest recovery e-mail to the customer."""
    codes = [params["code"] for medium, _, params
             in notices(services, customer_id, "recovery_requested")
             if medium == "email" and "code" in params]
    assert codes, "no recovery code was sent"
    return codes[-1]
