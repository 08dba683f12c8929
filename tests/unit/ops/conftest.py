"""Fixtures of the compensation tests."""

from __future__ import annotations

import pytest

from kabuguard.ops.compensation_policy import CompensationPreset, load_presets


@pytest.fixture(scope="session")
def presets() -> dict[str, CompensationPreset]:
    return load_presets()
