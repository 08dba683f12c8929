"""Removing passkeys on the security page: a passkey that is not the last goes at once;
the last one asks for a passkey on the step-up page, which re-submits the removal, and
is then scheduled (shown with its date and a cancel button) or refused by policy."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient

from factories.apps import app_with_policy, policy_text
from factories.customers import PASSWORD, make_customer
from factories.soft_authenticator import SoftAuthenticator
from kabuguard.web.i18n import format_jst
from kabuguard.web.security import SESSION_COOKIE

ORIGIN = "http://localhost:8000"


def policy(section: str) -> str:
    return policy_text("test_site_removal") + f"mfa_removal: {section}\n"


@pytest.fixture
def env(database_url, clock, tmp_path):
    with app_with_policy(database_url, clock, tmp_path,
                         policy("{last_strong: cooling_off, cooling_off: 72h}"),
                         webauthn_rp_id="localhost", webauthn_origins=[ORIGIN]) as pair:
        yield pair


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no field {name}"
    return html.unescape(match.group(1))


def meta_csrf(page: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)


def log_in(client: TestClient, login_id: str) -> None:
    page = client.get("/login").text
    r = client.post("/login", data={"login_id": login_id, "password": PASSWORD,
                                    "csrf_token": hidden(page, "csrf_token")},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def register(client: TestClient, key: SoftAuthenticator, name: str) -> str:
    token = meta_csrf(client.get("/security").text)
    opts = client.post("/security/passkeys/options", json={}, headers={"X-CSRF-Token": token})
    r = client.post("/security/passkeys", headers={"X-CSRF-Token": token}, json={
        "challenge_id": opts.json()["challenge_id"], "name": name,
        "credential": key.create(opts.json()["publicKey"], origin=ORIGIN)})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def step_up(client: TestClient, key: SoftAuthenticator, page: str) -> None:
    token = meta_csrf(page)
    opts = client.post("/step-up/passkey/options", json={}, headers={"X-CSRF-Token": token})
    r = client.post("/step-up/passkey", headers={"X-CSRF-Token": token}, json={
        "challenge_id": opts.json()["challenge_id"],
        "credential": key.get(opts.json()["publicKey"], origin=ORIGIN)})
    assert r.status_code == 200, r.text


def resume_form(page: str) -> tuple[str, dict[str, str]]:
    form = re.search(r'<form method="post" action="([^"]+)" id="resume-form"[^>]*>(.*?)</form>',
                     page, re.S)
    assert form, "no resume form"
    return form.group(1), {html.unescape(n): html.unescape(v) for n, v in
                           re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2))}


def test_a_passkey_that_is_not_the_last_goes_at_once(env):
    services, client = env
    make_customer(services, login_id="srm1")
    log_in(client, "srm1")
    first = register(client, SoftAuthenticator(), "古いスマホ")
    register(client, SoftAuthenticator(), "会社のPC")
    page = client.get("/security").text
    assert f'action="/security/passkeys/{first}/remove"' in page
    r = client.post(f"/security/passkeys/{first}/remove",
                    data={"csrf_token": hidden(page, "csrf_token")}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/security?notice=mfa_removed")
    page = client.get(r.headers["location"]).text
    assert "認証方法を削除しました" in page
    names = re.findall(r'class="passkey-name">([^<]+)<', page)
    assert names == ["会社のPC"]


def test_the_last_passkey_asks_for_a_passkey_then_is_scheduled_and_cancelled(env, clock):
    services, client = env
    account = make_customer(services, login_id="srm2")
    log_in(client, "srm2")
    key = SoftAuthenticator()
    cred = register(client, key, "iPhone")
    page = client.get("/security").text
    r = client.post(f"/security/passkeys/{cred}/remove",
                    data={"csrf_token": hidden(page, "csrf_token")}, follow_redirects=False)
    assert r.status_code == 401
    assert "パスキーで確認" in r.text and "認証方法の削除" in r.text
    target, fields = resume_form(r.text)
    assert target == f"/security/passkeys/{cred}/remove"
    step_up(client, key, r.text)
    done = client.post(target, data=fields, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (
        303, "/security?notice=mfa_removal_scheduled")
    page = client.get(done.headers["location"]).text
    assert "削除を受け付けました" in page
    effective = format_jst(clock.now + timedelta(hours=72), "ja")
    assert 'id="pending-removals"' in page and f"{effective} に削除予定" in page
    removal_id = re.search(r'data-removal="([^"]+)"', page).group(1)
    assert f'action="/security/mfa-removals/{removal_id}/cancel"' in page
    # Cancelling needs no step-up, even once the passkey confirmation is old.
    clock.advance(timedelta(minutes=20))
    r = client.post(f"/security/mfa-removals/{removal_id}/cancel",
                    data={"csrf_token": hidden(page, "csrf_token")}, follow_redirects=False)
    assert r.headers["location"] == "/security?notice=mfa_removal_cancelled"
    page = client.get(r.headers["location"]).text
    assert "削除を取り消しました" in page and 'id="pending-removals"' not in page
    assert services.removals.pending(account) == []
    assert len(services.passkeys.list(account)) == 1


def test_forbid_is_explained_in_japanese_and_changes_nothing(database_url, clock, tmp_path):
    with app_with_policy(database_url, clock, tmp_path, policy("{last_strong: forbid}"),
                         webauthn_rp_id="localhost", webauthn_origins=[ORIGIN]) as env:
        services, client = env
        make_customer(services, login_id="srm3")
        log_in(client, "srm3")
        cred = register(client, SoftAuthenticator(), "iPhone")
        page = client.get("/security").text
        r = client.post(f"/security/passkeys/{cred}/remove",
                        data={"csrf_token": hidden(page, "csrf_token")}, follow_redirects=False)
        assert r.status_code == 403
        assert "先にパスキーをもう1つ登録してください" in r.text
        assert 'id="removal-error"' in r.text and "iPhone" in r.text
        client.cookies.set("kg_lang", "en")
        r = client.post(f"/security/passkeys/{cred}/remove",
                        data={"csrf_token": hidden(page, "csrf_token")}, follow_redirects=False)
        assert "register another passkey first" in r.text
        assert SESSION_COOKIE in client.cookies


def test_the_last_app_asks_for_a_code_then_is_scheduled(env, clock):
    services, client = env
    account = make_customer(services, login_id="srm4")
    log_in(client, "srm4")
    page = client.post("/security/totp",
                       data={"csrf_token": meta_csrf(client.get("/security").text)}).text
    totp = pyotp.TOTP(page.split('id="totp-secret">')[1].split("<")[0].replace(" ", ""))
    client.post("/security/totp/confirm", data={"csrf_token": meta_csrf(page),
                                                "code": totp.at(clock.now)})
    page = client.get("/security").text
    assert 'id="totp-remove"' in page
    r = client.post("/security/totp/remove", data={"csrf_token": hidden(page, "csrf_token")},
                    follow_redirects=False)
    assert r.status_code == 401 and 'id="totp-step-up"' in r.text
    clock.advance(timedelta(seconds=30))
    # The code resumes the removal (a 307 re-sends the carried form).
    done = client.post("/step-up/totp", data={
        "csrf_token": hidden(r.text, "csrf_token"), "resume_to": "/security/totp/remove",
        "resume_action": "mfa_remove", "code": totp.at(clock.now)})
    assert done.status_code == 200 and "削除を受け付けました" in done.text
    assert 'id="totp-removal"' in done.text and 'id="totp-remove"' not in done.text
    assert [r["method"] for r in services.removals.pending(account)] == ["totp"]
