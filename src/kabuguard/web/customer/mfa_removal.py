"""Removing a passkey or the authenticator app from the security page, and cancelling
a scheduled removal. The rules are ``identity/removal.py``'s; the routes pass the guard
for ``Action.MFA_REMOVE`` first, and a step-up the removal itself asks for (the last
strong method) comes back as the usual step-up page, which re-submits the form."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from starlette.responses import RedirectResponse, Response

from kabuguard.domain.errors import KabuguardError
from kabuguard.guard.actions import Action
from kabuguard.guard.interfaces import StepUpRequired
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.identity.methods import Method
from kabuguard.web.customer.forms import error_text
from kabuguard.web.customer.security import render_security
from kabuguard.web.deps import IdentityDep, LangDep, PasskeysDep, RemovalsDep, WebSessionDep
from kabuguard.web.guarding import guarded_web
from kabuguard.web.security import check_csrf, request_context

router = APIRouter(include_in_schema=False)

CsrfField = Annotated[str, Form(max_length=200)]


@router.post("/security/passkeys/{credential_id}/remove",
             dependencies=[Depends(guarded_web(Action.MFA_REMOVE))])
def remove_passkey(credential_id: Annotated[str, Path(max_length=400)], request: Request,
                   session: WebSessionDep, passkeys: PasskeysDep, identity: IdentityDep,
                   removals: RemovalsDep, lang: LangDep, csrf_token: CsrfField = "") -> Response:
    check_csrf(session.csrf_token, csrf_token)
    return _remove(request, session, passkeys, identity, removals, lang,
                   method=Method.PASSKEY, credential=credential_id)


@router.post("/security/totp/remove", dependencies=[Depends(guarded_web(Action.MFA_REMOVE))])
def remove_totp(request: Request, session: WebSessionDep, passkeys: PasskeysDep,
                identity: IdentityDep, removals: RemovalsDep, lang: LangDep,
                csrf_token: CsrfField = "") -> Response:
    check_csrf(session.csrf_token, csrf_token)
    return _remove(request, session, passkeys, identity, removals, lang,
                   method=Method.TOTP, credential=None)


def _remove(request: Request, session: SessionInfo, passkeys: PasskeysDep,
            identity: IdentityDep, removals: RemovalsDep, lang: str, *, method: Method,
            credential: str | None) -> Response:
    try:
        result = removals.remove(session, method=method, credential=credential,
                                 context=request_context(request, session=session.public_id))
    except StepUpRequired:
        raise  # the step-up page, carrying this form
    except KabuguardError as exc:
        return render_security(request, session, passkeys, identity, lang,
                               removal_error=error_text(exc, lang), status_code=exc.status)
    notice = "mfa_removal_scheduled" if result["status"] == "scheduled" else "mfa_removed"
    return RedirectResponse(f"/security?notice={notice}", status_code=303)


@router.post("/security/mfa-removals/{removal_id}/cancel")
def cancel_removal(removal_id: Annotated[str, Path(max_length=40)], request: Request,
                   session: WebSessionDep, passkeys: PasskeysDep, identity: IdentityDep,
                   removals: RemovalsDep, lang: LangDep, csrf_token: CsrfField = "") -> Response:
    """Keep the method after all: no step-up beyond the session (it weakens nothing)."""
    check_csrf(session.csrf_token, csrf_token)
    try:
        removals.cancel(session, removal_id,
                        context=request_context(request, session=session.public_id))
    except KabuguardError as exc:
        return render_security(request, session, passkeys, identity, lang,
                               removal_error=error_text(exc, lang), status_code=exc.status)
    return RedirectResponse("/security?notice=mfa_removal_cancelled", status_code=303)
