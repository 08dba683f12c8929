"""The customer's statement: what it says, that it carries no link, and its PDF."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pypdf import PdfReader

from factories.compensation import A_CUTOFF, case_a
from kabuguard.ops.approval import Approval, Person, Role, approve, propose
from kabuguard.ops.compensation import NegligenceFactor, compute_compensation
from kabuguard.ops.compensation_policy import load_presets
from kabuguard.ops.statement import (
    StatementError,
    StatementParty,
    japanese_font_installed,
    render_statement_html,
    render_statement_pdf,
)

NOW = datetime(2025, 8, 1, 1, 0, tzinfo=UTC)
PARTY = StatementParty("山田 太郎", "0120-000-000")
NAMES = {"7203": "トヨタ自動車", "5721": "ミライ工業"}
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

PRESETS = load_presets()


def case_by_case(reason="お客様がログイン時の追加認証を解除していたため"):
    return compute_compensation(
        case_a(late_buy=True), PRESETS["case_by_case"], cutoff=A_CUTOFF,
        negligence=NegligenceFactor(Decimal("0.3"), reason, "sue"))


def approved(result):
    state = propose(Approval(), by=Person("ana", Role.ANALYST), digest=result.digest(), now=NOW)
    return approve(state, by=Person("sue", Role.SUPERVISOR), expected_digest=result.digest(),
                   now=NOW)


def render(result, approval, **kwargs):
    return render_statement_html(result, PRESETS[result.preset_name], party=PARTY,
                                 approval=approval, issued_at=NOW, symbol_names=NAMES, **kwargs)


def test_the_statement_says_what_the_customer_is_paid_and_why():
    result = case_by_case()
    page = render(result, approved(result))
    for text in ("山田 太郎 様", "C-A", "個別判断による補償", "1,051,694円", "−450,726円",
                 "30%", "お客様がログイン時の追加認証を解除していたため", "承認済み",
                 "2025-04-08 10:00 – 2025-04-08 14:00 JST", "基準日時より後のため対象外",
                 "2025-04-08 17:00 JST", "トヨタ自動車", "0120-000-000", "¥1,051,694",
                 "Total paid to you"):
        assert text in page, text
    assert "この書面は承認前の下書きです" not in page


def test_english_is_an_option():
    result = case_by_case()
    assert "Statement of compensation" not in render(result, approved(result), english=False)


def test_an_unapproved_statement_says_it_is_not_valid():
    page = render(case_by_case(), Approval())
    assert "この書面は承認前の下書きです" in page
    assert "下書き(未承認・無効)" in page


def test_restoration_lists_what_moves():
    result = compute_compensation(case_a(), PRESETS["restoration"])
    page = render(result, approved(result))
    for text in ("お客様の口座にお戻しする株式", "当社が口座から引き取る株式", "8,000",
                 "−537,580円", "1,502,420円", "原状回復の評価額"):
        assert text in page, text


@pytest.mark.parametrize("reason", ["詳しくは https://example.jp をご覧ください",
                                    "www.example.jp 参照", "kabuguard.example で確認"])
def test_a_link_typed_into_the_statement_is_refused(reason):
    result = case_by_case(reason)
    with pytest.raises(StatementError, match="no link"):
        render(result, approved(result))


def test_a_preset_other_than_the_results_is_refused():
    result = case_by_case()
    with pytest.raises(StatementError, match="computed with case_by_case"):
        render_statement_html(result, PRESETS["sbi_2025"], party=PARTY,
                              approval=approved(result), issued_at=NOW)


def test_the_pdf_carries_the_japanese_text():
    if not japanese_font_installed():
        message = "no Japanese font (Debian: fonts-noto-cjk)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    result = case_by_case()
    pdf = render_statement_pdf(render(result, approved(result)))
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() for page in reader.pages)
    for needle in ("不正取引に係る補償のご案内", "1,051,694円", "0120-000-000", "Total paid to you"):
        assert needle in text
    fonts = {font for page in reader.pages
             for font in (page["/Resources"]["/Font"].values())}
    assert any("CJK" in str(font.get_object()["/BaseFont"]) for font in fonts)
    assert b"/URI" not in pdf  # no link annotations


def test_the_pdf_refuses_to_print_without_a_japanese_font(monkeypatch):
    from kabuguard.ops import statement

    monkeypatch.setattr(statement, "japanese_font_installed", lambda: False)
    with pytest.raises(StatementError, match="fonts-noto-cjk"):
        statement.render_statement_pdf("<p>x</p>")
