"""The operations console end to end, in headless Chromium with Chrome DevTools
virtual authenticators (one per person) against the real server:

an intruder trades in a customer's account through the app and the firm's trading
system reports the rest of the attack (a new bank account, a withdrawal) to the
decision API, which holds the withdrawal: an alert. Two staff members register their
passkeys with one-time enrolment codes. The analyst finds the alert, opens the
case, freezes the account and asks for the unfreeze with the re-verification record;
the analyst cannot approve it, the supervisor does. The analyst marks where the
takeover began and proposes the compensation; the supervisor approves it and the
customer's statement is produced as HTML and PDF.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from factories.live_server import chromium, free_port, screenshot_dir, serving
from kabuguard.broker.models import Account
from kabuguard.container import Services, build_services
from kabuguard.risk.api_keys import ApiKeyService
from kabuguard.risk.models import RiskEvent
from kabuguard.seed import DEMO_CUSTOMERS, seed_demo
from kabuguard.settings import load_settings
from kabuguard.store.migrate import upgrade
from kabuguard.web.app import create_app

pytestmark = pytest.mark.slow

HANAKO = next(c for c in DEMO_CUSTOMERS if c.login_id == "hanako")
DESKTOP = {"width": 1400, "height": 1000}
INTRUDER = {"X-Device-Id": "intruder-laptop-01", "User-Agent": "python-requests/2.31"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class LiveServer:
    url: str
    services: Services


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    database_url = f"sqlite:///{tmp_path / 'console.db'}"
    upgrade(database_url)
    port = free_port()
    settings = load_settings(database_url=database_url, market_hours="always_open",
                             webauthn_rp_id="localhost",
                             webauthn_origins=[f"http://localhost:{port}"])
    services = build_services(settings, clock=Clock())
    seed_demo(services)
    app = create_app(settings, services=services, background_interval_seconds=None)
    try:
        with serving(app, port) as url:
            yield LiveServer(url, services)
    finally:
        services.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def staff_page(browser: Browser) -> tuple[Page, list[str]]:
    """A person's own browser with a platform authenticator (user verification)."""
    context = browser.new_context(viewport=DESKTOP, locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True,
        "automaticPresenceSimulation": True}})
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}")
            if msg.type == "error" else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
            if r.status >= 400 else None)
    return page, problems


def enrol(page: Page, base: str, code: str) -> None:
    page.goto(f"{base}/console/enrol")
    page.fill("#enrol-code", code)
    page.fill("#enrol-name", "業務用PC")
    page.click("#console-enrol button[type=submit]")
    page.wait_for_url(f"{base}/console/")


def attack(live: LiveServer) -> str:
    """The intruder's session in the app (sells the customer's holdings), then the
    rest of the attack as the firm's trading system reports it to the decision API.
    Returns the intruder's login event id."""
    with httpx.Client(base_url=live.url) as app:
        r = app.post("/api/v1/sessions", json={"login_id": HANAKO.login_id,
                                               "password": HANAKO.password}, headers=INTRUDER)
        assert r.status_code == 201, r.text
        headers = {**INTRUDER, "Authorization": f"Bearer {r.json()['token']}"}
        for symbol, quantity in (("7203", 300), ("6758", 100)):
            r = app.post("/api/v1/orders", headers=headers,
                         json={"symbol": symbol, "side": "sell", "quantity": quantity})
            assert r.status_code == 201, r.text
        _info, key = live_key(live)
        now = datetime.now(UTC)
        common = {"account": HANAKO.account_id, "session": "gw-77", "channel": "web",
                  "ip": "203.0.113.140", "device": "intruder-laptop-01",
                  "user_agent": "python-requests/2.31"}
        events = [
            {"id": "gw-1", "ts": (now + timedelta(seconds=1)).isoformat(), "type": "login",
             "login_id": "h", "outcome": "success", "methods": ["password", "email_otp"],
             **common},
            {"id": "gw-2", "ts": (now + timedelta(seconds=2)).isoformat(),
             "type": "bank_account_change", "bank_account": "bank-mule", **common},
            {"id": "gw-3", "ts": (now + timedelta(seconds=3)).isoformat(), "type": "withdrawal",
             "amount_jpy": 2_500_000, "bank_account": "bank-mule", **common},
        ]
        r = app.post("/api/v1/events", json={"events": events},
                     headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == 200, r.text
        assert r.json()["decisions"][2]["decision"] == "hold"
    with live.services.db.read() as session:
        return session.scalar(select(RiskEvent.id).where(
            RiskEvent.account == HANAKO.account_id, RiskEvent.type == "login",
            RiskEvent.event_json.like('%intruder-laptop-01%'), RiskEvent.source == "app"))


def live_key(live: LiveServer) -> tuple[object, str]:
    keys = ApiKeyService(live.services.db, journal=live.services.journal)
    return keys.create(name="trading-system", scopes=(), created_by="e2e")


def test_alert_case_freeze_four_eyes_unfreeze_and_compensation(live_server: LiveServer,
                                                                browser, tmp_path):
    base, services = live_server.url, live_server.services
    shots = screenshot_dir(tmp_path)
    _a, analyst_code = services.staff.create(name="佐藤 分析", role="analyst", created_by="e2e")
    _s, supervisor_code = services.staff.create(name="高橋 責任者", role="supervisor",
                                                created_by="e2e")
    analyst, analyst_problems = staff_page(browser)
    supervisor, supervisor_problems = staff_page(browser)
    enrol(analyst, base, analyst_code)
    enrol(supervisor, base, supervisor_code)

    intruder_login = attack(live_server)
    assert intruder_login

    # The alert is in the queue; the analyst opens the account's case.
    analyst.click("#nav-alerts")
    row = analyst.locator(f'#alert-list tr[data-kind="hold"][data-account="{HANAKO.account_id}"]')
    expect(row).to_have_count(1)
    analyst.screenshot(path=str(shots / "console-alerts.png"), full_page=True)
    row.locator("a.case-link").click()
    expect(analyst.locator("#case-account")).to_have_text(HANAKO.account_id)
    expect(analyst.locator('#timeline-table tr[data-event="gw-3"]')).to_contain_text("保留")

    # Freeze.
    analyst.fill("#freeze-reason", "出金先変更直後の高額出金。乗っ取りの疑い")
    analyst.click("#freeze-submit")
    expect(analyst.locator("#notice")).to_have_text("口座を凍結しました。")
    expect(analyst.locator("#account-status")).to_have_text("凍結中")
    with services.db.read() as session:
        assert session.get(Account, HANAKO.account_id).status == "frozen"

    # The analyst asks for the unfreeze, with how the customer was re-verified ...
    analyst.check("#unfreeze-callback")
    analyst.select_option("#unfreeze-document", "my_number_card")
    analyst.fill("#unfreeze-notes", "登録電話番号へ折り返し、マイナンバーカードで本人確認")
    analyst.fill("#unfreeze-reason", "お客様ご本人と確認できたため")
    analyst.click("#unfreeze-request-submit")
    expect(analyst.locator("#notice")).to_contain_text("凍結解除を申請しました")
    pending = analyst.locator('#unfreeze-requests tr[data-status="pending"]')
    expect(pending).to_have_count(1)
    # ... and cannot approve it: no button, and the server refuses the request itself.
    expect(pending.locator(".approve-submit")).to_have_count(0)
    expect(pending.locator(".four-eyes")).to_be_visible()
    request_id = pending.get_attribute("data-request")
    token = analyst.locator("meta[name=csrf-token]").get_attribute("content")
    refused = analyst.request.post(f"{base}/console/unfreezes/{request_id}/approve",
                                   form={"csrf_token": token, "reason": "自分で承認"},
                                   max_redirects=0)
    assert refused.status == 403
    with services.db.read() as session:
        assert session.get(Account, HANAKO.account_id).status == "frozen"

    # The supervisor approves.
    supervisor.click("#nav-unfreezes")
    approve = supervisor.locator(f'#unfreeze-list tr[data-request="{request_id}"]')
    approve.locator("input[name=reason]").first.fill("本人確認の記録を確認")
    approve.locator("button.primary").click()
    expect(supervisor.locator(f'#unfreeze-list tr[data-request="{request_id}"]')).to_have_count(0)
    with services.db.read() as session:
        assert session.get(Account, HANAKO.account_id).status == "active"

    # The analyst marks where the takeover began: the intruder's login in the app.
    analyst.reload()
    expect(analyst.locator("#account-status")).to_have_text("通常")
    intruder_row = analyst.locator(f'#timeline-table tr[data-event="{intruder_login}"]')
    intruder_row.locator("input[name=reason]").fill("見知らぬ端末からのログイン")
    intruder_row.locator("button.marker-here").click()
    expect(analyst.locator(f'#timeline-table tr[data-event="{intruder_login}"]')).to_have_class(
        re.compile("takeover-start"))
    analyst.screenshot(path=str(shots / "console-case.png"), full_page=True)

    # Compensation: the analyst computes and proposes, the supervisor approves.
    analyst.click("#compensation-link")
    analyst.select_option("#comp-preview select[name=preset]", "matsui_2025")
    analyst.click("#comp-preview button[type=submit]")
    expect(analyst.locator('#comp-lines tr[data-line="total"]')).to_be_visible()
    analyst.fill("#comp-reason", "松井方式（売却された保有株の損失を含む）で起案")
    analyst.click("#comp-propose-submit")
    expect(analyst.locator("#notice")).to_have_text("補償案を起案しました。")
    proposal = analyst.locator('#proposal-list tr[data-status="proposed"]')
    expect(proposal.locator(".approve-comp")).to_have_count(0)
    case_url = analyst.url.split("?")[0]

    supervisor.goto(case_url)
    row = supervisor.locator('#proposal-list tr[data-status="proposed"]')
    row.locator(".approve-comp input[name=reason]").fill("算定内容を確認")
    row.locator(".approve-comp button").click()
    expect(supervisor.locator("#notice")).to_have_text("承認しました。")
    approved = supervisor.locator('#proposal-list tr[data-status="approved"]')
    expect(approved).to_have_count(1)
    approved.locator("a.statement-html").click()  # the same tab: a link, no popup
    expect(supervisor.locator("body")).to_contain_text("山田 花子")
    expect(supervisor.locator("body")).to_contain_text("承認済み")
    supervisor.screenshot(path=str(shots / "statement.png"), full_page=True)
    pdf = supervisor.request.get(supervisor.url.replace("statement.html", "statement.pdf"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")

    assert analyst_problems == [], analyst_problems
    assert supervisor_problems == [], supervisor_problems

