"""Authenticator-app (TOTP) enrolment and step-up against the database. The code
checks themselves are in ``identity/totp.py``; this keeps secrets encrypted at rest,
confirms an enrolment with a first code, and makes every code single-use with a
compare-and-set on its time step (two parallel requests with one code cannot both
pass). TOTP is phishable (a real-time relay passes it): it counts as ``otp``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kabuguard.domain.errors import Conflict
from kabuguard.domain.events import Event, EventType, RequestContext
from kabuguard.domain.ids import new_id
from kabuguard.guard.interfaces import ActionDenied, Outcome, StepUpRequired
from kabuguard.identity.interfaces import CodeReused, LoginResult, MethodNotOffered, SessionInfo
from kabuguard.identity.methods import Level, Method
from kabuguard.identity.models import Customer, TotpAuthenticator
from kabuguard.identity.services import IdentityService
from kabuguard.identity.totp import new_totp_secret, provisioning_uri, verify_totp


class NoAuthenticatorApp(Conflict):
    code = "totp_not_enrolled"


class AuthenticatorAppService:
    def __init__(self, identity: IdentityService) -> None:
        self.identity = identity
        self.db, self.cipher, self.journal = identity.db, identity.cipher, identity.journal

    def enroll_begin(self, info: SessionInfo) -> dict[str, Any]:
        """A new secret for the customer's app (shown once, as a QR code or text);
        it replaces any unconfirmed one."""
        secret = new_totp_secret()
        now = self.identity.clock()
        with self.db.write() as session:
            if self._confirmed(session, info.customer_id) is not None:
                raise Conflict("An authenticator app is already registered.", field="totp")
            session.execute(update(TotpAuthenticator).where(
                TotpAuthenticator.customer_id == info.customer_id,
                TotpAuthenticator.confirmed_at.is_(None),
                TotpAuthenticator.removed_at.is_(None)).values(removed_at=now))
            customer = session.get(Customer, info.customer_id)
            assert customer is not None  # noqa: S101 - a live session has its customer
            session.add(TotpAuthenticator(id=new_id("totp"), customer_id=info.customer_id,
                                          secret_enc=self.cipher.encrypt(secret),
                                          created_at=now))
        return {"secret": secret,
                "otpauth_uri": provisioning_uri(secret, account_name=customer.login_id)}

    def enroll_confirm(self, info: SessionInfo, *, code: str,
                       context: RequestContext) -> dict[str, Any]:
        now = self.identity.clock()
        with self.db.write() as session:
            app = session.execute(select(TotpAuthenticator).where(
                TotpAuthenticator.customer_id == info.customer_id,
                TotpAuthenticator.confirmed_at.is_(None),
                TotpAuthenticator.removed_at.is_(None))).scalar_one_or_none()
            if app is None:
                raise NoAuthenticatorApp("Start the authenticator-app registration first.",
                                         field="totp")
            step = verify_totp(self.cipher.decrypt(app.secret_enc), code, now=now,
                               last_used_step=app.last_used_step)
            app.confirmed_at, app.last_used_step = now, step
            self.journal.record(session, Event(
                new_id("evt"), now, EventType.MFA_CHANGE, info.account_id, context,
                {"change": "enroll", "method": "totp"}), actor=f"customer:{info.customer_id}")
        return {"enrolled": True, "confirmed_at": now.isoformat()}

    def step_up(self, info: SessionInfo, token: str, *, code: str,
                context: RequestContext) -> tuple[str, SessionInfo]:
        """Check a code and raise the session to the ``otp`` level; returns the
        session's new token."""
        self._require_offered()
        now = self.identity.clock()
        with self.db.read() as session:
            app = self._confirmed(session, info.customer_id)
        if app is None:
            raise NoAuthenticatorApp("No authenticator app is registered.", field="totp")
        step = verify_totp(self.cipher.decrypt(app.secret_enc), code, now=now,
                           last_used_step=app.last_used_step)
        with self.db.write() as session:
            self._use_step(session, app.id, step)
            new_token, fresh = self.identity.raise_session_level(session, token,
                                                                 level=Level.OTP, now=now)
            self.journal.record_admin(session, ts=now, actor=f"customer:{info.customer_id}",
                                      action="step_up", subject=info.customer_id,
                                      payload={"method": "totp", "session": info.public_id,
                                               "ip": context.ip})
        return new_token, fresh

    def login(self, *, login_challenge: str, code: str,
              context: RequestContext) -> LoginResult:
        """The second step of a password login the policy did not accept alone: a code
        from the customer's app, for the single-use challenge the first step returned.
        The guard decides again at the ``otp`` level (a policy that wants a passkey
        accepts this only as its published interim alternative)."""
        self._require_offered()
        customer_id = self.identity.take_login_challenge(login_challenge)
        now = self.identity.clock()
        with self.db.read() as session:
            app = self._confirmed(session, customer_id)
            customer = session.get(Customer, customer_id)
        if app is None or customer is None:
            raise NoAuthenticatorApp("No authenticator app is registered.", field="totp")
        step = verify_totp(self.cipher.decrypt(app.secret_enc), code, now=now,
                           last_used_step=app.last_used_step)
        decision, scope = self.identity.second_step_decision(
            customer_id, level=Level.OTP, context=context, now=now)
        if decision.outcome is not Outcome.ALLOW:
            raise (StepUpRequired(decision) if decision.outcome is Outcome.CHALLENGE
                   else ActionDenied(decision))
        with self.db.write() as session:
            self._use_step(session, app.id, step)
            self.identity.reset_failures(session, customer_id, reverified=False, now=now)
            return self.identity.open_session(
                session, customer_id,
                login_token=self.cipher.token("login", customer.login_id),
                level=Level.OTP, methods=["password", "totp"], context=context, now=now,
                scope=scope)

    def _require_offered(self) -> None:
        """An app code counts only where the policy offers it (``otp_methods``): a
        policy of emoji challenges for every order is not met by another method."""
        if Method.TOTP not in self.identity.guard.policy.otp_methods:
            raise MethodNotOffered(str(Method.TOTP))

    def is_enrolled(self, customer_id: str) -> bool:
        with self.db.read() as session:
            return self._confirmed(session, customer_id) is not None

    @staticmethod
    def _use_step(session: Session, app_id: str, step: int) -> None:
        """Compare-and-set the code's time step: a second use, even a concurrent one,
        finds it taken."""
        taken = session.execute(update(TotpAuthenticator).where(
            TotpAuthenticator.id == app_id,
            or_(TotpAuthenticator.last_used_step.is_(None),
                TotpAuthenticator.last_used_step < step)).values(last_used_step=step)
        ).rowcount
        if not taken:
            raise CodeReused

    @staticmethod
    def _confirmed(session: Session, customer_id: str) -> TotpAuthenticator | None:
        return session.execute(select(TotpAuthenticator).where(
            TotpAuthenticator.customer_id == customer_id,
            TotpAuthenticator.confirmed_at.is_not(None),
            TotpAuthenticator.removed_at.is_(None))).scalar_one_or_none()
