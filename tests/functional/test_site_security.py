"""The security page: sessions, log out everywhere, password change, on the site."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories.customers import PASSWORD, make_customer


def site_login(client, login_id, password=PASSWORD):
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/login", data={"login_id": login_id, "password": password,
                                       "csrf_token": token, "next": "/"}, follow_redirects=False)


def csrf(client) -> str:
    return client.get("/security").text.split('name="csrf_token" value="')[1].split('"')[0]


def test_password_change_on_the_site(client, services):
    make_customer(services, login_id="sec1")
    site_login(client, "sec1")
    page = client.get("/security").text
    assert "ログイン中のセッション" in page
    assert "このセッション" in page
    r = client.post("/security/password", data={"csrf_token": csrf(client),
                                                "current_password": "not-my-password",
                                                "new_password": "a-fresh-passphrase-9"})
    assert r.status_code == 422
    assert "現在のパスワードが正しくありません" in r.text
    r = client.post("/security/password", data={"csrf_token": csrf(client),
                                                "current_password": PASSWORD,
                                                "new_password": "password1234"})
    assert r.status_code == 422
    assert "流出が確認されていないもの" in r.text
    r = client.post("/security/password", data={"csrf_token": "forged",
                                                "current_password": PASSWORD,
                                                "new_password": "a-fresh-passphrase-9"})
    assert r.status_code == 403
    r = client.post("/security/password", data={"csrf_token": csrf(client),
                                                "current_password": PASSWORD,
                                                "new_password": "a-fresh-passphrase-9"},
                    follow_redirects=False)
    assert r.headers["location"] == "/security?notice=password_changed"
    assert "パスワードを変更しました" in client.get(r.headers["location"]).text


def test_revoke_another_session_and_log_out_everywhere(app, client, services):
    make_customer(services, login_id="sec2")
    site_login(client, "sec2")
    with TestClient(app, base_url="https://testserver") as laptop:
        site_login(laptop, "sec2")
        assert laptop.get("/", follow_redirects=False).status_code == 200
        page = client.get("/security").text
        ids = [chunk.split('"')[0] for chunk in page.split('data-session="')[1:]]
        assert len(ids) == 2
        current = page.split("このセッション")[0].split('data-session="')[-1].split('"')[0]
        other = next(i for i in ids if i != current)
        r = client.post(f"/security/sessions/{other}/revoke", data={"csrf_token": csrf(client)},
                        follow_redirects=False)
        assert r.headers["location"] == "/security?notice=session_revoked"
        assert laptop.get("/", follow_redirects=False).status_code == 303
        site_login(laptop, "sec2")
        r = client.post("/security/logout-everywhere", data={"csrf_token": csrf(client)},
                        follow_redirects=False)
        assert r.headers["location"] == "/login?notice=logged_out"
        assert laptop.get("/", follow_redirects=False).status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303
