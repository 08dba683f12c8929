from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kabuguard.domain.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from kabuguard.guard.interfaces import Restriction


class LoginFailed(Unauthorized):
    """Wrong login id or password: one message for both, so ids cannot be probed."""

    code = "login_failed"


class SessionInvalid(Unauthorized):
    code = "session_invalid"


class WeakPassword(InvalidInput):
    code = "weak_password"


UNLOCK_SCOPE = "unlock"
# A session that can only register a passkey: the policy wants one at login, its
# published interim has ended, and the customer has none yet (JSDA 2025, J-M2). The
# customer proved a second factor to get it; registering the passkey lifts the scope.
ENROL_SCOPE = "enrol_passkey"
_UNLOCK_HOW = {"passkey": "log in with your passkey to unlock it",
               "app": "log in with your password and authenticator-app code to unlock it",
               "support": "contact our support desk, which will verify your identity and "
                          "unlock it"}


class AccountLocked(Forbidden):
    """The customer locked the account (自己ロック). Raised only after the password
    was right, so it tells nothing to someone guessing login ids. ``unlock`` says how
    to unlock: ``passkey`` (log in with a passkey), ``app`` (password, then the
    authenticator-app code) or ``support`` (no second factor is registered: the
    support desk re-verifies the customer's identity)."""

    code = "account_locked"

    def __init__(self, *, unlock: str) -> None:
        super().__init__(f"This account is locked at your request: {_UNLOCK_HOW[unlock]}.",
                         unlock=unlock)
        self.unlock = unlock


class PasskeyEnrolmentRequired(Forbidden):
    """An enrolment-only session (``ENROL_SCOPE``) asked for anything but registering
    its first passkey."""

    code = "passkey_enrolment_required"

    def __init__(self) -> None:
        super().__init__("A passkey is now required to use this account. Register a "
                         "passkey on this device first; then everything works as before.")


class UnlockOnlySession(Forbidden):
    """A session opened while the account was locked can do nothing but unlock it."""

    code = "unlock_only_session"

    def __init__(self) -> None:
        super().__init__("This account is locked: this session can only unlock it.")


class PasswordChangeRequired(Forbidden):
    """The customer's password was found in a leaked list (identity/leaked.py): this
    session may change the password, and do nothing else until it has."""

    code = "password_change_required"

    def __init__(self) -> None:
        super().__init__("Your password was found in a list of leaked credentials. "
                         "Change your password before doing anything else.")


class LeakedPasswordNoSecondFactor(Forbidden):
    """The password was right but is known to be leaked, and the customer has no second
    factor to prove the login is theirs: only the support desk can let them in."""

    code = "leaked_password_no_second_factor"

    def __init__(self) -> None:
        super().__init__("Your login id and password were found in a list of leaked "
                         "credentials, so the password alone no longer lets you log in. "
                         "Log in with a passkey if you have one, or call our support desk.")


@dataclass(frozen=True, slots=True)
class SessionInfo:
    public_id: str
    customer_id: str
    account_id: str
    csrf_token: str
    created_at: datetime
    channel: str
    # identity.methods.Level as an int, and when the session last authenticated.
    auth_level: int = 1
    authenticated_at: datetime | None = None
    # The account's current bars (a recovery's cooling-off), for the guard and the banner.
    restrictions: tuple[Restriction, ...] = ()
    # The latest step-up not yet spent on a once-only action, and its action (None: any).
    step_up_at: datetime | None = None
    step_up_action: str | None = None
    # None for a full session; "unlock" for one that can only unlock a self-locked
    # account (identity/self_lock.py). The web layer refuses it everywhere else.
    scope: str | None = None
    # The customer's password is in a leaked list: the session may only change it.
    password_change_required: bool = False


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    session: SessionInfo
    previous_login_at: datetime | None
    previous_login_ip: str | None
    previous_login_user_agent: str | None


# --- Second factors: one-time codes, TOTP and the emoji challenge ---------------------
# None of these carries the code, the answer or a secret: messages and params reach
# logs and API clients. The web layer localizes by ``code``.


class CodeFormatInvalid(InvalidInput):
    """The entry is not a code at all (not digits, or not the expected length).

    ``digits`` is the expected length, or None when the verifier does not know it."""

    code = "otp_format_invalid"

    def __init__(self, *, digits: int | None = None) -> None:
        if digits is None:
            super().__init__("Enter the code using digits only.")
        else:
            super().__init__(f"Enter the {digits}-digit code.", digits=digits)
        self.digits = digits


class WrongCode(Unauthorized):
    """The code does not match (or was issued for another purpose).

    ``attempts_left`` is how many more tries this code allows, or None when attempts
    are limited elsewhere (TOTP: by the account lockout)."""

    code = "otp_wrong"
    wording = "The code is not correct"

    def __init__(self, *, attempts_left: int | None = None) -> None:
        if attempts_left is None:
            super().__init__(f"{self.wording}.")
        else:
            tries = "attempt" if attempts_left == 1 else "attempts"
            super().__init__(f"{self.wording} ({attempts_left} {tries} left).",
                             attempts_left=attempts_left)
        self.attempts_left = attempts_left


class WrongEmoji(WrongCode):
    """The emoji picked, or their order, do not match the ones sent."""

    code = "emoji_wrong"
    wording = "The emoji picked do not match the ones sent, or are not in the order sent"


class CodeExpired(Unauthorized):
    """The one-time code or challenge was valid until ``expired_at``; a new one is needed."""

    code = "otp_expired"

    def __init__(self, *, expired_at: datetime) -> None:
        # ISO text in params: ``to_dict()`` goes to JSON as it is.
        super().__init__("The code has expired; request a new one.",
                         expired_at=expired_at.isoformat())
        self.expired_at = expired_at


class TooManyAttempts(Unauthorized):
    """``max_attempts`` tries were used up; the code or challenge is dead, a new one is needed."""

    code = "otp_too_many_attempts"

    def __init__(self, *, max_attempts: int) -> None:
        super().__init__(f"Too many attempts ({max_attempts}); request a new code.",
                         max_attempts=max_attempts)
        self.max_attempts = max_attempts


class CodeReused(Unauthorized):
    """The authenticator code was already used: each code is accepted once (replay)."""

    code = "otp_reused"

    def __init__(self) -> None:
        super().__init__("This code was already used; wait for the next code in your app.")


class EmojiPickInvalid(InvalidInput):
    """The picks cannot be an answer: ``reason`` is ``empty``, ``not_on_grid`` or
    ``duplicate`` (an answer never repeats a symbol)."""

    code = "emoji_pick_invalid"

    def __init__(self, *, reason: str) -> None:
        super().__init__("Pick the emoji shown on the screen, in the order sent, each once.",
                         reason=reason)
        self.reason = reason


class MethodNotOffered(Conflict):
    """The policy does not offer this method (``otp_methods``), the customer cannot
    receive it (SMS without a registered phone), or it does not reach the level the
    action needs."""

    code = "method_not_offered"

    def __init__(self, method: str, message: str | None = None) -> None:
        super().__init__(message or "This way of confirming is not available for your "
                                    "account.", method=method[:20])
