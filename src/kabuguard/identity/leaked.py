"""Leaked combo lists: find the customers whose login id and *current* password are on
sale, and take the credential out of the criminals' hands.

About 105,000 brokerage credentials were found on dark-web markets in 2025 (CASE.md).
They are sold as combo lists, one ``login_id:password`` per line. An operator imports
such a list; each line whose login id is a customer's is checked against the stored
argon2id hash (the same verification a login does), so a match means the password
works *today*. For each match, in one transaction: a ``LeakedCredentialMatch`` row, the
customer's ``password_reset_required_at`` flag, every session revoked, an audit record
and a ``LEAKED_CREDENTIALS`` notice by e-mail and SMS.

What the flag does, at the next login (``leaked_login_decision``): the password alone
no longer logs in, whatever the policy says. The customer's authenticator app (level
``otp``) or passkey must confirm it, and the session it opens may do nothing but change
the password (``SessionInfo.password_change_required``; the web layer enforces it).
A customer with neither is refused with a message to call the support desk: a leaked
password is exactly what an impostor would type, and nothing else tells them apart.
When e-mail one-time codes exist as a login step, they belong in the ``has_app``
branch (e-mail is weaker here, since infostealer logs often hold the mailbox too, but
better than sending every customer to the telephone).

No plaintext is kept or logged. A match is identified by ``FieldCipher.token`` over
(customer id, password): a keyed hash, so the same pair imported again (from the same
or another list) is recognised without verifying it a second time, and a new password
can be checked against every password of the customer ever found leaked. Each line's
password is dropped as soon as it is verified (Python cannot wipe a string; no
reference to it outlives its batch).

The verification is the expensive part (argon2id, 19 MiB and ~20-30 ms per call): it
runs in a bounded thread pool. argon2-cffi releases the GIL during the hash, so threads
scale like processes without pickling anything (bench/leaked_import.py measures both).
Memory is bounded: the file is read line by line (each line at most
``MAX_LINE_BYTES``), ``BATCH_LINES`` lines at a time, with one ``IN`` query per batch
for the login ids, and argon2 needs 19 MiB per worker.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kabuguard.crypto import FieldCipher
from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import InvalidInput
from kabuguard.domain.ids import new_id
from kabuguard.guard.interfaces import Decision, Outcome
from kabuguard.identity.methods import Level
from kabuguard.identity.models import (
    Customer,
    LeakedCredentialMatch,
    Passkey,
    TotpAuthenticator,
    WebSession,
)
from kabuguard.identity.passwords import PasswordService
from kabuguard.journal import Journal
from kabuguard.notify.interfaces import Medium, NoticeKind, Notifier, NullNotifier
from kabuguard.store.database import Database

BATCH_LINES = 1_000
# A combo line is a login id (at most 64) and a password (at most 256 characters, up
# to 4 bytes each in UTF-8): anything longer is not one, and is never held whole.
MAX_LINE_BYTES = 2_048
MAX_PASSWORD_CHARS = 256
MAX_WORKERS = 16  # argon2 holds 19 MiB per verification in flight
MAX_SOURCE_CHARS = 100
REASON_LEAKED = "leaked_credentials"
REASON_NO_SECOND_FACTOR = "leaked_credentials_no_second_factor"
LOGIN_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


# The batch's values are bound at execution: a statement built with ``in_(values)``
# would carry them into SQLAlchemy's statement cache, which keeps one per IN-list length
# and so holds on to ever more lines of the list as the import runs.
_CUSTOMERS_BY_LOGIN = select(Customer.id, Customer.login_id, Customer.password_hash).where(
    Customer.login_id.in_(bindparam("login_ids", expanding=True)))
_KNOWN_FINGERPRINTS = select(LeakedCredentialMatch.fingerprint).where(
    LeakedCredentialMatch.fingerprint.in_(bindparam("fingerprints", expanding=True)))


class MatchStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass
class ImportSummary:
    """What an import did, in counts (never a line's content)."""

    source: str
    lines: int = 0  # every line read
    skipped: int = 0  # blank lines and comments
    malformed: int = 0  # no ':', an empty side, or too long
    undecodable: int = 0  # not UTF-8
    known_login_ids: int = 0  # lines whose login id is a customer's
    verified: int = 0  # of those, the password verified against the stored hash
    new_matches: int = 0  # verified and recorded now (customer flagged, notified)
    already_known: int = 0  # the pair was matched by an earlier import (not re-verified)
    not_matching: int = 0  # a customer's login id with another password
    bytes_read: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, int | float | str]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class MatchView:
    """One match as the console and ``kabuguard leaked list`` show it."""

    id: str
    customer_id: str
    source: str
    imported_at: datetime
    line_number: int
    status: str
    resolved_at: datetime | None


@dataclass(slots=True)
class _Candidate:
    """A line whose login id is a customer's, until its password is verified."""

    line_number: int
    customer_id: str
    password_hash: str
    fingerprint: str
    password: str | None
    matched: bool = False


@dataclass(slots=True)
class _Reader:
    """Counts while ``iter_combo_lines`` reads; the import folds it into its summary."""

    lines: int = 0
    skipped: int = 0
    malformed: int = 0
    undecodable: int = 0
    bytes_read: int = 0
    _first: bool = field(default=True, repr=False)


def parse_combo_line(text: str) -> tuple[str, str] | None:
    """Split one decoded line (without its line ending) into login id and password,
    on the *first* ':' (passwords may contain ':'); None when it is not such a pair.

    >>> parse_combo_line("taro:pa:ss:word")
    ('taro', 'pa:ss:word')
    >>> parse_combo_line(" taro :secret ")
    ('taro', 'secret ')
    >>> parse_combo_line("no-separator"), parse_combo_line(":pw"), parse_combo_line("id:")
    (None, None, None)
    """
    login_id, sep, password = text.partition(":")
    login_id = login_id.strip()
    if not sep or not login_id or not password:
        return None
    return login_id, password


def iter_combo_lines(stream: BinaryIO, counts: _Reader) -> Iterator[tuple[int, str, str]]:
    """Yield (line number, login id, password) for each well-formed line, reading one
    line at a time; blank lines and ``#`` comments are skipped, the rest counted in
    ``counts``. Tolerates a UTF-8 BOM and CRLF line endings. Undecodable lines are
    skipped: a password in another encoding could not match the stored one anyway."""
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        counts.lines += 1
        counts.bytes_read += len(raw)
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            # Too long to be a combo line: skip to its end without holding it.
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(MAX_LINE_BYTES + 1)
                counts.bytes_read += len(raw)
            counts.malformed += 1
            continue
        if counts._first:
            counts._first = False
            if raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
        try:
            text = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            counts.undecodable += 1
            continue
        if not text.strip() or text.lstrip().startswith("#"):
            counts.skipped += 1
            continue
        pair = parse_combo_line(text)
        if pair is None:
            counts.malformed += 1
            continue
        yield counts.lines, pair[0], pair[1]


def leak_fingerprint(cipher: FieldCipher, customer_id: str, password: str) -> str:
    """The keyed fingerprint of a leaked (customer, password) pair (80 bits, base32)."""
    return cipher.token("leak", f"{customer_id}\x00{password}")


def was_leaked(session: Session, cipher: FieldCipher, customer_id: str, password: str) -> bool:
    """Whether ``password`` was ever found leaked for this customer (a new password
    must not be one of them)."""
    fingerprint = leak_fingerprint(cipher, customer_id, password)
    return session.execute(select(LeakedCredentialMatch.id).where(
        LeakedCredentialMatch.fingerprint == fingerprint,
        LeakedCredentialMatch.customer_id == customer_id)).first() is not None


def resolve_matches(session: Session, customer_id: str, *, now: datetime) -> int:
    """After a password change, in its transaction: the customer's open matches are
    resolved and the flag cleared. Returns how many matches were open."""
    resolved = session.execute(
        update(LeakedCredentialMatch)
        .where(LeakedCredentialMatch.customer_id == customer_id,
               LeakedCredentialMatch.status == MatchStatus.OPEN.value)
        .values(status=MatchStatus.RESOLVED.value, resolved_at=now)).rowcount
    session.execute(update(Customer).where(Customer.id == customer_id,
                                           Customer.password_reset_required_at.is_not(None))
                    .values(password_reset_required_at=None))
    return resolved


def second_factors(session: Session, customer_id: str) -> tuple[bool, bool]:
    """(has a confirmed authenticator app, has a passkey)."""
    has_app = session.execute(select(TotpAuthenticator.id).where(
        TotpAuthenticator.customer_id == customer_id,
        TotpAuthenticator.confirmed_at.is_not(None),
        TotpAuthenticator.removed_at.is_(None)).limit(1)).first() is not None
    has_passkey = session.execute(select(Passkey.credential_id).where(
        Passkey.customer_id == customer_id, Passkey.removed_at.is_(None)).limit(1)
    ).first() is not None
    return has_app, has_passkey


def leaked_login_decision(decision: Decision, *, has_app: bool, has_passkey: bool) -> Decision:
    """The login decision for a customer whose password is known to be leaked: never
    ``allow`` on the password alone. A challenge at least at ``otp`` when they have an
    authenticator app, for their passkey when that is all they have, and ``deny``
    (reason ``leaked_credentials_no_second_factor``) when they have neither. A hold or
    deny of the guard stays as it is.

    >>> from kabuguard.guard.actions import Action
    >>> allow = Decision(Outcome.ALLOW, Action.LOGIN, sources=("policy:p",))
    >>> d = leaked_login_decision(allow, has_app=True, has_passkey=False)
    >>> d.outcome.label, d.required_level.label, d.reasons
    ('challenge', 'otp', ('leaked_credentials',))
    >>> leaked_login_decision(allow, has_app=False, has_passkey=True).required_level.label
    'phishing_resistant'
    >>> leaked_login_decision(allow, has_app=False, has_passkey=False).outcome.label
    'deny'
    """
    if decision.outcome > Outcome.CHALLENGE:
        return decision
    reasons = (*decision.reasons, REASON_LEAKED)
    sources = (*decision.sources, REASON_LEAKED)
    if not has_app and not has_passkey:
        return Decision(Outcome.DENY, decision.action, reasons=(*reasons, REASON_NO_SECOND_FACTOR),
                        sources=sources, effects=decision.effects, policy=decision.policy)
    floor = Level.OTP if has_app else Level.PHISHING_RESISTANT
    level = max(decision.required_level or floor, floor)
    return Decision(Outcome.CHALLENGE, decision.action, required_level=level, reasons=reasons,
                    sources=sources, effects=decision.effects, policy=decision.policy)


def validate_source(source: str) -> str:
    """The name of the list as the console shows it: 1-100 printable characters.

    >>> validate_source("  forum-2025-06 ")
    'forum-2025-06'
    """
    name = (source or "").strip()
    if not name or len(name) > MAX_SOURCE_CHARS or not name.isprintable():
        raise InvalidInput(f"The source name must be 1 to {MAX_SOURCE_CHARS} printable "
                           "characters.", field="source")
    return name


class LeakedCredentialService:
    def __init__(self, db: Database, *, cipher: FieldCipher, passwords: PasswordService,
                 journal: Journal, notifier: Notifier | None = None,
                 clock: Clock = utcnow) -> None:
        self.db, self.cipher, self.passwords, self.journal = db, cipher, passwords, journal
        self.notifier: Notifier = notifier or NullNotifier()
        self.clock = clock

    # -- import ----------------------------------------------------------------------
    def import_file(self, path: Path, *, source: str, workers: int = 2,
                    actor: str = "operator:cli",
                    on_progress: Callable[[int], None] | None = None) -> ImportSummary:
        """Import a combo list from ``path`` (see ``import_stream``). Raises OSError
        when the file cannot be opened."""
        name = validate_source(source)
        with path.open("rb") as stream:
            return self.import_stream(stream, source=name, workers=workers, actor=actor,
                                      on_progress=on_progress)

    def import_stream(self, stream: BinaryIO, *, source: str, workers: int = 2,
                      actor: str = "operator:cli",
                      on_progress: Callable[[int], None] | None = None) -> ImportSummary:
        """Match every line of a combo list against the customers, ``BATCH_LINES`` at a
        time, verifying passwords on ``workers`` threads; record each new match.
        ``on_progress`` receives the bytes read so far after each batch. Returns the
        summary; raises InvalidInput for a bad source name or worker count."""
        name = validate_source(source)
        if not 1 <= workers <= MAX_WORKERS:
            raise InvalidInput(f"Use 1 to {MAX_WORKERS} workers.", field="workers")
        started = time.perf_counter()
        summary = ImportSummary(source=name)
        counts = _Reader()
        batch: list[tuple[int, str, str]] = []
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="leak-verify") as pool:
            for line in iter_combo_lines(stream, counts):
                batch.append(line)
                if len(batch) >= BATCH_LINES:
                    self._process_batch(batch, summary, pool, source=name, actor=actor)
                    batch.clear()
                    if on_progress is not None:
                        on_progress(counts.bytes_read)
            if batch:
                self._process_batch(batch, summary, pool, source=name, actor=actor)
                batch.clear()
        if on_progress is not None:
            on_progress(counts.bytes_read)
        summary.lines, summary.skipped = counts.lines, counts.skipped
        summary.malformed, summary.undecodable = counts.malformed, counts.undecodable
        summary.bytes_read = counts.bytes_read
        summary.seconds = time.perf_counter() - started
        return summary

    def _process_batch(self, batch: list[tuple[int, str, str]], summary: ImportSummary,
                       pool: ThreadPoolExecutor, *, source: str, actor: str) -> None:
        candidates = self._candidates(batch, summary)
        # Drop the batch's passwords for unknown login ids now; the candidates hold
        # theirs until verified.
        batch.clear()
        for candidate in pool.map(self._verify, candidates):
            if not candidate.matched:
                summary.not_matching += 1
                continue
            summary.verified += 1
            outcome = self._record(candidate, source=source, actor=actor)
            if outcome == "new":
                summary.new_matches += 1
            elif outcome == "known":
                summary.already_known += 1

    def _candidates(self, batch: list[tuple[int, str, str]],
                    summary: ImportSummary) -> list[_Candidate]:
        """The lines of the batch whose login id is a customer's and whose pair is not
        known yet (two queries for the whole batch)."""
        login_ids = {login_id for _, login_id, _ in batch
                     if len(login_id) <= 64 and set(login_id) <= LOGIN_ID_CHARS}
        if not login_ids:
            return []
        with self.db.read() as session:
            customers = {row.login_id: (row.id, row.password_hash) for row in session.execute(
                _CUSTOMERS_BY_LOGIN, {"login_ids": list(login_ids)})}
        found: dict[str, _Candidate] = {}
        repeated = 0
        for line_number, login_id, password in batch:
            customer = customers.get(login_id)
            if customer is None:
                continue
            summary.known_login_ids += 1
            fingerprint = leak_fingerprint(self.cipher, customer[0], password)
            if fingerprint in found:  # the same pair twice in one batch
                repeated += 1
                continue
            found[fingerprint] = _Candidate(line_number, customer[0], customer[1], fingerprint,
                                            password)
        if not found:
            summary.already_known += repeated
            return []
        with self.db.read() as session:
            known = set(session.scalars(_KNOWN_FINGERPRINTS, {"fingerprints": list(found)}))
        summary.already_known += repeated + len(known)
        return [c for fp, c in found.items() if fp not in known]

    def _verify(self, candidate: _Candidate) -> _Candidate:
        """On a worker thread: argon2id-verify, then forget the password."""
        password, candidate.password = candidate.password, None
        if password is not None and len(password) <= MAX_PASSWORD_CHARS:
            candidate.matched = self.passwords.verify(candidate.password_hash, password)
        return candidate

    def _record(self, candidate: _Candidate, *, source: str, actor: str) -> str:
        """One transaction per match: the row, the flag, every session revoked, the
        audit record and the notice. Returns ``new``; ``known`` when the pair is
        already recorded, ``stale`` when the customer changed the password since it was
        verified (the leaked one no longer works: nothing to do)."""
        now = self.clock()
        try:
            with self.db.write() as session:
                customer = session.get(Customer, candidate.customer_id)
                if customer is None or customer.password_hash != candidate.password_hash:
                    return "stale"
                if session.execute(select(LeakedCredentialMatch.id).where(
                        LeakedCredentialMatch.fingerprint == candidate.fingerprint)).first():
                    return "known"
                match_id = new_id("leak")
                session.add(LeakedCredentialMatch(
                    id=match_id, customer_id=customer.id, source=source, imported_at=now,
                    line_number=candidate.line_number, fingerprint=candidate.fingerprint,
                    status=MatchStatus.OPEN.value))
                if customer.password_reset_required_at is None:
                    customer.password_reset_required_at = now
                # The credential is in criminals' hands: whoever holds a session now
                # may be one of them.
                ended = session.execute(
                    update(WebSession).where(WebSession.customer_id == customer.id,
                                             WebSession.revoked_at.is_(None))
                    .values(revoked_at=now)).rowcount
                self.journal.record_admin(
                    session, ts=now, actor=actor, action="leaked_credentials_matched",
                    subject=customer.id,
                    payload={"match": match_id, "source": source,
                             "line": candidate.line_number,
                             "fingerprint": candidate.fingerprint, "sessions_ended": ended})
                self.notifier.queue(session, customer_id=customer.id,
                                    kind=NoticeKind.LEAKED_CREDENTIALS,
                                    params={"at": now.isoformat()}, now=now,
                                    media=[Medium.EMAIL, Medium.SMS],
                                    dedupe_key=f"leaked:{candidate.fingerprint}")
                session.flush()
        except IntegrityError:
            # Another import recorded the same pair at the same moment.
            return "known"
        return "new"

    # -- the console -------------------------------------------------------------------
    def list_matches(self, *, status: MatchStatus | None = None,
                     limit: int = 500) -> list[MatchView]:
        """The newest matches first, optionally only ``open`` or ``resolved`` ones."""
        query = select(LeakedCredentialMatch).order_by(
            LeakedCredentialMatch.imported_at.desc(), LeakedCredentialMatch.line_number)
        if status is not None:
            query = query.where(LeakedCredentialMatch.status == status.value)
        with self.db.read() as session:
            rows = session.scalars(query.limit(limit)).all()
        return [MatchView(id=r.id, customer_id=r.customer_id, source=r.source,
                          imported_at=r.imported_at, line_number=r.line_number,
                          status=r.status, resolved_at=r.resolved_at) for r in rows]
