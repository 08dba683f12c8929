"""Engine and transaction handling for SQLite (embedded) and PostgreSQL (at scale)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


class Database:
    """Owns the engine and hands out sessions.

    ``write()`` opens a transaction that will change data. On SQLite it starts with
    ``BEGIN IMMEDIATE`` so the write lock is taken up front: a deferred transaction that
    reads and then writes can fail at once with SQLITE_BUSY instead of waiting, which
    would surface as spurious errors under concurrency. Writers of one process also
    queue on a lock of their own first: SQLite's busy handler waits by sleeping and
    polling, which under load turns into tail latencies of seconds, while a lock hands
    over at once. ``read()`` stays deferred so readers never queue behind writers (WAL).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            kwargs.update(pool_size=20, max_overflow=20, pool_pre_ping=True)
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _install_sqlite_hooks(self.engine)
        # Writers do not autoflush: a flush before every query of a transaction costs a
        # unit-of-work pass each time, and the services flush where order matters.
        self._writer = sessionmaker(
            bind=self.engine.execution_options(sqlite_begin="IMMEDIATE"),
            expire_on_commit=False, autoflush=False,
        )
        self._reader = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._write_lock = threading.Lock() if self.is_sqlite else contextlib.nullcontext()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.
        Then, after a commit only, the functions ``after_commit`` registered on it run,
        outside the transaction and the write lock (they may write themselves)."""
        with self._write_lock, self._writer() as session, session.begin():
            yield session
        hooks = session.info.get(_AFTER_COMMIT)
        if hooks:
            for hook in hooks:
                hook()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


_AFTER_COMMIT = "kabuguard.after_commit"


def after_commit(session: Session, hook: Callable[[], None]) -> None:
    """Run ``hook`` once ``session``'s transaction (a ``Database.write``) has committed,
    after its write lock is released; never when it rolls back. Hooks run in the order
    registered, in the committing thread, and an error in one propagates to the caller
    of ``write`` (the change itself is committed by then)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(hook)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit BEGIN is deferred only).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
