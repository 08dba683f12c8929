from __future__ import annotations

import pytest

from kabuguard.crypto import generate_key
from kabuguard.settings import DEMO_DATA_KEY, ConfigError, load_settings


def test_demo_mode_runs_without_secrets():
    s = load_settings(mode="demo")
    assert s.data_keys == [DEMO_DATA_KEY]


@pytest.mark.parametrize(("overrides", "needle"), [
    ({}, "KABUGUARD_DATA_KEY is not set"),
    ({"data_key": DEMO_DATA_KEY}, "public demo key"),
    ({"data_key": "not-a-fernet-key"}, "not a Fernet key"),
    ({"database_url": "mysql://x"}, "sqlite:/// or postgresql://"),
    ({"fx_rates": {"EUR": "160"}}, "unknown currency code 'EUR'"),
    ({"port": 0}, "port"),
])
def test_production_refuses_unsafe_configuration(overrides, needle):
    with pytest.raises(ConfigError, match=needle):
        load_settings(mode="production", **overrides)


def test_production_with_keys_and_rotation():
    new, old = generate_key(), generate_key()
    s = load_settings(mode="production", data_key=f"{new}, {old}")
    assert s.data_keys == [new, old]
