"""Passkeys on the customer site through HTTP, with the software authenticator giving
the browser's answers: add a passkey on /security, log in with it on /login, and
confirm a withdrawal or a bank account change on the step-up page, which then
re-submits the original form. CSRF: every JSON call carries its token in a header."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from factories.customers import FAST_PASSWORDS, PASSWORD, make_customer
from factories.soft_authenticator import SoftAuthenticator
from kabuguard.container import build_services
from kabuguard.guard.actions import Action
from kabuguard.settings import load_settings
from kabuguard.web.app import create_app
from kabuguard.web.security import SESSION_COOKIE

ORIGIN = "http://localhost:8000"
STRONG = (Action.WITHDRAWAL, Action.BANK_ACCOUNT_CHANGE)
# Password login; a passkey no older than 5 minutes to withdraw or change the bank.
POLICY = "version: 1\nname: test_site_passkeys\nactions:\n" + "\n".join(
    f"  {a.value}: {{level: password}}" for a in Action if a not in STRONG
) + "".join(f"\n  {a.value}: {{level: phishing_resistant, max_age: 5m}}" for a in STRONG) + "\n"
INTERIM = ("interim:\n  until: 2026-03-31\n  level: otp\n  actions: [withdrawal]\n"
           "  notice_ja: 当面はワンタイムコードでもご利用いただけます。\n"
           "  notice_en: For now a one-time code is accepted too.\n")


def make_env(database_url, clock, tmp_path, policy):
    path = tmp_path / "policy.yaml"
    path.write_text(policy, encoding="utf-8")
    settings = load_settings(database_url=database_url, market_hours="always_open",
                             policy=str(path), webauthn_rp_id="localhost",
                             webauthn_origins=[ORIGIN])
    services = build_services(settings, clock=clock, passwords=FAST_PASSWORDS)
    return services, create_app(settings, services=services, background_interval_seconds=None)


@pytest.fixture
def env(database_url, clock, tmp_path):
    services, app = make_env(database_url, clock, tmp_path, POLICY)
    with TestClient(app, base_url="https://testserver") as client:
        yield services, client
    services.close()


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no field {name}"
    return html.unescape(match.group(1))


def meta_csrf(page: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert match, "no csrf-token meta"
    return match.group(1)


def log_in(client: TestClient, login_id: str) -> None:
    page = client.get("/login").text
    r = client.post("/login", data={"login_id": login_id, "password": PASSWORD,
                                    "csrf_token": hidden(page, "csrf_token")},
                    follow_redirects=False)
    assert r.status_code == 303, r.text


def register(client: TestClient, key: SoftAuthenticator, name: str = "iPhone") -> dict:
    token = meta_csrf(client.get("/security").text)
    opts = client.post("/security/passkeys/options", json={},
                       headers={"X-CSRF-Token": token})
    assert opts.status_code == 200, opts.text
    cred = key.create(opts.json()["publicKey"], origin=ORIGIN)
    r = client.post("/security/passkeys", headers={"X-CSRF-Token": token}, json={
        "challenge_id": opts.json()["challenge_id"], "credential": cred, "name": name})
    assert r.status_code == 201, r.text
    return r.json()


def test_register_a_passkey_on_the_security_page(env):
    services, client = env
    make_customer(services, login_id="sp1")
    log_in(client, "sp1")
    page = client.get("/")
    assert 'id="passkey-prompt"' in page.text  # JSDA: raise adoption
    assert 'href="/security"' in page.text
    security = client.get("/security")
    assert "セキュリティ設定" in security.text and 'id="no-passkey"' in security.text
    assert '<script src="/static/passkeys.js"' in security.text
    register(client, SoftAuthenticator(), name="会社のPC")
    listed = client.get("/security").text
    assert "会社のPC" in listed and "未使用" in listed and 'id="no-passkey"' not in listed
    assert 'id="passkey-prompt"' not in client.get("/").text


@pytest.mark.parametrize("header", [None, "wrong-token"])
def test_the_json_calls_need_the_csrf_header(env, header):
    services, client = env
    make_customer(services, login_id="sp2")
    log_in(client, "sp2")
    headers = {"X-CSRF-Token": header} if header else {}
    for path in ("/security/passkeys/options", "/step-up/passkey/options"):
        r = client.post(path, json={}, headers=headers)
        assert r.status_code == 403, path
        assert r.json()["error"] == "csrf_failed"
        assert "フォーム" in r.json()["message"]  # in the page's language
    r = client.post("/login/passkey/options", json={}, headers=headers)
    assert r.status_code == 403


def test_log_in_with_a_passkey_sets_the_session_cookie(env):
    services, client = env
    make_customer(services, login_id="sp3")
    log_in(client, "sp3")
    key = SoftAuthenticator()
    register(client, key)
    client.post("/logout", data={"csrf_token": meta_csrf(client.get("/").text)})
    assert SESSION_COOKIE not in client.cookies

    page = client.get("/login?next=/cash").text
    assert "パスキーでログイン" in page
    token = re.search(r'id="passkey-login" data-csrf="([^"]+)"', page).group(1)
    assert token == hidden(page, "csrf_token")  # the kg_login_csrf double-submit token
    opts = client.post("/login/passkey/options", json={}, headers={"X-CSRF-Token": token})
    assert opts.status_code == 200, opts.text
    assertion = key.get(opts.json()["publicKey"], origin=ORIGIN)
    r = client.post("/login/passkey", headers={"X-CSRF-Token": token}, json={
        "challenge_id": opts.json()["challenge_id"], "credential": assertion, "next": "/cash"})
    assert r.status_code == 200, r.text
    assert r.json() == {"redirect": "/cash"}
    cookie = r.headers.get_list("set-cookie")
    assert any(c.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in c and "Secure" in c
               and "samesite=strict" in c.lower() for c in cookie)
    assert client.get("/cash", follow_redirects=False).status_code == 200
    assert client.get("/security").text.count("未使用") == 0  # last used is set now


def test_a_failed_passkey_login_answers_in_japanese(env):
    services, client = env
    make_customer(services, login_id="sp4")
    log_in(client, "sp4")
    key = SoftAuthenticator()
    register(client, key)
    client.cookies.delete(SESSION_COOKIE)
    page = client.get("/login").text
    token = hidden(page, "csrf_token")
    opts = client.post("/login/passkey/options", json={}, headers={"X-CSRF-Token": token}).json()
    phished = key.get(opts["publicKey"], origin="https://kabuguard-login.example")
    r = client.post("/login/passkey", headers={"X-CSRF-Token": token},
                    json={"challenge_id": opts["challenge_id"], "credential": phished})
    assert r.status_code == 401
    assert r.json()["error"] == "passkey_wrong_origin"
    assert r.json()["message"] == "当社の正規サイト以外からのパスキー認証は受け付けられません。"
    assert SESSION_COOKIE not in client.cookies
    # The same login CSRF token still works for another try.
    assert client.post("/login/passkey/options", json={},
                       headers={"X-CSRF-Token": token}).status_code == 200


def step_up(client: TestClient, key: SoftAuthenticator, page: str) -> None:
    token = meta_csrf(page)
    opts = client.post("/step-up/passkey/options", json={}, headers={"X-CSRF-Token": token})
    assert opts.status_code == 200, opts.text
    r = client.post("/step-up/passkey", headers={"X-CSRF-Token": token}, json={
        "challenge_id": opts.json()["challenge_id"],
        "credential": key.get(opts.json()["publicKey"], origin=ORIGIN)})
    assert r.status_code == 200, r.text
    assert any(c.startswith(f"{SESSION_COOKIE}=") for c in r.headers.get_list("set-cookie"))


def resume_fields(page: str) -> tuple[str, dict[str, str]]:
    form = re.search(r'<form method="post" action="([^"]+)" id="resume-form"[^>]*>(.*?)</form>',
                     page, re.S)
    assert form, "no resume form"
    fields = {html.unescape(n): html.unescape(v)
              for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2))}
    return form.group(1), fields


def test_a_withdrawal_asks_for_the_passkey_then_resumes(env):
    services, client = env
    account = make_customer(services, cash_yen=50_000, login_id="sp5")
    log_in(client, "sp5")
    key = SoftAuthenticator()
    register(client, key)
    cash = client.get("/cash").text
    form = {"csrf_token": hidden(cash, "csrf_token"),
            "idempotency_key": hidden(cash, "idempotency_key"), "amount_jpy": "1,000"}
    r = client.post("/cash/withdraw", data=form, follow_redirects=False)
    assert r.status_code == 401
    assert "パスキーによる本人確認" in r.text and "「出金」を行うには" in r.text
    assert "パスキーで確認" in r.text
    target, fields = resume_fields(r.text)
    assert target == "/cash/withdraw"
    assert fields == {**form, "csrf_token": meta_csrf(r.text)}  # the session's token
    assert services.broker.portfolio(account).cash_yen == 50_000

    old_cookie = client.cookies[SESSION_COOKIE]
    step_up(client, key, r.text)
    assert client.cookies[SESSION_COOKIE] != old_cookie  # a new session id
    done = client.post(target, data=fields, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/cash?notice=withdrawn")
    assert services.broker.portfolio(account).cash_yen == 49_000
    # The old cookie stopped working at the step-up.
    stale = TestClient(client.app, base_url="https://testserver",
                       cookies={SESSION_COOKIE: old_cookie})
    assert stale.get("/cash", follow_redirects=False).status_code == 303


def test_a_bank_account_change_asks_for_the_passkey_in_english_too(env):
    services, client = env
    account = make_customer(services, login_id="sp6")
    log_in(client, "sp6")
    key = SoftAuthenticator()
    register(client, key)
    client.get("/lang/en")
    bank = client.get("/bank").text
    form = {"csrf_token": hidden(bank, "csrf_token"), "bank_name": "Mizuho <b>",
            "branch_code": "123", "number": "7654321", "holder": "Taro"}
    r = client.post("/bank", data=form, follow_redirects=False)
    assert r.status_code == 401
    assert "To change your bank account, please confirm it is you with your passkey." in r.text
    assert "Mizuho &lt;b&gt;" in r.text  # carried, escaped
    target, fields = resume_fields(r.text)
    step_up(client, key, r.text)
    done = client.post(target, data=fields, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert services.broker.bank_account(account)["number_masked"].endswith("321")


def test_without_a_passkey_the_step_up_page_leads_to_security(database_url, clock, tmp_path):
    services, app = make_env(database_url, clock, tmp_path, POLICY + INTERIM)
    try:
        with TestClient(app, base_url="https://testserver") as client:
            make_customer(services, login_id="sp7")
            log_in(client, "sp7")
            cash = client.get("/cash").text
            r = client.post("/cash/withdraw", data={
                "csrf_token": hidden(cash, "csrf_token"), "amount_jpy": "1000"})
            assert r.status_code == 401
            assert 'id="no-passkey"' in r.text and 'href="/security"' in r.text
            assert "resume-form" not in r.text
            assert "当面はワンタイムコードでもご利用いただけます。" in r.text
            assert "2026-03-31" in r.text
            r = client.post("/step-up/passkey/options", json={},
                            headers={"X-CSRF-Token": meta_csrf(r.text)})
            assert r.status_code == 409
    finally:
        services.close()
