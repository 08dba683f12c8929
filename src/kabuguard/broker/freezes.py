"""Account freezes: every sensitive action of a frozen account stops until the
operations desk lifts the freeze (issue 6), whatever the session proves.

A freeze is the account's ``status`` ("frozen"), so the broker's own money movements
refuse it in their transaction (``BrokerService._lock_account``) as the last line; the
guard sees it first, as a ``Restriction`` every channel's actor carries. The set of
frozen accounts is kept in memory (a handful of ids) so that the guarded path pays no
query for it, reloaded by the app's background loop for the freezes and releases
other processes make.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from kabuguard.broker.models import Account
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import Restriction
from kabuguard.journal import Journal
from kabuguard.notify.interfaces import NoticeKind, Notifier, NullNotifier
from kabuguard.store.database import Database

FROZEN = "frozen"
REASON = "account_frozen"
# No end: only the desk lifts a freeze (``Restriction.until`` must be a time).
FOREVER = datetime.max.replace(tzinfo=UTC)
_RESTRICTION = Restriction(reason=REASON, actions=frozenset(Action), until=FOREVER)


class AccountFreezes:
    def __init__(self, db: Database, *, journal: Journal, notifier: Notifier | None = None,
                 clock: Clock = utcnow) -> None:
        self.db, self.journal, self.clock = db, journal, clock
        self.notifier: Notifier = notifier or NullNotifier()
        self._frozen: frozenset[str] = frozenset()

    def load(self) -> None:
        """Read the frozen accounts from the database (at start, then now and then)."""
        with self.db.read() as session:
            self._frozen = frozenset(session.execute(
                select(Account.id).where(Account.status == FROZEN)).scalars())

    def is_frozen(self, account_id: str | None) -> bool:
        return account_id is not None and account_id in self._frozen

    def restrictions(self, account_id: str | None) -> tuple[Restriction, ...]:
        """The guard's bar for a frozen account: every action, no end; else ``()``."""
        return (_RESTRICTION,) if self.is_frozen(account_id) else ()

    def freeze(self, account_id: str, *, actor: str, reasons: tuple[str, ...],
               ip: str | None = None) -> bool:
        """Freeze the account now, with an audit record and a notice to the customer
        (the number to call, never a link). Returns False when it was frozen already."""
        now = self.clock()
        with self.db.write() as session:
            changed = session.execute(
                update(Account).where(Account.id == account_id, Account.status != FROZEN)
                .values(status=FROZEN)).rowcount
            if changed:
                self.journal.record_admin(session, ts=now, actor=actor, action="account_frozen",
                                          subject=account_id,
                                          payload={"reasons": list(reasons), "ip": ip})
                customer_id = session.scalar(select(Account.customer_id)
                                             .where(Account.id == account_id))
                if customer_id is not None:
                    self.notifier.queue(session, customer_id=customer_id,
                                        kind=NoticeKind.SECURITY_ALERT, now=now,
                                        params={"at": now.astimezone(UTC).isoformat(),
                                                "reason": REASON},
                                        dedupe_key=f"frozen:{account_id}:{now.isoformat()}")
        self._frozen = self._frozen | {account_id}
        return bool(changed)
