"""What every customer form shares: numbers typed the Japanese way, errors in the
customer's language, the server-side Idempotency-Key of a rendered form, and the
one-word notices a redirect may carry.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import datetime
from typing import Any

from kabuguard.domain.errors import (
    CoolingOff,
    InsufficientFunds,
    InsufficientHoldings,
    InvalidInput,
    KabuguardError,
    NotFound,
)
from kabuguard.web.errors import localized_error
from kabuguard.web.i18n import MESSAGES, format_jst, format_yen, translate


def new_form_key() -> str:
    """A fresh Idempotency-Key for a form being rendered.

    The key goes into a hidden field, so a form submitted twice (double click, a
    retry after a timeout, the back button) carries the same key and the broker
    executes it once; a form rendered anew gets a new key.

    >>> k = new_form_key(); k.startswith("web-") and len(k) > 20
    True
    """
    return "web-" + secrets.token_urlsafe(18)


def normalize_text(raw: str) -> str:
    """NFKC: full-width digits and letters (what a Japanese IME types) become ASCII.

    >>> normalize_text(" ７２０３ ")
    '7203'
    """
    return unicodedata.normalize("NFKC", raw or "").strip()


def normalize_number(raw: str) -> str:
    """A number as typed, without thousands separators or spaces.

    >>> normalize_number("１，０００"), normalize_number(" 12 345.5 ")
    ('1000', '12345.5')
    """
    return re.sub(r"[,\s_]", "", normalize_text(raw))


def parse_whole(raw: str, *, field: str) -> int:
    """A whole number from a form field; InvalidInput(field=) when it is not one.

    >>> parse_whole("１，２００", field="quantity")
    1200
    >>> parse_whole("1.5", field="quantity")
    Traceback (most recent call last):
    ...
    kabuguard.domain.errors.InvalidInput: Enter a whole number.
    """
    text = normalize_number(raw)
    if not re.fullmatch(r"[0-9]{1,15}", text):
        raise InvalidInput("Enter a whole number.", field=field)
    return int(text)


def error_text(exc: KabuguardError, lang: str) -> str:
    """The customer-facing text of a domain error raised by a form's action.

    Builds on :func:`kabuguard.web.errors.localized_error`, adding what a form needs:
    a Japanese sentence per invalid field, amounts in yen, and times in JST (the
    services speak UTC).
    """
    params = exc.params
    if isinstance(exc, CoolingOff) and params.get("usable_from"):
        when = format_jst(datetime.fromisoformat(str(params["usable_from"])), lang)
        return translate("error.bank_account_cooling_off", lang, usable_from=when)
    if lang == "en":
        return exc.message
    if isinstance(exc, InsufficientFunds) and "available_jpy" in params:
        return translate("error.insufficient_cash_detail", lang,
                         needed=format_yen(params.get("needed_jpy")),
                         available=format_yen(params["available_jpy"]))
    if isinstance(exc, InsufficientHoldings) and "available_quantity" in params:
        return translate("error.insufficient_holdings_detail", lang,
                         available=f"{params['available_quantity']:,}")
    if isinstance(exc, NotFound) and "order_id" in params:
        return translate("error.order_not_found", lang)
    if type(exc) is InvalidInput:
        field = params.get("field")
        if field == "quantity" and "lot_size" in params:
            return translate("invalid.quantity_lot", lang, lot_size=f"{params['lot_size']:,}")
        key = f"invalid.{field}"
        if key in MESSAGES:
            return translate(key, lang)
    return localized_error(exc, lang)


def error_field(exc: KabuguardError) -> str | None:
    """The form field an error is about, to mark it on the re-rendered form."""
    field = exc.params.get("field")
    return field if isinstance(field, str) else None


def notice_text(notice: str, allowed: dict[str, str], lang: str, **params: Any) -> str | None:
    """The success message named in a redirect's ``?notice=``; only known names are
    shown, so a crafted link cannot put text of its choosing on the page."""
    key = allowed.get(notice)
    return translate(key, lang, **params) if key else None
