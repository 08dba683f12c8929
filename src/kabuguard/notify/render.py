"""Notices rendered from the Jinja2 text templates in ``templates/<lang>/<kind>.txt``.

Each template defines three blocks: ``subject`` and ``body`` (the e-mail, wrapped in
``_layout.txt`` with the greeting and the footer) and ``short`` (SMS and app push, with
``_short_footer.txt``). Times are shown in JST, amounts in yen. Values that come from
outside (a device's name, a passkey's label, a bank's name) are scrubbed of anything
link-like, and every rendered text is checked once more: a message with a link in it
is refused (``LinkInMessage``), never sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from kabuguard.domain.events import JST
from kabuguard.notify.interfaces import Medium, NoticeKind
from kabuguard.notify.links import find_links, scrub

TEMPLATE_DIR = Path(__file__).parent / "templates"
LANGUAGES = ("ja", "en")
BLOCKS = ("subject", "body", "short")
# Params whose values are the customer's own secret (one-time code, emoji); they are
# shown as they are and must never reach a log.
SECRET_PARAMS = frozenset({"code", "emojis"})
# Params that a filter parses and formats itself (a time, a number, a symbol code):
# scrubbing them first would break the parsing, and the filters' output is safe.
FORMATTED_PARAMS = frozenset({"at", "effective_at", "blocked_until", "symbol", "price",
                              "limit_price", "amount_jpy", "quantity", "count"})
DEFAULT_SUPPORT_PHONE = "0120-000-000"


class RenderError(Exception):
    """A notice cannot be rendered (unknown kind or language, a missing parameter).
    The message names the template and never holds a parameter's value."""


class LinkInMessage(RenderError):
    """The rendered text has something link-like in it: it is not sent."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """``subject`` is the e-mail subject (for SMS and push, the title an app may show);
    ``body`` is the e-mail body or the short message."""

    subject: str
    body: str


_WORDS: dict[str, dict[str, dict[str, str]]] = {
    "country": {
        "ja": {"JP": "日本", "US": "アメリカ", "CN": "中国", "HK": "香港", "TW": "台湾",
               "KR": "韓国", "SG": "シンガポール", "VN": "ベトナム", "TH": "タイ",
               "PH": "フィリピン", "IN": "インド", "GB": "イギリス", "DE": "ドイツ",
               "FR": "フランス", "NL": "オランダ", "RU": "ロシア", "CA": "カナダ",
               "AU": "オーストラリア", "local": "社内・家庭内のネットワーク",
               "": "不明"},
        "en": {"JP": "Japan", "US": "United States", "CN": "China", "HK": "Hong Kong",
               "TW": "Taiwan", "KR": "South Korea", "SG": "Singapore", "VN": "Vietnam",
               "TH": "Thailand", "PH": "Philippines", "IN": "India",
               "GB": "United Kingdom", "DE": "Germany", "FR": "France",
               "NL": "Netherlands", "RU": "Russia", "CA": "Canada", "AU": "Australia",
               "local": "a local network", "": "unknown"},
    },
    "method": {
        "ja": {"passkey": "パスキー", "totp": "認証アプリ", "email_otp": "メール認証コード",
               "sms_otp": "SMS認証コード", "emoji": "絵文字認証", "app_push": "アプリ通知認証",
               "phone_call": "電話認証", "pki": "電子証明書", "password": "パスワード",
               "": "認証方法"},
        "en": {"passkey": "passkey", "totp": "authenticator app",
               "email_otp": "e-mail code", "sms_otp": "SMS code", "emoji": "emoji check",
               "app_push": "app confirmation", "phone_call": "phone call",
               "pki": "digital certificate", "password": "password", "": "sign-in method"},
    },
    "field": {
        "ja": {"email": "メールアドレス", "phone": "電話番号", "address": "ご住所",
               "": "登録情報"},
        "en": {"email": "e-mail address", "phone": "phone number", "address": "address",
               "": "contact details"},
    },
    "side": {"ja": {"buy": "買付", "sell": "売却", "": "売買"},
             "en": {"buy": "buy", "sell": "sell", "": "trade"}},
    "order_type": {"ja": {"market": "成行", "limit": "指値", "": "注文"},
                   "en": {"market": "market", "limit": "limit", "": "order"}},
    "channel": {
        "ja": {"web": "ウェブサイト", "app": "スマートフォンアプリ", "api": "API接続",
               "backup_site": "予備サイト", "call_center": "コールセンター", "": "不明"},
        "en": {"web": "website", "app": "mobile app", "api": "API", "backup_site":
               "backup site", "call_center": "call centre", "": "unknown"},
    },
    "purpose": {
        "ja": {"login": "ログイン", "step_up": "お取引", "withdrawal": "出金",
               "bank_account_change": "出金先口座の変更", "contact_change": "連絡先の変更",
               "password_change": "パスワードの変更", "mfa_enroll": "認証方法の登録",
               "mfa_remove": "認証方法の削除", "recovery": "アカウント回復",
               "order": "ご注文", "": "お手続き"},
        "en": {"login": "logging in", "step_up": "your transaction",
               "withdrawal": "a withdrawal", "bank_account_change":
               "changing the withdrawal account", "contact_change": "changing contacts",
               "password_change": "changing the password", "mfa_enroll":
               "adding a sign-in method", "mfa_remove": "removing a sign-in method",
               "recovery": "account recovery", "order": "an order", "": "your request"},
    },
    "lock_reason": {
        "ja": {"password_failures": "パスワードの誤入力が続いたため、安全のため、パスワードでの"
                                    "ログインを一時停止しました。パスキーでのログインは引き続き"
                                    "ご利用いただけます。",
               "": "安全のため、お客様の口座へのログインを一時停止しました。"},
        "en": {"password_failures": "After repeated wrong passwords we paused password login "
                                    "on your account for your safety. Logging in with a "
                                    "passkey still works.",
               "": "For your safety we paused logins to your account."},
    },
}


def _word(table: str, lang: str, value: object) -> str:
    words = _WORDS[table][lang]
    return words.get(str(value or ""), words[""] if not value else scrub(str(value)))


def format_jst_notice(value: object, lang: str) -> str:
    """An ISO-8601 time (or datetime) as people in Japan read it.

    >>> format_jst_notice("2025-04-08T01:05:00+00:00", "ja")
    '2025年4月8日 10:05'
    >>> format_jst_notice("2025-04-08T01:05:00+00:00", "en")
    '8 Apr 2025, 10:05 JST'
    """
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if ts.tzinfo is None:
        msg = "notice times must carry their offset"
        raise ValueError(msg)
    local = ts.astimezone(JST)
    if lang == "ja":
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local.day} {local:%b %Y, %H:%M} JST"


def format_yen_notice(value: object, lang: str) -> str:
    """
    >>> format_yen_notice(1234567, "ja"), format_yen_notice(1234567, "en")
    ('1,234,567円', '¥1,234,567')
    """
    amount = int(value)  # type: ignore[call-overload]
    return f"{amount:,}円" if lang == "ja" else f"¥{amount:,}"


def format_price_notice(value: object, currency: str, lang: str) -> str:
    """A price in the instrument's currency (a decimal string or number).

    >>> format_price_notice("2850", "JPY", "ja"), format_price_notice("182.5", "USD", "en")
    ('2,850円', '182.50 USD')
    """
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return "—"
    if currency == "JPY":
        text = f"{amount:,f}".rstrip("0").rstrip(".") if "." in f"{amount}" else f"{amount:,}"
        return f"{text}円" if lang == "ja" else f"¥{text}"
    return f"{amount:,.2f} {scrub(currency, max_chars=3)}"


def format_symbol(value: object) -> str:
    """A symbol code as shown in a notice. "0700.HK" is written "0700 HK": a mail
    client would turn the dotted form into a link to a web site of that name.

    >>> format_symbol("0700.HK"), format_symbol("7203")
    ('0700 HK', '7203')
    """
    return scrub(str(value).replace(".", " "), max_chars=20)


def format_quantity(value: object) -> str:
    """
    >>> format_quantity(1200)
    '1,200'
    """
    return f"{int(value):,}"  # type: ignore[call-overload]


def _tidy(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row, no blank edges."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


class Renderer:
    def __init__(self, *, support_phone: str = DEFAULT_SUPPORT_PHONE,
                 template_dir: Path = TEMPLATE_DIR) -> None:
        self.support_phone = support_phone
        self._envs = {lang: self._environment(template_dir, lang) for lang in LANGUAGES}

    @staticmethod
    def _environment(template_dir: Path, lang: str) -> Environment:
        # Plain text, not HTML: no autoescape (nothing here is ever shown as HTML).
        env = Environment(loader=FileSystemLoader(template_dir), autoescape=False,  # noqa: S701
                          undefined=StrictUndefined, keep_trailing_newline=False)
        env.filters.update(
            jst=lambda v: format_jst_notice(v, lang),
            yen=lambda v: format_yen_notice(v, lang),
            price=lambda v, currency="JPY": format_price_notice(v, currency, lang),
            symbol=format_symbol, qty=format_quantity,
            **{name: (lambda v, _t=name: _word(_t, lang, v)) for name in _WORDS},
        )
        return env

    def template(self, kind: NoticeKind | str, language: str) -> Template:
        if language not in self._envs:
            msg = f"no templates in language {language!r}"
            raise RenderError(msg)
        try:
            return self._envs[language].get_template(f"{language}/{NoticeKind(kind)}.txt")
        except ValueError:
            msg = f"unknown notice kind {str(kind)[:40]!r}"
            raise RenderError(msg) from None

    def render(self, *, kind: NoticeKind | str, language: str, medium: Medium | str,
               params: Mapping[str, Any], customer_name: str = "") -> Rendered:
        """The subject and text of one notice. Raises RenderError (a parameter missing,
        an unknown kind) or LinkInMessage; neither message holds a parameter's value."""
        tmpl = self.template(kind, language)
        context = self._context(params, language, customer_name)
        try:
            ctx = tmpl.new_context(context)
            subject = _tidy("".join(tmpl.blocks["subject"](ctx)))
            if Medium(medium) is Medium.EMAIL:
                body = _tidy(tmpl.render(context))
            else:
                footer = self._envs[language].get_template(f"{language}/_short_footer.txt")
                body = _tidy("".join(tmpl.blocks["short"](ctx))) + "\n" + _tidy(
                    footer.render(context))
        except RenderError:
            raise
        except Exception as exc:
            # The exception text may quote a value (a code); only its type is kept.
            msg = f"{language}/{kind}: {type(exc).__name__}"
            raise RenderError(msg) from None
        if find_links(subject) or find_links(body):
            msg = f"{language}/{kind}: the rendered text has something link-like in it"
            raise LinkInMessage(msg)
        return Rendered(subject=subject, body=body)

    def _context(self, params: Mapping[str, Any], language: str,
                 customer_name: str) -> dict[str, Any]:
        context: dict[str, Any] = {}
        for key, value in params.items():
            if isinstance(value, str) and key not in SECRET_PARAMS | FORMATTED_PARAMS:
                context[key] = scrub(value)
            elif isinstance(value, list):
                context[key] = [scrub(str(v), max_chars=20) for v in value]
            else:
                context[key] = value
        name_key = "name_ja" if language == "ja" else "name"
        symbol_name = params.get(name_key) or params.get("name_ja") or ""
        if "symbol" not in params:  # "name" is then a passkey's name, not a symbol's
            symbol_name = ""
        context["symbol_name"] = scrub(str(symbol_name), max_chars=40)
        context["support_phone"] = self.support_phone
        context["customer_name"] = scrub(customer_name, max_chars=40)
        return context
