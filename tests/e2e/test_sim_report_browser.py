"""The compare report in a real browser (headless Chromium) from a file:// URL: it loads
with no console error and no request beyond the file itself, every chart has a size,
the links reach each configuration's own report, and a narrow window still shows the
charts (the tables and charts scroll sideways rather than squeeze)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from factories.live_server import chromium, screenshot_dir
from factories.sim_metrics import compare
from kabuguard.sim.report import write_compare_report, write_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def reports(tmp_path: Path) -> Path:
    metrics = compare()
    for config in metrics["configs"]:
        write_report(tmp_path / config["config"]["name"], config)
    return write_compare_report(tmp_path, metrics)


def open_page(browser: Browser, url: str, width: int) -> tuple[Page, list[str], list[str]]:
    page = browser.new_page(viewport={"width": width, "height": 900}, locale="ja-JP")
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda msg: problems.append(f"{msg.type}: {msg.text}") if msg.type in
            ("error", "warning") else None)
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    page.wait_for_load_state("load")
    return page, problems, requests


def chart_sizes(page: Page) -> list[dict]:
    return page.eval_on_selector_all(
        "svg.chart", "els => els.map(e => { const r = e.getBoundingClientRect();"
                     " return {w: r.width, h: r.height, title: e.querySelector('title').textContent}; })")


def test_the_compare_report_renders_offline_with_sized_charts(browser: Browser, reports: Path,
                                                              tmp_path: Path):
    url = reports.as_uri()
    page, problems, requests = open_page(browser, url, 1280)
    shots = screenshot_dir(tmp_path)
    page.screenshot(path=str(shots / "sim-compare-report.png"), full_page=True)

    sizes = chart_sizes(page)
    assert len(sizes) == 3
    assert all(s["w"] > 300 and s["h"] > 100 for s in sizes), sizes
    assert page.locator("table.heat tbody tr").count() == 10
    # The heat-map's colours are painted (a style the browser dropped would leave white).
    first_cell = page.locator("table.heat tbody tr").first.locator("td").first
    assert first_cell.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    assert requests == [url]
    assert problems == []

    # Each configuration's link opens its own report, whose charts are sized too.
    page.locator("table.configs a", has_text="jsda_2025_mandatory+risk").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/jsda_2025_mandatory%2Brisk/report.html") or page.url.endswith(
        "/jsda_2025_mandatory+risk/report.html")
    assert page.locator("table.fsa").count() == 1
    inner = chart_sizes(page)
    assert len(inner) == 7 and all(s["w"] > 300 and s["h"] > 100 for s in inner), inner
    page.screenshot(path=str(shots / "sim-config-report.png"), full_page=True)
    assert problems == []
    page.close()


def test_a_narrow_window_keeps_the_charts_readable(browser: Browser, reports: Path, tmp_path: Path):
    page, problems, _ = open_page(browser, reports.as_uri(), 390)
    page.screenshot(path=str(screenshot_dir(tmp_path) / "sim-compare-narrow.png"), full_page=True)
    # Charts keep a minimum width and scroll inside their box; the page itself does not.
    assert all(s["w"] >= 400 for s in chart_sizes(page))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert problems == []
    page.close()
