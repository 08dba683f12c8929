"""The ja/en catalogue: complete in both languages, and every key a page uses exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from kabuguard.broker.market import Market
from kabuguard.domain.events import Channel
from kabuguard.notify.preferences import SETTABLE
from kabuguard.web.customer import cash, notifications, orders, profile
from kabuguard.web.customer.display import CASH_KINDS, ORDER_STATUSES
from kabuguard.web.i18n import LANGUAGES, MESSAGES, translate

TEMPLATES = Path(__file__).resolve().parents[3] / "src" / "kabuguard" / "web" / "templates"
# t("key", ...) and t('key', ...) with a literal key (not the start of a built one).
LITERAL_KEY = re.compile(r"""\bt\(\s*(["'])([^"']+)\1(?!\s*~)""")
# t("prefix." ~ value): keys built from a value; each family is listed below.
BUILT_KEY = re.compile(r"""\bt\(\s*(["'])([^"']+\.)\1\s*~""")
FAMILIES = {
    "level.": ("password", "otp", "phishing_resistant"),
    "order.status.": ORDER_STATUSES,
    "side.": ("buy", "sell"),
    "order_type.": ("market", "limit"),
    "market.": tuple(m.value for m in Market),
    "channel.": tuple(c.value for c in Channel),
    "cash.kind.": CASH_KINDS,
    "notifications.kind.": tuple(str(k) for k in SETTABLE),
    "notifications.medium.": notifications.MEDIA,
}


def template_sources() -> dict[str, str]:
    files = sorted(TEMPLATES.rglob("*.html"))
    assert files, f"no templates under {TEMPLATES}"
    return {str(f.relative_to(TEMPLATES)): f.read_text(encoding="utf-8") for f in files}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_key_has_japanese_and_english(key):
    entry = MESSAGES[key]
    assert set(entry) == set(LANGUAGES), key
    for lang in LANGUAGES:
        assert isinstance(entry[lang], str), (key, lang)
        assert entry[lang].strip(), (key, lang)
    # Both languages take the same parameters, so neither raises KeyError at render.
    assert placeholders(entry["ja"]) == placeholders(entry["en"]), key


def test_messages_contain_no_links():
    for key, entry in MESSAGES.items():
        for text in entry.values():
            assert not re.search(r"https?://|www\.", text), key


def test_every_literal_key_in_the_templates_exists():
    missing = {(name, key) for name, source in template_sources().items()
               for _, key in LITERAL_KEY.findall(source) if key not in MESSAGES}
    assert not missing, sorted(missing)


def test_every_built_key_in_the_templates_has_a_known_family():
    for name, source in template_sources().items():
        for _, prefix in BUILT_KEY.findall(source):
            assert prefix in FAMILIES, f"{name}: t({prefix!r} ~ …) has no family in this test"


@pytest.mark.parametrize("prefix", sorted(FAMILIES))
def test_every_key_of_a_family_exists(prefix):
    for value in FAMILIES[prefix]:
        assert f"{prefix}{value}" in MESSAGES


def test_the_scan_finds_what_the_pages_use():
    # Guards the regexes themselves: a pattern that matched nothing would pass vacuously.
    sources = "".join(template_sources().values())
    keys = {key for _, key in LITERAL_KEY.findall(sources)}
    assert {"nav.trade", "trade.submit", "cash.withdraw_title", "bank.cooling_note",
            "profile.history_title", "login.previous"} <= keys
    assert {prefix for _, prefix in BUILT_KEY.findall(sources)} == set(FAMILIES)


@pytest.mark.parametrize("module", [cash, orders, profile, notifications])
def test_redirect_notices_exist(module):
    for key in module.NOTICES.values():
        assert key in MESSAGES


def test_translate_fills_parameters_in_both_languages():
    assert translate("trade.shares", "ja", n="1,000") == "1,000株"
    assert translate("trade.shares", "en", n="1,000") == "1,000 shares"
