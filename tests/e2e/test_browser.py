"""The customer site in a real browser against the real server: log in, find a
stock, watch its live price, buy it and find it in the portfolio; at phone width too.

The server is uvicorn in a background thread on localhost (SQLite in the test's
temporary directory, the demo customers seeded); the browser is the system's headless
Chromium (``/usr/bin/chromium``) driven by Playwright, which never downloads one. Pages
are opened as http://localhost:PORT, which browsers treat as a secure context, so the
site's Secure cookies work without TLS.

The fixtures live here rather than in a conftest.py: with ``--doctest-modules`` two
package-less conftest.py files collide when both directories are named on the command
line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from factories.live_server import chromium, free_port, screenshot_dir, serving
from kabuguard.broker.interfaces import OrderRequest
from kabuguard.container import Services, build_services
from kabuguard.domain.events import RequestContext
from kabuguard.seed import DEMO_CUSTOMERS, seed_demo
from kabuguard.settings import load_settings
from kabuguard.store.migrate import upgrade
from kabuguard.web.app import create_app


@dataclass
class LiveServer:
    url: str
    services: Services


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    upgrade(database_url)
    settings = load_settings(database_url=database_url, market_hours="always_open")
    services = build_services(settings)
    seed_demo(services)
    app = create_app(settings, services=services, background_interval_seconds=1.0)
    try:
        with serving(app, free_port()) as url:
            yield LiveServer(url, services)
    finally:
        services.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    return screenshot_dir(tmp_path)


pytestmark = pytest.mark.slow

HANAKO = next(c for c in DEMO_CUSTOMERS if c.login_id == "hanako")
TARO = next(c for c in DEMO_CUSTOMERS if c.login_id == "taro")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
BUY_SYMBOL = "8306"  # not among hanako's holdings, so the portfolio row is new


def new_page(browser, viewport: dict[str, int], *, mobile: bool = False) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo",
                                  is_mobile=mobile, has_touch=mobile,
                                  device_scale_factor=2 if mobile else 1)
    page = context.new_page()
    problems: list[str] = []
    # Script errors and CSP violations (reported as console errors) fail the test.
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            if msg.type == "error" and "status of" not in msg.text else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 else None)
    return page, problems


def log_in(page: Page, base: str, login_id: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=login_id]", login_id)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{base}/")


def yen(amount: int) -> str:
    return f"¥{amount:,}"


def test_buy_on_the_trade_page_then_see_it_in_the_portfolio(live_server: LiveServer, browser,
                                                             screenshots):
    base, broker = live_server.url, live_server.services.broker
    page, problems = new_page(browser, DESKTOP)
    log_in(page, base, HANAKO.login_id, HANAKO.password)
    expect(page.locator(".previous-login")).to_be_visible()
    expect(page.locator("tr[data-symbol='7203'] .quantity")).to_have_text("300")

    # Search by code and open the stock from the results.
    page.click("nav a[href='/trade']")
    page.fill("input[name=q]", BUY_SYMBOL)
    page.press("input[name=q]", "Enter")
    page.click(f".results a[href='/trade?symbol={BUY_SYMBOL}']")
    page.wait_for_url(re.compile(rf"/trade\?symbol={BUY_SYMBOL}$"))

    # The live price: site.js polls /quote/<symbol> and stamps the time of the update.
    expect(page.locator("#quote-updated")).to_have_text(re.compile(r"更新 \d\d:\d\d:\d\d"),
                                                        timeout=10_000)
    price = broker.quote(BUY_SYMBOL).price_jpy
    expect(page.locator("#quote-price")).to_have_text(yen(price))
    expect(page.locator("#quote-market-label")).to_have_text("取引時間中")

    # The estimate follows quantity and order type as the customer types.
    page.fill("#quantity", "200")
    expect(page.locator("#estimate")).to_have_text(yen(price * 200))
    page.click("label:has(input[value=limit])")
    expect(page.locator("#limit_price")).to_be_visible()
    page.fill("#limit_price", "1,000")
    expect(page.locator("#estimate")).to_have_text(yen(1000 * 200))
    page.click("label:has(input[value=market])")
    expect(page.locator("#limit_price")).to_be_hidden()
    page.fill("#quantity", "１００")  # full-width digits, as a Japanese IME types them
    expect(page.locator("#estimate")).to_have_text(yen(price * 100))
    page.screenshot(path=str(screenshots / "trade-desktop.png"), full_page=True)

    page.click("#submit-order")
    page.wait_for_url(re.compile(r"/orders/ord_[^?]+\?notice=placed$"))
    expect(page.locator("#notice")).to_have_text("ご注文を受け付けました。")
    expect(page.locator("#order-outcome")).to_contain_text(
        f"約定しました: 100株を{yen(price)}で買付（約定金額 {yen(price * 100)}）")

    page.click("nav a[href='/']")
    expect(page.locator(f"tr[data-symbol='{BUY_SYMBOL}'] .quantity")).to_have_text("100")
    expect(page.locator("#cash")).to_have_text(yen(HANAKO.cash_yen - price * 100))
    assert broker.portfolio(HANAKO.account_id).cash_yen == HANAKO.cash_yen - price * 100
    assert problems == []


def test_live_price_moves_on_the_page_when_the_market_does(live_server: LiveServer, browser,
                                                            screenshots):
    """Another customer's big buy of an illiquid stock moves its price; the open trade
    page shows the new price without a reload, at phone width."""
    base, broker = live_server.url, live_server.services.broker
    illiquid = min((s for s in broker.symbols.values()
                    if s.currency == "JPY" and 100 <= s.price_minor <= 500),
                   key=lambda s: s.adv_jpy)
    page, problems = new_page(browser, PHONE, mobile=True)
    log_in(page, base, HANAKO.login_id, HANAKO.password)
    page.goto(f"{base}/trade?symbol={illiquid.symbol}")
    expect(page.locator("#quote-updated")).not_to_be_empty(timeout=10_000)
    before = page.locator("#quote-price").inner_text()
    assert before == yen(illiquid.price_minor)

    lots = max(1, illiquid.adv_shares // illiquid.lot_size)  # about a day's volume
    outcome = broker.place_order(TARO.account_id,
                                 OrderRequest(illiquid.symbol, "buy", lots * illiquid.lot_size),
                                 context=RequestContext(ip="192.0.2.50"))
    assert outcome.body["status"] == "filled"
    moved = broker.quote(illiquid.symbol).price_jpy
    assert moved > illiquid.price_minor
    expect(page.locator("#quote-price")).not_to_have_text(before, timeout=12_000)
    expect(page.locator("#quote-change")).to_have_class("up")

    # Nothing may be wider than the phone's screen.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways: {width}px"
    shot = screenshots / "trade-phone.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert problems == []
