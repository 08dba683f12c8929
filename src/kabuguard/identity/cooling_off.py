"""What an account recovery bars until its cooling-off ends, as guard restrictions.

The guard is where every channel passes (site, API, app, any backup site or call
centre), so the bar is a ``Restriction`` the session carries into ``Guard.check``
rather than a check in each service that could be forgotten in the next one.

Barred, because each is what someone who abused a recovery does next:

- withdrawal and change of the withdrawal bank account: the cash-out itself;
- contact changes (e-mail, phone): an intruder's way to silence the customer, whose
  notices would then go to the intruder (the recovery already moved the phone once,
  with notices to the old and new numbers; a second move must wait);
- MFA removal: the customer's passkeys survive a recovery on purpose (a synced passkey
  may still work on the customer's other devices); an intruder who could remove them
  the minute after would make keeping them pointless. A customer who finds a passkey
  they do not know calls the firm, which can act at once.

Not barred: orders (the risk engine watches them, a later issue), password change (the
customer who just recovered may well want a new password, and an intruder's change is
notified and does not move money), MFA enrolment (the customer must be able to enrol a
new passkey at once) and a further recovery (it restarts the cooling-off and notifies
again, so a fight over the account keeps cash-out blocked all along).
"""

from __future__ import annotations

from datetime import datetime

from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import Restriction

REASON = "recovery_cooling_off"
BARRED_ACTIONS = frozenset({Action.WITHDRAWAL, Action.BANK_ACCOUNT_CHANGE,
                            Action.CONTACT_CHANGE, Action.MFA_REMOVE})


def restrictions_for(cooling_off_until: datetime | None, *,
                     now: datetime) -> tuple[Restriction, ...]:
    """The account's restrictions while its cooling-off lasts; ``()`` once it ended.

    >>> from datetime import UTC, timedelta
    >>> t = datetime(2025, 4, 8, tzinfo=UTC)
    >>> [r.reason for r in restrictions_for(t + timedelta(hours=1), now=t)]
    ['recovery_cooling_off']
    >>> restrictions_for(t, now=t), restrictions_for(None, now=t)
    ((), ())
    """
    if cooling_off_until is None or now >= cooling_off_until:
        return ()
    return (Restriction(reason=REASON, actions=BARRED_ACTIONS, until=cooling_off_until),)
