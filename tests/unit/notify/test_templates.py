"""Every notice renders in Japanese and English, for every medium, and none of them
holds anything a person could take for a link (the firm's promise in the footer)."""

from __future__ import annotations

import re

import pytest

from kabuguard.notify.interfaces import Medium, NoticeKind
from kabuguard.notify.links import find_links, scrub
from kabuguard.notify.render import BLOCKS, LANGUAGES, TEMPLATE_DIR, LinkInMessage, Renderer

AT = "2025-04-08T01:05:00+00:00"
LATER = "2025-04-11T01:05:00+00:00"
# One set of parameters per kind, as the services queue them (the preamble's contract),
# with the optional ones filled in.
SAMPLES: dict[NoticeKind, dict] = {
    NoticeKind.LOGIN: {"at": AT, "country": "JP", "device": "Chrome 124 / Windows",
                       "channel": "web"},
    NoticeKind.NEW_DEVICE: {"at": AT, "country": "SG", "device": "Safari 17 / iPhone",
                            "channel": "app"},
    NoticeKind.FAILED_LOGIN_BURST: {"at": AT, "count": 3},
    NoticeKind.ACCOUNT_LOCKED: {"at": AT, "reason": "password_failures"},
    NoticeKind.MFA_CHANGE: {"at": AT, "change": "enroll", "method": "passkey",
                            "name": "iPhone"},
    NoticeKind.MFA_REMOVAL_SCHEDULED: {"at": AT, "method": "totp", "name": "Authy",
                                       "effective_at": LATER},
    NoticeKind.CONTACT_CHANGE: {"at": AT, "field": "email"},
    NoticeKind.PASSWORD_CHANGE: {"at": AT},
    NoticeKind.BANK_ACCOUNT_CHANGE: {"at": AT, "effective_at": LATER,
                                     "bank_name": "みずほ銀行", "number_last4": "4567"},
    NoticeKind.WITHDRAWAL: {"at": AT, "amount_jpy": 1_500_000},
    NoticeKind.ORDER: {"at": AT, "symbol": "0700.HK", "side": "buy", "quantity": 200,
                       "order_type": "limit", "limit_price": "380.2", "currency": "HKD",
                       "name": "Tencent", "name_ja": "テンセント"},
    NoticeKind.EXECUTION: {"at": AT, "symbol": "7203", "side": "sell", "quantity": 100,
                           "price": "2850", "currency": "JPY", "amount_jpy": 285_000,
                           "name": "Toyota Motor", "name_ja": "トヨタ自動車"},
    NoticeKind.ONE_TIME_CODE: {"code": "493817", "purpose": "withdrawal",
                               "expires_minutes": 10},
    NoticeKind.EMOJI_CHALLENGE: {"emojis": ["🍎", "🚗", "🐱"], "purpose": "login",
                                 "expires_minutes": 5},
    NoticeKind.RECOVERY_REQUESTED: {"at": AT, "code": "K7Q2-9XP4"},
    NoticeKind.RECOVERY_COMPLETED: {"at": AT, "blocked_until": LATER},
    NoticeKind.SELF_LOCK: {"at": AT},
    NoticeKind.LEAKED_CREDENTIALS: {"at": AT},
    NoticeKind.SECURITY_ALERT: {"at": AT, "reason": "account_frozen"},
}
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
renderer = Renderer()


def test_every_kind_has_a_sample():
    assert set(SAMPLES) == set(NoticeKind)


@pytest.mark.parametrize("medium", list(Medium))
@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", list(NoticeKind))
def test_every_template_renders_without_links(kind, language, medium):
    out = renderer.render(kind=kind, language=language, medium=medium,
                          params=SAMPLES[kind], customer_name="山田 花子")
    text = out.subject + "\n" + out.body
    assert find_links(text) == [], f"{language}/{kind}/{medium}: {find_links(text)}"
    assert out.subject.strip() and out.body.strip()
    assert "{{" not in text and "{%" not in text
    assert "0120-000-000" in out.body  # whom to call if it was not them
    # ... and what to do: the instruction itself, never a link (issue 6).
    assert ("心当たりがない場合" in out.body if language == "ja"
            else ("If this was not you" in out.body or "Not you? Call" in out.body))
    if language == "ja":
        assert JAPANESE.search(out.subject) and JAPANESE.search(out.body)
    else:
        assert not JAPANESE.search(out.subject)
    if medium is Medium.EMAIL:
        # The footer: no login links ever, use the bookmark or the app.
        assert ("リンク" in out.body and "ブックマーク" in out.body) if language == "ja" else (
            "never send login links" in out.body and "bookmark" in out.body)
        assert "2025年4月8日 10:05" in text if "at" in SAMPLES[kind] and language == "ja" else True
    else:
        assert len(out.body) < 300, "a short form for SMS and push"


def test_optional_params_may_be_left_out():
    bare = {NoticeKind.MFA_CHANGE: {"at": AT, "change": "remove", "method": "totp"},
            NoticeKind.BANK_ACCOUNT_CHANGE: {"at": AT, "effective_at": LATER},
            NoticeKind.ORDER: {"at": AT, "symbol": "7203", "side": "buy", "quantity": 100,
                               "order_type": "market"},
            NoticeKind.RECOVERY_REQUESTED: {"at": AT},
            NoticeKind.LOGIN: {"at": AT, "country": "", "device": "—"}}
    for kind, params in bare.items():
        for language in LANGUAGES:
            out = renderer.render(kind=kind, language=language, medium=Medium.EMAIL,
                                  params=params)
            assert not find_links(out.body)
    assert "お客様" in renderer.render(kind=NoticeKind.LOGIN, language="ja",
                                     medium=Medium.EMAIL, params=bare[NoticeKind.LOGIN]).body


def test_each_template_file_has_the_three_blocks():
    for language in LANGUAGES:
        for kind in NoticeKind:
            tmpl = renderer.template(kind, language)
            assert set(BLOCKS) <= set(tmpl.blocks), f"{language}/{kind}"
    names = {p.stem for p in (TEMPLATE_DIR / "ja").glob("*.txt")} - {"_layout", "_short_footer"}
    assert names == {str(k) for k in NoticeKind}
    assert names == {p.stem for p in (TEMPLATE_DIR / "en").glob("*.txt")} - {
        "_layout", "_short_footer"}


def test_times_are_shown_in_jst():
    out = renderer.render(kind=NoticeKind.WITHDRAWAL, language="ja", medium=Medium.SMS,
                          params={"at": "2025-04-08T15:30:00+00:00", "amount_jpy": 5000})
    assert "2025年4月9日 00:30" in out.body and "5,000円" in out.body
    out = renderer.render(kind=NoticeKind.WITHDRAWAL, language="en", medium=Medium.SMS,
                          params={"at": "2025-04-08T15:30:00+00:00", "amount_jpy": 5000})
    assert "9 Apr 2025, 00:30 JST" in out.body and "¥5,000" in out.body


@pytest.mark.parametrize("hostile", [
    "Mozilla/5.0 (+https://evil.example/login)", "www.evil.example", "evil.jp",
    "mailto:x@evil.example", "ｅｖｉｌ．ｃｏｍ", "203.0.113.9", "詳細はevil.jpへ",
])
def test_outside_text_cannot_put_a_link_into_a_notice(hostile):
    # A device name comes from the User-Agent, a passkey's name and a bank's name from
    # whoever was logged in: an attacker's text is scrubbed, not sent.
    for kind, key in ((NoticeKind.NEW_DEVICE, "device"), (NoticeKind.MFA_CHANGE, "name"),
                      (NoticeKind.BANK_ACCOUNT_CHANGE, "bank_name")):
        params = {**SAMPLES[kind], key: hostile}
        for language in LANGUAGES:
            out = renderer.render(kind=kind, language=language, medium=Medium.EMAIL,
                                  params=params)
            assert not find_links(out.subject + out.body)


def test_a_template_that_produces_a_link_is_refused(tmp_path):
    for language in LANGUAGES:
        (tmp_path / language).mkdir()
        for name in ("_layout", "_short_footer"):
            (tmp_path / language / f"{name}.txt").write_text(
                (TEMPLATE_DIR / language / f"{name}.txt").read_text(encoding="utf-8"),
                encoding="utf-8")
        (tmp_path / language / "self_lock.txt").write_text(
            f'{{% extends "{language}/_layout.txt" %}}{{% block subject %}}x{{% endblock %}}'
            "{% block body %}ログインはこちら: kabuguard-login.jp{% endblock %}"
            "{% block short %}x{% endblock %}", encoding="utf-8")
    bad = Renderer(template_dir=tmp_path)
    with pytest.raises(LinkInMessage):
        bad.render(kind=NoticeKind.SELF_LOCK, language="ja", medium=Medium.EMAIL,
                   params={"at": AT})


# The detector itself: each form it must catch, so the test above cannot pass by
# detecting nothing.
@pytest.mark.parametrize(("text", "caught"), [
    ("https://kabuguard.example/login", "https://"),
    ("http://x", "http://"),
    ("HTTPS://EXAMPLE.JP", "HTTPS://"),
    ("hxxp and ftp://files", "ftp://"),
    ("www.example.jp", "www."),
    ("ｗｗｗ．example．jp", "www."),
    ("mailto:support", "mailto:"),
    ("お問い合わせ: example.jp まで", "example.jp"),
    ("kabuguard-login.co.jp", "kabuguard-login.co.jp"),
    ("xn--eckwd4c7c.xn--zckzah", "xn--eckwd4c7c.xn--zckzah"),
    ("詳細はevil.comへ", "evil.com"),
    ("192.0.2.55", "192.0.2.55"),
    ("接続元 [2001:db8::1] です", "2001:db8::1"),
    ("::1", "::1"),
    ("Click here to verify", "Click here"),
    ("こちらをクリックしてください", "こちらをクリック"),
])
def test_the_detector_catches_each_form(text, caught):
    assert caught in find_links(text)


@pytest.mark.parametrize("text", [
    "2025年4月8日 10:05", "10:05:30", "¥1,234,567", "1,234.50 USD", "0120-000-000",
    "Chrome 124 / Windows", "e-mail", "Kabuguard Securities Co., Ltd.", "0700 HK",
])
def test_the_detector_leaves_ordinary_text_alone(text):
    assert find_links(text) == []


def test_scrub_removes_every_form():
    for text in ("https://a.example/x", "visit www.a.example now", "a.example", "192.0.2.1"):
        assert not find_links(scrub(text))
