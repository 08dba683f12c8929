"""Builds every service from Settings, once per process (create_app and the CLI)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kabuguard.audit.services import SqlAuditLog, derive_audit_key
from kabuguard.broker.freezes import AccountFreezes
from kabuguard.broker.market import FxRates, ImpactModel, TradingCalendar
from kabuguard.broker.services import BrokerService
from kabuguard.broker.symbols import load_symbols
from kabuguard.bus.services import InProcessBus, OutboxRelay
from kabuguard.crypto import FieldCipher
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.netinfo import IpRanges
from kabuguard.guard.policy import load_policy
from kabuguard.guard.services import Guard
from kabuguard.identity.authenticator_app import AuthenticatorAppService
from kabuguard.identity.breached import BreachedPasswords
from kabuguard.identity.leaked import LeakedCredentialService
from kabuguard.identity.outofband import OutOfBandService
from kabuguard.identity.outofband import derive_code_key as derive_oob_key
from kabuguard.identity.passkeys import PasskeyService
from kabuguard.identity.passwords import PasswordService
from kabuguard.identity.recovery import RecoveryService, derive_code_key
from kabuguard.identity.removal import MfaRemovalService
from kabuguard.identity.self_lock import SelfLockService
from kabuguard.identity.services import IdentityService
from kabuguard.identity.webauthn import RelyingParty
from kabuguard.journal import Journal
from kabuguard.notify.channels import build_channels
from kabuguard.notify.dispatch import Dispatcher
from kabuguard.notify.outbox import NoticeOutbox
from kabuguard.notify.planner import NoticePlanner
from kabuguard.notify.preferences import NotificationPreferences
from kabuguard.notify.render import Renderer
from kabuguard.notify.services import SqlNotifier
from kabuguard.notify.webhook import webhook_key
from kabuguard.ops.restrictions import SymbolRestrictions
from kabuguard.ops.staff import StaffService
from kabuguard.settings import Settings
from kabuguard.store.database import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    cipher: FieldCipher
    audit: SqlAuditLog
    journal: Journal
    guard: Guard
    identity: IdentityService
    passkeys: PasskeyService
    authenticator_app: AuthenticatorAppService
    recovery: RecoveryService
    outofband: OutOfBandService
    broker: BrokerService
    bus: InProcessBus
    relay: OutboxRelay
    notifier: SqlNotifier
    removals: MfaRemovalService
    self_lock: SelfLockService
    leaked: LeakedCredentialService
    notification_preferences: NotificationPreferences
    dispatcher: Dispatcher
    outbox: NoticeOutbox
    ip_ranges: IpRanges
    freezes: AccountFreezes
    staff: StaffService
    restrictions: SymbolRestrictions

    def close(self) -> None:
        self.db.dispose()


def build_services(settings: Settings, *, clock: Clock = utcnow,
                   passwords: PasswordService | None = None) -> Services:
    db = Database(settings.database_url)
    cipher = FieldCipher(settings.data_keys)
    audit = SqlAuditLog(derive_audit_key(settings.data_keys[0]))
    journal = Journal(audit)
    channels = build_channels(
        smtp_url=settings.smtp_url, mail_from=settings.mail_from,
        sms_webhook_url=settings.sms_webhook_url, push_webhook_url=settings.push_webhook_url,
        webhook_key=webhook_key(settings.data_keys[0]), timeout=settings.notify_timeout)
    preferences = NotificationPreferences(db, journal=journal, configured=channels,
                                          clock=clock)
    notifier = SqlNotifier(cipher, preferences=preferences)
    ip_ranges = IpRanges.from_csv(settings.ip_ranges) if settings.ip_ranges else IpRanges.packaged()
    guard = Guard(load_policy(settings.policy))
    identity = IdentityService(
        db, cipher=cipher, journal=journal, guard=guard,
        passwords=passwords or PasswordService(),
        session_idle=settings.session_idle, session_absolute=settings.session_absolute,
        breached=BreachedPasswords(settings.breached_passwords_dir), clock=clock,
    )
    broker = BrokerService(
        db, journal=journal, cipher=cipher, symbols=load_symbols(), impact=ImpactModel(),
        calendar=TradingCalendar(), fx=FxRates.from_mapping(settings.fx_rates),
        always_open=settings.market_hours == "always_open",
        bank_cooling_off=settings.bank_cooling_off,
        max_order_notional_yen=settings.max_order_notional_yen,
        max_withdrawal_yen=settings.max_withdrawal_yen, notifier=notifier, clock=clock,
    )
    journal.add_listener(NoticePlanner(notifier, ip_ranges=ip_ranges,
                                       symbol_info=_symbol_info(broker)))
    dispatcher = Dispatcher(
        db, notifier=notifier, renderer=Renderer(support_phone=settings.support_phone),
        channels=channels, max_attempts=settings.notify_max_attempts,
        retry_base=settings.notify_retry_base, retry_max=settings.notify_retry_max,
        clock=clock)
    bus = InProcessBus()
    recovery = RecoveryService(identity, code_key=derive_code_key(settings.data_keys[0]),
                               cooling_off=settings.recovery_cooling_off, notifier=notifier)
    leaked = LeakedCredentialService(db, cipher=cipher, passwords=identity.passwords,
                                     journal=journal, notifier=notifier, clock=clock)
    restrictions = SymbolRestrictions(db, journal=journal, symbols=broker.symbols, clock=clock)
    # The broker refuses orders of a restricted symbol whatever the guard said.
    broker.restricted = restrictions.is_restricted
    rp = RelyingParty(rp_id=settings.webauthn_rp_id, rp_name="Kabuguard Securities",
                      origins=settings.origins)
    return Services(settings=settings, db=db, cipher=cipher, audit=audit, journal=journal,
                    guard=guard, identity=identity,
                    authenticator_app=AuthenticatorAppService(identity),
                    recovery=recovery,
                    outofband=OutOfBandService(identity, notifier=notifier,
                                               key=derive_oob_key(settings.data_keys[0])),
                    passkeys=PasskeyService(identity, rp), broker=broker, bus=bus,
                    relay=OutboxRelay(db, bus, clock=clock), notifier=notifier,
                    removals=MfaRemovalService(identity, notifier=notifier),
                    self_lock=SelfLockService(identity, notifier=notifier),
                    leaked=leaked,
                    notification_preferences=preferences, dispatcher=dispatcher,
                    outbox=NoticeOutbox(db, cipher=cipher, clock=clock), ip_ranges=ip_ranges,
                    freezes=AccountFreezes(db, journal=journal, notifier=notifier, clock=clock),
                    staff=StaffService(db, journal=journal, rp=rp, clock=clock),
                    restrictions=restrictions)


def _symbol_info(broker: BrokerService) -> Callable[[str], dict[str, str | None]]:
    """Names and currency of a symbol, for the order notice."""

    def info(code: str) -> dict[str, str | None]:
        sym = broker.symbols.get(code)
        if sym is None:
            return {}
        return {"name": sym.name, "name_ja": sym.name_ja, "currency": sym.currency}

    return info
