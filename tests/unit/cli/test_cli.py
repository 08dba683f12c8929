"""The command line: clear one-line errors, real work on a real database."""

from __future__ import annotations

import json
import sqlite3

from typer.testing import CliRunner

from kabuguard import __version__
from kabuguard.cli import app

runner = CliRunner()


def _env(tmp_path, **extra):
    return {"KABUGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **extra}


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0
    assert __version__ in r.output


def test_upgrade_seed_and_verify(tmp_path):
    env = _env(tmp_path)
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    r = runner.invoke(app, ["seed"], env=env)
    assert r.exit_code == 0, r.output
    assert "hanako" in r.output
    assert runner.invoke(app, ["seed"], env=env).exit_code == 0  # idempotent
    r = runner.invoke(app, ["audit", "verify"], env=env)
    assert r.exit_code == 0, r.output
    assert "intact" in r.output
    con = sqlite3.connect(tmp_path / "cli.db")
    con.execute("UPDATE audit_log SET payload = '{}' WHERE seq = 2")
    con.commit()
    con.close()
    r = runner.invoke(app, ["audit", "verify"], env=env)
    assert r.exit_code == 1
    assert "record 2" in r.output
    assert "edited" in r.output


def test_production_without_key_is_one_clear_line(tmp_path):
    r = runner.invoke(app, ["db", "upgrade"], env=_env(tmp_path, KABUGUARD_MODE="production"))
    assert r.exit_code == 2
    assert "KABUGUARD_DATA_KEY" in r.output
    assert "Traceback" not in r.output


def test_bad_database_url_is_one_clear_line(tmp_path):
    r = runner.invoke(app, ["db", "upgrade"], env={"KABUGUARD_DATABASE_URL": "mysql://x"})
    assert r.exit_code == 2
    assert "DATABASE_URL" in r.output
    r = runner.invoke(app, ["db", "upgrade"], env={
        "KABUGUARD_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    assert r.exit_code == 1
    assert "cannot use the database" in r.output
    assert "Traceback" not in r.output


def test_export_symbols(tmp_path):
    out = tmp_path / "symbols.jsonl"
    r = runner.invoke(app, ["export", "symbols", "-o", str(out)])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) >= 2000
    required = {"symbol", "market", "name", "currency", "price", "adv_shares", "adv_jpy",
                "market_cap_jpy"}
    assert all(required <= line.keys() for line in lines)


def test_keygen_gives_a_usable_key():
    from kabuguard.crypto import FieldCipher

    r = runner.invoke(app, ["keygen"])
    FieldCipher([r.output.strip()])
