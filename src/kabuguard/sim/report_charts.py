"""Inline SVG charts for the simulator's HTML reports (:mod:`kabuguard.sim.report`).

Written by hand rather than with a charting library: pygal 3.1.3, the maintained SVG
charting package, stamps every chart with a random ``uuid4`` id and today's date and
links its tooltip script from the web, so its output is neither byte-stable nor
self-contained without rewriting it afterwards; it also has no ``<title>``/``role``
for screen readers. These few functions draw bars and lines with native ``<title>``
tooltips (no script), take their colours from the caller and their text style from the
page's CSS, and give the same bytes for the same input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Okabe & Ito (2008), "Color Universal Design": told apart with every common colour
# vision deficiency, and in greyscale print by lightness.
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#7F7F7F"
PALETTE = (BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, GREY)

FONT_PX = 12          # matches `.chart text` in the report's CSS
LEGEND_ROW = 20
Formatter = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class Series:
    """One named run of values, drawn in ``colour``."""

    name: str
    values: Sequence[float]
    colour: str


def nice_ticks(lo: float, hi: float, count: int = 5, *, whole: bool = False) -> list[float]:
    """Round axis ticks (steps of 1, 2, 2.5 or 5 x 10^k) covering ``lo``..``hi``;
    ``whole`` keeps the step at 1 or more (an axis of counts has no half accounts).

    >>> nice_ticks(0, 93)
    [0, 20, 40, 60, 80, 100]
    >>> nice_ticks(-30, 120)
    [-50, 0, 50, 100, 150]
    >>> nice_ticks(0, 2), nice_ticks(0, 2, whole=True), nice_ticks(0, 0, whole=True)
    ([0, 0.5, 1, 1.5, 2], [0, 1, 2], [0, 1])
    """
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1, math.ceil(step))
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    # round() keeps 0.1 * 3 from printing as 0.30000000000000004; int() keeps "20" not "20.0".
    ticks = [round(i * step, 10) for i in range(first, last + 1)]
    return [int(t) if float(t).is_integer() else t for t in ticks]


def text_width(text: str, size: float = FONT_PX) -> float:
    """Rough rendered width: full-width (CJK) characters are one em, others about 0.6.

    >>> text_width("ab"), text_width("株価")
    (14.4, 24.0)
    """
    return round(sum(1.0 if ord(ch) >= 0x2E80 else 0.6 for ch in text) * size, 1)


def downsample(points: Sequence[tuple[str, float]], limit: int) -> list[tuple[str, float]]:
    """At most about ``limit`` points, keeping each bucket's lowest and highest so a
    pump's spike survives (a plain stride would step over it).

    >>> downsample([(str(i), float(v)) for i, v in enumerate([1, 2, 9, 3, 1, 1, 4, 1])], 4)
    [('0', 1.0), ('2', 9.0), ('4', 1.0), ('6', 4.0), ('7', 1.0)]
    """
    if len(points) <= limit:
        return list(points)
    buckets = max(1, limit // 2)
    size = len(points) / buckets
    kept: list[int] = []
    for b in range(buckets):
        chunk = range(int(b * size), int((b + 1) * size))
        low = min(chunk, key=lambda i: points[i][1])
        high = max(chunk, key=lambda i: points[i][1])
        kept.extend(sorted({low, high}))
    if kept[-1] != len(points) - 1:
        kept.append(len(points) - 1)   # the last price is the one the reader asks about
    return [points[i] for i in kept]


def _n(x: float) -> str:
    """A coordinate with one decimal, no trailing ".0": short and byte-stable."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _slug(key: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-") or "chart"


def _truncate(text: str, max_px: float) -> str:
    if text_width(text) <= max_px:
        return text
    while text and text_width(text + "…") > max_px:
        text = text[:-1]
    return text + "…"


class _Svg:
    """Collects the elements of one chart and wraps them in an accessible <svg>."""

    def __init__(self, key: str, title: str, desc: str) -> None:
        self.key, self.title, self.desc = _slug(key), title, desc
        self.parts: list[str] = []

    def add(self, fragment: str) -> None:
        self.parts.append(fragment)

    def rect(self, x: float, y: float, w: float, h: float, fill: str, tip: str) -> None:
        self.add(f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(max(w, 0))}" height="{_n(max(h, 0))}" '
                 f'fill="{escape(fill)}"><title>{escape(tip)}</title></rect>')

    def line(self, x1: float, y1: float, x2: float, y2: float, cls: str) -> None:
        self.add(f'<line class="{cls}" x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}"/>')

    def text(self, x: float, y: float, text: str, *, anchor: str = "start", cls: str = "",
             rotate: float | None = None) -> None:
        klass = f' class="{cls}"' if cls else ""
        turn = f' transform="rotate({_n(rotate)} {_n(x)} {_n(y)})"' if rotate is not None else ""
        self.add(f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}"{klass}{turn}>{escape(text)}</text>')

    def legend(self, series: Sequence[Series], width: float, x0: float = 0) -> float:
        """Swatches and names, wrapped to ``width``; returns the height used."""
        if len(series) < 2:
            return 0
        x, y = x0, 0.0
        for s in series:
            item = 18 + text_width(s.name) + 16
            if x > x0 and x + item > width:
                x, y = x0, y + LEGEND_ROW
            self.add(f'<rect x="{_n(x)}" y="{_n(y + 3)}" width="12" height="12" fill="{escape(s.colour)}"/>')
            self.text(x + 18, y + 13, s.name, cls="legend")
            x += item
        return y + LEGEND_ROW + 6

    def render(self, width: float, height: float) -> Markup:
        head = (f'<svg class="chart" viewBox="0 0 {_n(width)} {_n(height)}" width="{_n(width)}" '
                f'height="{_n(height)}" role="img" aria-labelledby="{self.key}-title {self.key}-desc">'
                f'<title id="{self.key}-title">{escape(self.title)}</title>'
                f'<desc id="{self.key}-desc">{escape(self.desc)}</desc>')
        return Markup(head + "".join(self.parts) + "</svg>")  # noqa: S704 - every text above is escaped


def _bounds(series: Sequence[Series], stacked: bool) -> tuple[float, float]:
    if stacked:
        count = max((len(s.values) for s in series), default=0)
        highs = [sum(max(s.values[i], 0) for s in series if i < len(s.values)) for i in range(count)]
        lows = [sum(min(s.values[i], 0) for s in series if i < len(s.values)) for i in range(count)]
        return min([0, *lows]), max([0, *highs])
    values = [v for s in series for v in s.values]
    return min([0, *values]), max([0, *values])


@dataclass(frozen=True, slots=True)
class _Bars:
    """What both bar layouts share: the data, its scale and how to label it."""

    categories: Sequence[str]
    series: Sequence[Series]
    ticks: list[float]
    axis_format: Formatter
    value_format: Formatter
    stacked: bool

    @property
    def lo(self) -> float:
        return self.ticks[0]

    @property
    def hi(self) -> float:
        return self.ticks[-1]

    @property
    def per_band(self) -> int:
        return 1 if self.stacked else max(len(self.series), 1)

    def segments(self, ci: int) -> Iterator[tuple[int, Series, float, float]]:
        """(series index, series, value, start) of each bar of category ``ci``; a stacked
        bar starts where the previous one of its sign ended, a grouped one at zero."""
        pos = neg = 0.0
        for si, s in enumerate(self.series):
            v = s.values[ci] if ci < len(s.values) else 0
            if not self.stacked:
                yield si, s, v, 0.0
            elif v >= 0:
                yield si, s, v, pos
                pos += v
            else:
                yield si, s, v, neg
                neg += v

    def total(self, ci: int) -> float:
        return sum(s.values[ci] for s in self.series if ci < len(s.values))

    def tip(self, cat: str, s: Series, v: float) -> str:
        label = f"{cat} — {s.name}" if len(self.series) > 1 else cat
        return f"{label}: {self.value_format(v)}"


def bar_chart(*, key: str, title: str, categories: Sequence[str], series: Sequence[Series],
              axis_format: Formatter, value_format: Formatter | None = None, stacked: bool = False,
              horizontal: bool = False, whole: bool = False, desc: str = "", width: int = 720) -> Markup:
    """Grouped or stacked bars, one group per category, as an inline <svg> whose
    ``<title>`` is ``title``; every bar carries its value in a hover ``<title>``.
    ``horizontal`` puts categories down the left, for long names; ``whole`` keeps the
    axis on whole numbers (counts)."""
    svg = _Svg(key, title, desc)
    bars = _Bars(categories, series, nice_ticks(*_bounds(series, stacked), whole=whole), axis_format,
                 value_format or axis_format, stacked)
    legend_h = svg.legend(series, width)
    if horizontal:
        return _horizontal(svg, bars, width, legend_h)
    return _vertical(svg, bars, width, legend_h)


def _horizontal(svg: _Svg, bars: _Bars, width: int, legend_h: float) -> Markup:
    label_w = min(max((text_width(c) for c in bars.categories), default=0) + 12, 260)
    right = max(text_width(bars.value_format(bars.hi)), text_width(bars.axis_format(bars.hi)) / 2) + 14
    plot_w = width - label_w - right
    bar_h = 18 if bars.per_band == 1 else 13
    band = bars.per_band * bar_h + 12
    top = legend_h + 4
    bottom = top + band * len(bars.categories)
    height = bottom + 28

    def sx(v: float) -> float:
        return label_w + plot_w * (v - bars.lo) / (bars.hi - bars.lo)

    for t in bars.ticks:
        svg.line(sx(t), top, sx(t), bottom, "grid")
        svg.text(sx(t), height - 8, bars.axis_format(t), anchor="middle", cls="tick")
    for ci, cat in enumerate(bars.categories):
        y0 = top + ci * band + 6
        svg.text(label_w - 8, y0 + bars.per_band * bar_h / 2 + 4, _truncate(cat, label_w - 12),
                 anchor="end", cls="cat")
        for si, s, v, start in bars.segments(ci):
            y = y0 + (0 if bars.stacked else si * bar_h)
            left = start + min(v, 0)
            svg.rect(sx(left), y + 1, sx(left + abs(v)) - sx(left), bar_h - 2, s.colour, bars.tip(cat, s, v))
            if not bars.stacked:
                svg.text(sx(max(v, 0)) + 4, y + bar_h - 4, bars.value_format(v), cls="value")
        if bars.stacked and bars.series:
            end = sum(max(s.values[ci], 0) for s in bars.series if ci < len(s.values))
            svg.text(sx(end) + 4, y0 + bar_h - 4, bars.value_format(bars.total(ci)), cls="value")
    svg.line(sx(0), top, sx(0), bottom, "axis")
    return svg.render(width, height)


def _vertical(svg: _Svg, bars: _Bars, width: int, legend_h: float) -> Markup:
    left = max(text_width(bars.axis_format(t)) for t in bars.ticks) + 12
    top, plot_h = legend_h + 8, 220
    plot_w = width - left - 12
    band = plot_w / max(len(bars.categories), 1)
    widest = max((text_width(c) for c in bars.categories), default=0)
    rotate = widest > band - 4     # labels wider than their column turn, rather than overprint
    height = top + plot_h + ((widest * 0.6 + 18) if rotate else 24)

    def sy(v: float) -> float:
        return top + plot_h * (1 - (v - bars.lo) / (bars.hi - bars.lo))

    for t in bars.ticks:
        svg.line(left, sy(t), left + plot_w, sy(t), "grid")
        svg.text(left - 6, sy(t) + 4, bars.axis_format(t), anchor="end", cls="tick")
    inner = band * 0.72
    bar_w = inner / bars.per_band
    for ci, cat in enumerate(bars.categories):
        x0 = left + ci * band + (band - inner) / 2
        for si, s, v, start in bars.segments(ci):
            y1, y2 = sorted((sy(start), sy(start + v)))
            x = x0 + (0 if bars.stacked else si * bar_w)
            svg.rect(x, y1, bar_w - (0 if bars.stacked else 1), y2 - y1, s.colour, bars.tip(cat, s, v))
        cx, cy = left + (ci + 0.5) * band, top + plot_h + 16
        if rotate:
            svg.text(cx + 4, cy - 4, cat, anchor="end", cls="cat", rotate=-40)
        else:
            svg.text(cx, cy, cat, anchor="middle", cls="cat")
    svg.line(left, sy(0), left + plot_w, sy(0), "axis")
    return svg.render(width, height)


def line_chart(*, key: str, title: str, series: Sequence[Series], x_ticks: Sequence[tuple[int, str]],
               axis_format: Formatter, value_format: Formatter | None = None, point_labels:
               Sequence[str] = (), desc: str = "", width: int = 720, height: int = 240) -> Markup:
    """Lines over evenly spaced points (index ``i`` of every series at the same x), with
    ``x_ticks`` as (index, label) and the highest point of each line marked. The y axis
    does not start at zero: a price path is read for its moves."""
    value_format = value_format or axis_format
    svg = _Svg(key, title, desc)
    values = [v for s in series for v in s.values]
    lo, hi = (min(values), max(values)) if values else (0, 1)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1
    ticks = nice_ticks(lo - pad, hi + pad)
    lo, hi = ticks[0], ticks[-1]
    legend_h = svg.legend(series, width)
    tick_w = max(text_width(axis_format(t)) for t in ticks)
    left, right, top, bottom = tick_w + 12, 16, legend_h + 10, 26
    plot_w, plot_h = width - left - right, height - legend_h - 10 - bottom
    count = max((len(s.values) for s in series), default=0)

    def sx(i: float) -> float:
        return left + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def sy(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    for t in ticks:
        svg.line(left, sy(t), left + plot_w, sy(t), "grid")
        svg.text(left - 6, sy(t) + 4, axis_format(t), anchor="end", cls="tick")
    last_x = -1e9
    for i, label in x_ticks:
        x = sx(i)
        svg.line(x, top + plot_h, x, top + plot_h + 4, "axis")
        if x - last_x >= text_width(label) + 8:    # skip a label that would overprint
            svg.text(x, top + plot_h + 17, label, anchor="middle", cls="tick")
            last_x = x
    svg.line(left, top + plot_h, left + plot_w, top + plot_h, "axis")
    for s in series:
        if not s.values:
            continue
        path = " ".join(f"{'M' if i == 0 else 'L'}{_n(sx(i))},{_n(sy(v))}" for i, v in enumerate(s.values))
        svg.add(f'<path d="{path}" fill="none" stroke="{escape(s.colour)}" stroke-width="2" '
                f'stroke-linejoin="round"><title>{escape(s.name)}</title></path>')
        peak = max(range(len(s.values)), key=lambda i: s.values[i])
        when = point_labels[peak] if peak < len(point_labels) else ""
        svg.add(f'<circle cx="{_n(sx(peak))}" cy="{_n(sy(s.values[peak]))}" r="4" fill="{escape(s.colour)}">'
                f'<title>{escape(f"{s.name} {when} 高値 / peak: {value_format(s.values[peak])}".strip())}'
                f'</title></circle>')
        anchor = "end" if sx(peak) > left + plot_w * 0.8 else "start"
        offset = -8 if anchor == "end" else 8
        svg.text(sx(peak) + offset, max(sy(s.values[peak]) - 6, top + 10), value_format(s.values[peak]),
                 anchor=anchor, cls="value")
    return svg.render(width, height)
