"""Account recovery over the JSON API (the app's "lost your phone?" screen): the same
``RecoveryService`` as the site, so the same password checks, code, guard decision,
notices and cooling-off (``identity/recovery.py``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from kabuguard.domain.events import Channel
from kabuguard.identity.recovery import CODE_DIGITS
from kabuguard.web.deps import PasskeysDep, RecoveryDep
from kabuguard.web.security import request_context

router = APIRouter(prefix="/api/v1", tags=["api"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RecoveryStartBody(Strict):
    login_id: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    # The registered e-mail is how the customer proves who they are, so it cannot
    # change here (extra="forbid" refuses an ``email`` field outright).
    new_phone: str = Field(min_length=1, max_length=30)
    channel: Literal["app", "api"] = "api"


class RecoveryCompleteBody(Strict):
    request: str = Field(min_length=1, max_length=40)
    code: str = Field(min_length=1, max_length=20)
    channel: Literal["app", "api"] = "api"


def _channel(name: str) -> Channel:
    return Channel.APP if name == "app" else Channel.API


@router.post("/recovery", status_code=202)
def start_recovery(body: RecoveryStartBody, request: Request,
                   recovery: RecoveryDep) -> dict[str, Any]:
    """Start a recovery: the login's answer (401 ``login_failed``) for an unknown id,
    a wrong password or a locked account alike; otherwise a code is on its way to the
    registered e-mail and the request id to send back with it."""
    started = recovery.start(login_id=body.login_id, password=body.password,
                             new_phone=body.new_phone,
                             context=request_context(request, channel=_channel(body.channel)))
    return {"request": started.request_id, "expires_at": started.expires_at.isoformat(),
            "code_sent_to": "registered_email", "code_digits": CODE_DIGITS}


@router.post("/recovery/complete", status_code=201)
def complete_recovery(body: RecoveryCompleteBody, request: Request, recovery: RecoveryDep,
                      passkeys: PasskeysDep) -> dict[str, Any]:
    """Finish with the e-mail code: every other session ends, the new one (``otp``
    level) is returned, with the end of the cooling-off and the passkeys kept for the
    customer to review."""
    done = recovery.complete(request_id=body.request, code=body.code,
                             context=request_context(request, channel=_channel(body.channel)))
    info = done.login.session
    return {"token": done.login.token, "session": info.public_id,
            "account": info.account_id, "level": "otp",
            "cooling_off_until": done.cooling_off_until.isoformat(),
            "phone_changed": done.phone_changed,
            "authenticator_apps_removed": done.authenticator_apps_removed,
            "sessions_ended": done.sessions_ended,
            "passkeys": passkeys.list(info.customer_id)}
