"""API keys of the firm's own systems calling the decision API (as fraud teams give
their trading systems keys to Sift, Castle or Marble).

A key reads ``kg_<prefix>_<secret>``: the prefix (8 hex characters) names the key in
listings and finds its row; the secret is 32 random bytes. Only SHA-256 of the whole
key is stored, compared in constant time. A fast hash is enough because nothing
about the key is guessable (argon2id's cost protects passwords people chose) and it
keeps the check to microseconds per request.

Keys are looked up once and kept in memory for ``cache_seconds``: a key revoked in
this process stops at once; one revoked from another process (the CLI) stops within
that time. ``last_used_at`` is written at most once a minute per key and process, in
the caller's transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from kabuguard.domain.clock import Clock, utcnow
from kabuguard.domain.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from kabuguard.domain.ids import new_id
from kabuguard.journal import Journal
from kabuguard.risk.models import ApiKey
from kabuguard.store.database import Database

EVENTS_WRITE = "events:write"
FEEDBACK_WRITE = "feedback:write"
SCOPES = (EVENTS_WRITE, FEEDBACK_WRITE)
KEY_PREFIX = "kg_"
TOUCH_EVERY_S = 60.0


class ApiKeyInvalid(Unauthorized):
    code = "api_key_invalid"


class ApiKeyScopeMissing(Forbidden):
    code = "api_key_scope_missing"


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """A key as people see it: never its secret."""

    id: str
    name: str
    prefix: str
    scopes: frozenset[str]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "prefix": self.prefix,
                "scopes": sorted(self.scopes), "created_at": self.created_at.isoformat(),
                "created_by": self.created_by,
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
                "revoked_by": self.revoked_by,
                "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None}


def _info(row: ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(row.id, row.name, row.prefix, frozenset(row.scopes.split()),
                      row.created_at, row.created_by, row.revoked_at, row.revoked_by,
                      row.last_used_at)


def hash_key(key: str) -> str:
    """SHA-256 of the whole key, hex.

    >>> len(hash_key("kg_0123abcd_secret"))
    64
    """
    return hashlib.sha256(key.encode()).hexdigest()


def parse_bearer(authorization: str | None) -> tuple[str, str]:
    """(prefix, key) from an ``Authorization`` header; ApiKeyInvalid otherwise.

    >>> parse_bearer("Bearer kg_0123abcd_s3cr_et")
    ('0123abcd', 'kg_0123abcd_s3cr_et')
    """
    scheme, _, key = (authorization or "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise ApiKeyInvalid("Send the API key as 'Authorization: Bearer kg_…'.")
    parts = key.split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != KEY_PREFIX or not parts[1] or not parts[2]:
        raise ApiKeyInvalid("This is not a kabuguard API key (they start with 'kg_').")
    return parts[1], key


class ApiKeyService:
    """Creates, lists, revokes and checks API keys."""

    def __init__(self, db: Database, *, journal: Journal | None = None, clock: Clock = utcnow,
                 cache_seconds: float = 5.0) -> None:
        self.db = db
        self.journal = journal
        self.clock = clock
        self.cache_seconds = cache_seconds
        # prefix -> (key hash, info, monotonic time fetched). Only keys that exist are
        # kept, so the cache is bounded by the table, whatever prefixes callers invent.
        self._cache: dict[str, tuple[str, ApiKeyInfo, float]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    # -- people -------------------------------------------------------------------

    def create(self, *, name: str, scopes: Iterable[str], created_by: str) -> tuple[ApiKeyInfo, str]:
        """A new key; returns its info and the key itself, which is shown this once.
        Raises InvalidInput for an empty name or an unknown scope."""
        name = name.strip()
        if not name or len(name) > 80:
            raise InvalidInput("Give the key a name of 1 to 80 characters.", field="name")
        wanted = frozenset(scopes) or frozenset(SCOPES)
        unknown = sorted(wanted - set(SCOPES))
        if unknown:
            raise InvalidInput(f"Unknown scope {unknown[0]!r}; scopes are {', '.join(SCOPES)}.",
                               field="scope")
        prefix = secrets.token_hex(4)
        key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        row = ApiKey(id=new_id("apk"), name=name, prefix=prefix, key_hash=hash_key(key),
                     scopes=" ".join(sorted(wanted)), created_at=self.clock(),
                     created_by=created_by[:120])
        with self.db.write() as session:
            session.add(row)
            if self.journal is not None:
                self.journal.record_admin(
                    session, ts=row.created_at, actor=created_by, action="api_key:create",
                    subject=row.id, payload={"name": name, "prefix": prefix,
                                             "scopes": sorted(wanted)})
        return _info(row), key

    def list(self) -> list[ApiKeyInfo]:
        """Every key, newest first, revoked ones included."""
        with self.db.read() as session:
            rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(),
                                                           ApiKey.id)).all()
            return [_info(r) for r in rows]

    def revoke(self, key_id_or_prefix: str, *, by: str) -> ApiKeyInfo:
        """Revoke a key (by id or prefix); revoking twice keeps the first time.
        Raises NotFound."""
        with self.db.write() as session:
            row = session.scalars(select(ApiKey).where(or_(
                ApiKey.id == key_id_or_prefix, ApiKey.prefix == key_id_or_prefix))).first()
            if row is None:
                raise NotFound(f"No API key with id or prefix {key_id_or_prefix!r}.", field="key")
            if row.revoked_at is None:
                row.revoked_at, row.revoked_by = self.clock(), by[:120]
                if self.journal is not None:
                    self.journal.record_admin(
                        session, ts=row.revoked_at, actor=by, action="api_key:revoke",
                        subject=row.id, payload={"name": row.name, "prefix": row.prefix})
            info = _info(row)
        with self._lock:
            self._cache.pop(info.prefix, None)
        return info

    # -- requests -----------------------------------------------------------------

    def cached(self, prefix: str) -> tuple[str, ApiKeyInfo] | None:
        """The cached (hash, info) of a prefix, None if it must be fetched (unknown
        here, or older than ``cache_seconds``)."""
        entry = self._cache.get(prefix)
        if entry is None or time.monotonic() - entry[2] > self.cache_seconds:
            return None
        return entry[0], entry[1]

    def fetch(self, prefix: str) -> tuple[str, ApiKeyInfo] | None:
        """Read a key by prefix from the database and cache it."""
        with self.db.read() as session:
            row = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()
            found = (row.key_hash, _info(row)) if row is not None else None
        with self._lock:
            if found is None:
                self._cache.pop(prefix, None)
            else:
                self._cache[prefix] = (*found, time.monotonic())
        return found

    def check(self, found: tuple[str, ApiKeyInfo] | None, key: str, scope: str) -> ApiKeyInfo:
        """The key's info if ``key`` matches and may use ``scope``.
        Raises ApiKeyInvalid (401) or ApiKeyScopeMissing (403)."""
        # Hash even for an unknown prefix, so both failures take the same time.
        given = hash_key(key)
        if found is None or not hmac.compare_digest(given, found[0]):
            raise ApiKeyInvalid("The API key is not valid.")
        info = found[1]
        if info.revoked_at is not None:
            raise ApiKeyInvalid("This API key was revoked; ask for a new one.")
        if scope not in info.scopes:
            raise ApiKeyScopeMissing(f"This API key lacks the scope {scope}.", scope=scope)
        return info

    def authenticate(self, authorization: str | None, scope: str) -> ApiKeyInfo:
        """parse, look up (cached) and check in one call; raises as ``check``."""
        prefix, key = parse_bearer(authorization)
        found = self.cached(prefix) or self.fetch(prefix)
        return self.check(found, key, scope)

    def touch(self, session: Session, key: ApiKeyInfo) -> None:
        """Record the key's use in the caller's transaction, at most once a minute."""
        now_s = time.monotonic()
        last = self._touched.get(key.id)
        if last is not None and now_s - last < TOUCH_EVERY_S:
            return
        self._touched[key.id] = now_s
        now = self.clock()
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        with self._lock:
            entry = self._cache.get(key.prefix)
            if entry:
                self._cache[key.prefix] = (entry[0], replace(entry[1], last_used_at=now), entry[2])
