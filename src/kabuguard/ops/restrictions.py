"""Symbols the firm's customers may not buy (or sell) until lifted.

In 2025 brokers stopped buys of Chinese stocks wholesale (Rakuten: over 1,000
symbols at once) and of dozens of illiquid Japanese ones (CASE.md). A restriction is
set by the desk one symbol at a time, by a bulk import of a list (previewed first,
with the codes the symbol master does not know), or by the engine's cross-account
detector (mirrored here so the desk sees and can lift it).

Everyone honours the same set: the broker refuses the order (``BrokerService.restricted``,
from the set kept in memory here and reloaded by the app's background loop), and the
risk engine's state gets each change as a desk action in its log
(``DecisionLog.desk``), so its decisions (the decision API's, the app's guard's) agree.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from kabuguard.broker.symbols import Symbol
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import Conflict, InvalidInput, NotFound
from kabuguard.domain.ids import new_id
from kabuguard.journal import Journal
from kabuguard.ops.console_models import Staff, SymbolRestriction
from kabuguard.ops.staff import Operator, Permission, audit_desk, require
from kabuguard.store.database import Database

if TYPE_CHECKING:
    from kabuguard.risk.decision_log import DecisionLog

SIDES = ("buy", "sell")
MAX_IMPORT_LINES = 20_000
MAX_IMPORT_BYTES = 2 * 1024 * 1024
_HEADER_WORDS = frozenset({"symbol", "code", "ticker", "銘柄コード", "コード", "銘柄"})


@dataclass(frozen=True, slots=True)
class RestrictionView:
    id: str
    symbol: str
    name: str | None
    market: str | None
    side: str
    source: str
    reason: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ImportPreview:
    """A list read, nothing changed yet: the codes that will be restricted, the ones
    the symbol master does not know, the ones restricted already."""

    known: list[str]
    unknown: list[str]
    already: list[str]
    duplicates: int


def parse_symbol_list(text: str) -> list[str]:
    """Codes from a pasted list or a CSV file: one per line (the first column of a CSV,
    a header line skipped) or separated by spaces; full-width characters and case
    normalised; order kept.

    >>> parse_symbol_list("symbol,name\\n600004.SS,Baiyun\\n０７００．ｈｋ\\n7203 6758")
    ['600004.SS', '0700.HK', '7203', '6758']
    """
    if len(text.encode()) > MAX_IMPORT_BYTES:
        raise InvalidInput("The list is over 2 MB.", field="symbols")
    lines = unicodedata.normalize("NFKC", text).splitlines()
    if len(lines) > MAX_IMPORT_LINES:
        raise InvalidInput(f"The list has more than {MAX_IMPORT_LINES:,} lines.",
                           field="symbols")
    codes: list[str] = []
    for i, line in enumerate(lines):
        if "," in line or "\t" in line:
            row = next(csv.reader(io.StringIO(line),
                                  delimiter="\t" if "\t" in line else ","), [])
            tokens = row[:1]
        else:
            tokens = line.split()
        for token in tokens:
            code = token.strip().strip("\"'").upper()
            if not code or (i == 0 and code.lower() in _HEADER_WORDS):
                continue
            codes.append(code)
    return codes


class SymbolRestrictions:
    def __init__(self, db: Database, *, journal: Journal, symbols: Mapping[str, Symbol],
                 clock: Clock = utcnow) -> None:
        self.db, self.journal, self.symbols, self.clock = db, journal, symbols, clock
        self.engine: DecisionLog | None = None
        self._active: frozenset[tuple[str, str]] = frozenset()

    # -- the set everyone reads --------------------------------------------------------

    def load(self) -> None:
        """Read the active restrictions (at start, then by the background loop)."""
        with self.db.read() as session:
            self._active = frozenset((symbol, side) for symbol, side in session.execute(
                select(SymbolRestriction.symbol, SymbolRestriction.side)
                .where(SymbolRestriction.lifted_at.is_(None))))

    def is_restricted(self, symbol: str, side: str) -> bool:
        return (symbol, side) in self._active

    def active(self) -> list[RestrictionView]:
        with self.db.read() as session:
            rows = session.execute(
                select(SymbolRestriction, Staff.name)
                .outerjoin(Staff, Staff.id == SymbolRestriction.created_by)
                .where(SymbolRestriction.lifted_at.is_(None))
                .order_by(SymbolRestriction.created_at.desc(), SymbolRestriction.symbol)).all()
        out = []
        for r, name in rows:
            sym = self.symbols.get(r.symbol)
            out.append(RestrictionView(r.id, r.symbol, (sym.name_ja or sym.name) if sym else None,
                                       str(sym.market) if sym else None, r.side, r.source,
                                       r.reason, name or r.created_by, r.created_at))
        return out

    # -- changes -----------------------------------------------------------------------

    def preview(self, text: str) -> ImportPreview:
        codes = parse_symbol_list(text)
        seen: set[str] = set()
        known, unknown, already = [], [], []
        for code in codes:
            if code in seen:
                continue
            seen.add(code)
            if code not in self.symbols:
                unknown.append(code)
            elif self.is_restricted(code, "buy"):
                already.append(code)
            else:
                known.append(code)
        return ImportPreview(known, unknown, already, len(codes) - len(seen))

    def restrict(self, symbols: Sequence[str], *, side: str = "buy", source: str = "desk",
                 operator: Operator) -> int:
        """Restrict ``symbols`` for ``side``; unknown codes are refused, codes already
        restricted skipped. Returns how many are new. One transaction however long the
        list (the rows, the engine's desk actions and one audit record)."""
        require(operator, Permission.WORK)
        if side not in SIDES:
            raise InvalidInput("side must be buy or sell", field="side")
        unknown = [s for s in symbols if s not in self.symbols]
        if unknown:
            raise InvalidInput(f"Unknown symbol codes: {', '.join(unknown[:10])}",
                               field="symbols", unknown=unknown[:100])
        self.load()
        new = list(dict.fromkeys(s for s in symbols if not self.is_restricted(s, side)))
        if not new:
            raise Conflict("Every symbol given is restricted already.", field="symbols")
        batch = new_id("batch") if source == "import" else None
        now = self.clock()

        def write(session: Session) -> None:
            session.add_all([SymbolRestriction(
                id=new_id("rst"), symbol=code, side=side, source=source,
                reason=operator.reason, batch_id=batch, created_by=operator.staff_id,
                created_at=now) for code in new])
            audit_desk(self.journal, session, operator, action="symbols_restricted",
                       subject=new[0] if len(new) == 1 else batch, now=now, side=side,
                       source=source, count=len(new), symbols=new)

        self._apply([{"type": "restrict_symbol", "symbol": s, "side": side} for s in new],
                    operator, write)
        self._active = self._active | {(s, side) for s in new}
        return len(new)

    def lift(self, restriction_id: str, *, operator: Operator) -> RestrictionView:
        require(operator, Permission.WORK)
        now = self.clock()
        with self.db.read() as session:
            row = session.get(SymbolRestriction, restriction_id)
        if row is None or row.lifted_at is not None:
            raise NotFound("No such active restriction.", field="restriction_id")

        def write(session: Session) -> None:
            current = session.get(SymbolRestriction, restriction_id)
            assert current is not None  # noqa: S101 - read above
            current.lifted_at, current.lifted_by = now, operator.staff_id
            current.lift_reason = operator.reason
            audit_desk(self.journal, session, operator, action="restriction_lifted",
                       subject=row.symbol, now=now, side=row.side, restriction=restriction_id)

        self._apply([{"type": "lift_restriction", "symbol": row.symbol, "side": row.side}],
                    operator, write)
        self.load()
        return RestrictionView(row.id, row.symbol, None, None, row.side, row.source, row.reason,
                               row.created_by, row.created_at)

    def _apply(self, actions: list[dict[str, str]], operator: Operator,
               write: Callable[[Session], None]) -> None:
        """The rows and the engine's state in one transaction (the log's), or the rows
        alone with the engine off."""
        if self.engine is not None:
            self.engine.desk(actions, actor=operator.actor, on_write=write)
        else:
            with self.db.write() as session:
                write(session)

    def mirror_engine(self, session: Session, *, symbol: str, side: str, now: datetime,
                      event_id: str) -> None:
        """Record a restriction the engine made itself (cross-account), in the alert
        feed's transaction, so the desk sees it and can lift it."""
        exists = session.scalar(select(SymbolRestriction.id).where(
            SymbolRestriction.symbol == symbol, SymbolRestriction.side == side,
            SymbolRestriction.lifted_at.is_(None)))
        if exists is None:
            session.add(SymbolRestriction(
                id=new_id("rst"), symbol=symbol, side=side, source="engine",
                reason=f"cross-account detection (event {event_id})", created_by="risk",
                created_at=now))

