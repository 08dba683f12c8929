"""Second factors as database rows, for service-level tests that do not need a real
WebAuthn ceremony or TOTP code (the functional tests go through both)."""

from __future__ import annotations

import secrets
from datetime import datetime

from kabuguard.container import Services
from kabuguard.domain.ids import new_id
from kabuguard.guard.policy import parse_policy
from kabuguard.identity.interfaces import SessionInfo
from kabuguard.identity.methods import Level
from kabuguard.identity.models import Passkey, TotpAuthenticator
from kabuguard.identity.totp import new_totp_secret


def add_passkey(services: Services, customer_id: str, *, name: str = "iPhone") -> str:
    """A registered passkey row (its key is never used); returns the credential id."""
    credential_id = secrets.token_urlsafe(32)
    with services.db.write() as session:
        session.add(Passkey(credential_id=credential_id, customer_id=customer_id,
                            public_key=b"\x00", sign_count=0, backup_eligible=True,
                            backed_up=True, transports="internal", aaguid="0" * 36,
                            name=name, created_at=services.identity.clock()))
    return credential_id


def add_app(services: Services, customer_id: str) -> tuple[str, str]:
    """A confirmed authenticator app; returns its row id and its secret."""
    secret = new_totp_secret()
    now = services.identity.clock()
    app_id = new_id("totp")
    with services.db.write() as session:
        session.add(TotpAuthenticator(id=app_id, customer_id=customer_id,
                                      secret_enc=services.cipher.encrypt(secret),
                                      created_at=now, confirmed_at=now))
    return app_id, secret


def session_info(customer_id: str, *, level: Level, authenticated_at: datetime) -> SessionInfo:
    """What a resolved session looks like to a service, without a session row."""
    return SessionInfo(public_id=new_id("ses"), customer_id=customer_id,
                       account_id=customer_id, csrf_token="x", created_at=authenticated_at,
                       channel="web", auth_level=int(level), authenticated_at=authenticated_at)


def use_policy(services: Services, text: str) -> None:
    """Swap the guard's policy (the identity services share the guard)."""
    services.guard.policy = parse_policy(text, source="test policy")
