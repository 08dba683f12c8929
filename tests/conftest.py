"""Shared fixtures: a migrated database per test on SQLite and on the real local
PostgreSQL server, services on a pinned clock, and demo customers.

Each test gets its own database: a copy of a template migrated once per run (a file
copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL). Database names carry the
run's id so parallel runs never collide. In CI (``CI=true``) a PostgreSQL that cannot be
reached fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

# The CLI's Rich consoles take their width from COLUMNS when kabuguard.cli is first
# imported, by whichever test that is: a wide one for all, so tables and messages never
# wrap differently by test order (CliRunner's env= comes too late for them).
os.environ["COLUMNS"] = "200"

from factories.customers import FAST_PASSWORDS
from kabuguard.container import Services, build_services
from kabuguard.settings import Settings, load_settings
from kabuguard.store.migrate import upgrade

PG_HOST = os.environ.get("KABUGUARD_TEST_PG_HOST", "127.0.0.1")
PG_ADMIN = f"host={PG_HOST} port=5432 user=postgres dbname=postgres"
RUN_ID = f"{os.getpid()}_{secrets.token_hex(3)}"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# A Tuesday, 10:00 JST: every market in the universe has a defined state at this time.
T0 = datetime(2025, 4, 8, 1, 0, tzinfo=UTC)


class MutableClock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]


def require_postgres() -> None:
    problem = _pg_available()
    if problem is None:
        return
    message = f"PostgreSQL at {PG_HOST}:5432 is not reachable: {problem}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _pg_exec(sql: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql)


def pg_url(name: str) -> str:
    return f"postgresql+psycopg://postgres@{PG_HOST}:5432/{name}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    require_postgres()
    name = f"kg_tmpl_{RUN_ID}"
    _pg_exec(f'CREATE DATABASE "{name}"')
    upgrade(pg_url(name))
    yield name
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_counter = iter(range(1_000_000))


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        request.node.add_marker(pytest.mark.postgres)
    return request.param


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest,
                 tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"kg_test_{RUN_ID}_{next(_counter)}"
    _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield pg_url(name)
    _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock()




@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(database_url=database_url, market_hours="always_open",
                         bank_cooling_off=timedelta(hours=72))


@pytest.fixture
def services(settings: Settings, clock: MutableClock) -> Iterator[Services]:
    svc = build_services(settings, clock=clock, passwords=FAST_PASSWORDS)
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def presets() -> dict:
    """The shipped compensation presets (one conftest per directory name would collide:
    tests/functional has one, and these directories are not packages)."""
    from kabuguard.ops.compensation_policy import load_presets

    return load_presets()
