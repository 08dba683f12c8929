"""The operations desk's services, built once per app over the app's own services and
its decision log (``create_app`` keeps them on ``app.state.desk``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kabuguard.ops.alerts import AlertFeed, AlertService
from kabuguard.ops.cases import CaseService

if TYPE_CHECKING:
    from kabuguard.container import Services
    from kabuguard.risk.decision_log import DecisionLog


@dataclass
class Desk:
    feed: AlertFeed
    alerts: AlertService
    cases: CaseService
    decision_log: DecisionLog | None

    def sync(self) -> int:
        """Bring the alert queue up to date with the decision log and the engine's
        cross-account alerts; returns how many alerts are new."""
        created = self.feed.sync_decisions()
        if self.decision_log is not None:
            created += self.feed.sync_cross_account(self.decision_log.guard.alerts)
        return created


def build_desk(services: Services, decision_log: DecisionLog | None) -> Desk:
    clock = services.identity.clock
    return Desk(
        feed=AlertFeed(services.db, clock=clock),
        alerts=AlertService(services.db, journal=services.journal, clock=clock),
        cases=CaseService(services.db, journal=services.journal, ip_ranges=services.ip_ranges,
                          decision_log=decision_log, clock=clock),
        decision_log=decision_log)
