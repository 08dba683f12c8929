"""Japanese-first text for the customer site, with English.

One catalogue in code rather than gettext .po files: the site has a few hundred
strings, a test checks that every key has both languages, and there is no compile
step for a newcomer to forget.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kabuguard.domain.events import JST

LANGUAGES = ("ja", "en")
LANG_COOKIE_NAME = "kg_lang"
DEFAULT_LANGUAGE = "ja"

MESSAGES: dict[str, dict[str, str]] = {
    "site.name": {"ja": "かぶガード証券", "en": "Kabuguard Securities"},
    "site.tagline": {"ja": "リファレンス・オンライン証券（デモ）",
                     "en": "Reference online brokerage (demo)"},
    "site.genuine": {
        "ja": "当社からのメール・SMSにログイン用のリンクは一切記載しません。"
              "ブックマークまたは公式アプリからアクセスしてください。",
        "en": "Our e-mails and text messages never contain login links. "
              "Use your bookmark or the official app."},
    "nav.portfolio": {"ja": "資産状況", "en": "Portfolio"},
    "nav.trade": {"ja": "取引", "en": "Trade"},
    "nav.orders": {"ja": "注文照会", "en": "Orders"},
    "nav.cash": {"ja": "入出金", "en": "Cash"},
    "nav.bank": {"ja": "出金先口座", "en": "Bank account"},
    "nav.profile": {"ja": "登録情報", "en": "Profile"},
    "nav.logout": {"ja": "ログアウト", "en": "Log out"},
    "nav.language": {"ja": "English", "en": "日本語"},
    "login.title": {"ja": "ログイン", "en": "Log in"},
    "login.login_id": {"ja": "ログインID", "en": "Login ID"},
    "login.password": {"ja": "パスワード", "en": "Password"},
    "login.submit": {"ja": "ログイン", "en": "Log in"},
    "login.failed": {"ja": "ログインIDまたはパスワードが正しくありません。",
                     "en": "The login ID or password is incorrect."},
    "login.logged_out": {"ja": "ログアウトしました。", "en": "You have logged out."},
    "login.session_ended": {"ja": "セッションが終了しました。再度ログインしてください。",
                            "en": "Your session has ended. Please log in again."},
    "login.previous": {"ja": "前回ログイン: {when}（{where}）",
                       "en": "Previous login: {when} ({where})"},
    "login.previous_none": {"ja": "今回が初めてのログインです。",
                            "en": "This is your first login."},
    "login.previous_hint": {
        "ja": "心当たりのないログインがあれば、すぐにお問い合わせください。",
        "en": "If you do not recognise this login, contact us at once."},
    "portfolio.total": {"ja": "評価額合計", "en": "Total value"},
    "portfolio.cash": {"ja": "預り金", "en": "Cash"},
    "portfolio.available": {"ja": "買付余力", "en": "Available to trade"},
    "portfolio.holdings_value": {"ja": "保有株式評価額", "en": "Holdings value"},
    "portfolio.price": {"ja": "現在値", "en": "Price"},
    "portfolio.value": {"ja": "評価額", "en": "Value"},
    "portfolio.gain": {"ja": "評価損益", "en": "Gain/loss"},
    "portfolio.empty": {"ja": "保有銘柄はありません。", "en": "You hold no shares."},
    "common.yen": {"ja": "円", "en": "JPY"},
    "common.submit": {"ja": "送信", "en": "Submit"},
    "common.back": {"ja": "戻る", "en": "Back"},
    "common.none": {"ja": "ありません", "en": "None"},
    "error.title": {"ja": "エラー", "en": "Error"},
    "error.not_found": {"ja": "ページが見つかりません。", "en": "Page not found."},
    "error.csrf_failed": {
        "ja": "フォームの有効期限が切れたか、このサイト以外から送信されました。"
              "ページを再読み込みしてやり直してください。",
        "en": "The form has expired or did not come from this site. "
              "Please reload the page and try again."},
    "error.insufficient_cash": {"ja": "買付余力（出金可能額）が不足しています。",
                                "en": "Not enough cash."},
    "error.insufficient_holdings": {"ja": "売却可能な株数が不足しています。",
                                    "en": "Not enough shares to sell."},
    "error.unknown_symbol": {"ja": "銘柄コードが見つかりません。",
                             "en": "Unknown symbol."},
    "error.bank_account_cooling_off": {
        "ja": "出金先口座の変更直後のため、出金はまだできません（{usable_from} 以降に可能）。",
        "en": "The bank account was changed recently; withdrawals are possible from "
              "{usable_from}."},
    "error.forbidden": {"ja": "この操作は現在行えません。お問い合わせください。",
                        "en": "This action is not possible now. Please contact us."},
    "error.invalid_input": {"ja": "入力内容を確認してください。",
                            "en": "Please check what you entered."},
    "error.idempotency_key_reused": {"ja": "同じ注文番号で別の内容が送信されました。",
                                     "en": "The same request key was used for a "
                                           "different request."},
    "field.quantity": {"ja": "数量", "en": "Quantity"},
    "field.limit_price": {"ja": "指値", "en": "Limit price"},
    "field.amount_jpy": {"ja": "金額", "en": "Amount"},
    "field.symbol": {"ja": "銘柄", "en": "Symbol"},
    "field.side": {"ja": "売買", "en": "Side"},
    "field.order_type": {"ja": "注文種別", "en": "Order type"},
    "field.email": {"ja": "メールアドレス", "en": "E-mail"},
    "field.phone": {"ja": "電話番号", "en": "Phone"},
    "field.bank_name": {"ja": "金融機関名", "en": "Bank"},
    "field.branch_code": {"ja": "支店番号", "en": "Branch code"},
    "field.number": {"ja": "口座番号", "en": "Account number"},
    "field.holder": {"ja": "口座名義", "en": "Account holder"},
    "field.password": {"ja": "パスワード", "en": "Password"},
    "field.login_id": {"ja": "ログインID", "en": "Login ID"},
}


def translate(key: str, lang: str, **params: Any) -> str:
    """Text for ``key`` in ``lang`` (falling back to Japanese, then the key itself).

    >>> translate("nav.cash", "en")
    'Cash'
    >>> translate("login.previous", "ja", when="4月3日", where="東京")
    '前回ログイン: 4月3日（東京）'
    """
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry[DEFAULT_LANGUAGE]
    return text.format(**params) if params else text


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The language cookie wins; else Japanese unless the browser prefers English.

    >>> pick_language(None, "en-US,en;q=0.9"), pick_language("ja", "en"), pick_language(None, None)
    ('en', 'ja', 'ja')
    """
    if cookie in LANGUAGES:
        return cookie
    if accept_language and accept_language.strip().lower().startswith("en"):
        return "en"
    return DEFAULT_LANGUAGE


def format_yen(amount: int | None) -> str:
    """
    >>> format_yen(1234567), format_yen(-5), format_yen(None)
    ('¥1,234,567', '-¥5', '—')
    """
    if amount is None:
        return "—"
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,}"


def format_jst(ts: datetime | str | None, lang: str = "ja") -> str:
    """A UTC time shown in JST.

    >>> from datetime import UTC
    >>> format_jst(datetime(2025, 4, 3, 0, 15, tzinfo=UTC))
    '2025/04/03 09:15 JST'
    """
    if ts is None:
        return "—"
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts)
    local = ts.astimezone(JST)
    return local.strftime("%Y/%m/%d %H:%M JST" if lang == "ja" else "%d %b %Y %H:%M JST")


def format_price(price_minor: int, minor_per_unit: int, currency: str) -> str:
    """
    >>> format_price(2850, 1, "JPY"), format_price(23012, 100, "USD")
    ('¥2,850', '$230.12')
    """
    if minor_per_unit == 1:
        major = f"{price_minor:,}"
    else:
        digits = len(str(minor_per_unit)) - 1
        major = f"{price_minor / minor_per_unit:,.{digits}f}"
    prefix = {"JPY": "¥", "USD": "$", "HKD": "HK$", "CNY": "CN¥"}.get(currency, "")
    return f"{prefix}{major}" if prefix else f"{major} {currency}"
