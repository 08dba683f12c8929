"""``kabuguard apikey …``: a key is printed once, listed without its secret, and
refused by the API once revoked."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kabuguard.cli import app
from kabuguard.container import build_services
from kabuguard.risk.api_keys import ApiKeyInvalid, ApiKeyService
from kabuguard.settings import load_settings

runner = CliRunner()


def test_create_list_revoke(tmp_path):
    env = {"KABUGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "COLUMNS": "250"}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    r = runner.invoke(app, ["apikey", "create", "--name", "order-gateway",
                            "--scope", "events:write"], env=env)
    assert r.exit_code == 0, r.output
    key = r.stdout.strip().splitlines()[-1]
    assert key.startswith("kg_") and len(key) > 50
    prefix = key.split("_")[1]

    r = runner.invoke(app, ["apikey", "list"], env=env)
    assert r.exit_code == 0, r.output
    assert "order-gateway" in r.output and prefix in r.output and "events:write" in r.output
    assert key.split("_", 2)[2] not in r.output

    services = build_services(load_settings(database_url=env["KABUGUARD_DATABASE_URL"]))
    keys = ApiKeyService(services.db)
    try:
        assert keys.authenticate(f"Bearer {key}", "events:write").prefix == prefix
        r = runner.invoke(app, ["apikey", "revoke", prefix], env=env)
        assert r.exit_code == 0 and "revoked" in r.output
        fresh = ApiKeyService(services.db)  # another server process, no cache
        with pytest.raises(ApiKeyInvalid, match="revoked"):
            fresh.authenticate(f"Bearer {key}", "events:write")
    finally:
        services.close()


def test_mistakes_are_one_line(tmp_path):
    env = {"KABUGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    r = runner.invoke(app, ["apikey", "create", "--name", "x", "--scope", "admin"], env=env)
    assert r.exit_code == 2 and "Unknown scope 'admin'" in r.output
    r = runner.invoke(app, ["apikey", "revoke", "nope"], env=env)
    assert r.exit_code == 2 and "No API key" in r.output
