"""The customer web site through HTTP, as a browser uses it: forms with CSRF tokens,
redirects after each POST, pages in Japanese (and English under the language cookie)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from factories.customers import PASSWORD, make_customer
from kabuguard.broker.interfaces import OrderRequest
from kabuguard.broker.models import Order
from kabuguard.container import build_services
from kabuguard.domain.events import RequestContext
from kabuguard.settings import load_settings
from kabuguard.store.base import Base
from kabuguard.web.app import create_app

CTX = RequestContext(ip="192.0.2.10")
PAGES = ["/", "/trade", "/trade?symbol=7203", "/orders", "/cash", "/bank", "/profile"]


# -- helpers -------------------------------------------------------------------------
def row_counts(services) -> dict[str, int]:
    with services.db.read() as session:
        return {t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no hidden field {name}"
    return match.group(1)


def text_of(response) -> str:
    """The page's text with tags removed and entities decoded, for assertions on
    what a person reads."""
    body = re.sub(r"<script.*?</script>|<style.*?</style>", " ", response.text, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def log_in(client: TestClient, login_id: str, password: str = PASSWORD):
    page = client.get("/login")
    assert page.status_code == 200
    r = client.post("/login", data={"login_id": login_id, "password": password,
                                    "csrf_token": hidden(page.text, "csrf_token")},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return r


def csrf(client: TestClient, path: str = "/") -> str:
    return hidden(client.get(path).text, "csrf_token")


def order_form(client: TestClient, symbol: str, **fields: str) -> dict[str, str]:
    page = client.get(f"/trade?symbol={symbol}")
    assert page.status_code == 200
    return {"csrf_token": hidden(page.text, "csrf_token"),
            "idempotency_key": hidden(page.text, "idempotency_key"), "symbol": symbol,
            "side": "buy", "order_type": "market", "quantity": "100", **fields}


def place(client: TestClient, symbol: str, **fields: str):
    r = client.post("/trade", data=order_form(client, symbol, **fields), follow_redirects=False)
    assert r.status_code == 303, text_of(r)
    assert re.fullmatch(r"/orders/ord_[A-Za-z0-9_-]+\?notice=placed", r.headers["location"])
    return r


def order_id_of(redirect) -> str:
    return redirect.headers["location"].split("/")[2].split("?")[0]


@pytest.fixture
def customer(client, services):
    account = make_customer(services, cash_yen=3_000_000, holdings={"6758": 200},
                            login_id="webuser")
    log_in(client, "webuser")
    return account


# -- session, CSRF, cookies ------------------------------------------------------------
@pytest.mark.parametrize("path", [*PAGES, "/quote/7203", "/orders/ord_x"])
def test_pages_without_a_session_redirect_to_login(client, path):
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=")


def test_posts_without_a_session_change_nothing(client, services):
    account = make_customer(services, login_id="nosession")
    before = row_counts(services)
    for path, data in [("/trade", {"symbol": "7203", "side": "buy", "quantity": "100"}),
                       ("/cash/deposit", {"amount_jpy": "1000"}),
                       ("/cash/withdraw", {"amount_jpy": "1000"}),
                       ("/bank", {"bank_name": "X", "branch_code": "123", "number": "1234567",
                                  "holder": "X"}),
                       ("/profile/email", {"email": "x@example.jp"})]:
        r = client.post(path, data=data, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login")
    assert row_counts(services) == before
    assert services.broker.portfolio(account).cash_yen == 1_000_000


def test_every_page_renders_in_japanese(client, customer):
    for path in PAGES:
        r = client.get(path)
        assert r.status_code == 200, path
        assert '<html lang="ja">' in r.text
        assert "かぶガード証券" in r.text
        assert r.headers["cache-control"] == "no-store", path
        assert "<script>" not in r.text  # the CSP forbids inline script


@pytest.mark.parametrize("field", ["missing", "wrong"])
def test_posts_without_the_right_csrf_token_are_refused(client, services, customer, field):
    limit = client.post("/trade", data=order_form(client, "7203", order_type="limit",
                                                  limit_price="100"), follow_redirects=False)
    order_id = order_id_of(limit)
    before = row_counts(services)
    cash_before = services.broker.portfolio(customer).cash_yen
    forms = [
        ("/trade", {**order_form(client, "7203")}),
        (f"/orders/{order_id}/cancel", {}),
        ("/cash/deposit", {"amount_jpy": "10000"}),
        ("/cash/withdraw", {"amount_jpy": "10000", "idempotency_key": "web-key-00000001"}),
        ("/bank", {"bank_name": "三井住友銀行", "branch_code": "250", "number": "7654321",
                   "holder": "ヤマダ"}),
        ("/profile/email", {"email": "attacker@example.com"}),
        ("/profile/phone", {"phone": "09099999999"}),
        ("/logout", {}),
    ]
    for path, fields in forms:
        data = {k: v for k, v in fields.items() if k != "csrf_token"}
        if field == "wrong":
            data["csrf_token"] = "not-the-session-token"
        r = client.post(path, data=data, follow_redirects=False)
        assert r.status_code == 403, path
        assert "フォームの有効期限が切れたか" in r.text
    assert row_counts(services) == before
    assert services.broker.portfolio(customer).cash_yen == cash_before
    assert services.identity.profile(customer)["email"] == f"u{customer}@example.jp"
    assert client.get("/", follow_redirects=False).status_code == 200  # still logged in


def test_every_cookie_is_httponly_secure_and_samesite_strict(client, services):
    make_customer(services, login_id="cookies")
    responses = [client.get("/login")]
    responses.append(client.post("/login", data={"login_id": "cookies", "password": "wrong-pw-1",
                                                 "csrf_token": hidden(responses[0].text,
                                                                      "csrf_token")}))
    responses.append(log_in(client, "cookies"))
    responses.append(client.get("/lang/en?next=/cash", follow_redirects=False))
    responses.append(client.get("/lang/ja?next=/", follow_redirects=False))
    responses.append(client.post("/logout", data={"csrf_token": csrf(client)},
                                 follow_redirects=False))
    cookies = [c for r in responses for c in r.headers.get_list("set-cookie")]
    names = {c.split("=", 1)[0] for c in cookies}
    assert {"kg_session", "kg_device", "kg_login_csrf", "kg_lang"} <= names
    for cookie in cookies:
        attrs = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "secure", "samesite=strict"} <= attrs, cookie


def test_logout_ends_the_session(client, customer):
    r = client.post("/logout", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert r.headers["location"] == "/login?notice=logged_out"
    assert client.get("/cash", follow_redirects=False).status_code == 303


# -- trade -----------------------------------------------------------------------------
def test_trade_page_shows_quote_lot_market_state_and_estimate(client, services, customer):
    q = services.broker.quote("7203")
    r = client.get("/trade?symbol=7203")
    page = text_of(r)
    assert "トヨタ自動車" in page
    assert f"¥{q.price_jpy:,}" in page
    assert "取引時間中" in page
    assert "売買単位 100株" in page
    assert f"概算金額 ¥{q.price_jpy * 100:,}" in page
    assert 'data-quote-symbol="7203"' in r.text
    # Every rendering gets its own Idempotency-Key.
    assert hidden(r.text, "idempotency_key") != hidden(client.get("/trade?symbol=7203").text,
                                                       "idempotency_key")


def test_symbol_search_lists_matches_by_japanese_name(client, customer):
    page = text_of(client.get("/trade?q=トヨタ"))
    assert "「トヨタ」の検索結果" in page
    assert "7203 トヨタ自動車" in page
    assert "該当する銘柄はありません" in text_of(client.get("/trade?q=zzzzzzzz"))


def test_unknown_symbol_is_a_japanese_error(client, customer):
    r = client.get("/trade?symbol=NOPE9")
    assert r.status_code == 422
    assert "銘柄コードが見つかりません" in text_of(r)


def test_quote_endpoint_returns_the_quote(client, services, customer):
    r = client.get("/quote/7203")
    assert r.status_code == 200
    body = r.json()
    expected = services.broker.quote("7203").to_dict()
    assert {k: body[k] for k in expected} == expected
    assert body["price_display"] == f"¥{services.broker.quote('7203').price_jpy:,}"
    assert r.headers["cache-control"] == "no-store"
    missing = client.get("/quote/NOPE9")
    assert missing.status_code == 422
    assert missing.json()["error"] == "unknown_symbol"


def test_buy_fills_and_shows_price_and_amount(client, services, customer):
    price = services.broker.quote("7203").price_jpy
    r = place(client, "7203", quantity="１００")  # full-width digits from an IME
    page = client.get(r.headers["location"])
    text = text_of(page)
    assert "ご注文を受け付けました。" in text
    assert f"約定しました: 100株を¥{price:,}で買付（約定金額 ¥{price * 100:,}）" in text
    assert "約定済" in text
    portfolio = text_of(client.get("/"))
    assert f"¥{3_000_000 - price * 100:,}" in portfolio
    assert services.broker.portfolio(customer).cash_yen == 3_000_000 - price * 100
    assert {h.symbol: h.quantity for h in services.broker.portfolio(customer).holdings} == {
        "7203": 100, "6758": 200}


def test_sell_fills(client, services, customer):
    price = services.broker.quote("6758").price_jpy
    r = place(client, "6758", side="sell", quantity="100")
    assert f"100株を¥{price:,}で売却" in text_of(client.get(r.headers["location"]))
    holdings = {h.symbol: h.quantity for h in services.broker.portfolio(customer).holdings}
    assert holdings == {"6758": 100}
    assert services.broker.portfolio(customer).cash_yen == 3_000_000 + price * 100


def test_a_double_submitted_order_executes_once(client, services, customer):
    form = order_form(client, "7203")
    first = client.post("/trade", data=form, follow_redirects=False)
    before = row_counts(services)
    second = client.post("/trade", data=form, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert row_counts(services) == before
    with services.db.read() as session:
        assert session.execute(select(func.count()).select_from(Order)).scalar_one() == 1


@pytest.mark.parametrize(("quantity", "message"), [
    ("150", "数量は売買単位（100株）の倍数で入力してください。"),
    ("0", "数量を確認してください"),
    ("abc", "数量を確認してください"),
    ("1.5", "数量を確認してください"),
    ("", "数量を確認してください"),
])
def test_an_invalid_quantity_rerenders_the_form_in_japanese(client, services, customer,
                                                             quantity, message):
    before = row_counts(services)
    r = client.post("/trade", data=order_form(client, "7203", quantity=quantity),
                    follow_redirects=False)
    assert r.status_code == 422
    assert message in text_of(r)
    assert f'name="quantity" id="quantity" value="{quantity}"' in r.text
    assert 'aria-invalid="true"' in r.text
    assert row_counts(services) == before


@pytest.mark.parametrize(("fields", "status", "message"), [
    ({"quantity": "10000"}, 409, "買付余力（出金可能額）が不足しています（必要額"),
    ({"side": "sell", "quantity": "300"}, 409, "売却可能な株数が不足しています（売却可能 200株）"),
    ({"order_type": "limit", "limit_price": ""}, 422, "指値を正しく入力してください"),
    ({"order_type": "limit", "limit_price": "10.5"}, 422, "指値を正しく入力してください"),
    ({"side": "short"}, 422, "「買付」か「売却」を選んでください"),
])
def test_refused_orders_rerender_with_the_reason_and_write_nothing(client, services, customer,
                                                                   fields, status, message):
    before = row_counts(services)
    form = order_form(client, "6758" if fields.get("side") == "sell" else "7203", **fields)
    r = client.post("/trade", data=form, follow_redirects=False)
    assert r.status_code == status
    assert message in text_of(r)
    assert row_counts(services) == before


def test_a_market_order_ignores_a_leftover_limit_price(client, services, customer):
    r = place(client, "7203", order_type="market", limit_price="1")
    assert "約定済" in text_of(client.get(r.headers["location"]))


def test_limit_order_rests_and_can_be_cancelled(client, services, customer):
    r = place(client, "7203", order_type="limit", limit_price="1,000")
    order_id = order_id_of(r)
    detail = text_of(client.get(r.headers["location"]))
    assert "注文中" in detail
    assert "指値 ¥1,000 に達するまで注文中です。" in detail
    assert services.broker.portfolio(customer).reserved_yen == 100_000

    orders = client.get("/orders")
    assert f'action="/orders/{order_id}/cancel"' in orders.text
    cancel = client.post(f"/orders/{order_id}/cancel", data={"csrf_token": csrf(client)},
                         follow_redirects=False)
    assert cancel.status_code == 303
    assert cancel.headers["location"] == f"/orders/{order_id}?notice=cancelled"
    page = text_of(client.get(cancel.headers["location"]))
    assert "注文を取り消しました。" in page
    assert "取消済" in page
    assert services.broker.portfolio(customer).reserved_yen == 0
    assert f'action="/orders/{order_id}/cancel"' not in client.get("/orders").text

    before = row_counts(services)
    again = client.post(f"/orders/{order_id}/cancel", data={"csrf_token": csrf(client)},
                        follow_redirects=False)
    assert again.status_code == 422
    assert "この注文は取り消せません" in text_of(again)
    assert row_counts(services) == before


def test_foreign_limit_order_shows_its_currency(client, services, customer):
    r = place(client, "AAPL", order_type="limit", limit_price="100.50", quantity="5")
    assert "指値 $100.50" in text_of(client.get(r.headers["location"]))
    assert "指値 $100.50" in text_of(client.get("/orders"))


def test_orders_page_lists_statuses_and_executions_in_japanese(client, services, customer):
    place(client, "7203")
    place(client, "7203", order_type="limit", limit_price="1000")
    page = text_of(client.get("/orders"))
    assert "約定済" in page
    assert "注文中" in page
    assert "約定履歴" in page
    price = services.broker.orders(customer)[-1]["fill_amount_jpy"]
    assert f"¥{price:,}" in page


def test_another_customers_order_cannot_be_seen_or_cancelled(client, services, customer):
    other = make_customer(services, login_id="someone-else")
    theirs = services.broker.place_order(other, OrderRequest("7203", "buy", 100, "limit", "1000"),
                                         context=CTX).body["id"]
    assert client.get(f"/orders/{theirs}").status_code == 404
    before = row_counts(services)
    r = client.post(f"/orders/{theirs}/cancel", data={"csrf_token": csrf(client)},
                    follow_redirects=False)
    assert r.status_code == 404
    assert "該当する注文がありません" in text_of(r)
    assert row_counts(services) == before
    assert services.broker.orders(other)[0]["status"] == "open"


def test_an_order_outside_trading_hours_waits_for_the_open(settings, services, clock):
    """With real trading hours at 22:00 JST the order is queued until 09:00 next day,
    and the page says when."""
    clock.advance(timedelta(hours=12))  # T0 is 10:00 JST on a Tuesday
    real = load_settings(database_url=settings.database_url, market_hours="real")
    svc = build_services(real, clock=clock, passwords=services.identity.passwords)
    try:
        make_customer(svc, login_id="nightowl")
        with TestClient(create_app(real, services=svc, background_interval_seconds=None),
                        base_url="https://testserver") as client:
            log_in(client, "nightowl")
            page = text_of(client.get("/trade?symbol=7203"))
            assert "取引時間外 次回取引開始: 2025/04/09 09:00 JST" in page
            r = place(client, "7203")
            detail = text_of(client.get(r.headers["location"]))
            assert "待機中（市場開始待ち）" in detail
            assert "次回取引開始: 2025/04/09 09:00 JST" in detail
            clock.advance(timedelta(hours=11))
            assert svc.broker.run_due_orders() == 1
            log_in(client, "nightowl")  # the session has timed out overnight
            assert "約定済" in text_of(client.get(r.headers["location"]))
    finally:
        svc.close()


# -- cash and bank account ---------------------------------------------------------------
def test_cash_page_shows_balances_bank_and_demo_label(client, services, customer):
    place(client, "7203", order_type="limit", limit_price="1000")
    page = text_of(client.get("/cash"))
    assert "預り金 ¥3,000,000" in page
    assert "注文中の拘束金額 ¥100,000" in page
    assert "出金可能額 ¥2,900,000" in page
    assert "テスト銀行 支店 001 ***4567" in page
    assert "デモ用の模擬入金" in page
    assert "入出金履歴" in page


def test_deposit_and_withdraw(client, services, customer):
    page = client.get("/cash")
    deposit_key = hidden(page.text.split('action="/cash/deposit"')[1], "idempotency_key")
    for _ in range(2):  # a double-submitted deposit form credits once
        r = client.post("/cash/deposit", data={"csrf_token": csrf(client, "/cash"),
                                               "amount_jpy": "50,000",
                                               "idempotency_key": deposit_key},
                        follow_redirects=False)
        assert r.headers["location"] == "/cash?notice=deposited"
    page = client.get("/cash")
    form_key = hidden(page.text, "idempotency_key")
    r = client.post("/cash/withdraw", data={"csrf_token": csrf(client, "/cash"),
                                            "amount_jpy": "20000",
                                            "idempotency_key": form_key},
                    follow_redirects=False)
    assert r.headers["location"] == "/cash?notice=withdrawn"
    # The same form sent again (a double click) withdraws once.
    again = client.post("/cash/withdraw", data={"csrf_token": csrf(client, "/cash"),
                                                "amount_jpy": "20000",
                                                "idempotency_key": form_key},
                        follow_redirects=False)
    assert again.status_code == 303
    assert services.broker.portfolio(customer).cash_yen == 3_030_000
    page = text_of(client.get(r.headers["location"]))
    assert "出金を受け付けました" in page
    assert "出金 -¥20,000 ¥3,030,000" in page
    assert "入金 +¥50,000 ¥3,050,000" in page


@pytest.mark.parametrize(("path", "amount", "status", "message"), [
    ("/cash/withdraw", "5,000,000", 409, "利用可能額 ¥3,000,000"),
    ("/cash/withdraw", "0", 422, "金額は1円以上の整数"),
    ("/cash/deposit", "-5", 422, "金額は1円以上の整数"),
    ("/cash/deposit", "十万", 422, "金額は1円以上の整数"),
])
def test_refused_cash_forms_rerender_and_change_nothing(client, services, customer, path, amount,
                                                        status, message):
    before = row_counts(services)
    r = client.post(path, data={"csrf_token": csrf(client, "/cash"), "amount_jpy": amount,
                                "idempotency_key": "web-key-00000002"}, follow_redirects=False)
    assert r.status_code == status
    assert message in text_of(r)
    assert row_counts(services) == before


def test_bank_change_starts_the_cooling_off(client, services, customer, clock):
    page = text_of(client.get("/bank"))
    assert "テスト銀行" in page
    assert "***4567" in page
    # T0 is 2025/04/08 10:00 JST and the cooling-off 72 hours.
    assert "変更から72時間出金できません（今変更した場合は 2025/04/11 10:00 JST 以降" in page
    r = client.post("/bank", data={"csrf_token": csrf(client, "/bank"), "bank_name": "三井住友銀行",
                                   "branch_code": "２５０", "number": "7654321",
                                   "holder": "ヤマダ ハナコ"}, follow_redirects=False)
    assert r.headers["location"] == "/bank?notice=changed"
    page = text_of(client.get(r.headers["location"]))
    assert "出金先口座を変更しました。" in page
    assert "三井住友銀行" in page
    assert "***4321" in page
    assert "7654321" not in page
    assert "待機期間中" in page
    assert "2025/04/11 10:00 JST 以降に可能です" in page

    cash = text_of(client.get("/cash"))
    assert "この口座への出金は 2025/04/11 10:00 JST 以降に可能です" in cash
    before = row_counts(services)
    r = client.post("/cash/withdraw", data={"csrf_token": csrf(client, "/cash"),
                                            "amount_jpy": "10000"}, follow_redirects=False)
    assert r.status_code == 409
    assert "出金先口座の変更直後のため、出金はまだできません（2025/04/11 10:00 JST 以降に可能）" \
        in text_of(r)
    assert row_counts(services) == before

    clock.advance(timedelta(hours=72))
    log_in(client, "webuser")  # the session has timed out meanwhile
    r = client.post("/cash/withdraw", data={"csrf_token": csrf(client, "/cash"),
                                            "amount_jpy": "10000"}, follow_redirects=False)
    assert r.status_code == 303
    assert "出金可能" in text_of(client.get("/bank"))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("branch_code", "12", "支店番号は3桁の数字で入力してください。"),
    ("number", "123456", "口座番号は7桁の数字で入力してください。"),
    ("bank_name", " ", "金融機関名を入力してください。"),
    ("holder", "", "口座名義を入力してください。"),
])
def test_an_invalid_bank_account_is_refused(client, services, customer, field, value, message):
    data = {"csrf_token": csrf(client, "/bank"), "bank_name": "三井住友銀行",
            "branch_code": "250", "number": "7654321", "holder": "ヤマダ", field: value}
    before = row_counts(services)
    r = client.post("/bank", data=data, follow_redirects=False)
    assert r.status_code == 422
    assert message in text_of(r)
    assert row_counts(services) == before
    assert services.broker.bank_account(customer)["bank_name"] == "テスト銀行"
    if field != "number":
        assert 'value="7654321"' not in r.text  # the account number is not echoed back


# -- profile -------------------------------------------------------------------------------
def test_profile_shows_masked_contacts_and_login_history(client, services, customer):
    client.post("/login", data={"login_id": "webuser", "password": "wrong-password",
                                "csrf_token": hidden(client.get("/login").text, "csrf_token")})
    page = text_of(client.get("/profile"))
    assert f"Test {customer}" in page
    assert "webuser" in page
    assert f"u{customer}@example.jp" not in page
    assert "u2******@example.jp" in page
    assert "*******0000" in page
    assert "ログイン履歴（過去3か月）" in page
    assert "2025/04/08 10:00 JST testclient testclient Webサイト 成功" in page
    assert "2025/04/08 10:00 JST testclient testclient Webサイト 失敗" in page


def test_login_history_covers_three_months(client, services, customer, clock):
    clock.advance(timedelta(days=100))
    log_in(client, "webuser")
    page = text_of(client.get("/profile"))
    assert "2025/04/08" not in page.split("ログイン履歴")[1]
    assert "2025/04/17 10:00 JST 以降のログイン" in page


def test_change_email(client, services, customer):
    r = client.post("/profile/email", data={"csrf_token": csrf(client, "/profile"),
                                            "email": "hanako.new@example.jp"},
                    follow_redirects=False)
    assert r.headers["location"] == "/profile?notice=email_changed"
    page = text_of(client.get(r.headers["location"]))
    assert "メールアドレスを変更しました。" in page
    assert "ha******@example.jp" in page
    assert services.identity.profile(customer)["email"] == "hanako.new@example.jp"

    before = row_counts(services)
    bad = client.post("/profile/email", data={"csrf_token": csrf(client, "/profile"),
                                              "email": "not-an-address"}, follow_redirects=False)
    assert bad.status_code == 422
    assert "メールアドレスの形式が正しくありません。" in text_of(bad)
    assert row_counts(services) == before


def test_change_phone(client, services, customer):
    r = client.post("/profile/phone", data={"csrf_token": csrf(client, "/profile"),
                                            "phone": "０８０-１１１１-２２２２"},
                    follow_redirects=False)
    assert r.headers["location"] == "/profile?notice=phone_changed"
    assert services.identity.profile(customer)["phone"] == "08011112222"
    assert "*******2222" in text_of(client.get("/profile"))
    bad = client.post("/profile/phone", data={"csrf_token": csrf(client, "/profile"),
                                              "phone": "12"}, follow_redirects=False)
    assert bad.status_code == 422
    assert "電話番号は10〜15桁の数字で入力してください。" in text_of(bad)


# -- portfolio, language ---------------------------------------------------------------------
def test_portfolio_shows_the_previous_login(client, services, customer, clock):
    clock.advance(timedelta(hours=1))
    log_in(client, "webuser")
    page = text_of(client.get("/"))
    assert "前回ログイン: 2025/04/08 10:00 JST（testclient）" in page
    assert "ソニーグループ" in page


def test_first_login_says_so(client, customer):
    assert "今回が初めてのログインです。" in text_of(client.get("/"))


def test_english_pages_under_the_language_cookie(client, services, customer):
    r = client.get("/lang/en?next=/trade?symbol=7203", follow_redirects=False)
    assert r.headers["location"] == "/trade?symbol=7203"
    page = text_of(client.get("/trade?symbol=7203"))
    assert "Toyota Motor" in page
    assert "Market open" in page
    assert "Place order" in page
    r = client.post("/trade", data=order_form(client, "7203", quantity="150"),
                    follow_redirects=False)
    assert r.status_code == 422
    assert '<html lang="en">' in r.text
    assert "7203 trades in lots of 100 shares" in text_of(r)
    for path in PAGES:
        assert '<html lang="en">' in client.get(path).text, path
    assert "Cash history" in text_of(client.get("/cash"))
    assert "Login history (last 3 months)" in text_of(client.get("/profile"))
    client.post("/bank", data={"csrf_token": csrf(client, "/bank"), "bank_name": "SMBC",
                               "branch_code": "250", "number": "7654321", "holder": "H"})
    r = client.post("/cash/withdraw", data={"csrf_token": csrf(client, "/cash"),
                                            "amount_jpy": "1000"})
    assert "withdrawals are possible from 11 Apr 2025 10:00 JST" in text_of(r)
    client.get("/lang/ja")
    assert "取引時間中" in text_of(client.get("/trade?symbol=7203"))


def test_language_switch_after_a_refused_form_goes_to_the_page(client, customer):
    r = client.post("/cash/deposit", data={"csrf_token": csrf(client, "/cash"),
                                           "amount_jpy": "0"})
    assert r.status_code == 422
    assert 'href="/lang/en?next=/cash"' in r.text
