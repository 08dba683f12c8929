from typer.testing import CliRunner

from kabuguard.cli import app

runner = CliRunner()


def test_sim_population_writes_the_directory(tmp_path):
    out = tmp_path / "pop"
    r = runner.invoke(app, ["sim", "population", "--customers", "50", "--seed", "3",
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert len((out / "accounts.jsonl").read_text(encoding="utf-8").splitlines()) == 50
    assert (out / "symbols.jsonl").exists() and (out / "ip_ranges.csv").exists()


def test_a_bad_scenario_is_reported_with_its_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\nactivity: 3\n", encoding="utf-8")
    r = runner.invoke(app, ["sim", "population", "--out", str(tmp_path / "o"),
                            "--scenario", str(bad)])
    assert r.exit_code == 2
    assert "bad.yaml:1" in r.output and "needs" in r.output
