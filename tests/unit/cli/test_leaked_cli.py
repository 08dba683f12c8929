"""`kabuguard leaked import|list`: a real import on a real database, and one red line
for each mistake."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from factories.customers import FAST_PASSWORDS, PASSWORD, make_customer
from kabuguard.cli import app
from kabuguard.container import build_services
from kabuguard.settings import load_settings

runner = CliRunner()


@pytest.fixture
def env(tmp_path):
    env = {"KABUGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    return env


def customers(env, *login_ids):
    services = build_services(load_settings(database_url=env["KABUGUARD_DATABASE_URL"]),
                              passwords=FAST_PASSWORDS)
    try:
        return [make_customer(services, login_id=login_id) for login_id in login_ids]
    finally:
        services.close()


def test_import_then_list(env, tmp_path):
    hit, _miss = customers(env, "clihit", "climiss")
    combo = tmp_path / "combo.txt"
    combo.write_bytes(f"clihit:{PASSWORD}\r\nclimiss:wrong-password-1\r\nbad line\r\n"
                      "nobody:x\r\n".encode())
    r = runner.invoke(app, ["leaked", "import", str(combo), "--source", "forum-7",
                            "--workers", "2"], env=env)
    assert r.exit_code == 0, r.output
    cells = [[c.strip() for c in line.split("│") if c.strip()]
             for line in r.output.splitlines() if "│" in line]
    rows = dict(c for c in cells if len(c) == 2)
    assert (rows["new matches"], rows["malformed"], rows["known login ids"]) == ("1", "1", "2")
    assert PASSWORD not in r.output
    r = runner.invoke(app, ["leaked", "list", "--status", "open"], env=env)
    assert r.exit_code == 0, r.output
    assert hit in r.output
    assert "forum-7" in r.output
    r = runner.invoke(app, ["leaked", "list", "--status", "resolved"], env=env)
    assert hit not in r.output
    again = runner.invoke(app, ["leaked", "import", str(combo), "--source", "forum-7"], env=env)
    assert "already known" in again.output


@pytest.mark.parametrize(("args", "code", "words"), [
    (["leaked", "import", "missing.txt", "--source", "s"], 1, "No such file"),
    (["leaked", "import", ".", "--source", "s"], 1, "Is a directory"),
    (["leaked", "import", "combo.txt", "--source", ""], 2, "source name"),
    (["leaked", "import", "combo.txt", "--source", "   "], 2, "source name"),
    (["leaked", "list", "--status", "maybe"], 2, "--status must be one of"),
])
def test_mistakes_are_one_red_line(env, tmp_path, args, code, words):
    (tmp_path / "combo.txt").write_text("a:b\n", encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        r = runner.invoke(app, args, env=env)
    finally:
        os.chdir(cwd)
    assert r.exit_code == code, r.output
    assert words in r.output
    assert "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_an_unreadable_file(env, tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    combo = tmp_path / "combo.txt"
    combo.write_text("a:b\n", encoding="utf-8")
    combo.chmod(0)
    r = runner.invoke(app, ["leaked", "import", str(combo), "--source", "s"], env=env)
    assert r.exit_code == 1
    assert "Permission denied" in r.output
