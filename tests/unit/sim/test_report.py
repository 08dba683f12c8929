"""The simulator's HTML reports from hand-made metrics: the FSA table, the charts, the
compare page, escaping, determinism and self-containment."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from factories.sim_metrics import ATTACKS, compare, one_config
from kabuguard.sim.report import (
    FSA_2025,
    render_compare_report,
    render_report,
    write_compare_report,
    write_report,
)
from kabuguard.sim.report_charts import Series, bar_chart, line_chart

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        if self.tag == "br":
            return " "
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if child.tag == tag and all(attrs[k] in child.attrs.get(k.rstrip("_"), "").split()
                                            for k in attrs):
                    found.append(child)
                found.extend(child.find_all(tag, **attrs))
        return found

    def find(self, tag: str, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag} {attrs}>"
        return found[0]


class TreeBuilder(HTMLParser):
    """A strict little DOM: every element must be closed, in order (html.parser alone
    accepts anything)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        assert self.stack[-1].tag == tag, f"</{tag}> closes <{self.stack[-1].tag}>"
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.stack == [builder.root], "unclosed elements"
    return builder.root


def cell_texts(row: Node) -> list[str]:
    return [" ".join(c.text().split()) for c in row.children if isinstance(c, Node) and c.tag in {"th", "td"}]


def fsa_table(doc: Node) -> tuple[list[str], dict[str, list[str]]]:
    """(month codes of the columns, {row's Japanese label: its cells after the label})."""
    table = doc.find("table", class_="fsa")
    months = [th.attrs["data-month"] for th in table.find("thead").find_all("th") if "data-month" in th.attrs]
    rows = {}
    for tr in table.find("tbody").find_all("tr"):
        cells = cell_texts(tr)
        rows[cells[0].split(" ")[0].split("※")[0]] = cells[1:]
    return months, rows


def assert_self_contained(html: str) -> None:
    """Nothing that a browser would fetch: no URL at all, no script, no external
    resource, no CSS url() or @import."""
    assert "http://" not in html and "https://" not in html
    doc = parse(html)
    fetching = {"script", "link", "img", "iframe", "object", "embed", "video", "audio", "source", "image"}
    assert not [tag for tag in fetching if doc.find_all(tag)]
    style = "".join(node.text() for node in doc.find_all("style"))
    assert "url(" not in style and "@import" not in style

# ---------------------------------------------------------------- one configuration


def test_the_fsa_table_puts_each_month_in_its_own_column():
    metrics = one_config("baseline_2024", risk=False)
    metrics["monthly"] = [   # out of order on purpose: the table sorts by month
        {"month": "2025-05", "accesses": 5, "trades": 0, "sell_jpy": 0, "buy_jpy": 0, "attempts": 9},
        {"month": "2025-03", "accesses": 1234, "trades": 7, "sell_jpy": 18_400_000, "buy_jpy": 17_950_000,
         "attempts": 40},
        {"month": "2025-04", "accesses": 31, "trades": 22, "sell_jpy": 51_230_000, "buy_jpy": 49_800_500,
         "attempts": 95},
    ]
    months, rows = fsa_table(parse(render_report(metrics)))
    assert months == ["2025-03", "2025-04", "2025-05"]
    assert rows["不正アクセス件数"] == ["1,234", "31", "5", "1,270"]
    assert rows["不正取引件数"] == ["7", "22", "0", "29"]
    assert rows["売却金額"] == ["¥18,400,000", "¥51,230,000", "¥0", "¥69,630,000"]
    assert rows["買付金額"] == ["¥17,950,000", "¥49,800,500", "¥0", "¥67,750,500"]
    # One simulated firm: it counts in the months it had unauthorised trades.
    assert rows["不正取引が発生した証券会社数（社）"] == ["1", "1", "0", "1"]


def test_the_month_headers_are_japanese_with_english_beside():
    doc = parse(render_report(one_config()))
    headers = [" ".join(th.text().split()) for th in doc.find("table", class_="fsa").find_all("th")
               if "data-month" in th.attrs]
    assert headers == ["2025年3月 Mar 2025", "2025年4月 Apr 2025", "2025年5月 May 2025"]


def test_the_fsa_published_figures_are_labelled_as_the_fsas():
    doc = parse(render_report(one_config()))
    table = doc.find("table", class_="fsa-reference")
    assert "金融庁公表値" in table.find("caption").text()
    april = next(m for m in FSA_2025 if m.month == "2025-04")
    accesses = next(tr for tr in table.find_all("tr") if "不正アクセス件数" in tr.text())
    assert april.accesses in cell_texts(accesses)


def test_the_headline_gives_the_loss_and_the_stopped_share_first():
    html = render_report(one_config("jsda_2025_mandatory", risk=True))
    doc = parse(html)
    lead = doc.find("p", class_="lead").text()
    # 10% leak halved by the risk engine: 5% of ¥112,000,000 lost.
    assert lead == "jsda_2025_mandatory+risk: 損失 ¥5,600,000（試行 ¥112,000,000 の 95.0% を阻止）"
    assert html.index("損失 ¥5,600,000") < html.index('id="fsa"')


def test_outcome_by_attack_kind_lists_every_kind_with_its_money():
    metrics = one_config("baseline_2024", risk=False)
    doc = parse(render_report(metrics))
    rows = [cell_texts(tr) for tr in doc.find("table", class_="attacks").find("tbody").find_all("tr")]
    assert len(rows) == len(ATTACKS) + 1   # and the total
    phishing = rows[0]
    assert phishing[0] == "リアルタイムフィッシング Real-time phishing"
    assert phishing[-3:] == ["¥4,000,000", "¥3,600,000", "10.0%"]
    assert rows[-1][0] == "合計 Total"


def test_every_chart_is_an_svg_with_a_title():
    doc = parse(render_report(one_config()))
    charts = doc.find_all("svg")
    # months: counts, amounts; attacks: accounts, money; profit; two price paths
    assert len(charts) == 7
    ids = set()
    for svg in charts:
        first = next(c for c in svg.children if isinstance(c, Node))
        assert first.tag == "title" and first.text().strip()
        assert svg.attrs["role"] == "img"
        assert svg.attrs["aria-labelledby"].split()[0] == first.attrs["id"]
        ids.add(first.attrs["id"])
    assert len(ids) == len(charts)   # ids unique on the page


def test_the_price_chart_marks_the_peak_of_the_path():
    metrics = one_config()
    doc = parse(render_report(metrics))
    price_svg = next(s for s in doc.find_all("svg") if s.find("title").text().startswith("3350"))
    peak = max(p[1] for p in metrics["prices"]["3350"]["points"])
    assert f"¥{peak:,.1f}" in price_svg.find("circle").text()
    figure = next(f for f in doc.find_all("figure") if "3350" in f.text())
    assert f"高値 ¥{peak:,.1f}" in figure.find("figcaption").text()


def test_the_report_is_self_contained():
    assert_self_contained(render_report(one_config()))


def test_names_from_the_metrics_are_escaped():
    metrics = one_config(name="<script>alert(1)</script>")
    metrics["by_attack"]["<img src=x onerror=alert(2)>"] = metrics["by_attack"].pop("sim_swap")
    metrics["run"]["scenario"] = '"><b>bold</b>'
    html = render_report(metrics)
    assert "<script>alert(1)" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Kweichow &lt;Moutai&gt;" in html     # inside the SVG <title> too
    assert_self_contained(html)
    parse(html)


def test_the_same_metrics_give_the_same_bytes(tmp_path):
    a = write_report(tmp_path / "a", one_config())
    b = write_report(tmp_path / "b", copy.deepcopy(one_config()))
    assert a == tmp_path / "a" / "report.html"
    assert a.read_bytes() == b.read_bytes()
    other = one_config()
    other["monthly"][0]["accesses"] += 1
    assert render_report(other) != a.read_text(encoding="utf-8")


@pytest.mark.parametrize("missing", ["evaluation", "prices", "profit", "friction", "by_attack", "monthly"])
def test_a_missing_part_is_left_out_and_the_rest_still_renders(missing):
    metrics = one_config()
    del metrics[missing]
    doc = parse(render_report(metrics))
    ids = {s.attrs.get("id") for s in doc.find_all("section")}
    if missing in ("evaluation", "prices"):
        assert missing not in ids
    assert "fsa" in ids and "attacks" in ids


def test_metrics_with_only_a_configuration_render():
    html = render_report({"config": {"policy": "baseline_2024", "risk": False}})
    doc = parse(html)
    assert doc.find("p", class_="lead").text() == "baseline_2024: 損失 ¥0"
    assert "月別データがありません" in html and "No attack figures" in html
    assert doc.find_all("svg") == []


def test_the_evaluation_section_shows_the_evaluators_figures():
    metrics = one_config("email_otp_mandatory", risk=False)
    doc = parse(render_report(metrics))
    section = next(s for s in doc.find_all("section") if s.attrs.get("id") == "evaluation")
    values = [v.text() for v in section.find_all("span", class_="value")]
    overall = metrics["evaluation"]["overall"]
    assert values[0] == f"{overall['money_stopped_share'] * 100:.1f}%"
    assert values[4] == f"{metrics['evaluation']['friction']['frozen_per_10000_accounts']:.1f}"


# -------------------------------------------------------------------------- compare


def test_compare_has_one_row_per_configuration_with_a_link_to_its_report():
    metrics = compare()
    doc = parse(render_compare_report(metrics))
    rows = doc.find("table", class_="configs").find("tbody").find_all("tr")
    assert len(rows) == 10
    links = [tr.find("a").attrs["href"] for tr in rows]
    assert links[0] == "./baseline_2024/report.html"
    assert links[1] == "./baseline_2024+risk/report.html"
    assert [cell_texts(tr)[1] for tr in rows][:2] == ["¥100,800,000", "¥50,400,000"]
    assert cell_texts(rows[0])[2] == "基準 baseline"          # the baseline row
    assert cell_texts(rows[-1])[2] == "−100%"


def test_compare_headline_names_the_lowest_loss_with_its_change_vs_the_baseline():
    doc = parse(render_compare_report(compare()))
    items = [li.find("strong").text() for li in doc.find("section", class_="headline").find_all("li")]
    # jsda_2025_recommended loses nothing with and without the risk engine; the one
    # without asks fewer challenges.
    assert "損失最小: jsda_2025_recommended: 損失 ¥0 (−100% vs baseline_2024)" in items


def test_compare_headline_picks_the_most_loss_avoided_per_added_friction():
    def config(name, lost, challenges):
        metrics = one_config("email_otp_mandatory", risk=False, name=name)
        metrics["config"]["policy"] = name
        for data in metrics["by_attack"].values():
            data["money_lost_jpy"] = lost / len(ATTACKS)
        metrics["friction"].update(challenges=challenges, holds_denials=0, frozen_legit_accounts=0)
        return metrics

    metrics = {"run": {}, "configs": [
        config("baseline_2024", 70_000_000, 0),
        config("strict", 0, 70_000),          # saves ¥70m for 70,000 challenges: ¥1,000 each
        config("targeted", 35_000_000, 100),  # saves ¥35m for 100: ¥350,000 each
    ]}
    doc = parse(render_compare_report(metrics))
    first = doc.find("section", class_="headline").find("li").find("strong").text()
    assert first.startswith("摩擦あたりの阻止額が最大: targeted")
    assert "追加の摩擦1件あたり ¥350,000" in first


def test_compare_heatmap_colours_run_from_vermillion_to_blue():
    doc = parse(render_compare_report(compare()))
    table = doc.find("table", class_="heat")
    rows = table.find("tbody").find_all("tr")
    assert len(rows) == 10
    cells = [row.find_all("td") for row in rows]
    assert all(len(c) == len(ATTACKS) for c in cells)
    worst, best = cells[0][0], cells[-1][0]       # baseline 10% stopped; recommended 100%
    assert worst.text().startswith("10%") and best.text().startswith("100%")
    assert "#0072b2" in best.attrs["style"]
    red, _, blue = re.search(r"#(..)(..)(..)", worst.attrs["style"]).groups()
    assert int(red, 16) > int(blue, 16)


def test_compare_charts_are_svgs_with_titles_and_the_page_is_self_contained():
    html = render_compare_report(compare())
    doc = parse(html)
    titles = [svg.find("title").text() for svg in doc.find_all("svg")]
    assert titles == ["構成別 損失額 / Money lost by configuration",
                      "構成別 正規顧客への摩擦 / Friction per configuration",
                      "構成別 攻撃者の利益 / Attackers' profit by configuration"]
    assert_self_contained(html)


def test_compare_escapes_names_and_quotes_links():
    metrics = compare(("baseline_2024",))
    metrics["configs"][1]["config"]["name"] = "<script>x</script>"
    html = render_compare_report(metrics)
    assert "<script>x" not in html
    doc = parse(html)
    hrefs = [a.attrs["href"] for a in doc.find("table", class_="configs").find_all("a")]
    # "/" is quoted too: a name never reaches into another folder.
    assert hrefs[1] == "./%3Cscript%3Ex%3C%2Fscript%3E/report.html"


def test_compare_without_evaluations_or_configurations_still_renders(tmp_path):
    metrics = compare()
    for c in metrics["configs"]:
        del c["evaluation"], c["prices"]
    first = write_compare_report(tmp_path / "a", metrics).read_bytes()
    assert first == write_compare_report(tmp_path / "b", copy.deepcopy(metrics)).read_bytes()
    assert "初回注文前に阻止" not in first.decode()
    empty = parse(render_compare_report({"run": {}, "configs": []}))
    assert empty.find_all("svg") == []


# --------------------------------------------------------------------------- charts


def test_bar_lengths_follow_the_values():
    svg = bar_chart(key="k", title="t", categories=["a", "b"], series=[Series("s", [1, 3], "#000")],
                    axis_format=str)
    heights = [float(h) for h in re.findall(r'<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)"', svg)]
    assert heights[1] == pytest.approx(3 * heights[0], rel=0.01)
    wide = bar_chart(key="k", title="t", categories=["a", "b"], series=[Series("s", [1, 3], "#000")],
                     axis_format=str, horizontal=True)
    widths = [float(w) for w in re.findall(r'<rect x="[^"]+" y="[^"]+" width="([^"]+)"', wide)]
    assert widths[1] == pytest.approx(3 * widths[0], rel=0.01)


def test_stacked_bars_sit_on_each_other():
    svg = bar_chart(key="k", title="t", categories=["a"], stacked=True, axis_format=str,
                    series=[Series("x", [2], "#111"), Series("y", [2], "#222")])
    rects = re.findall(r'<rect x="([^"]+)" y="([^"]+)" width="[^"]+" height="([^"]+)" fill="(#\d+)"><title>',
                       svg)   # the bars (the legend's swatches have no <title>)
    (_, y1, h1, _), (_, y2, h2, _) = rects
    assert float(h1) == pytest.approx(float(h2))
    assert float(y2) + float(h2) == pytest.approx(float(y1), abs=0.2)   # y on top of x


def test_line_chart_text_is_escaped():
    svg = line_chart(key="p", title="<t>", series=[Series("<s>", [1, 2, 1], "#000")], x_ticks=[(0, "<d>")],
                     axis_format=str)
    assert "<t>" not in svg and "&lt;t&gt;" in svg and "&lt;d&gt;" in svg
