"""CI runs the migrations from an empty database and checks that the models and the
migration tree agree (warehouse's `db check`), on both backends."""

from __future__ import annotations

from kabuguard.store.migrate import check, upgrade


def test_upgrade_from_empty_and_models_match(database_url):
    upgrade(database_url)  # idempotent on the migrated copy
    check(database_url)


def test_upgrade_creates_a_fresh_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'fresh.db'}"
    from kabuguard.store.database import Database

    Database(url).dispose()
    upgrade(url)
    check(url)
