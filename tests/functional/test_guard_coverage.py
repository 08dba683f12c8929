"""Every route that changes money, holdings, credentials or contacts goes through the
guard (ARCHITECTURE.md: a backup site that skipped device authentication must be
impossible here). A new mutating route fails this test until it declares its action
or is listed below with the reason it needs none."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from kabuguard.guard.actions import Action
from kabuguard.web.guarding import FIELD_CHECKED, guarded_api, guarded_web

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}

# Mutating routes that need no guard dependency, and why.
NOT_GUARDED = {
    ("POST", "/login"): "the login itself: IdentityService.login_password asks the guard "
                        "(Action.LOGIN) before a session exists",
    ("POST", "/api/v1/sessions"): "the API login, same as /login",
    ("POST", "/logout"): "ends the caller's own session; changes nothing else",
    ("DELETE", "/api/v1/sessions/current"): "the API logout",
    ("POST", "/api/v1/sessions/passkey/options"): "starts a passkey login (no session yet)",
    ("POST", "/api/v1/sessions/passkey"): "the passkey login: PasskeyService.login_finish "
                                          "asks the guard (Action.LOGIN)",
    ("POST", "/api/v1/step-up/passkey/options"): "is the step-up the guard asks for",
    ("POST", "/api/v1/step-up/passkey"): "is the step-up the guard asks for",
    ("POST", "/api/v1/step-up/totp"): "is the step-up the guard asks for",
    ("POST", "/api/v1/sessions/totp"): "the login's second step: AuthenticatorAppService.login "
                                       "asks the guard (Action.LOGIN)",
    ("DELETE", "/api/v1/sessions/{public_id}"): "only ends one of the caller's own sessions",
    ("POST", "/api/v1/sessions/revoke-all"): "only ends the caller's own sessions",
    ("POST", "/security/sessions/{public_id}/revoke"): "only ends one of the caller's own "
                                                      "sessions",
    ("POST", "/security/logout-everywhere"): "only ends the caller's own sessions",
    ("POST", "/step-up/totp"): "is the step-up the guard asks for",
    ("POST", "/login/totp"): "the login's second step: AuthenticatorAppService.login asks "
                             "the guard (Action.LOGIN)",
    ("POST", "/login/passkey/options"): "starts a passkey login on the site (no session yet)",
    ("POST", "/login/passkey"): "the site's passkey login: PasskeyService.login_finish "
                                "asks the guard (Action.LOGIN)",
    ("POST", "/step-up/passkey/options"): "is the step-up the guard asks for (site)",
    ("POST", "/step-up/passkey"): "is the step-up the guard asks for (site)",
    ("POST", "/recovery"): "starts an account recovery (no session yet): RecoveryService.start "
                           "asks the guard (Action.RECOVERY) before any code is sent",
    ("POST", "/recovery/complete"): "RecoveryService.complete asks the guard (Action.RECOVERY) "
                                    "at the otp level the e-mail code proves",
    ("POST", "/api/v1/recovery"): "the API's recovery start, same as /recovery",
    ("POST", "/api/v1/recovery/complete"): "the API's recovery completion, same as "
                                           "/recovery/complete",
    ("POST", "/login/code/send"): "sends the login's second-step code: only for a live login "
                                  "challenge, paced per customer (OutOfBandService)",
    ("POST", "/login/code"): "the login's second step: OutOfBandService.login asks the guard "
                             "(Action.LOGIN)",
    ("POST", "/api/v1/sessions/code/send"): "as /login/code/send, for the API",
    ("POST", "/api/v1/sessions/code"): "as /login/code, for the API",
    ("POST", "/step-up/code/send"): "sends the code of the step-up the guard asks for: only "
                                    "for the caller's session, paced per customer",
    ("POST", "/step-up/code"): "is the step-up the guard asks for (site)",
    ("POST", "/api/v1/step-up/code/send"): "as /step-up/code/send, for the API",
    ("POST", "/api/v1/step-up/code"): "is the step-up the guard asks for",
    ("POST", "/security/mfa-removals/{removal_id}/cancel"): "cancels a scheduled MFA "
        "removal: keeps a method and weakens nothing, so the session (and CSRF) suffice",
    ("DELETE", "/api/v1/mfa-removals/{removal_id}"): "cancels a scheduled MFA removal (API)",
    ("POST", "/security/lock"): "self-lock: only takes access away (every session ends); "
                                "an intruder who locks the account helps its owner",
    ("POST", "/api/v1/lock"): "self-lock (API), as /security/lock",
    ("POST", "/lock"): "self-lock without a session: SelfLockService.lock_with_password "
                       "checks the password as the login does (throttle, failure count)",
    ("POST", "/api/v1/lock/password"): "self-lock without a session (API), as /lock",
    ("POST", "/unlock"): "SelfLockService.unlock requires the unlock-only session's proof "
                         "at the customer's strongest enrolled level, fresh; that session's "
                         "login asked the guard (Action.LOGIN)",
    ("POST", "/api/v1/unlock"): "the unlock (API), as /unlock",
    ("POST", "/unlock/cancel"): "ends the caller's own unlock-only session",
    ("POST", "/api/v1/events"): "the decision API is the guard itself, asked by the firm's "
                                "own trading system (API key, scope events:write); it "
                                "changes no customer's money or credentials here",
    ("POST", "/api/v1/feedback"): "tells that guard what followed its decisions (API key, "
                                  "scope feedback:write)",
    ("POST", "/console/login/options"): "starts a staff passkey login (no session yet)",
    ("POST", "/console/login"): "the staff passkey login: no customer's money or credentials",
    ("POST", "/console/enrol/options"): "starts a staff passkey enrolment with a one-time code",
    ("POST", "/console/enrol"): "registers a staff passkey with a one-time code",
    ("POST", "/security/report-not-me"): "the customer's own report that something was not "
                                         "them: it only takes access away (the account is "
                                         "frozen, every session ends), as a self-lock does",
}


def api_routes(app):
    """(method, path, route) for every endpoint as served: FastAPI includes routers
    lazily, so ``app.routes`` alone does not list them."""
    for ctx in iter_route_contexts(app.routes):
        route = ctx.route if isinstance(ctx.route, APIRoute) else ctx.original_route
        if isinstance(route, APIRoute):
            for method in ctx.methods or ():
                yield method, ctx.path, route


def guarded_actions(route: APIRoute) -> set[Action]:
    found: set[Action] = set()
    todo = [route.dependant]
    while todo:
        dep = todo.pop()
        action = getattr(dep.call, "guarded_action", None)
        if action is not None:
            found.add(action)
        todo.extend(dep.dependencies)
    return found


def fields_checked(route: APIRoute) -> bool:
    todo = [route.dependant]
    while todo:
        dep = todo.pop()
        if getattr(dep.call, "fields_checked", False):
            return True
        todo.extend(dep.dependencies)
    return False


def console_permission(route: APIRoute) -> object:
    """The staff permission a console route requires (web/console/deps.py), if any."""
    todo = [route.dependant]
    while todo:
        dep = todo.pop()
        found = getattr(dep.call, "console_permission", None)
        if found is not None:
            return found
        todo.extend(dep.dependencies)
    return None


def test_every_mutating_route_is_guarded_or_explained(app):
    unguarded = []
    seen = set()
    for method, path, route in api_routes(app):
        if method not in MUTATING:
            continue
        seen.add((method, path))
        if path.startswith("/console/") and console_permission(route) is not None:
            # Staff actions, not a customer's: the console's role check decides them
            # (tests/functional/test_console_authorization.py walks every one).
            assert not guarded_actions(route), f"{method} {path} mixes the guard in"
            continue
        if (method, path) in NOT_GUARDED:
            assert not guarded_actions(route), f"{method} {path} is listed as unguarded"
            continue
        if not guarded_actions(route):
            unguarded.append(f"{method} {path}")
    assert len(seen) >= 15, "the walk found too few routes: is it seeing the routers?"
    assert not unguarded, f"routes that change state without the guard: {unguarded}"
    assert set(NOT_GUARDED) <= seen, "an exempt route no longer exists: update NOT_GUARDED"


def test_the_money_routes_declare_the_right_action(app):
    expected = {
        ("POST", "/api/v1/orders"): Action.ORDER, ("POST", "/trade"): Action.ORDER,
        ("POST", "/api/v1/withdrawals"): Action.WITHDRAWAL,
        ("POST", "/cash/withdraw"): Action.WITHDRAWAL,
        ("PUT", "/api/v1/bank-account"): Action.BANK_ACCOUNT_CHANGE,
        ("POST", "/bank"): Action.BANK_ACCOUNT_CHANGE,
        ("PATCH", "/api/v1/profile"): Action.CONTACT_CHANGE,
        ("POST", "/profile/email"): Action.CONTACT_CHANGE,
        ("POST", "/profile/phone"): Action.CONTACT_CHANGE,
        ("POST", "/security/passkeys/{credential_id}/remove"): Action.MFA_REMOVE,
        ("POST", "/security/totp/remove"): Action.MFA_REMOVE,
        ("DELETE", "/api/v1/passkeys/{credential_id}"): Action.MFA_REMOVE,
        ("DELETE", "/api/v1/totp"): Action.MFA_REMOVE,
    }
    routes = {(m, p): r for m, p, r in api_routes(app)}
    for key, action in expected.items():
        assert guarded_actions(routes[key]) == {action}, key


def test_orders_and_withdrawals_hand_their_fields_to_the_guard(app):
    """The risk engine judges an order on its symbol, side and notional and a
    withdrawal on its amount: a route for either must take the field-checked
    dependency (``checked_web``/``checked_api``), whose check it calls with them
    (tests/functional/test_online_risk.py holds orders on both channels)."""
    found = []
    for method, path, route in api_routes(app):
        if method in MUTATING and guarded_actions(route) & FIELD_CHECKED:
            found.append((method, path))
            assert fields_checked(route), f"{method} {path} does not give the guard its fields"
    assert len(found) == 4, found


@pytest.mark.parametrize("factory", [guarded_web, guarded_api])
def test_the_plain_dependency_refuses_a_field_checked_action(factory):
    with pytest.raises(ValueError, match="checked_web"):
        factory(Action.ORDER)
