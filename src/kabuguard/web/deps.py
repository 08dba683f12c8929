"""FastAPI dependencies: services from app.state, the customer's session from the
cookie (site) or the bearer token (API). No module globals."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kabuguard.broker.services import BrokerService
from kabuguard.container import Services
from kabuguard.domain.events import Channel
from kabuguard.identity.authenticator_app import AuthenticatorAppService
from kabuguard.identity.interfaces import (
    ENROL_SCOPE,
    UNLOCK_SCOPE,
    PasskeyEnrolmentRequired,
    PasswordChangeRequired,
    SessionInfo,
    SessionInvalid,
    UnlockOnlySession,
)
from kabuguard.identity.outofband import OutOfBandService
from kabuguard.identity.passkeys import PasskeyService
from kabuguard.identity.recovery import RecoveryService
from kabuguard.identity.removal import MfaRemovalService
from kabuguard.identity.self_lock import SelfLockService
from kabuguard.identity.services import IdentityService
from kabuguard.web.i18n import LANG_COOKIE_NAME, pick_language
from kabuguard.web.security import SESSION_COOKIE, device_id, request_context

# What a session may still do while its customer's password is known to be leaked
# (identity/leaked.py): change it, pass the step-up the change may ask for, log out.
# Everything else answers PasswordChangeRequired, so a route added later is closed
# to such a session without anyone having to remember it.
PASSWORD_CHANGE_ROUTES = frozenset({
    ("GET", "/security/password/required"), ("POST", "/security/password/required"),
    ("POST", "/logout"), ("POST", "/step-up/totp"),
    ("POST", "/step-up/passkey/options"), ("POST", "/step-up/passkey"),
    ("PUT", "/api/v1/password"), ("DELETE", "/api/v1/sessions/current"),
    ("POST", "/api/v1/step-up/totp"), ("POST", "/api/v1/step-up/passkey/options"),
    ("POST", "/api/v1/step-up/passkey"),
})


# What an enrolment-only session (identity.interfaces.ENROL_SCOPE) may do: see the
# security page, register its first passkey, confirm the step-up that registration
# may ask for, log out. Closed by default, as above.
PASSKEY_ENROLMENT_ROUTES = frozenset({
    ("GET", "/security"), ("POST", "/security/passkeys/options"), ("POST", "/security/passkeys"),
    ("POST", "/logout"), ("POST", "/step-up/totp"), ("POST", "/step-up/code/send"),
    ("POST", "/step-up/code"),
    ("GET", "/api/v1/passkeys"), ("POST", "/api/v1/passkeys/options"),
    ("POST", "/api/v1/passkeys"), ("DELETE", "/api/v1/sessions/current"),
    ("POST", "/api/v1/step-up/totp"), ("POST", "/api/v1/step-up/code/send"),
    ("POST", "/api/v1/step-up/code"),
})


def _restrict(request: Request, info: SessionInfo) -> None:
    enrol_only = info.scope == ENROL_SCOPE
    if not (info.password_change_required or enrol_only):
        return
    # Both at once (a leaked password and no passkey yet where one is required): either
    # list works, so the customer can register the passkey that the password change's
    # step-up will then ask for.
    allowed = ((PASSWORD_CHANGE_ROUTES if info.password_change_required else frozenset())
               | (PASSKEY_ENROLMENT_ROUTES if enrol_only else frozenset()))
    if (request.method, request.url.path) not in allowed:
        raise PasswordChangeRequired if info.password_change_required else PasskeyEnrolmentRequired


# The dependencies that do no I/O are async: FastAPI runs a sync dependency in the
# thread pool, and each such hop costs more than the lookup itself.
async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_broker(request: Request) -> BrokerService:
    return request.app.state.services.broker


async def get_identity(request: Request) -> IdentityService:
    return request.app.state.services.identity


async def get_authenticator_app(request: Request) -> AuthenticatorAppService:
    return request.app.state.services.authenticator_app


async def get_outofband(request: Request) -> OutOfBandService:
    return request.app.state.services.outofband


async def get_passkeys(request: Request) -> PasskeyService:
    return request.app.state.services.passkeys


async def get_recovery(request: Request) -> RecoveryService:
    return request.app.state.services.recovery


async def get_removals(request: Request) -> MfaRemovalService:
    return request.app.state.services.removals


async def get_self_lock(request: Request) -> SelfLockService:
    return request.app.state.services.self_lock


def language_of(request: Request) -> str:
    return pick_language(request.cookies.get(LANG_COOKIE_NAME),
                         request.headers.get("accept-language"))


async def get_language(request: Request) -> str:
    return language_of(request)


def get_unlock_web_session(request: Request,
                           identity: Annotated[IdentityService, Depends(get_identity)]
                           ) -> SessionInfo:
    """Any live site session, an unlock-only one included: for the unlock pages only."""
    info = identity.resolve_session(request.cookies.get(SESSION_COOKIE),
                                    device=device_id(request),
                                    context=request_context(request))
    request.state.session = info
    _restrict(request, info)
    return info


async def get_web_session(info: Annotated[SessionInfo, Depends(get_unlock_web_session)]
                    ) -> SessionInfo:
    """The logged-in customer of a site page; SessionInvalid sends them to the login
    page, and a session of a self-locked account (unlock-only) to the unlock page."""
    if info.scope == UNLOCK_SCOPE:
        raise UnlockOnlySession
    return info


def get_unlock_api_session(request: Request,
                           identity: Annotated[IdentityService, Depends(get_identity)]
                           ) -> SessionInfo:
    """Any live API session from ``Authorization: Bearer <token>``, an unlock-only one
    included: for the unlock call only."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SessionInvalid("Send the session token as 'Authorization: Bearer <token>'.")
    context = request_context(request, channel=Channel.API)
    info = identity.resolve_session(token.strip(), device=context.device, context=context)
    request.state.session = info
    _restrict(request, info)
    return info


async def get_api_session(info: Annotated[SessionInfo, Depends(get_unlock_api_session)]
                    ) -> SessionInfo:
    """The API client's session; an unlock-only one is refused (403)."""
    if info.scope == UNLOCK_SCOPE:
        raise UnlockOnlySession
    return info


ServicesDep = Annotated[Services, Depends(get_services)]
BrokerDep = Annotated[BrokerService, Depends(get_broker)]
IdentityDep = Annotated[IdentityService, Depends(get_identity)]
PasskeysDep = Annotated[PasskeyService, Depends(get_passkeys)]
AuthenticatorAppDep = Annotated[AuthenticatorAppService, Depends(get_authenticator_app)]
RecoveryDep = Annotated[RecoveryService, Depends(get_recovery)]
OutOfBandDep = Annotated[OutOfBandService, Depends(get_outofband)]
RemovalsDep = Annotated[MfaRemovalService, Depends(get_removals)]
SelfLockDep = Annotated[SelfLockService, Depends(get_self_lock)]
LangDep = Annotated[str, Depends(get_language)]
WebSessionDep = Annotated[SessionInfo, Depends(get_web_session)]
ApiSessionDep = Annotated[SessionInfo, Depends(get_api_session)]
UnlockWebSessionDep = Annotated[SessionInfo, Depends(get_unlock_web_session)]
UnlockApiSessionDep = Annotated[SessionInfo, Depends(get_unlock_api_session)]
