"""Password change and the customer's own sessions, through the API."""

from __future__ import annotations

from factories.customers import PASSWORD, make_customer

NEW = "a-brand-new-passphrase-42"


def login(client, login_id, password=PASSWORD):
    r = client.post("/api/v1/sessions", json={"login_id": login_id, "password": password})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def test_password_change_ends_other_sessions(client, services):
    make_customer(services, login_id="pw1")
    here, elsewhere = login(client, "pw1"), login(client, "pw1")
    r = client.put("/api/v1/password", headers=here,
                   json={"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 200, r.text
    assert r.json()["other_sessions_ended"] == 1
    assert client.get("/api/v1/portfolio", headers=here).status_code == 200
    assert client.get("/api/v1/portfolio", headers=elsewhere).status_code == 401
    assert client.post("/api/v1/sessions", json={"login_id": "pw1", "password": PASSWORD}
                       ).status_code == 401
    login(client, "pw1", NEW)


def test_bad_password_changes_are_refused(client, services):
    make_customer(services, login_id="pw2")
    auth = login(client, "pw2")
    for body, needle in [
        ({"current_password": "wrong-current-1", "new_password": NEW}, "current password"),
        ({"current_password": PASSWORD, "new_password": "short"}, "at least 10"),
        ({"current_password": PASSWORD, "new_password": "password1234"}, "leaked passwords"),
        ({"current_password": PASSWORD, "new_password": PASSWORD}, "differ"),
    ]:
        r = client.put("/api/v1/password", headers=auth, json=body)
        assert r.status_code == 422, r.text
        assert needle in r.json()["message"]
    login(client, "pw2")  # unchanged


def test_list_revoke_and_logout_everywhere(client, services):
    make_customer(services, login_id="ses1")
    make_customer(services, login_id="ses2")
    a, b = login(client, "ses1"), login(client, "ses1")
    mine = client.get("/api/v1/sessions", headers=a).json()
    assert len(mine) == 2
    assert sum(s["current"] for s in mine) == 1
    other = next(s["session"] for s in mine if not s["current"])
    stranger = login(client, "ses2")
    assert client.delete(f"/api/v1/sessions/{other}", headers=stranger).status_code == 404
    assert client.delete(f"/api/v1/sessions/{other}", headers=a).status_code == 204
    assert client.get("/api/v1/portfolio", headers=b).status_code == 401
    c = login(client, "ses1")
    r = client.post("/api/v1/sessions/revoke-all", headers=c)
    assert r.json() == {"sessions_ended": 2}
    assert client.get("/api/v1/portfolio", headers=a).status_code == 401
    assert client.get("/api/v1/portfolio", headers=c).status_code == 401
    assert client.delete("/api/v1/sessions/current", headers=stranger).status_code == 204
