"""A kabuguard app on its own policy, with a client, for the guard's functional tests."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from factories.customers import FAST_PASSWORDS
from kabuguard.container import Services, build_services
from kabuguard.guard.actions import Action
from kabuguard.settings import load_settings
from kabuguard.web.app import create_app


def policy_text(name: str, **overrides: str) -> str:
    """A policy asking a password for everything but the named actions, given as
    YAML flow mappings: ``policy_text("x", withdrawal="{level: otp, max_age: 5m}")``."""
    lines = [f"  {a.value}: {overrides.get(a.value, '{level: password}')}" for a in Action]
    return f"version: 1\nname: {name}\nactions:\n" + "\n".join(lines) + "\n"


@contextlib.contextmanager
def app_with_policy(database_url: str, clock: Callable[[], datetime], tmp_path: Path,
                    policy: str, **settings: Any) -> Iterator[tuple[Services, TestClient]]:
    """Services and an https test client for an app on ``policy`` (YAML text or a
    preset name)."""
    if "\n" in policy:
        path = tmp_path / "policy.yaml"
        path.write_text(policy, encoding="utf-8")
        policy = str(path)
    loaded = load_settings(database_url=database_url, market_hours="always_open",
                           policy=policy, **settings)
    services = build_services(loaded, clock=clock, passwords=FAST_PASSWORDS)
    app = create_app(loaded, services=services, background_interval_seconds=None)
    try:
        with TestClient(app, base_url="https://testserver") as client:
            yield services, client
    finally:
        services.close()
