"""Reading server-rendered forms the way a browser submits them."""

from __future__ import annotations

import html
import re


def hidden(page: str, name: str) -> str:
    """The value of the first hidden field ``name`` on the page."""
    return html.unescape(page.split(f'name="{name}" value="')[1].split('"', maxsplit=1)[0])


def form_of(page: str, form_id: str) -> dict[str, list[str]]:
    """The hidden fields of one form of the page, as the browser would send them."""
    body = page.split(f'id="{form_id}"')[1].split("</form>", maxsplit=1)[0]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', body):
        fields.setdefault(name, []).append(html.unescape(value))
    return fields
