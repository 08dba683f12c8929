"""No message to a customer ever contains anything a person could take for a link.

The firm's promise in every footer is that it never sends a login link, so a customer
can treat any link in a message "from us" as phishing. A link here would break that
promise, and so would text a mail client turns into one: a bare domain (``example.jp``),
``www.``, ``mailto:`` or an IP address. ``find_links`` is what the template test and the
renderer use; ``scrub`` removes such text from values that come from outside (a
User-Agent, a passkey's name, a bank's name typed by whoever was logged in), so that an
attacker cannot put a link of their own into the notice that warns about them.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

# Anything scheme-like ("https://", "ftp://", "javascript:" is caught as a word below).
# Lookarounds are ASCII-only: Japanese letters count as \w, and "詳細はevil.jpへ" must
# still be caught.
_SCHEME = re.compile(r"(?<![a-z0-9])[a-z][a-z0-9+.-]{1,20}://", re.IGNORECASE)
_PREFIXES = re.compile(r"(?<![a-z0-9])(?:www\d{0,3}\.|mailto:|javascript:|data:[a-z]+/|tel:|sms:)",
                       re.IGNORECASE)
# name.tld: one or more labels and a final label of 2-63 letters (IDN TLDs as
# punycode "xn--"). Decimal numbers have no letters after the dot and do not match.
_DOMAIN = re.compile(
    r"(?<![a-z0-9_.-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
    r"(?![a-z0-9_-])", re.IGNORECASE)
# Candidates for IP addresses; ipaddress decides (so "10:00:00" is not one).
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")
_IPV6 = re.compile(r"(?<![a-z0-9_:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:%\w+)?(?![a-z0-9_:])",
                   re.IGNORECASE)
_PHRASES = re.compile(r"click here|tap here|こちらをクリック|こちらをタップ|下記リンク|以下のリンク",
                      re.IGNORECASE)


def find_links(text: str) -> list[str]:
    """Every link-like piece of ``text``, after NFKC (full-width "ｗｗｗ．" counts too).

    >>> find_links("ログインは公式アプリから。")
    []
    >>> find_links("see https://example.jp/x or www.example.jp")
    ['https://', 'www.', 'example.jp', 'www.example.jp']
    >>> find_links("mailto:a ＥＸＡＭＰＬＥ．ＣＯＭ 192.0.2.1 2001:db8::1 click here")
    ['mailto:', 'EXAMPLE.COM', '192.0.2.1', '2001:db8::1', 'click here']
    >>> find_links("詳細はhttps://evil.jpへ、またはwww.evil.jpで")
    ['https://', 'www.', 'evil.jp', 'www.evil.jp']
    >>> find_links("2025/04/08 10:00:00 JST ¥1,234.50 version 1.2.3 0120-000-000")
    []
    """
    norm = unicodedata.normalize("NFKC", text)
    found = [m.group(0) for m in _SCHEME.finditer(norm)]
    found += [m.group(0) for m in _PREFIXES.finditer(norm)]
    found += [m.group(0) for m in _DOMAIN.finditer(norm)]
    for pattern in (_IPV4, _IPV6):
        for m in pattern.finditer(norm):
            candidate = m.group(0).split("%")[0]
            try:
                ipaddress.ip_address(candidate)
            except ValueError:
                continue
            found.append(m.group(0))
    found += [m.group(0) for m in _PHRASES.finditer(norm)]
    return found


def has_link(text: str) -> bool:
    return bool(find_links(text))


def scrub(value: str, *, replacement: str = "***", max_chars: int = 60) -> str:
    """A value from outside made safe to show: link-like pieces replaced, control
    characters dropped, length capped.

    >>> scrub("curl/8.5 (+https://evil.example/login)")
    'curl/8.5 (+******/login)'
    >>> scrub("Mozilla (compatible; evil.example)"), scrub("iPhone 15")
    ('Mozilla (compatible; ***)', 'iPhone 15')
    """
    clean = "".join(ch for ch in unicodedata.normalize("NFKC", value)
                    if unicodedata.category(ch)[0] != "C")[:max_chars]
    for _ in range(3):
        pieces = find_links(clean)
        if not pieces:
            return clean
        # Longest first, so "www.example.jp" goes whole before its "www." is seen.
        for piece in sorted(set(pieces), key=len, reverse=True):
            clean = clean.replace(piece, replacement)
    return replacement if find_links(clean) else clean
