"""JSON API for what the security page does: remove a passkey or the authenticator
app (and cancel a scheduled removal), lock and unlock the account, and the login
history. Same services, same rules as the site (``identity/removal.py``,
``identity/self_lock.py``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from kabuguard.domain.events import Channel
from kabuguard.guard.actions import Action
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.identity.methods import Method
from kabuguard.web.customer.display import HISTORY_MONTHS, history_row, months_ago
from kabuguard.web.deps import (
    ApiSessionDep,
    IdentityDep,
    RemovalsDep,
    SelfLockDep,
    UnlockApiSessionDep,
)
from kabuguard.web.guarding import guarded_api
from kabuguard.web.security import request_context

router = APIRouter(prefix="/api/v1", tags=["api"])


class LockBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    login_id: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    channel: Literal["app", "api"] = "api"


def _ctx(request: Request, session: SessionInfo) -> Any:
    channel = Channel.APP if session.channel == "app" else Channel.API
    return request_context(request, channel=channel, session=session.public_id)


def _bearer(request: Request) -> str:
    return request.headers["authorization"].partition(" ")[2].strip()


def _removal_answer(result: dict[str, Any]) -> JSONResponse:
    # 202: scheduled, not done; the method keeps working until ``effective_at``.
    return JSONResponse(result, status_code=202 if result["status"] == "scheduled" else 200)


@router.delete("/passkeys/{credential_id}",
               dependencies=[Depends(guarded_api(Action.MFA_REMOVE))])
def remove_passkey(credential_id: Annotated[str, Path(max_length=400)], request: Request,
                   session: ApiSessionDep, removals: RemovalsDep) -> JSONResponse:
    """Remove a passkey: 200 when removed, 202 with the scheduled removal when it is the
    last one and the policy sets a cooling-off; 401 ``step_up_required`` when a fresh
    passkey confirmation is needed; 403 ``mfa_removal_forbidden`` when the policy
    forbids removing the last passkey."""
    return _removal_answer(removals.remove(session, method=Method.PASSKEY,
                                           credential=credential_id,
                                           context=_ctx(request, session)))


@router.delete("/totp", dependencies=[Depends(guarded_api(Action.MFA_REMOVE))])
def remove_totp(request: Request, session: ApiSessionDep,
                removals: RemovalsDep) -> JSONResponse:
    """Remove the authenticator app (same answers as removing a passkey)."""
    return _removal_answer(removals.remove(session, method=Method.TOTP, credential=None,
                                           context=_ctx(request, session)))


@router.get("/mfa-removals")
def list_removals(session: ApiSessionDep, removals: RemovalsDep) -> list[dict[str, Any]]:
    """Scheduled removals not yet in effect, soonest first."""
    return removals.pending(session.customer_id)


@router.delete("/mfa-removals/{removal_id}")
def cancel_removal(removal_id: Annotated[str, Path(max_length=40)], request: Request,
                   session: ApiSessionDep, removals: RemovalsDep) -> dict[str, Any]:
    """Cancel a scheduled removal (the method stays); 409 once it took effect."""
    return removals.cancel(session, removal_id, context=_ctx(request, session))


@router.post("/lock")
def lock(request: Request, session: ApiSessionDep, self_lock: SelfLockDep) -> dict[str, Any]:
    """Lock the account now (no step-up); every session ends, this one included."""
    ended = self_lock.lock(session.customer_id, context=_ctx(request, session))
    return {"locked": True, "sessions_ended": ended}


@router.post("/lock/password")
def lock_with_password(body: LockBody, request: Request,
                       self_lock: SelfLockDep) -> dict[str, Any]:
    """Lock without a session, with login id and password; a wrong pair answers 401
    ``login_failed`` exactly as the login does."""
    channel = Channel.APP if body.channel == "app" else Channel.API
    self_lock.lock_with_password(login_id=body.login_id, password=body.password,
                                 context=request_context(request, channel=channel))
    return {"locked": True}


@router.post("/unlock")
def unlock(request: Request, session: UnlockApiSessionDep,
           self_lock: SelfLockDep) -> dict[str, Any]:
    """Unlock with the unlock-only session a login opens while the account is locked
    (``unlock_only: true`` in the login's answer); returns the session's new token.
    401 ``unlock_expired``: log in again (the session has ended)."""
    token, info = self_lock.unlock(session, _bearer(request), context=_ctx(request, session))
    return {"unlocked": True, "token": token, "session": info.public_id}


@router.get("/login-history")
def login_history(session: ApiSessionDep, identity: IdentityDep,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50,
                  offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> dict[str, Any]:
    """Login attempts of the last 3 months, newest first, a page at a time."""
    since = months_ago(identity.clock(), HISTORY_MONTHS)
    rows = identity.login_history(session.customer_id, since=since, limit=limit + 1,
                                  offset=offset)
    records = [{**history_row(r), "at": r.ts.isoformat()} for r in rows[:limit]]
    return {"since": since.isoformat(), "records": records,
            "next_offset": offset + limit if len(rows) > limit else None}
