"""Live traffic for the demo: a simulated stream fed, at an accelerated pace, to the
served app's decision API (``POST /api/v1/events``), so the app's engine sees customers
and crews at work and raises real alerts.

The events are the simulator's (``events.jsonl`` of a run), replayed in order with the
gaps between them divided by ``speedup`` and stamped with the wall-clock time of sending
(the API refuses events that go back in time). Ids and session ids get a prefix per pass,
so a stream can be sent again and again (a retried id would only return the first
answer). The feed talks to loopback only: simulated attackers never leave the machine.
"""

from __future__ import annotations

import ipaddress
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson

from kabuguard.domain.events import format_ts

MAX_BATCH = 200
# Keys an event's copy gets renamed in, so that each pass is new to the API.
_RENAMED = ("id", "session", "order_id")


class FeedError(RuntimeError):
    """The API refused a batch, or cannot be reached."""


def require_loopback(url: str) -> str:
    """``url`` if it points at this machine (localhost, 127.0.0.0/8, ::1), else an error:
    the simulator never sends traffic anywhere else.

    >>> require_loopback("http://localhost:8000")
    'http://localhost:8000'
    >>> require_loopback("http://example.com")
    Traceback (most recent call last):
    ...
    ValueError: the live feed only talks to this machine (localhost, 127.0.0.1, ::1), not 'example.com'
    """
    host = urlsplit(url).hostname or ""
    ok = host == "localhost"
    if not ok:
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = False
    if not ok:
        msg = f"the live feed only talks to this machine (localhost, 127.0.0.1, ::1), not {host!r}"
        raise ValueError(msg)
    return url.rstrip("/")


def paced(events: Iterable[dict[str, Any]], *, speedup: float, prefix: str
          ) -> Iterator[tuple[float, dict[str, Any]]]:
    """(seconds after the first event / speedup, the event renamed for this pass)."""
    first: float | None = None
    for event in events:
        ts = datetime.fromisoformat(event["ts"]).timestamp()
        first = ts if first is None else first
        copy = {k: v for k, v in event.items() if not k.startswith("_")}
        for key in _RENAMED:
            if copy.get(key):
                copy[key] = f"{prefix}{copy[key]}"
        yield (ts - first) / speedup, copy


@dataclass
class FeedStats:
    sent: int = 0
    batches: int = 0
    decisions: dict[str, int] = field(default_factory=dict)


class Feeder:
    """Posts paced events to ``{url}/api/v1/events`` with an API key."""

    def __init__(self, url: str, key: str, *, speedup: float = 600.0,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 timeout_s: float = 10.0) -> None:
        self.url = require_loopback(url)
        self.key = key
        self.speedup = speedup
        self.clock = clock
        self.now = now
        self.timeout_s = timeout_s
        self.stats = FeedStats()
        self._last: datetime | None = None

    def run(self, events: Iterable[dict[str, Any]], *, prefix: str,
            stop: threading.Event | None = None) -> FeedStats:
        """Send ``events`` once, paced; returns early when ``stop`` is set."""
        stop = stop or threading.Event()
        start = self.clock()
        batch: list[dict[str, Any]] = []
        for offset, event in paced(events, speedup=self.speedup, prefix=prefix):
            wait = start + offset - self.clock()
            if wait > 0 and batch:
                self._post(batch)
                batch = []
            if wait > 0 and stop.wait(wait):
                return self.stats
            batch.append(event)
            if len(batch) >= MAX_BATCH:
                self._post(batch)
                batch = []
        if batch:
            self._post(batch)
        return self.stats

    def _post(self, batch: list[dict[str, Any]]) -> None:
        # Never earlier than the last batch: the API refuses going back in time.
        now = self.now()
        self._last = now if self._last is None else max(now, self._last)
        stamp = format_ts(self._last)
        for event in batch:
            event["ts"] = stamp
        body = orjson.dumps({"events": batch})
        request = urllib.request.Request(  # noqa: S310 - loopback only (require_loopback)
            f"{self.url}/api/v1/events", data=body, method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:  # noqa: S310
                decisions = orjson.loads(answer.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:300].decode("utf-8", "replace")
            raise FeedError(f"the decision API answered {exc.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise FeedError(f"cannot reach {self.url}: {exc}") from None
        self.stats.sent += len(batch)
        self.stats.batches += 1
        for decision in _decisions(decisions):
            kind = decision.get("decision", "?")
            self.stats.decisions[kind] = self.stats.decisions.get(kind, 0) + 1


def _decisions(answer: Any) -> list[dict[str, Any]]:
    if isinstance(answer, dict) and isinstance(answer.get("decisions"), list):
        return answer["decisions"]
    if isinstance(answer, list):
        return answer
    return [answer] if isinstance(answer, dict) else []


def wait_until_up(url: str, *, timeout_s: float = 60.0, stop: threading.Event | None = None
                  ) -> bool:
    """Poll ``{url}/healthz`` until it answers (the server may still be starting)."""
    url = require_loopback(url)
    stop = stop or threading.Event()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not stop.is_set():
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):  # noqa: S310
                return True
        except (urllib.error.URLError, OSError):
            stop.wait(0.5)
    return False
