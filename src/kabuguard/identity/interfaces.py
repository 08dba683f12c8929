from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kabuguard.domain.errors import InvalidInput, Unauthorized


class LoginFailed(Unauthorized):
    """Wrong login id or password: one message for both, so ids cannot be probed."""

    code = "login_failed"


class SessionInvalid(Unauthorized):
    code = "session_invalid"


class WeakPassword(InvalidInput):
    code = "weak_password"


@dataclass(frozen=True, slots=True)
class SessionInfo:
    public_id: str
    customer_id: str
    account_id: str
    csrf_token: str
    created_at: datetime
    channel: str


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    session: SessionInfo
    previous_login_at: datetime | None
    previous_login_ip: str | None
    previous_login_user_agent: str | None
