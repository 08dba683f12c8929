"""Write a simulated population in the interchange format (EVENTS.md) to a directory.

``accounts.jsonl`` is written as the customers are generated (one line at a time, so a
million customers need no more memory than ten); ``symbols.jsonl`` is the broker's symbol
master as ``kabuguard export symbols`` writes it; ``ip_ranges.csv`` is the simulator's
network table, for ``KABUGUARD_IP_RANGES``, so an engine replaying the output sees the
countries and kinds the simulator meant.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kabuguard.broker.symbols import Symbol
from kabuguard.sim.population import (
    generate_population,
    packaged_networks,
    sim_token,
    to_account_record,
)
from kabuguard.sim.scenario import Scenario

ACCOUNTS_FILE = "accounts.jsonl"
SYMBOLS_FILE = "symbols.jsonl"
IP_RANGES_FILE = "ip_ranges.csv"


@dataclass(frozen=True, slots=True)
class PopulationExport:
    """What ``write_population`` wrote: the directory and the number of customers."""

    directory: Path
    customers: int


def dumps_line(record: dict[str, object]) -> str:
    """One compact JSON Lines line (UTF-8 text, no ASCII escaping).

    >>> dumps_line({"a": 1, "b": "株"})
    '{"a":1,"b":"株"}\\n'
    """
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def write_symbols(path: Path, symbols: Iterable[Symbol]) -> int:
    """Write the EVENTS.md ``symbols.jsonl``; return the number of lines."""
    count = 0
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for symbol in symbols:
            out.write(json.dumps(symbol.to_interchange(), ensure_ascii=False) + "\n")
            count += 1
    return count


def write_population(directory: Path, scenario: Scenario, *, customers: int, seed: int,
                     symbols: Iterable[Symbol], as_of: datetime,
                     progress: Callable[[int], None] | None = None) -> PopulationExport:
    """Write ``accounts.jsonl``, ``symbols.jsonl`` and ``ip_ranges.csv`` into ``directory``
    (created if missing; files there are replaced).

    ``progress`` is called with the number of customers written every 10,000 and at the
    end. The output is a function of (scenario, customers, seed, symbols, as_of): the same
    arguments give the same bytes.

    Raises ValueError for a negative ``customers`` or a naive ``as_of``; OSError when the
    directory cannot be written.
    """
    if as_of.tzinfo is None:
        msg = "as_of must carry a time zone"
        raise ValueError(msg)
    symbols = list(symbols)
    directory.mkdir(parents=True, exist_ok=True)
    write_symbols(directory / SYMBOLS_FILE, symbols)
    text, _, _ = packaged_networks()
    (directory / IP_RANGES_FILE).write_text(text, encoding="utf-8", newline="\n")
    token = sim_token(seed)
    written = 0
    with (directory / ACCOUNTS_FILE).open("w", encoding="utf-8", newline="\n") as out:
        for customer in generate_population(scenario, customers=customers, seed=seed,
                                            symbols=symbols):
            out.write(dumps_line(to_account_record(customer, as_of=as_of, cipher_token=token)))
            written += 1
            if progress is not None and written % 10_000 == 0:
                progress(written)
    if progress is not None:
        progress(written)
    return PopulationExport(directory=directory, customers=written)
