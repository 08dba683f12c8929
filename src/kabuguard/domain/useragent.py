"""A short, human name for a User-Agent: the login history shows it, and so does the
login notice ("Chrome 124 / Windows")."""

from __future__ import annotations

import re

_BROWSERS = (
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"OPR/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"),
    ("curl", r"curl/(\d+)"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
    ("Windows", "Windows"), ("macOS", "Mac OS X"), ("ChromeOS", "CrOS"), ("Linux", "Linux"),
)


def browser_label(user_agent: str | None) -> str:
    """A short name for a User-Agent, as a person would say it.

    >>> browser_label("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    ...               "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
    'Chrome 124 / Windows'
    >>> browser_label("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    ...               "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1")
    'Safari 17 / iPhone'
    >>> browser_label(None), browser_label("testclient")
    ('—', 'testclient')
    """
    if not user_agent:
        return "—"
    browser = next((f"{name} {m.group(1)}" for name, pattern in _BROWSERS
                    if (m := re.search(pattern, user_agent))), None)
    system = next((name for name, needle in _SYSTEMS if needle in user_agent), None)
    if browser is None:
        return user_agent[:40]
    return f"{browser} / {system}" if system else browser
