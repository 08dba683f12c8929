"""Passkeys in a real browser: headless Chromium with a Chrome DevTools Protocol
virtual authenticator (a platform authenticator with user verification, answering
without a person) against the real server on http://localhost:PORT.

Under a policy where login needs a password and withdrawal and bank account change a
passkey no older than 5 minutes (JSDA 2025 "important operations"): log in with the
password, add a passkey on /security, log out, log in with the passkey, then withdraw
and change the bank account; each asks for the passkey and completes after it.

The server fixture follows ``test_browser.py`` (fixtures are kept per file there too).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from factories.live_server import chromium, free_port, screenshot_dir, serving
from kabuguard.container import Services, build_services
from kabuguard.guard.actions import Action
from kabuguard.seed import DEMO_CUSTOMERS, seed_demo
from kabuguard.settings import load_settings
from kabuguard.store.migrate import upgrade
from kabuguard.web.app import create_app

pytestmark = pytest.mark.slow

STRONG = (Action.WITHDRAWAL, Action.BANK_ACCOUNT_CHANGE)
POLICY = "version: 1\nname: e2e_passkeys\nactions:\n" + "\n".join(
    f"  {a.value}: {{level: password}}" for a in Action if a not in STRONG
) + "".join(f"\n  {a.value}: {{level: phishing_resistant, max_age: 5m}}" for a in STRONG) + "\n"
HANAKO = next(c for c in DEMO_CUSTOMERS if c.login_id == "hanako")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


class Clock:
    """The server's clock, from now, which the test can move on: a step-up is good for
    5 minutes, and the test does not wait them out."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class LiveServer:
    url: str
    services: Services
    clock: Clock


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    upgrade(database_url)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    port = free_port()
    settings = load_settings(database_url=database_url, market_hours="always_open",
                             policy=str(policy), webauthn_rp_id="localhost",
                             webauthn_origins=[f"http://localhost:{port}"])
    clock = Clock()
    services = build_services(settings, clock=clock)
    seed_demo(services)
    app = create_app(settings, services=services, background_interval_seconds=None)
    try:
        with serving(app, port) as url:
            yield LiveServer(url, services, clock)
    finally:
        services.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    return screenshot_dir(tmp_path)


def new_page(browser, viewport: dict[str, int], *, mobile: bool = False
             ) -> tuple[Page, list[str]]:
    """A page with a virtual authenticator: a platform passkey provider that verifies
    the user and stores discoverable credentials, as a phone or laptop does."""
    context = browser.new_context(viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo",
                                  is_mobile=mobile, has_touch=mobile,
                                  device_scale_factor=2 if mobile else 1)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    # The step-up page answers 401 by design; anything else failing is a problem.
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            if msg.type == "error" and "status of" not in msg.text else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 and not (r.status == 401 and r.request.method == "POST"
                                        and "/step-up/" not in r.url
                                        and "/passkey" not in r.url) else None)
    return page, problems


def yen(amount: int) -> str:
    return f"¥{amount:,}"


def test_passkey_registration_login_and_step_up(live_server: LiveServer, browser,
                                                screenshots):
    base, broker = live_server.url, live_server.services.broker
    page, problems = new_page(browser, DESKTOP)

    # Password login; the portfolio asks for a passkey.
    page.goto(f"{base}/login")
    page.fill("input[name=login_id]", HANAKO.login_id)
    page.fill("input[name=password]", HANAKO.password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{base}/")
    expect(page.locator("#passkey-prompt")).to_be_visible()

    # Add a passkey on the security page.
    page.click("nav a[href='/security']")
    expect(page.locator("h1")).to_have_text("セキュリティ設定")
    expect(page.locator("#no-passkey")).to_be_visible()
    page.fill("#passkey-name", "このPC")
    page.click("#passkey-register button[type=submit]")
    page.wait_for_url(f"{base}/security?notice=registered")
    expect(page.locator("#notice")).to_have_text("パスキーを登録しました。")
    expect(page.locator("#passkey-list .passkey-name")).to_have_text(["このPC"])
    page.screenshot(path=str(screenshots / "security-desktop.png"), full_page=True)
    page.goto(f"{base}/")
    expect(page.locator("#passkey-prompt")).to_have_count(0)

    # Log out, then log in with the passkey alone (no login ID).
    page.click("form[action='/logout'] button")
    page.wait_for_url(re.compile(r"/login\?notice=logged_out$"))
    page.click("#passkey-login")
    page.wait_for_url(f"{base}/")
    expect(page.locator("#total")).to_be_visible()

    # A withdrawal asks for the passkey, then goes through. The passkey login itself
    # was phishing-resistant: 6 minutes on, it is too old for the 5-minute rule.
    cash_before = broker.portfolio(HANAKO.account_id).cash_yen
    live_server.clock.advance(timedelta(minutes=6))
    page.goto(f"{base}/cash")
    page.fill("form[action='/cash/withdraw'] input[name=amount_jpy]", "10,000")
    page.click("form[action='/cash/withdraw'] button[type=submit]")
    expect(page.locator("#step-up h1")).to_have_text("パスキーによる本人確認")
    expect(page.locator(".step-up-why")).to_have_text(
        "「出金」を行うには、パスキーによる本人確認が必要です。")
    page.screenshot(path=str(screenshots / "step-up-desktop.png"), full_page=True)
    page.click("#passkey-step-up")
    page.wait_for_url(f"{base}/cash?notice=withdrawn")
    expect(page.locator("#cash")).to_have_text(yen(cash_before - 10_000))
    assert broker.portfolio(HANAKO.account_id).cash_yen == cash_before - 10_000

    # The bank account change likewise, once that step-up is 6 minutes old too.
    live_server.clock.advance(timedelta(minutes=6))
    page.goto(f"{base}/bank")
    form = page.locator("form[action='/bank']")
    form.locator("input[name=bank_name]").fill("みずほ銀行")
    form.locator("input[name=branch_code]").fill("123")
    form.locator("input[name=number]").fill("7654321")
    form.locator("input[name=holder]").fill("ヤマダ ハナコ")
    form.locator("button[type=submit]").click()
    expect(page.locator(".step-up-why")).to_have_text(
        "「出金先口座の変更」を行うには、パスキーによる本人確認が必要です。")
    expect(page.locator("#resume-form input[name=bank_name]")).to_have_value("みずほ銀行")
    page.click("#passkey-step-up")
    page.wait_for_url(f"{base}/bank?notice=changed")
    assert broker.bank_account(HANAKO.account_id)["bank_name"] == "みずほ銀行"
    assert problems == []


def test_step_up_after_a_password_login_at_phone_width(live_server: LiveServer, browser,
                                                       screenshots):
    base, broker = live_server.url, live_server.services.broker
    page, problems = new_page(browser, PHONE, mobile=True)
    page.goto(f"{base}/login")
    page.fill("input[name=login_id]", HANAKO.login_id)
    page.fill("input[name=password]", HANAKO.password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/security")
    page.fill("#passkey-name", "スマートフォン")
    page.click("#passkey-register button[type=submit]")
    page.wait_for_url(f"{base}/security?notice=registered")
    page.screenshot(path=str(screenshots / "security-phone.png"), full_page=True)

    cash_before = broker.portfolio(HANAKO.account_id).cash_yen
    page.goto(f"{base}/cash")
    page.fill("form[action='/cash/withdraw'] input[name=amount_jpy]", "5000")
    page.click("form[action='/cash/withdraw'] button[type=submit]")
    expect(page.locator("#passkey-step-up")).to_have_text("パスキーで確認")
    page.screenshot(path=str(screenshots / "step-up-phone.png"), full_page=True)
    page.click("#passkey-step-up")
    page.wait_for_url(f"{base}/cash?notice=withdrawn")
    assert broker.portfolio(HANAKO.account_id).cash_yen == cash_before - 5_000

    page.goto(f"{base}/bank")
    form = page.locator("form[action='/bank']")
    form.locator("input[name=bank_name]").fill("りそな銀行")
    form.locator("input[name=branch_code]").fill("456")
    form.locator("input[name=number]").fill("1112223")
    form.locator("input[name=holder]").fill("ヤマダ ハナコ")
    form.locator("button[type=submit]").click()
    # Still within the 5 minutes of the step-up: no second prompt needed.
    page.wait_for_url(f"{base}/bank?notice=changed")
    assert broker.bank_account(HANAKO.account_id)["bank_name"] == "りそな銀行"
    assert problems == []
