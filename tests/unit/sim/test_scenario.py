from importlib import resources

import pytest

from kabuguard.sim.scenario import ScenarioError, load_scenario, parse_scenario

DEFAULT = resources.files("kabuguard.sim").joinpath("scenarios/default.yaml").read_text(
    encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_shipped_scenario_loads():
    scenario = load_scenario()
    assert scenario.name == "default"
    assert set(scenario.activity) == {"daily", "weekly", "monthly", "dormant"}
    assert abs(sum(scenario.methods.values()) - 1) < 1e-9
    assert scenario.devices == {1: 0.45, 2: 0.40, 3: 0.15}
    assert scenario.cash.median_jpy == 300_000


def test_a_copied_file_loads_from_a_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(DEFAULT.replace("name: default", "name: mine"), encoding="utf-8")
    assert load_scenario(path).name == "mine"


@pytest.mark.parametrize(("old", "new", "needle", "reason"), [
    ("    daily: 0.05\n    weekly: 0.20", "    daily: 0.15\n    weekly: 0.20", "daily: 0.15",
     "the shares of activity.shares must add up to 1, not 1.1"),
    ("  totp: 0.07", "  totp: lots", "totp: lots", "methods.totp must be a number, not 'lots'"),
    ("  passkey: 0.03", "  passkey: 0.03\n  pki: 0.0", "pki:", "unknown field 'pki' in methods"),
    ("  vpn_user_share: 0.03", "  vpn_user_share: -0.1", "vpn_user_share",
     "vpn_user_share must be a finite number at least 0"),
    ("    KR: 0.25", "    Korea: 0.25", "Korea", "'Korea' is not an ISO 3166 country code"),
    ("  3: 0.15", "  4: 0.15", "  4: 0.15", "devices are counted 1, 2 or 3"),
    ("    sigma: 1.5", "    sigma: [1]", "sigma: [1]", "wealth.cash.sigma must be a number"),
    ("  password_typo_per_login: 0.04", "  password_typo_per_login: 2",
     "password_typo_per_login", "password_typo_per_login must be at most 1"),
    ("version: 1", "version: 2", "version: 2", "version must be 1"),
    ("  long_term: 0.70\n", "", "active: 0.18", "trading_styles needs 'long_term'"),
])
def test_bad_files_are_refused_with_line_and_reason(old, new, needle, reason):
    assert old in DEFAULT
    text = DEFAULT.replace(old, new)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, source="bad.yaml")
    message = str(caught.value)
    assert message.startswith(f"bad.yaml:{line_of(text, needle)}: "), message
    assert reason in message


def test_invalid_yaml_and_empty_files_are_refused():
    with pytest.raises(ScenarioError, match=r"^s.yaml:2: not valid YAML"):
        parse_scenario("version: 1\nname: x: y\n", source="s.yaml")
    with pytest.raises(ScenarioError, match="is empty"):
        parse_scenario("# nothing\n", source="s.yaml")
    with pytest.raises(ScenarioError, match=r"s.yaml:1: the scenario must be a mapping"):
        parse_scenario("- 1\n", source="s.yaml")


def test_a_duplicate_key_is_refused():
    text = DEFAULT.replace("  totp: 0.07", "  totp: 0.07\n  totp: 0.07")
    with pytest.raises(ScenarioError, match="'totp' appears twice in methods"):
        parse_scenario(text)
