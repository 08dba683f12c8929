"""``kabuguard replay``: one decision per event of an interchange stream, causal and
deterministic (EVENTS.md), made by the same ``StreamGuard`` as the simulator's loop."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kabuguard.domain.netinfo import IpRanges
from kabuguard.guard.policy import Policy
from kabuguard.risk.rules import RuleSet
from kabuguard.risk.stream import JsonlWriter, iter_events, read_accounts, read_symbols
from kabuguard.risk.stream_guard import StreamGuard

DECISIONS_FILE = "decisions.jsonl"
ALERTS_FILE = "alerts.jsonl"
IP_RANGES_FILE = "ip_ranges.csv"


@dataclass(frozen=True, slots=True)
class ReplayResult:
    events: int
    decisions: Mapping[str, int]
    alerts: int
    out: Path


def ip_ranges_for(events: Path, explicit: Path | None = None) -> IpRanges:
    """The address table to enrich events with: the one given, else an
    ``ip_ranges.csv`` beside the events (the simulator writes one), else the firm's
    (``KABUGUARD_IP_RANGES``), else the packaged sample."""
    if explicit is not None:
        return IpRanges.from_csv(explicit)
    beside = events.parent / IP_RANGES_FILE
    if beside.exists():
        return IpRanges.from_csv(beside)
    env = os.environ.get("KABUGUARD_IP_RANGES")
    if env:
        return IpRanges.from_csv(Path(env))
    return IpRanges.packaged()


def decide_all(guard: StreamGuard, events: Iterable[dict[str, Any]],
               sink: Callable[[dict[str, Any]], None],
               progress: Callable[[int], None] | None = None) -> dict[str, int]:
    counts: dict[str, int] = {}
    n = 0
    for event in events:
        decision = guard.decide(event)
        sink(decision)
        kind = decision["decision"]
        counts[kind] = counts.get(kind, 0) + 1
        n += 1
        if progress is not None and n % 10_000 == 0:
            progress(10_000)
    if progress is not None and n % 10_000:
        progress(n % 10_000)
    return counts


def replay(*, symbols: Path, accounts: Path | None, events: Path, out: Path, policy: Policy,
           rules: RuleSet | None = None, risk: bool = True, ip_ranges: Path | None = None,
           progress: Callable[[int], None] | None = None) -> ReplayResult:
    """Decide every event of ``events`` and write ``decisions.jsonl`` (and the alerts
    raised, ``alerts.jsonl``) into ``out``. Raises ``StreamError`` on bad input before
    any output is final: decisions are written to a temporary file renamed at the end."""
    # The reference data and the engine's seeded state live as long as the replay and
    # hold no garbage cycles: built with the cyclic collector paused and then set aside
    # from its scans (gc.freeze), or it rescans the growing heap again and again while
    # accounts load (a fifteenth of a whole replay's time for 20,000 accounts). A
    # caller's own freeze is left alone.
    freeze = gc.get_freeze_count() == 0
    try:
        with _collector_paused():
            symbol_records = read_symbols(symbols)
            account_records = read_accounts(accounts) if accounts is not None else {}
            guard = StreamGuard(policy, symbol_records, account_records, risk=risk,
                                rules=rules, ip_ranges=ip_ranges_for(events, ip_ranges))
            if freeze:
                gc.freeze()
        return _run(guard, events, out, progress)
    finally:
        if freeze:
            gc.unfreeze()


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run(guard: StreamGuard, events: Path, out: Path,
         progress: Callable[[int], None] | None) -> ReplayResult:
    out.mkdir(parents=True, exist_ok=True)
    final, partial = out / DECISIONS_FILE, out / (DECISIONS_FILE + ".partial")
    try:
        with JsonlWriter(partial) as writer:
            counts = decide_all(guard, iter_events(events), writer.write, progress)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(final)
    with JsonlWriter(out / ALERTS_FILE) as writer:
        for alert in guard.alerts:
            writer.write(alert)
    return ReplayResult(events=sum(counts.values()), decisions=counts,
                        alerts=len(guard.alerts), out=out)
