"""A real kabuguard server on a loopback port and headless Chromium, for the
end-to-end tests (each test module keeps its fixtures thin on top of these)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = os.environ.get("KABUGUARD_CHROMIUM", "/usr/bin/chromium")
# The background-networking flags keep Chromium from calling out: this machine's
# network is closed and the refusals slow every start.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(app: FastAPI, port: int) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1:port in a thread; yields the http://localhost URL
    (WebAuthn needs a host name, not an IP address)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    # Server.run() makes its own event loop in this thread; Playwright's sync API
    # keeps the test's thread free of one.
    thread = threading.Thread(target=server.run, name=f"uvicorn-e2e-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.05)
    try:
        yield f"http://localhost:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser).
    Missing, it skips the test on a developer's machine and fails it in CI."""
    if not Path(CHROMIUM).exists() and shutil.which(CHROMIUM) is None:
        message = f"no Chromium at {CHROMIUM} (make test installs Debian's chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot_dir(tmp_path: Path) -> Path:
    """``KABUGUARD_SCREENSHOTS`` if set (to look at the pictures), else the test's
    temporary directory."""
    target = Path(os.environ.get("KABUGUARD_SCREENSHOTS") or tmp_path / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target
