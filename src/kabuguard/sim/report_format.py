"""Numbers, names and colours as the simulator's reports show them: yen the Japanese
way (¥1,234,567; 万/億/兆 on chart axes), Japanese labels with English beside them."""

from __future__ import annotations

from collections.abc import Mapping

DASH = "—"   # a value the metrics do not have (not zero)
MINUS = "−"  # U+2212, the typographic minus, so "−¥1,200" does not read as a dash

MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Attack kinds of kabuguard.sim.campaigns (EVENTS.md labels.jsonl `attack`).
ATTACK_LABELS: Mapping[str, tuple[str, str]] = {
    "realtime_phishing": ("リアルタイムフィッシング", "Real-time phishing"),
    "infostealer_session": ("インフォスティーラー（セッション窃取）", "Infostealer session theft"),
    "credential_stuffing": ("リスト型攻撃", "Credential stuffing"),
    "sim_swap": ("SIMスワップ", "SIM swap"),
    "recovery_abuse": ("アカウント復旧の悪用", "Account-recovery abuse"),
    "bank_change_withdrawal": ("出金先変更・不正出金", "Bank change and withdrawal"),
    "low_and_slow": ("低頻度・長期型", "Low and slow"),
}

# Presets of kabuguard/guard/presets/*.yaml (their header comments say what each is).
POLICY_LABELS: Mapping[str, tuple[str, str]] = {
    "baseline_2024": ("2024年水準（パスワードのみ）", "2024 baseline (password only)"),
    "email_otp_mandatory": ("メールOTP必須", "E-mail OTP mandatory"),
    "emoji_all_trades": ("絵文字認証・全取引（2/10）", "Emoji on every trade (2 of 10)"),
    "emoji_all_trades_4of15": ("絵文字認証・全取引（4/15）", "Emoji on every trade (4 of 15)"),
    "jsda_2025_mandatory": ("日証協2025 必須事項", "JSDA 2025 required"),
    "jsda_2025_recommended": ("日証協2025 推奨事項", "JSDA 2025 recommended"),
}


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def format_count(value: object) -> str:
    """A count with thousands separators.

    >>> format_count(12345), format_count(None)
    ('12,345', '—')
    """
    number = _num(value)
    if number is None:
        return DASH
    text = f"{abs(round(number)):,}"
    return f"{MINUS}{text}" if number < -0.5 else text


def format_yen(value: object) -> str:
    """Whole yen: ``¥1,234,567``.

    >>> format_yen(1234567.4), format_yen(-1200), format_yen("x")
    ('¥1,234,567', '−¥1,200', '—')
    """
    number = _num(value)
    if number is None:
        return DASH
    text = f"¥{abs(round(number)):,}"
    return f"{MINUS}{text}" if number <= -0.5 else text


def _short(number: float) -> str:
    magnitude = abs(number)
    for unit, size in (("兆", 1e12), ("億", 1e8), ("万", 1e4)):
        if magnitude >= size:
            scaled = magnitude / size
            text = f"{scaled:,.1f}".removesuffix(".0") if scaled < 10 else f"{scaled:,.0f}"
            return f"{MINUS if number < 0 else ''}{text}{unit}"
    text = f"{magnitude:,.0f}" if magnitude >= 10 or magnitude == round(magnitude) else f"{magnitude:.2g}"
    return f"{MINUS if number < 0 else ''}{text}"


def format_count_short(value: object) -> str:
    """A count for a chart axis, in 万/億.

    >>> format_count_short(25000), format_count_short(1500), format_count_short(0.5)
    ('2.5万', '1,500', '0.5')
    """
    number = _num(value)
    return DASH if number is None else _short(number)


def format_yen_short(value: object) -> str:
    """Yen for a chart axis or a headline, in 万/億/兆.

    >>> format_yen_short(156_100_000_000), format_yen_short(34_000_000), format_yen_short(-5000)
    ('¥1,561億', '¥3,400万', '−¥5,000')
    """
    number = _num(value)
    if number is None:
        return DASH
    text = _short(number)
    return f"{MINUS}¥{text[1:]}" if text.startswith(MINUS) else f"¥{text}"


def format_share(value: object, digits: int = 1) -> str:
    """A share (0..1) as a percentage.

    >>> format_share(0.1234), format_share(1), format_share(None)
    ('12.3%', '100.0%', '—')
    """
    number = _num(value)
    return DASH if number is None else f"{number * 100:.{digits}f}%"


def format_change(value: object) -> str:
    """A relative change with its sign: ``−100%``, ``+12%``.

    >>> format_change(-1.0), format_change(0.125), format_change(None)
    ('−100%', '+12%', '—')
    """
    number = _num(value)
    if number is None:
        return DASH
    percent = round(number * 100)
    return f"{MINUS}{-percent}%" if percent < 0 else f"+{percent}%"


def format_rate(value: object) -> str:
    """A rate per 1,000 or 10,000 with one decimal.

    >>> format_rate(12.345), format_rate(1234.5)
    ('12.3', '1,234.5')
    """
    number = _num(value)
    return DASH if number is None else f"{number:,.1f}"


def format_price(value: object, currency: str = "JPY") -> str:
    """A share price: yen with the sen when it has them, other currencies by code.

    >>> format_price(1234), format_price(12.5), format_price(8.25, "CNY")
    ('¥1,234', '¥12.5', '8.25 CNY')
    """
    number = _num(value)
    if number is None:
        return DASH
    text = f"{number:,.0f}" if number == round(number) else f"{number:,.2f}".rstrip("0")
    return f"¥{text}" if currency == "JPY" else f"{text} {currency}"


def month_labels(month: str) -> tuple[str, str]:
    """``"2025-03"`` as (``"2025年3月"``, ``"Mar 2025"``); anything else as it is.

    >>> month_labels("2025-03"), month_labels("later")
    (('2025年3月', 'Mar 2025'), ('later', 'later'))
    """
    year, _, number = month.partition("-")
    if not (year.isdigit() and number.isdigit() and 1 <= int(number) <= 12):
        return month, month
    return f"{year}年{int(number)}月", f"{MONTHS_EN[int(number) - 1]} {year}"


def attack_labels(kind: str) -> tuple[str, str]:
    """Japanese and English names of an attack kind (the code itself when unknown)."""
    return ATTACK_LABELS.get(kind, (kind, kind))


def policy_labels(policy: str) -> tuple[str, str]:
    """Japanese and English names of a policy preset (the code itself when unknown)."""
    return POLICY_LABELS.get(policy, (policy, policy))


def _luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2.x relative luminance."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


_LOW, _MID, _HIGH = (213, 94, 0), (247, 247, 247), (0, 114, 178)   # Okabe-Ito vermillion, white, blue


def heat_colours(share: float | None) -> tuple[str, str]:
    """Background and text colour for a stopped share: vermillion (nothing stopped)
    through white to blue (all stopped), a diverging scale that colour-blind readers
    tell apart; the text colour is whichever of black or white contrasts more.

    >>> heat_colours(0.0), heat_colours(1.0), heat_colours(None)
    (('#d55e00', '#000000'), ('#0072b2', '#ffffff'), ('#ffffff', '#000000'))
    """
    if share is None:
        return "#ffffff", "#000000"
    share = min(max(share, 0.0), 1.0)
    start, end, t = (_LOW, _MID, share * 2) if share < 0.5 else (_MID, _HIGH, share * 2 - 1)
    rgb = (round(start[0] + (end[0] - start[0]) * t), round(start[1] + (end[1] - start[1]) * t),
           round(start[2] + (end[2] - start[2]) * t))
    lum = _luminance(rgb)
    text = "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"
    return "#{:02x}{:02x}{:02x}".format(*rgb), text
