"""Who can prove what: the methods a simulated customer or attacker uses at each level.

The closed loop asks the decision point what an attempt needs (``password``, ``otp``,
``phishing_resistant``) and the actor answers with methods it has. A :class:`Proofs`
table holds, for one kind of actor under one policy, the methods it submits at a login
and at a step-up for each level (None: it cannot), the levels it passes when challenged,
and the ``can_pass`` of its labels (EVENTS.md).

Enrolment under a configuration (assumed, and the same for every configuration's
attackers and customers): customers keep the methods of their profile (population.py
``PROFILE_METHODS``). When the policy makes a one-time code mandatory at login (its
login level, or its interim alternative, is ``otp`` or higher), the firm sends codes to
the e-mail address and phone number it already has on file, as the 2025 rollouts did, so
every customer also has the policy's e-mail and SMS delivered methods (``email_otp``,
``sms_otp``, ``emoji``: the emoji arrive by e-mail). Authenticator apps and passkeys only
the customers who registered them have.

Attackers (campaigns.py ``CAN_PASS``/``METHODS``): a real-time phishing relay has the
password and relays whichever of the victim's one-time codes the policy offers (emoji
too) within seconds, never a passkey; a SIM swap receives SMS codes; recovery abuse
controls the mailbox (e-mail codes); credential stuffing and low-and-slow crews have the
password only; an infostealer replays a session and proves nothing new. The crews' own
accounts (``beneficiary``) pass everything, passkeys included.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kabuguard.domain.assurance import Level
from kabuguard.guard.actions import Action
from kabuguard.guard.policy import Policy
from kabuguard.sim.campaigns import BENEFICIARY, CAN_PASS, METHODS

LEVELS = ("password", "otp", "phishing_resistant")
# Delivered to the e-mail address or phone number every account has on file.
CONTACT_METHODS = frozenset({"email_otp", "sms_otp", "emoji"})
PASSKEY = "passkey"
PASSWORD = "password"
# Codes that arrive by e-mail: whoever controls the mailbox (recovery abuse) reads them.
EMAIL_DELIVERED = frozenset({"email_otp", "emoji"})
# What the crews' own accounts registered: everything a policy may ask for.
BENEFICIARY_METHODS = ("password", "email_otp", "sms_otp", "totp", "passkey")


@dataclass(frozen=True, slots=True)
class Proofs:
    """One kind of actor under one policy.

    ``login[level]`` and ``step_up[level]``: the methods it submits to prove ``level``
    (None: it cannot); ``failed_login``: what a login that cannot reach the level still
    used; ``passes``: the levels it satisfies when challenged; ``can_pass``: the labels'
    list (``otp``/``phishing_resistant`` for customers, the attack's for attackers)."""

    login: dict[str, tuple[str, ...] | None]
    step_up: dict[str, tuple[str, ...] | None]
    failed_login: tuple[str, ...]
    passes: frozenset[str]
    can_pass: tuple[str, ...]


def otp_mandatory_at_login(policy: Policy) -> bool:
    """True when the policy asks every login for a one-time code or more (directly or
    through its interim alternative).

    >>> from kabuguard.guard.policy import load_policy
    >>> otp_mandatory_at_login(load_policy("baseline_2024"))
    False
    >>> otp_mandatory_at_login(load_policy("jsda_2025_mandatory"))
    True
    """
    level = policy.actions[Action.LOGIN].level
    interim = policy.interim
    if interim is not None and Action.LOGIN in interim.actions:
        level = min(level, interim.level)
    return level >= Level.OTP


def enrolled_methods(profile: Iterable[str], policy: Policy) -> tuple[str, ...]:
    """The methods a customer with the profile's methods has under ``policy`` (see the
    module docstring), in a fixed order.

    >>> from kabuguard.guard.policy import load_policy
    >>> enrolled_methods(("password",), load_policy("email_otp_mandatory"))
    ('password', 'email_otp', 'sms_otp')
    >>> enrolled_methods(("password",), load_policy("baseline_2024"))
    ('password',)
    """
    methods = list(dict.fromkeys(profile))
    if otp_mandatory_at_login(policy):
        methods += [str(m) for m in policy.otp_methods
                    if str(m) in CONTACT_METHODS and str(m) not in methods]
    return tuple(methods)


def _first_offered(policy: Policy, have: Iterable[str]) -> str | None:
    """The first one-time method the policy offers (in its order) that ``have`` has."""
    have = set(have)
    return next((str(m) for m in policy.otp_methods if str(m) in have), None)


def customer_proofs(enrolled: tuple[str, ...], policy: Policy) -> Proofs:
    """A customer with ``enrolled`` methods: a passkey for ``phishing_resistant``, the
    first offered one-time method for ``otp`` (a passkey when it has none), the password
    for ``password``."""
    otp = _first_offered(policy, enrolled)
    passkey = PASSKEY in enrolled
    otp_step = (otp,) if otp else ((PASSKEY,) if passkey else None)
    pr_step = (PASSKEY,) if passkey else None
    passes = {PASSWORD}
    if otp_step:
        passes.add("otp")
    if passkey:
        passes.add("phishing_resistant")
    return Proofs(
        login={PASSWORD: (PASSWORD,), "otp": (PASSWORD, otp) if otp else pr_step,
               "phishing_resistant": pr_step},
        step_up={PASSWORD: (PASSWORD,), "otp": otp_step, "phishing_resistant": pr_step},
        failed_login=(PASSWORD, otp) if otp else (PASSWORD,),
        passes=frozenset(passes),
        can_pass=tuple(level for level in LEVELS[1:] if level in passes))


def attacker_proofs(attack: str, victim_enrolled: tuple[str, ...], policy: Policy) -> Proofs:
    """An attacker of kind ``attack`` against a victim with ``victim_enrolled`` methods
    under ``policy``. Its labels' ``can_pass`` is the attack's, less ``otp`` when none of
    the codes it could receive is one the victim has and the policy offers."""
    if attack == BENEFICIARY:
        proofs = customer_proofs(enrolled_methods(BENEFICIARY_METHODS, policy), policy)
        return Proofs(proofs.login, proofs.step_up, proofs.failed_login, proofs.passes,
                      CAN_PASS[BENEFICIARY])
    levels = CAN_PASS[attack]
    password = bool(levels)   # every attacker but a session replay has the password
    receives = set(METHODS.get(attack, ()))
    if "email_otp" in receives:
        receives |= EMAIL_DELIVERED
    otp = (_first_offered(policy, set(victim_enrolled) & receives)
           if "otp" in levels else None)
    passes = set()
    if password:
        passes.add(PASSWORD)
    if otp:
        passes.add("otp")
    return Proofs(
        login={PASSWORD: (PASSWORD,) if password else None,
               "otp": (PASSWORD, otp) if otp and password else None,
               "phishing_resistant": None},
        step_up={PASSWORD: (PASSWORD,) if password else None,
                 "otp": (otp,) if otp else None, "phishing_resistant": None},
        failed_login=(PASSWORD,),
        passes=frozenset(passes),
        can_pass=tuple(level for level in levels if level != "otp" or otp))


class ProofTable:
    """Proofs per (actor kind, enrolled methods) under one policy, built on first use
    (a handful of distinct keys in a whole run)."""

    __slots__ = ("_cache", "policy")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._cache: dict[tuple[str, tuple[str, ...]], Proofs] = {}

    def customer(self, enrolled: tuple[str, ...]) -> Proofs:
        key = ("", enrolled)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = customer_proofs(enrolled, self.policy)
        return found

    def attacker(self, attack: str, victim_enrolled: tuple[str, ...]) -> Proofs:
        key = (attack, victim_enrolled)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = attacker_proofs(attack, victim_enrolled, self.policy)
        return found
