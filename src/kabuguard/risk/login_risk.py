"""Login risk (risk-based authentication) after Freeman, Jain, Dürmuth, Biggio and
Giacinto, "Who Are You? A Statistical Approach to Measuring User Authenticity",
NDSS 2016.

The score of a login with feature values x_k for account u is a log10 likelihood ratio,
higher is riskier::

    score = Σ_k log10( p(x_k | attack) / p(x_k | u) )  +  attack-signal terms

over the features country → ASN → IP (one hierarchy, as in the paper:
p(IP | u) = p(country | u) · p(ASN | country, u) · p(IP | ASN, u)), device and user-agent
family (browser and OS without versions, so a browser update is not a new agent).
Features are taken as independent, as in the paper.

**Attacker model.** p(x | attack) is the value's share among all successful logins (the
paper's approximation: an attacker looks like the population), smoothed as
p_g(v | parent) = (g(v) + ½) / (g(parent) + 1), capped below 1.

**Account model.** p(x | u) is the account's own share, smoothed towards the global
share with a Dirichlet prior of strength α (Bayesian or MacKay-Peto smoothing; not
claimed to be the paper's exact form: it is chosen because the properties below then
hold for every value)::

    p(v | parent, u) = (c_u(v) + α · p_g(v | parent)) / (c_u(parent) + α)

so the ratio of a value is p_g · (n + α) / (c + α · p_g), with n = c_u(parent). Hence:

- a value the account never used (c = 0) has ratio (n + α) / α *whatever its global
  share*: rarity cancels, so a globally rare unseen value cannot look safer than a
  common one (ports that give unseen values a constant p(v | u) get this backwards),
  and a seen value always scores strictly lower than an unseen one (p_g·(n+α)/(c+α·p_g)
  < (n+α)/α exactly when c > 0);
- the unseen ratio grows with the history n: a new country weighs more against a long
  consistent history than against a short one (less evidence either way);
- down the hierarchy, a new IP in a known ASN scores below a new ASN in a known
  country, which scores below a new country;
- an account with no history of a feature scores 0 on it (ratio 1) and is not
  flagged ``new_*`` on it: there is nothing to differ from.

Departures from the paper, each for a stated reason: the account prior
p(u | attack) / p(u) is left out (it shifts whole accounts, not logins); a seen value's
term is floored at ``SEEN_LOG_FLOOR`` (a factor of 10) because global shares of rare
values are estimated from bounded, pruned counts, and one familiar (perhaps stolen)
device cookie should not cancel a new country against a history of 10 logins or more;
a level whose value is unknown (no ``ip_country`` or ``ip_asn``) is left out of the
product.

**Attack signals** (causal, over a sliding window of ``WINDOW_S``): failed logins per IP
and per ASN and distinct accounts failing per IP raise the score of any login from
there: at the threshold by ``IP_SIGNAL_TERM`` (``ASN_SIGNAL_TERM``), plus log10 of the
multiple of the threshold. Successes are not counted: carrier-grade NAT puts many
honest customers behind one address. ``ip_kind`` hosting, vpn and tor add a fixed term.

**Memory.** Per account at most ``VALUES_PER_FEATURE`` (K = 32) distinct values per
feature with their counts, the least recently used evicted first, so at most 5·K
entries; counts halve when a feature's total exceeds ``HISTORY_HALVE_AT``, which also
caps the unseen term at log10(HISTORY_HALVE_AT + α). Global counts keep at most
``GLOBAL_VALUES_MAX`` values per feature: past that the most frequent half is kept
(the rest are rare, and a rare value's smoothed share is ~½/(total+1) either way).
The attack windows hold only the keys with failures in the last hour, in 5-minute
buckets, and remember at most ``ACCOUNTS_PER_IP_MAX`` accounts per IP.

**Determinism.** No output depends on hashing or dict order; the score is rounded to
1e-4 so that it does not depend on the platform's libm in the last bits.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import deque
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter

from kabuguard.domain.useragent import browser_label

ALPHA = 1.0                   # strength of the global prior in p(v | u), in logins
VALUES_PER_FEATURE = 32       # K: distinct values remembered per account and feature
HISTORY_HALVE_AT = 256        # a feature's counts halve past this many logins
SEED_LOGINS = 4               # a value in accounts.jsonl history counts as this many logins
GLOBAL_VALUES_MAX = 100_000   # distinct values counted globally per feature
P_GLOBAL_MAX = 0.999          # a global conditional share below 1 keeps the hierarchy strict
SEEN_LOG_FLOOR = -1.0         # a familiar value lowers the score 10x at most, per level

WINDOW_S = 3600.0             # attack signals look back one hour ...
BUCKET_S = 300.0              # ... in 5-minute buckets (a count covers 55-60 minutes)
IP_FAILURES_MIN = 10          # ip_many_failures: failed logins from one IP in the window
IP_ACCOUNTS_MIN = 5           # ip_many_accounts: distinct accounts failing from one IP
ASN_FAILURES_MIN = 50         # asn_many_failures: failed logins from one ASN
IP_SIGNAL_TERM = 1.0          # added at an IP threshold (+ log10 of its multiple)
ASN_SIGNAL_TERM = 0.5         # an ASN is shared by many honest customers: half weight
HOSTING_TERM = 0.5            # logins from data centres are rare for customers
VPN_OR_TOR_TERM = 0.5
ACCOUNTS_PER_IP_MAX = 1_000   # ip_accounts saturates here (bounded memory)

FAILURES = frozenset({"bad_password", "bad_second_factor", "locked", "unknown_user"})
SUCCESS = "success"

# Feature indexes; the first three form the network hierarchy, parent first.
COUNTRY, ASN, IP, DEVICE, AGENT = range(5)
FEATURE_NAMES = ("country", "asn", "ip", "device", "user_agent")
_NEW_REASONS = ("new_country", "new_asn", "new_ip", "new_device", "new_user_agent")
_FEATURES = 5
_UNKNOWN_USER = "\x00unknown"   # stands for every login naming no account, in ip_accounts

_SEEN_RATIO_FLOOR = 10.0 ** SEEN_LOG_FLOOR
_SKIP = object()   # a feature a record does not carry (a network entry has no device)
_NO_COUNTS: tuple[dict[Hashable, int], ...] = tuple({} for _ in range(_FEATURES))  # never written
_NO_TOTALS = (0,) * _FEATURES
_log10 = math.log10

_VERSION = re.compile(r"\d+(?:[._,]\d+)*")
_FAMILY_CACHE_MAX = 4096


def user_agent_family(user_agent: str | None) -> str:
    """Browser and system of a User-Agent without version numbers.

    >>> user_agent_family("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    ...                   "(KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36")
    'Chrome / Windows'
    >>> user_agent_family("KabuguardApp/3.2.1 (iOS 18.3; iPhone15,2)")
    'KabuguardApp/ (iOS ; iPhone'
    >>> user_agent_family(None)
    '—'
    """
    return " ".join(_VERSION.sub(" ", browser_label(user_agent)).split())


@dataclass(slots=True, frozen=True)
class LoginObservation:
    """What a login attempt shows of where it comes from (EVENTS.md fields)."""

    ip: str
    asn: int | None
    country: str | None
    ip_kind: str | None
    user_agent: str | None
    device: str | None


@dataclass(slots=True)
class LoginRisk:
    """``score``: log10 likelihood ratio attack / account (higher riskier), with its
    ``reasons``; ``new_*``: the account has history of that feature and never used this
    value; ``ip_failures``, ``ip_accounts``, ``asn_failures``: in the last hour.
    Read-only by convention (not frozen: a frozen dataclass costs 1 µs a login)."""

    score: float
    reasons: tuple[str, ...]
    new_device: bool
    new_ip: bool
    new_asn: bool
    new_country: bool
    new_user_agent: bool
    ip_failures: int
    ip_accounts: int
    asn_failures: int


class _Account:
    """One account's history: per feature, value -> count in least-recently-used order
    (oldest first), and the feature's total count (evicted values included)."""

    __slots__ = ("counts", "home", "totals")

    def __init__(self) -> None:
        self.counts: tuple[dict[Hashable, int], ...] = tuple({} for _ in range(_FEATURES))
        self.totals = [0] * _FEATURES
        self.home: str | None = None


class _WindowCounts:
    """Events per key over the last ``buckets`` buckets of ``bucket_s`` seconds.

    Running totals make a read O(1); a bucket leaving the window is subtracted once.
    Reads do not change state: buckets already out of the window at the read's time are
    subtracted on the fly (there are at most a few).
    """

    __slots__ = ("bucket_s", "buckets", "ring", "totals")

    def __init__(self, *, window_s: float, bucket_s: float) -> None:
        self.bucket_s = bucket_s
        self.buckets = max(1, round(window_s / bucket_s))
        self.ring: deque[tuple[int, dict[Hashable, int]]] = deque()
        self.totals: dict[Hashable, int] = {}

    def _bucket(self, ts_s: float) -> dict[Hashable, int]:
        index = int(ts_s // self.bucket_s)
        ring = self.ring
        if ring and index <= ring[-1][0]:
            return ring[-1][1]   # same bucket, or a late event: counted in the newest
        cutoff = index - self.buckets
        totals = self.totals
        while ring and ring[0][0] <= cutoff:
            for key, n in ring.popleft()[1].items():
                left = totals[key] - n
                if left:
                    totals[key] = left
                else:
                    del totals[key]
        ring.append((index, {}))
        return ring[-1][1]

    def add(self, key: Hashable, ts_s: float) -> None:
        bucket = self._bucket(ts_s)
        bucket[key] = bucket.get(key, 0) + 1
        self.totals[key] = self.totals.get(key, 0) + 1

    def count(self, key: Hashable, ts_s: float) -> int:
        n = self.totals.get(key, 0)
        if n:
            cutoff = int(ts_s // self.bucket_s) - self.buckets
            for index, bucket in self.ring:
                if index > cutoff:
                    break
                n -= bucket.get(key, 0)
        return n


class _WindowDistinct:
    """Distinct members per key over the last ``buckets`` buckets: for each key, each
    member's newest bucket; a leaving bucket drops the members it was newest for."""

    __slots__ = ("bucket_s", "buckets", "members_max", "newest", "ring")

    def __init__(self, *, window_s: float, bucket_s: float, members_max: int) -> None:
        self.bucket_s = bucket_s
        self.buckets = max(1, round(window_s / bucket_s))
        self.members_max = members_max
        self.ring: deque[tuple[int, dict[Hashable, set[Hashable]]]] = deque()
        self.newest: dict[Hashable, dict[Hashable, int]] = {}

    def add(self, key: Hashable, member: Hashable, ts_s: float) -> None:
        index = int(ts_s // self.bucket_s)
        ring, newest = self.ring, self.newest
        if ring and index <= ring[-1][0]:
            index = ring[-1][0]
        else:
            cutoff = index - self.buckets
            while ring and ring[0][0] <= cutoff:
                old, keys = ring.popleft()
                for k, members in keys.items():
                    seen = newest[k]
                    for m in members:
                        if seen.get(m) == old:
                            del seen[m]
                    if not seen:
                        del newest[k]
            ring.append((index, {}))
        seen = newest.get(key)
        if seen is None:
            seen = newest[key] = {}
        elif member not in seen and len(seen) >= self.members_max:
            return   # saturated: the count stays at the cap
        seen[member] = index
        ring[-1][1].setdefault(key, set()).add(member)

    def count(self, key: Hashable, ts_s: float) -> int:
        seen = self.newest.get(key)
        if not seen:
            return 0
        cutoff = int(ts_s // self.bucket_s) - self.buckets
        if self.ring[0][0] > cutoff:
            return len(seen)
        return sum(1 for index in seen.values() if index > cutoff)


def _parse_last_seen(entry: Mapping[str, object]) -> float:
    value = entry.get("last_seen")
    if not isinstance(value, str):
        return -math.inf   # unknown: the oldest
    try:
        seen = datetime.fromisoformat(value)
    except ValueError:
        return -math.inf
    # RFC 3339 carries an offset; a naive time is read as UTC, never as the machine's zone.
    return (seen if seen.tzinfo else seen.replace(tzinfo=UTC)).timestamp()


class LoginRiskModel:
    """Scores logins against each account's history and the population (module docstring).

    Feed it in time order: ``score`` a login, decide, then ``observe`` its outcome.
    """

    def __init__(self, *, alpha: float = ALPHA, values_per_feature: int = VALUES_PER_FEATURE,
                 seed_logins: int = SEED_LOGINS, global_values_max: int = GLOBAL_VALUES_MAX,
                 window_s: float = WINDOW_S, bucket_s: float = BUCKET_S) -> None:
        if alpha <= 0 or values_per_feature < 1 or seed_logins < 1 or global_values_max < 2:
            msg = "alpha, values_per_feature, seed_logins must be positive; global_values_max >= 2"
            raise ValueError(msg)
        self._alpha = alpha
        self._k = values_per_feature
        self._seed_logins = seed_logins
        self._global_max = global_values_max
        self._accounts: dict[str, _Account] = {}
        self._global: tuple[dict[Hashable, int], ...] = tuple({} for _ in range(_FEATURES))
        self._global_totals = [0] * _FEATURES
        self._ip_failures = _WindowCounts(window_s=window_s, bucket_s=bucket_s)
        self._asn_failures = _WindowCounts(window_s=window_s, bucket_s=bucket_s)
        self._ip_accounts = _WindowDistinct(window_s=window_s, bucket_s=bucket_s,
                                            members_max=ACCOUNTS_PER_IP_MAX)
        self._families: dict[str | None, str] = {}
        # log10((n + α) / α), the unseen term, for every history length a feature can have.
        self._unseen_log = [_log10((n + alpha) / alpha) for n in range(HISTORY_HALVE_AT + 1)]

    # -- history ---------------------------------------------------------------------

    def seed_account(self, account: str, *, devices: list[dict], networks: list[dict],
                     home_country: str | None, ts_s: float) -> None:
        """Take the history the firm already holds (accounts.jsonl ``devices``,
        ``networks``, ``home_country``): each listed value counts as ``seed_logins``
        logins of the account and of the population, the most recently seen last in
        the account's least-recently-used order. ``ts_s`` (the stream start) is not
        needed by the model: history carries no attack signal."""
        del ts_s
        acct = self._account(account)
        if home_country:
            acct.home = home_country
        weight = self._seed_logins
        for entry in sorted(networks, key=_parse_last_seen):
            asn = entry.get("ip_asn")
            self._learn(acct, (entry.get("ip_country") or None,
                               asn if isinstance(asn, int) else None, entry.get("ip"),
                               _SKIP, _SKIP), weight)
        for entry in sorted(devices, key=_parse_last_seen):
            self._learn(acct, (_SKIP, _SKIP, _SKIP, entry.get("device"),
                               self._family(entry.get("user_agent"))), weight)

    def observe(self, account: str | None, obs: LoginObservation, outcome: str,
                ts_s: float) -> None:
        """Learn from a login's outcome (EVENTS.md): a success joins the account's history
        and the population counts; a failure (``bad_password``, ``bad_second_factor``,
        ``locked``, ``unknown_user``) feeds the attack signals of its IP and ASN.
        Raises ValueError for any other outcome."""
        if outcome == SUCCESS:
            acct = self._account(account) if account is not None else None
            self._learn(acct, (obs.country, obs.asn, obs.ip, obs.device,
                               self._family(obs.user_agent)), 1)
        elif outcome in FAILURES:
            self._ip_failures.add(obs.ip, ts_s)
            if obs.asn is not None:
                self._asn_failures.add(obs.asn, ts_s)
            self._ip_accounts.add(obs.ip, account if account is not None else _UNKNOWN_USER,
                                  ts_s)
        else:
            msg = f"unknown login outcome {outcome!r}"
            raise ValueError(msg)

    def remembered(self, account: str) -> dict[str, int]:
        """Distinct values held for ``account`` per feature (each at most K)."""
        acct = self._accounts.get(account)
        return {name: len(acct.counts[f]) if acct else 0 for f, name in enumerate(FEATURE_NAMES)}

    def global_values(self) -> dict[str, int]:
        """Distinct values counted globally per feature (each at most the global bound)."""
        return {name: len(self._global[f]) for f, name in enumerate(FEATURE_NAMES)}

    def _account(self, account: str) -> _Account:
        acct = self._accounts.get(account)
        if acct is None:
            acct = self._accounts[account] = _Account()
        return acct

    def _family(self, user_agent: str | None) -> str:
        family = self._families.get(user_agent)
        if family is None:
            if len(self._families) >= _FAMILY_CACHE_MAX:
                self._families.clear()   # a cache only: outputs never depend on it
            family = self._families[user_agent] = user_agent_family(user_agent)
        return family

    def _learn(self, acct: _Account | None, values: tuple[Hashable, ...], weight: int) -> None:
        """Count ``values`` (one per feature index; ``_SKIP`` for a feature the record
        does not carry) in the account's history and the population's."""
        k, glob, gtotals = self._k, self._global, self._global_totals
        for f in range(_FEATURES):
            value = values[f]
            if value is _SKIP or (value is None and f <= IP):
                continue   # an unknown country or ASN is no evidence (see the docstring)
            if acct is not None:
                counts = acct.counts[f]
                c = counts.pop(value, 0)
                counts[value] = c + weight        # re-inserted: most recent last
                if not c and len(counts) > k:
                    del counts[next(iter(counts))]   # least recently used
                total = acct.totals[f] + weight
                if total > HISTORY_HALVE_AT:
                    # Age the history: recent habits weigh more and n (hence the unseen
                    # term) stays bounded. A value once seen stays seen (count >= 1).
                    total //= 2
                    for key in counts:
                        counts[key] = max(1, counts[key] // 2)
                acct.totals[f] = total
            gcounts = glob[f]
            g = gcounts.get(value, 0)
            gcounts[value] = g + weight
            gtotals[f] += weight
            if not g and len(gcounts) > self._global_max:
                # Keep the most frequent half; ties keep the earlier-counted value
                # (nlargest is stable), so the result does not depend on hashing.
                kept = heapq.nlargest(self._global_max // 2, gcounts.items(),
                                      key=itemgetter(1))
                gcounts.clear()
                gcounts.update(kept)

    # -- scoring ---------------------------------------------------------------------

    def score(self, account: str | None, obs: LoginObservation, ts_s: float) -> LoginRisk:
        """The risk of this login before its outcome is known; changes no state."""
        acct = self._accounts.get(account) if account is not None else None
        if acct is None:
            counts, totals = _NO_COUNTS, _NO_TOTALS
        else:
            counts, totals = acct.counts, acct.totals
        total, new = self._history_terms(counts, totals, obs)
        reasons = ([name for name, flag in zip(_NEW_REASONS, new, strict=True) if flag]
                   if True in new else [])   # most logins: nothing new
        if acct is not None and acct.home and obs.country and obs.country != acct.home:
            reasons.append("foreign_country")
        kind = obs.ip_kind
        if kind == "hosting":
            total += HOSTING_TERM
            reasons.append("hosting_network")
        elif kind in ("vpn", "tor"):
            total += VPN_OR_TOR_TERM
            reasons.append("vpn_or_tor")
        signal, ip_failures, ip_accounts, asn_failures = self._signal_terms(obs, ts_s, reasons)
        total += signal
        return LoginRisk(round(total, 4) + 0.0, tuple(reasons), new[DEVICE], new[IP], new[ASN],
                         new[COUNTRY], new[AGENT], ip_failures, ip_accounts, asn_failures)

    def _history_terms(self, counts: tuple[dict[Hashable, int], ...],
                       totals: list[int] | tuple[int, ...],
                       obs: LoginObservation) -> tuple[float, list[bool]]:
        """Σ log10 p_g(v) / p(v | u) over the features, and which values are new.

        An unseen value (c = 0) contributes log10((n + α) / α), a seen one
        log10(p_g · (n + α) / (c + α · p_g)) floored at SEEN_LOG_FLOOR (module docstring).
        """
        alpha, unseen = self._alpha, self._unseen_log
        glob, gtotals = self._global, self._global_totals
        family = self._families.get(obs.user_agent) or self._family(obs.user_agent)
        values = (obs.country, obs.asn, obs.ip, obs.device, family)
        total = 0.0
        new = [False] * _FEATURES
        parent_u = parent_g = -1   # the nearest known level above (network hierarchy)
        for f in range(_FEATURES):
            value = values[f]
            n_u = totals[f]
            if f > IP:
                n_g = gtotals[f]
            elif value is None:
                continue   # an unknown country or ASN: left out of the product
            elif parent_g < 0:
                n_g = gtotals[f]
            else:
                n_g, n_u = parent_g, parent_u
            c = counts[f].get(value, 0)
            g = glob[f].get(value, 0)
            if c == 0:
                # Unseen: p_g cancels, the ratio is (n + α) / α.
                total += unseen[n_u] if n_u < len(unseen) else _log10((n_u + alpha) / alpha)
                new[f] = totals[f] > 0
            else:
                # Comparisons, not min() (a call): this runs five times a login.
                c = c if c <= n_u else n_u   # a child never outnumbers its parent (evictions)
                p = (g + 0.5) / (n_g + 1.0)
                p = p if p <= P_GLOBAL_MAX else P_GLOBAL_MAX
                ratio = p * (n_u + alpha) / (c + alpha * p)
                total += _log10(ratio) if ratio > _SEEN_RATIO_FLOOR else SEEN_LOG_FLOOR
            if f < IP:
                parent_u, parent_g = c, g
        return total, new

    def _signal_terms(self, obs: LoginObservation, ts_s: float,
                      reasons: list[str]) -> tuple[float, int, int, int]:
        """The attack-signal terms of a login (appending their reasons) and the counts."""
        total = 0.0
        ip, asn = obs.ip, obs.asn
        # Most addresses and networks have no failure in the window: skip the counts' calls.
        ip_failures = (self._ip_failures.count(ip, ts_s) if ip in self._ip_failures.totals
                       else 0)
        ip_accounts = self._ip_accounts.count(ip, ts_s) if ip in self._ip_accounts.newest else 0
        asn_failures = (self._asn_failures.count(asn, ts_s)
                        if asn is not None and asn in self._asn_failures.totals else 0)
        if not (ip_failures or ip_accounts or asn_failures):
            return total, 0, 0, 0
        if ip_failures >= IP_FAILURES_MIN:
            total += IP_SIGNAL_TERM + _log10(ip_failures / IP_FAILURES_MIN)
            reasons.append("ip_many_failures")
        if ip_accounts >= IP_ACCOUNTS_MIN:
            total += IP_SIGNAL_TERM + _log10(ip_accounts / IP_ACCOUNTS_MIN)
            reasons.append("ip_many_accounts")
        if asn_failures >= ASN_FAILURES_MIN:
            total += ASN_SIGNAL_TERM + _log10(asn_failures / ASN_FAILURES_MIN)
            reasons.append("asn_many_failures")
        return total, ip_failures, ip_accounts, asn_failures

