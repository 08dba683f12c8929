"""Every console text exists in Japanese and English with the same placeholders."""

from __future__ import annotations

import re

from kabuguard.web.console.i18n import CONSOLE_MESSAGES, console_text


def test_every_key_has_both_languages_with_the_same_placeholders():
    for key, entry in CONSOLE_MESSAGES.items():
        assert set(entry) == {"ja", "en"}, key
        assert entry["ja"].strip() and entry["en"].strip(), key
        names = [set(re.findall(r"{(\w+)}", entry[lang])) for lang in ("ja", "en")]
        assert names[0] == names[1], key


def test_unknown_console_keys_fall_back_to_the_site_catalogue():
    assert console_text("site.name", "en") == "Kabuguard Securities"
    assert console_text("no.such.key", "ja") == "no.such.key"
