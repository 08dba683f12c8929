"""Compensation presets: the shipped files load with their figures, and a bad file is
refused with its line and reason."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kabuguard.ops.compensation_policy import (
    Basis,
    Certainty,
    Method,
    Negligence,
    PresetError,
    load_preset,
    parse_preset,
    preset_names,
)

CASH = """\
version: 1
name: test_cash
title_ja: テスト
title_en: Test
description_ja: テストです。
description_en: A test.
method: cash
basis: loss_on_bought
rate: "0.5"
fee_refund_rate: "1"
sympathy_payment_yen: 10000
negligence: optional
sources: ["a source"]
certainty: reported
"""


def test_every_shipped_preset_loads_with_sources():
    assert preset_names() == ("case_by_case", "full_cash", "matsui_2025", "nomura_2025",
                              "rakuten_2025", "restoration", "sbi_2025", "sbi_neotrade_2025")
    for name in preset_names():
        preset = load_preset(name)
        assert preset.name == name
        assert preset.sources


@pytest.mark.parametrize(("name", "figures"), [
    ("sbi_2025", (Basis.LOSS_ON_BOUGHT, Decimal("0.5"), Decimal(1), 10_000)),
    ("rakuten_2025", (Basis.LOSS_ON_BOUGHT, Decimal("0.5"), Decimal(1), 10_000)),
    ("matsui_2025", (Basis.LOSS_ON_BOUGHT_AND_SOLD_OWN, Decimal("0.5"), Decimal(0), 0)),
    ("sbi_neotrade_2025", (Basis.NET_TRADE_VALUE, Decimal("0.5"), Decimal(0), 10_000)),
    ("full_cash", (Basis.LOSS_ON_BOUGHT_AND_SOLD_OWN, Decimal(1), Decimal(1), 0)),
    ("case_by_case", (Basis.LOSS_ON_BOUGHT_AND_SOLD_OWN, Decimal(1), Decimal(1), 0)),
])
def test_the_2025_figures(name, figures):
    preset = load_preset(name)
    assert (preset.basis, preset.rate, preset.fee_refund_rate,
            preset.sympathy_payment_yen) == figures
    assert preset.method is Method.CASH


def test_restoration_presets_and_windows():
    nomura = load_preset("nomura_2025")
    assert nomura.method is Method.RESTORATION
    assert nomura.negligence is Negligence.NOT_APPLICABLE
    assert (str(nomura.covers_from), str(nomura.covers_until)) == ("2025-01-01", "2025-06-28")
    assert nomura.certainty is Certainty.PRIMARY
    assert load_preset("case_by_case").negligence is Negligence.REQUIRED


def test_a_preset_from_a_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(CASH, encoding="utf-8")
    assert load_preset(str(path)).rate == Decimal("0.5")
    with pytest.raises(PresetError, match="neither a shipped preset"):
        load_preset(str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize(("edit", "line", "reason"), [
    (("rate: \"0.5\"", "rate: 50"), 9, "between 0 and 1"),
    (("rate: \"0.5\"", "rate: half"), 9, "a number such as 0.5"),
    (("rate: \"0.5\"", "rate: 0"), 9, "above 0"),
    (("basis: loss_on_bought", "basis: everything"), 8, "unknown basis 'everything'"),
    (("sympathy_payment_yen: 10000", "sympathy_payment_yen: 1e4"), 11, "whole number of yen"),
    (("negligence: optional", "negligence: not_applicable"), 12, "use optional or required"),
    (("certainty: reported", "certainty: sure"), 14, "unknown certainty"),
    (("sources: [\"a source\"]", "sources: []"), 13, "non-empty list"),
    (("title_en: Test\n", "title_en: Test\nrefund: all\n"), 5, "unknown field 'refund'"),
    (("version: 1", "version: 2"), 1, "unsupported version"),
    (("fee_refund_rate: \"1\"\n", ""), 1, "needs 'fee_refund_rate'"),
    (("rate: \"0.5\"", "rate: [0.5"), 10, "not valid YAML"),
])
def test_a_bad_file_is_refused_with_its_line(edit, line, reason):
    text = CASH.replace(*edit)
    with pytest.raises(PresetError) as caught:
        parse_preset(text, source="mine.yaml")
    assert f"mine.yaml:{line}: " in str(caught.value)
    assert reason in str(caught.value)


def test_restoration_takes_no_cash_fields():
    text = CASH.replace("method: cash", "method: restoration").replace(
        "negligence: optional", "negligence: not_applicable")
    with pytest.raises(PresetError, match=r"mine\.yaml:8: 'basis' does not apply to restoration"):
        parse_preset(text, source="mine.yaml")


def test_a_window_that_ends_before_it_starts_is_refused():
    text = CASH + "covers_from: 2025-06-01\ncovers_until: 2025-05-01\n"
    with pytest.raises(PresetError, match=r"mine\.yaml:16: covers_until is before covers_from"):
        parse_preset(text, source="mine.yaml")
