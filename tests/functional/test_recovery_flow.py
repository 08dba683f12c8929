"""Account recovery through HTTP, on the site and the API: the flow, the answers that
must not tell accounts apart, and the cooling-off the guard enforces on every channel."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from factories.apps import app_with_policy, policy_text
from factories.customers import PASSWORD, make_customer
from factories.recovery import notices, recovery_code
from kabuguard.notify.models import Notice

NEW_PHONE = "08011112222"
BANK = {"bank_name": "みずほ銀行", "branch_code": "123", "number": "7654321", "holder": "テスト"}
COOLING_OFF = timedelta(hours=72)


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return match.group(1)


def text_of(response) -> str:
    body = re.sub(r"<script.*?</script>", " ", response.text, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def log_in(client: TestClient, login_id: str) -> None:
    page = client.get("/login")
    r = client.post("/login", follow_redirects=False, data={
        "login_id": login_id, "password": PASSWORD,
        "csrf_token": hidden(page.text, "csrf_token")})
    assert r.status_code == 303, text_of(r)


def start_on_site(client: TestClient, login_id: str, password: str = PASSWORD,
                  phone: str = NEW_PHONE):
    page = client.get("/recovery")
    assert page.status_code == 200
    return client.post("/recovery", data={"login_id": login_id, "password": password,
                                          "new_phone": phone,
                                          "csrf_token": hidden(page.text, "csrf_token")})


def complete_on_site(client: TestClient, code_page, code: str):
    return client.post("/recovery/complete", follow_redirects=False, data={
        "request_id": hidden(code_page.text, "request_id"), "code": code,
        "csrf_token": hidden(code_page.text, "csrf_token")})


def recover_on_site(client: TestClient, services, login_id: str, cid: str):
    code_page = start_on_site(client, login_id)
    assert code_page.status_code == 200, text_of(code_page)
    done = complete_on_site(client, code_page, recovery_code(services, cid))
    assert done.status_code == 303, text_of(done)
    assert done.headers["location"] == "/recovery/done"
    return done


def site_withdraw(client: TestClient, amount: str = "10000"):
    page = client.get("/cash")
    return client.post("/cash/withdraw", follow_redirects=False, data={
        "csrf_token": hidden(page.text, "csrf_token"), "amount_jpy": amount,
        "idempotency_key": hidden(page.text, "idempotency_key")})


def site_post(client: TestClient, path: str, page: str, **fields: str):
    token = hidden(client.get(page).text, "csrf_token")
    return client.post(path, follow_redirects=False, data={"csrf_token": token, **fields})


# -- site ------------------------------------------------------------------------------
def test_the_login_page_leads_to_recovery(client):
    page = client.get("/login")
    assert 'href="/recovery"' in page.text
    form = client.get("/recovery")
    assert form.status_code == 200
    assert "新しい携帯電話番号" in text_of(form)
    assert 'name="email"' not in form.text  # the registered e-mail is the proof


def test_site_recovery_flow_and_cooling_off(app, client, services, clock):
    cid = make_customer(services, login_id="srec1")
    with TestClient(app, base_url="https://testserver") as old_device:
        log_in(old_device, "srec1")
        assert old_device.get("/", follow_redirects=False).status_code == 200

        code_page = start_on_site(client, "srec1")
        assert "8桁の確認コード" in text_of(code_page)
        complete_on_site(client, code_page, recovery_code(services, cid))
        # The old device's session is over.
        assert old_device.get("/", follow_redirects=False).status_code == 303

    done = client.get("/recovery/done")
    until = "2025/04/11 10:00 JST"
    assert done.status_code == 200
    assert until in text_of(done)
    assert 'href="/security"' in done.text
    assert 'id="cooling-off-banner"' in done.text
    home = client.get("/")
    assert 'id="cooling-off-banner"' in home.text
    assert until in text_of(home)

    # Refused, with the date, whatever the form.
    refused = site_withdraw(client)
    assert refused.status_code == 403
    assert "アカウントの復旧から間もないため" in text_of(refused)
    assert until in text_of(refused)
    assert site_post(client, "/bank", "/bank", **BANK).status_code == 403
    assert site_post(client, "/profile/phone", "/profile", phone="07099998888").status_code == 403
    assert services.broker.bank_account(cid)["bank_name"] == "テスト銀行"
    assert services.identity.profile(cid)["phone"] == NEW_PHONE
    # Orders are not barred by the cooling-off; the risk engine watches them: the
    # recovery moved the phone, and trading within 24 hours of a contact change needs
    # a passkey (rule contact_change_then_trade; this customer has none yet).
    page = client.get("/trade?symbol=7203")
    order = client.post("/trade", follow_redirects=False, data={
        "csrf_token": hidden(page.text, "csrf_token"),
        "idempotency_key": hidden(page.text, "idempotency_key"), "symbol": "7203",
        "side": "buy", "order_type": "market", "quantity": "100"})
    assert order.status_code == 401, text_of(order)
    assert 'id="step-up"' in order.text  # the step-up page (it says to register a passkey)

    clock.advance(COOLING_OFF)
    log_in(client, "srec1")
    home = client.get("/")
    assert 'id="cooling-off-banner"' not in home.text
    assert site_withdraw(client).status_code == 303


def test_the_refusal_in_english(client, services):
    cid = make_customer(services, login_id="srec2")
    client.cookies.set("kg_lang", "en")
    recover_on_site(client, services, "srec2", cid)
    refused = site_withdraw(client)
    assert refused.status_code == 403
    assert "you cannot withdraw until 11 Apr 2025 10:00 JST" in text_of(refused)


def test_site_wrong_codes_then_start_again(client, services):
    cid = make_customer(services, login_id="srec3")
    code_page = start_on_site(client, "srec3")
    code = recovery_code(services, cid)
    wrong = "00000000" if code != "00000000" else "11111111"
    r = complete_on_site(client, code_page, wrong)
    assert r.status_code == 401
    assert "あと4回" in text_of(r)
    for _ in range(4):
        r = complete_on_site(client, r, wrong)
    assert r.status_code == 401
    assert 'action="/recovery"' in r.text  # back to the start form
    assert services.identity.profile(cid)["phone"] == "09000000000"


def test_site_unknown_login_id_reads_like_a_wrong_password(client, services):
    make_customer(services, login_id="srec4")
    unknown = start_on_site(client, "no-such-user")
    wrong = start_on_site(client, "srec4", password="wrong-password-123")
    assert unknown.status_code == wrong.status_code == 401
    message = re.search(r'id="recovery-error">([^<]*)<', unknown.text).group(1)
    assert message == re.search(r'id="recovery-error">([^<]*)<', wrong.text).group(1)
    with services.db.read() as session:
        assert session.scalar(select(Notice.id).limit(1)) is None


def test_site_forms_need_their_csrf_token(client, services):
    make_customer(services, login_id="srec5")
    client.get("/recovery")
    r = client.post("/recovery", data={"login_id": "srec5", "password": PASSWORD,
                                       "new_phone": NEW_PHONE, "csrf_token": "forged"})
    assert r.status_code == 403
    r = client.post("/recovery/complete", data={"request_id": "rcv_x", "code": "12345678"})
    assert r.status_code == 403


def test_site_bad_phone_is_explained(client, services):
    make_customer(services, login_id="srec6")
    r = start_on_site(client, "srec6", phone="12-34")
    assert r.status_code == 422
    assert "電話番号は10〜15桁" in text_of(r)


# -- API -------------------------------------------------------------------------------
def api_recover(client: TestClient, services, login_id: str, cid: str, **extra: str) -> dict:
    r = client.post("/api/v1/recovery", json={"login_id": login_id, "password": PASSWORD,
                                              "new_phone": NEW_PHONE, **extra})
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["code_sent_to"] == "registered_email"
    r = client.post("/api/v1/recovery/complete", json={
        "request": started["request"], "code": recovery_code(services, cid), **extra})
    assert r.status_code == 201, r.text
    return r.json()


def test_api_recovery_flow_and_cooling_off(client, services, clock, api_login):
    cid = make_customer(services, login_id="arec1")
    old = api_login("arec1", PASSWORD)
    body = api_recover(client, services, "arec1", cid)
    assert body["level"] == "otp"
    assert body["sessions_ended"] == 1
    assert body["cooling_off_until"] == (clock.now + COOLING_OFF).isoformat()
    assert body["passkeys"] == []
    assert client.get("/api/v1/portfolio", headers=old).status_code == 401
    auth = {"Authorization": f"Bearer {body['token']}"}

    r = client.post("/api/v1/withdrawals", json={"amount_jpy": 1_000}, headers=auth)
    assert r.status_code == 403
    assert r.json()["error"] == "action_restricted"
    assert r.json()["reason"] == "recovery_cooling_off"
    assert r.json()["until"] == body["cooling_off_until"]
    assert client.put("/api/v1/bank-account", json=BANK, headers=auth).status_code == 403
    assert client.patch("/api/v1/profile", json={"email": "x@example.jp"},
                        headers=auth).status_code == 403
    # Not barred by the cooling-off, but watched by the risk engine: the recovery
    # moved the phone (rule contact_change_then_trade, a passkey for 24 hours).
    order = client.post("/api/v1/orders", json={"symbol": "7203", "side": "buy",
                                                "quantity": 100}, headers=auth)
    assert order.status_code == 401, order.text
    assert order.json()["level"] == "phishing_resistant"
    assert "contact_change_then_trade" in order.json()["reasons"]

    clock.advance(COOLING_OFF)
    fresh = api_login("arec1", PASSWORD)
    r = client.post("/api/v1/withdrawals", json={"amount_jpy": 1_000}, headers=fresh)
    assert r.status_code == 201, r.text


def test_api_refuses_a_new_email(client, services):
    make_customer(services, login_id="arec2")
    r = client.post("/api/v1/recovery", json={"login_id": "arec2", "password": PASSWORD,
                                              "new_phone": NEW_PHONE,
                                              "email": "attacker@example.com"})
    assert r.status_code == 422
    with services.db.read() as session:
        assert session.scalar(select(Notice.id).limit(1)) is None


def test_api_unknown_login_id_gets_the_login_answer(client, services):
    make_customer(services, login_id="arec3")
    unknown = client.post("/api/v1/recovery", json={"login_id": "ghost", "password": PASSWORD,
                                                    "new_phone": NEW_PHONE})
    wrong = client.post("/api/v1/recovery", json={"login_id": "arec3",
                                                  "password": "wrong-password-123",
                                                  "new_phone": NEW_PHONE})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert unknown.json()["error"] == "login_failed"


def test_api_expired_request(client, services, clock):
    cid = make_customer(services, login_id="arec4")
    r = client.post("/api/v1/recovery", json={"login_id": "arec4", "password": PASSWORD,
                                              "new_phone": NEW_PHONE})
    clock.advance(timedelta(minutes=31))
    r = client.post("/api/v1/recovery/complete", json={
        "request": r.json()["request"], "code": recovery_code(services, cid)})
    assert r.status_code == 401
    assert r.json()["error"] == "otp_expired"


def test_api_notices_go_to_the_right_addresses(client, services):
    cid = make_customer(services, login_id="arec5")
    api_recover(client, services, "arec5", cid, channel="app")
    done = sorted((m, a) for m, a, _ in notices(services, cid, "recovery_completed"))
    assert done == sorted([("email", f"u{cid}@example.jp"), ("sms", "09000000000"),
                           ("sms", NEW_PHONE)])


# -- on the JSDA preset ----------------------------------------------------------------
def test_jsda_preset_allows_recovery_and_refuses_before_any_step_up(database_url, clock,
                                                                     tmp_path):
    with app_with_policy(database_url, clock, tmp_path, "jsda_2025_mandatory") as (svc, client):
        cid = make_customer(svc, login_id="jrec1")
        body = api_recover(client, svc, "jrec1", cid)
        auth = {"Authorization": f"Bearer {body['token']}"}
        r = client.post("/api/v1/withdrawals", json={"amount_jpy": 1_000}, headers=auth)
        # Not "step_up_required": no passkey would lift the cooling-off.
        assert r.status_code == 403
        assert r.json()["error"] == "action_restricted"


def test_a_policy_can_deny_recovery_on_a_channel(database_url, clock, tmp_path):
    policy = policy_text("no_api_recovery") + "channels:\n  api:\n    recovery: deny\n"
    with app_with_policy(database_url, clock, tmp_path, policy) as (svc, client):
        cid = make_customer(svc, login_id="jrec2")
        r = client.post("/api/v1/recovery", json={"login_id": "jrec2", "password": PASSWORD,
                                                  "new_phone": NEW_PHONE})
        assert r.status_code == 403
        assert r.json()["error"] == "action_denied"
        assert notices(svc, cid, "recovery_requested") == []
        # The site (channel web) is not denied by this policy.
        assert start_on_site(client, "jrec2").status_code == 200


@pytest.mark.parametrize("path", ["/recovery", "/api/v1/recovery"])
def test_recovery_routes_are_throttled_with_the_login(client, services, path):
    # The same failure throttle as the login: a stuffing list cannot use recovery instead.
    make_customer(services, login_id="arec6")
    throttle = services.identity.throttle
    for _ in range(throttle.per_ip):
        throttle.record_failure("testclient", services.identity.clock())
    if path == "/recovery":
        r = start_on_site(client, "arec6")
    else:
        r = client.post(path, json={"login_id": "arec6", "password": PASSWORD,
                                    "new_phone": NEW_PHONE})
    assert r.status_code == 429
