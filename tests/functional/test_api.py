"""The JSON API through HTTP, without mocks."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from factories.customers import PASSWORD, make_customer
from kabuguard.domain.errors import NotFound
from kabuguard.store.base import Base


def row_counts(services) -> dict[str, int]:
    with services.db.read() as session:
        return {t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


@pytest.fixture
def customer(services, api_login):
    account = make_customer(services, cash_yen=3_000_000, holdings={"6758": 200},
                            login_id="apiuser")
    return account, api_login("apiuser", PASSWORD)


def test_login_failure_is_the_same_for_unknown_user_and_bad_password(client, services):
    make_customer(services, login_id="known-user")
    a = client.post("/api/v1/sessions", json={"login_id": "known-user", "password": "wrong-pw-123"})
    b = client.post("/api/v1/sessions", json={"login_id": "nobody-here", "password": "wrong-pw-123"})
    assert a.status_code == b.status_code == 401
    assert a.json() == b.json()


def test_requests_without_a_token_are_refused(client):
    for method, path in [("get", "/api/v1/portfolio"), ("post", "/api/v1/orders"),
                         ("post", "/api/v1/withdrawals"), ("put", "/api/v1/bank-account"),
                         ("patch", "/api/v1/profile"), ("get", "/api/v1/orders")]:
        r = client.request(method, path, json={})
        assert r.status_code == 401, path
        assert r.json()["error"] == "session_invalid"
    r = client.get("/api/v1/portfolio", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401


def test_buy_then_portfolio(client, customer):
    account, auth = customer
    r = client.post("/api/v1/orders", json={"symbol": "7203", "side": "buy", "quantity": 100},
                    headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "filled"
    p = client.get("/api/v1/portfolio", headers=auth).json()
    assert {h["symbol"]: h["quantity"] for h in p["holdings"]} == {"7203": 100, "6758": 200}
    assert p["account"] == account
    assert p["cash_jpy"] == 3_000_000 - r.json()["fill_amount_jpy"]


def test_idempotency_key_header_executes_once(client, customer, services):
    _, auth = customer
    headers = {**auth, "Idempotency-Key": "mobile-retry-42"}
    body = {"symbol": "6758", "side": "sell", "quantity": 100}
    first = client.post("/api/v1/orders", json=body, headers=headers)
    before = row_counts(services)
    second = client.post("/api/v1/orders", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert row_counts(services) == before
    clash = client.post("/api/v1/orders", json={**body, "quantity": 200}, headers=headers)
    assert clash.status_code == 409
    assert "different request" in clash.json()["message"]


@pytest.mark.parametrize(("body", "status", "needle"), [
    ({"symbol": "NOPE1", "side": "buy", "quantity": 100}, 422, "Unknown symbol"),
    ({"symbol": "7203", "side": "buy", "quantity": 0}, 422, "quantity"),
    ({"symbol": "7203", "side": "buy", "quantity": "100"}, 422, "quantity"),
    ({"symbol": "7203", "side": "buy", "quantity": 1.5}, 422, "quantity"),
    ({"symbol": "7203", "side": "buy", "quantity": 130}, 422, "lots of 100"),
    ({"symbol": "7203", "side": "short", "quantity": 100}, 422, "side"),
    ({"symbol": "7203", "side": "buy"}, 422, "quantity"),
    ({"symbol": "7203", "side": "buy", "quantity": 100, "extra": 1}, 422, "extra"),
    ({"symbol": "7203", "side": "buy", "quantity": 100, "order_type": "limit"}, 422,
     "limit price"),
    ({"symbol": "7203", "side": "sell", "quantity": 100}, 409, "Not enough 7203 shares"),
    ({"symbol": "7203", "side": "buy", "quantity": 900_000}, 4, "")  # 409 or 422
])
def test_bad_orders_get_a_clear_4xx_and_write_nothing(client, customer, services, body,
                                                      status, needle):
    _, auth = customer
    before = row_counts(services)
    r = client.post("/api/v1/orders", json=body, headers=auth)
    if status == 4:
        assert 400 <= r.status_code < 500
    else:
        assert r.status_code == status, r.text
    assert needle in r.json()["message"]
    assert r.json()["error"]
    assert row_counts(services) == before


@pytest.mark.parametrize(("path", "method", "body"), [
    ("/api/v1/withdrawals", "post", {"amount_jpy": 0}),
    ("/api/v1/withdrawals", "post", {"amount_jpy": "1000"}),
    ("/api/v1/withdrawals", "post", {"amount_jpy": 999_999_999_999}),
    ("/api/v1/withdrawals", "post", {"amount_jpy": 10_000_000}),  # more than the cash
    ("/api/v1/deposits", "post", {"amount_jpy": -5}),
    ("/api/v1/bank-account", "put", {"bank_name": "X", "branch_code": "1",
                                     "number": "1234567", "holder": "A"}),
    ("/api/v1/profile", "patch", {"email": "not-an-email"}),
    ("/api/v1/profile", "patch", {"email": "ok@example.jp", "phone": "12"}),
    ("/api/v1/profile", "patch", {}),
])
def test_bad_cash_and_profile_requests_write_nothing(client, customer, services, path,
                                                     method, body):
    _, auth = customer
    before = row_counts(services)
    profile_before = client.get("/api/v1/profile", headers=auth).json()
    r = client.request(method, path, json=body, headers=auth)
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["message"]
    assert row_counts(services) == before
    assert client.get("/api/v1/profile", headers=auth).json() == profile_before


def test_withdrawal_and_bank_change(client, customer):
    _, auth = customer
    r = client.post("/api/v1/withdrawals", json={"amount_jpy": 10_000},
                    headers={**auth, "Idempotency-Key": "wd-0000001"})
    assert r.status_code == 201
    again = client.post("/api/v1/withdrawals", json={"amount_jpy": 10_000},
                        headers={**auth, "Idempotency-Key": "wd-0000001"})
    assert again.json() == r.json()
    assert client.get("/api/v1/cash", headers=auth).json()["cash_jpy"] == 2_990_000
    r = client.put("/api/v1/bank-account", headers=auth, json={
        "bank_name": "ゆうちょ銀行", "branch_code": "018", "number": "1111222",
        "holder": "テスト タロウ"})
    assert r.status_code == 200
    blocked = client.post("/api/v1/withdrawals", json={"amount_jpy": 1_000}, headers=auth)
    assert blocked.status_code == 409
    assert blocked.json()["error"] == "bank_account_cooling_off"


def test_deposit_with_idempotency_key_credits_once(client, customer):
    _, auth = customer
    headers = {**auth, "Idempotency-Key": "dep-0000001"}
    first = client.post("/api/v1/deposits", json={"amount_jpy": 5_000}, headers=headers)
    second = client.post("/api/v1/deposits", json={"amount_jpy": 5_000}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() == {"amount_jpy": 5_000, "cash_jpy": 3_005_000}


def test_another_customers_order_is_not_found(client, customer, services, api_login):
    _, auth = customer
    order = client.post("/api/v1/orders", headers=auth,
                        json={"symbol": "7203", "side": "buy", "quantity": 100}).json()
    make_customer(services, login_id="other-customer")
    other = api_login("other-customer", PASSWORD)
    r = client.post(f"/api/v1/orders/{order['id']}/cancel", headers=other)
    assert r.status_code == 404
    with pytest.raises(NotFound):
        services.broker.order(customer[0] + "0", order["id"])
    assert services.broker.order(customer[0], order["id"])["id"] == order["id"]


def test_openapi_lists_the_api(client):
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/orders" in spec["paths"]
    assert "/api/v1/withdrawals" in spec["paths"]


def test_logout_ends_the_token(client, customer):
    _, auth = customer
    assert client.delete("/api/v1/sessions/current", headers=auth).status_code == 204
    assert client.get("/api/v1/portfolio", headers=auth).status_code == 401
