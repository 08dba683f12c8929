"""The operations desk's services, built once per app over the app's own services and
its decision log (``create_app`` keeps them on ``app.state.desk``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kabuguard.audit.services import derive_audit_key
from kabuguard.broker.holds import HeldItems
from kabuguard.ops.actions import DeskActions
from kabuguard.ops.alerts import AlertFeed, AlertService
from kabuguard.ops.cases import CaseService
from kabuguard.ops.compensation_desk import CompensationDesk
from kabuguard.ops.evidence import BundleSigner, audit_key_id
from kabuguard.ops.regulator import RegulatorReports
from kabuguard.ops.restrictions import SymbolRestrictions

if TYPE_CHECKING:
    from kabuguard.container import Services
    from kabuguard.risk.decision_log import DecisionLog


@dataclass
class Desk:
    feed: AlertFeed
    alerts: AlertService
    cases: CaseService
    actions: DeskActions
    held: HeldItems
    restrictions: SymbolRestrictions
    compensation: CompensationDesk
    reports: RegulatorReports
    decision_log: DecisionLog | None

    def sync(self) -> int:
        """Bring the alert queue up to date with the decision log and the engine's
        cross-account alerts; returns how many alerts are new."""
        created = self.feed.sync_decisions()
        if self.decision_log is not None:
            created += self.feed.sync_cross_account(self.decision_log.guard.alerts)
        self.restrictions.load()  # the engine's own restrictions, mirrored just now
        return created


def build_desk(services: Services, decision_log: DecisionLog | None) -> Desk:
    clock = services.identity.clock
    restrictions = services.restrictions
    # The desk's restrictions reach the engine's state (and its log) from here on.
    restrictions.engine = decision_log
    held = HeldItems(services.broker)
    cases = CaseService(services.db, journal=services.journal, ip_ranges=services.ip_ranges,
                        decision_log=decision_log, clock=clock)
    key = services.settings.data_keys[0]
    return Desk(
        feed=AlertFeed(services.db, restrictions=restrictions, clock=clock),
        alerts=AlertService(services.db, journal=services.journal, clock=clock),
        cases=cases,
        actions=DeskActions(services.db, journal=services.journal, freezes=services.freezes,
                            held=held, decision_log=decision_log, clock=clock),
        held=held, restrictions=restrictions,
        compensation=CompensationDesk(services.db, journal=services.journal,
                                      broker=services.broker, cases=cases,
                                      support_phone=services.settings.support_phone,
                                      clock=clock),
        reports=RegulatorReports(services.db, journal=services.journal, cases=cases,
                                 signer=BundleSigner.from_secret(key),
                                 mac_key_id=audit_key_id(derive_audit_key(key)),
                                 support_phone=services.settings.support_phone, clock=clock),
        decision_log=decision_log)
