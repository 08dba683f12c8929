"""The emoji challenge in a real browser (headless Chromium), under the
``emoji_all_trades`` preset (Rakuten 2025: emoji at login and for every order): the
grid is tapped in the order the e-mail gives (``static/site.js`` fills the drop-downs),
the login completes, and two orders each ask for a challenge of their own.

The server's clock runs in real time, so the "one confirmation per order" rule is
checked with the time a real resumed request takes; the test only jumps it forward by
the minute that paces two messages. The server fixture follows ``test_browser.py``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from factories.live_server import chromium, free_port, screenshot_dir, serving
from kabuguard.container import Services, build_services
from kabuguard.notify.models import Notice
from kabuguard.seed import DEMO_CUSTOMERS, seed_demo
from kabuguard.settings import load_settings
from kabuguard.store.migrate import upgrade
from kabuguard.web.app import create_app

pytestmark = pytest.mark.slow

HANAKO = next(c for c in DEMO_CUSTOMERS if c.login_id == "hanako")
DESKTOP = {"width": 1280, "height": 900}


class RunningClock:
    """Real time plus an offset the test can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.offset += delta


@dataclass
class LiveServer:
    url: str
    services: Services
    clock: RunningClock


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    upgrade(database_url)
    settings = load_settings(database_url=database_url, market_hours="always_open",
                             policy="emoji_all_trades")
    clock = RunningClock()
    services = build_services(settings, clock=clock)
    seed_demo(services)
    app = create_app(settings, services=services, background_interval_seconds=None)
    try:
        with serving(app, free_port()) as url:
            yield LiveServer(url, services, clock)
    finally:
        services.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def sent_emojis(services: Services) -> list[str]:
    """The emoji of the latest e-mail, read as the dispatcher reads it."""
    with services.db.read() as session:
        notice = session.scalars(select(Notice).where(Notice.kind == "emoji_challenge")
                                 .order_by(Notice.created_at.desc()).limit(1)).one()
    return services.notifier.decode(notice)[1]["emojis"]


def tap_in_order(page: Page, emojis: list[str]) -> None:
    for symbol in emojis:
        page.locator(f"#emoji-grid button[data-emoji='{symbol}']").click()


def test_emoji_login_and_a_challenge_for_every_order(live_server: LiveServer, browser: Browser,
                                                     tmp_path: Path):
    base, services = live_server.url, live_server.services
    context = browser.new_context(viewport=DESKTOP, locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    shots = screenshot_dir(tmp_path)

    page.goto(f"{base}/login")
    page.fill("input[name=login_id]", HANAKO.login_id)
    page.fill("input[name=password]", HANAKO.password)
    page.click("form[action='/login'] button[type=submit]")
    page.click("#send-emoji button")
    expect(page.locator("#emoji-grid")).to_be_visible()  # the script shows the grid
    expect(page.locator("#emoji-grid .emoji-choice")).to_have_count(10)
    emojis = sent_emojis(services)
    # A wrong tap, cleared, then the right ones in order.
    tap_in_order(page, [emojis[1]])
    page.click("#emoji-clear")
    tap_in_order(page, emojis)
    expect(page.locator("select[name=emoji]").nth(0)).to_have_value(emojis[0])
    expect(page.locator("select[name=emoji]").nth(1)).to_have_value(emojis[1])
    page.screenshot(path=str(shots / "emoji-login.png"), full_page=True)
    page.click("#emoji-form button[type=submit]")
    page.wait_for_url(f"{base}/")

    orders_before = len(services.broker.orders(HANAKO.account_id, limit=50))
    for _ in range(2):
        live_server.clock.advance(timedelta(seconds=61))  # the pace between two messages
        page.goto(f"{base}/trade?symbol=7203")
        page.fill("#quantity", "100")
        page.click("#order-form button[type=submit]")
        expect(page.locator("#step-up")).to_be_visible()
        page.click("#send-emoji button")
        tap_in_order(page, sent_emojis(services))
        page.click("#emoji-form button[type=submit]")
        page.wait_for_url(re.compile(r"/orders/ord_[^?]+\?notice=placed$"))
    assert len(services.broker.orders(HANAKO.account_id, limit=50)) == orders_before + 2
    assert problems == []
