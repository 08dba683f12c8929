from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kabuguard.web.app import create_app


@pytest.fixture
def app(settings, services):
    return create_app(settings, services=services, background_interval_seconds=None)


@pytest.fixture
def client(app):
    # https: the cookies are Secure, and a client only sends those over https.
    with TestClient(app, base_url="https://testserver") as c:
        yield c


@pytest.fixture
def api_login(client):
    def login(login_id: str, password: str) -> dict[str, str]:
        r = client.post("/api/v1/sessions", json={"login_id": login_id, "password": password})
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    return login
