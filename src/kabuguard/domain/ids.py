"""Identifiers: random, URL-safe, prefixed by kind so a stray id is recognisable."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    """A 128-bit random id such as ``ord_3q9…``.

    >>> new_id("ord").startswith("ord_")
    True
    """
    return f"{prefix}_{secrets.token_urlsafe(16)}"
