"""Throttling of failed logins per address and per network, against credential
stuffing (about 105,000 brokerage credentials were on sale in 2025).

Counts live in process memory with a bounded number of keys (the oldest key is
dropped first), which is right for the embedded mode; the at-scale mode moves the
same counters to Redis. Only failures count, so a busy office behind one address is
not locked out by its own successful logins.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import OrderedDict, deque
from datetime import datetime, timedelta

from kabuguard.domain.errors import KabuguardError


class LoginThrottled(KabuguardError):
    status = 429
    code = "login_throttled"


def network_of(ip: str) -> str:
    """The network an address belongs to for throttling: /24 for IPv4, /48 for IPv6.

    >>> network_of("203.0.113.77"), network_of("2001:db8:1:2::5")
    ('203.0.113.0/24', '2001:db8:1::/48')
    """
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


class FailureThrottle:
    def __init__(self, *, window: timedelta = timedelta(minutes=10), per_ip: int = 20,
                 per_network: int = 100, max_keys: int = 100_000) -> None:
        self.window, self.per_ip, self.per_network = window, per_ip, per_network
        self.max_keys = max_keys
        self._events: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def _count(self, key: str, now: datetime) -> int:
        events = self._events.get(key)
        if not events:
            return 0
        while events and now - events[0] > self.window:
            events.popleft()
        return len(events)

    def check(self, ip: str, now: datetime) -> None:
        """Raise LoginThrottled when the address or its network failed too often lately.
        The password is not even checked then: a stuffing list learns nothing."""
        with self._lock:
            if (self._count(f"ip:{ip}", now) >= self.per_ip
                    or self._count(f"net:{network_of(ip)}", now) >= self.per_network):
                msg = ("Too many failed logins from your network. Please wait a few "
                       "minutes, or log in with a passkey.")
                raise LoginThrottled(msg, retry_after_seconds=int(self.window.total_seconds()))

    def record_failure(self, ip: str, now: datetime) -> None:
        with self._lock:
            for key in (f"ip:{ip}", f"net:{network_of(ip)}"):
                events = self._events.pop(key, None) or deque()
                events.append(now)
                # Each key keeps at most what its limit needs to know.
                while len(events) > max(self.per_ip, self.per_network):
                    events.popleft()
                self._events[key] = events
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
