"""Staff of the operations console for tests: created as the CLI does, enrolled and
logged in with a software passkey through the console's own HTTP ceremony."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from factories.soft_authenticator import SoftAuthenticator
from kabuguard.container import Services

ORIGIN = "http://localhost:8000"


def login_csrf(client: TestClient, path: str = "/console/login") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.cookies.get("kg_console_login", path="/console")


def meta_csrf(page: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert match, "no csrf-token meta"
    return html.unescape(match.group(1))


def enrol(client: TestClient, code: str, key: SoftAuthenticator, *, name: str = "laptop"):
    """The enrolment ceremony of /console/enrol; returns the final response."""
    token = login_csrf(client, "/console/enrol")
    opts = client.post("/console/enrol/options", json={"code": code},
                       headers={"X-CSRF-Token": token})
    if opts.status_code != 200:
        return opts
    cred = key.create(opts.json()["publicKey"], origin=ORIGIN)
    return client.post("/console/enrol", headers={"X-CSRF-Token": token}, json={
        "challenge_id": opts.json()["challenge_id"], "credential": cred, "code": code,
        "name": name})


def passkey_login(client: TestClient, key: SoftAuthenticator, *, next_path: str = "/console/"):
    token = login_csrf(client)
    opts = client.post("/console/login/options", json={}, headers={"X-CSRF-Token": token})
    assert opts.status_code == 200, opts.text
    cred = key.get(opts.json()["publicKey"], origin=ORIGIN)
    return client.post("/console/login", headers={"X-CSRF-Token": token}, json={
        "challenge_id": opts.json()["challenge_id"], "credential": cred, "next": next_path})


def make_staff(services: Services, client: TestClient, *, name: str, role: str
               ) -> SoftAuthenticator:
    """A staff member with a registered passkey, logged in on ``client``."""
    _info, code = services.staff.create(name=name, role=role, created_by="test")
    key = SoftAuthenticator()
    r = enrol(client, code, key)
    assert r.status_code == 200, r.text
    return key


def console_token(client: TestClient) -> str:
    """The CSRF token of the logged-in console session."""
    return meta_csrf(client.get("/console/").text)
