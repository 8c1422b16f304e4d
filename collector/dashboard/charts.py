"""SVG charts as markup: columns and a line for trends, horizontal bars for splits.

Pure functions of their data. Horizontal positions are percentages of the chart's
width and vertical ones are pixels, so the charts fill any screen without a viewBox
scaling their text down on a phone. No style attributes: the page's CSP allows its
one stylesheet only, which colours the classes used here. Each chart is one image
for assistive technology (role="img" and a label that states its numbers); every
mark also has a <title> that browsers show on hover.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from collector.dashboard import numbers

BAR_ROW = 44  # pixels per bar: its label and value on a line, the bar below
BAR_HEIGHT = 16
PLOT_TOP = 18  # room above the top grid line for its tick label
PLOT_HEIGHT = 130
AXIS_ROOM = 24  # below the plot, for the period labels
MOST_AXIS_LABELS = 5  # more would overlap on a phone


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float  # sets the bar's length
    text: str  # the value as the reader sees it, e.g. "12 (40.0%)"


@dataclass(frozen=True, slots=True)
class Point:
    """One period of a trend."""

    label: str  # short, for the axis: "5 Nov"
    title: str  # the whole story of the point: "2026-11-05: 12 ratings"
    value: float | None  # None: nothing to show for this period


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _open(css_class: str, height: int, title: str, description: str) -> Markup:
    return Markup(
        '<svg class="chart {}" width="100%" height="{}" role="img" aria-label="{}">'
        "<title>{}</title>"
    ).format(css_class, height, description, title)


def bar_chart(title: str, bars: Sequence[Bar]) -> Markup:
    """Horizontal bars, the largest value the full width. Each bar's label (left) and
    value (right) share the line above it, so that both fit on a phone."""
    largest = max((bar.value for bar in bars), default=0.0) or 1.0
    description = f"{title}: " + "; ".join(f"{bar.label}: {bar.text}" for bar in bars)
    parts = [_open("bars", BAR_ROW * len(bars), title, description)]
    for index, bar in enumerate(bars):
        top = index * BAR_ROW
        parts.append(
            Markup(
                '<g><title>{label}: {text}</title><text class="label" x="0" y="{baseline}">'
                '{label}</text><text class="value" x="100%" y="{baseline}" text-anchor="end">'
                '{text}</text><rect class="track" x="0" y="{bar_top}" width="100%" '
                'height="{height}"/><rect class="bar" x="0" y="{bar_top}" width="{width}%" '
                'height="{height}"/></g>'
            ).format(
                label=bar.label,
                text=bar.text,
                baseline=top + 15,
                bar_top=top + 21,
                width=_number(100 * bar.value / largest),
                height=BAR_HEIGHT,
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above value (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return float(next(step * power for step in (1, 2, 5, 10) if step * power >= value))


def axis_step(count: int) -> int:
    """A trend of `count` periods labels every axis_step-th one."""
    return max(1, math.ceil(count / MOST_AXIS_LABELS))


def _axis_labels(points: Sequence[Point]) -> list[Markup]:
    """Every n-th period's label under its slot; the outermost ones kept inside."""
    slot = 100 / len(points)
    step = axis_step(len(points))
    labels = []
    for index in range(0, len(points), step):
        centre = (index + 0.5) * slot
        anchor = "start" if centre < 10 else "end" if centre > 90 else "middle"
        x = index * slot if anchor == "start" else (index + 1) * slot if anchor == "end" else centre
        labels.append(
            Markup('<text class="tick" x="{}%" y="{}" text-anchor="{}">{}</text>').format(
                _number(x), PLOT_TOP + PLOT_HEIGHT + AXIS_ROOM - 6, anchor, points[index].label
            )
        )
    return labels


def _grid(ticks: Sequence[int], low: float, high: float) -> list[Markup]:
    return [
        Markup('<line class="grid" x1="0" x2="100%" y1="{y}" y2="{y}"/>').format(
            y=_number(_y(tick, low, high))
        )
        for tick in ticks
    ]


def _tick_labels(ticks: Sequence[int], low: float, high: float) -> list[Markup]:
    """Each grid line's value just above its left end, drawn over the marks (the
    stylesheet gives them a halo)."""
    return [
        Markup('<text class="tick" x="0" y="{}">{}</text>').format(
            _number(_y(tick, low, high) - 4), numbers.count(tick)
        )
        for tick in ticks
    ]


def _y(value: float, low: float, high: float) -> float:
    return PLOT_TOP + PLOT_HEIGHT * (1 - (value - low) / (high - low))


def column_chart(title: str, description: str, points: Sequence[Point]) -> Markup:
    """Columns from zero, one per period; a missing value draws no column."""
    top = nice_ceiling(max((point.value or 0 for point in points), default=0))
    parts = [_open("columns", PLOT_TOP + PLOT_HEIGHT + AXIS_ROOM, title, description)]
    ticks = (0, int(top // 2), int(top)) if top >= 2 else (0, int(top))
    parts += _grid(ticks, 0, top)
    slot = 100 / max(len(points), 1)
    for index, point in enumerate(points):
        if not point.value:
            continue
        y = _y(point.value, 0, top)
        parts.append(
            Markup(
                '<rect class="bar" x="{}%" y="{}" width="{}%" height="{}"><title>{}</title></rect>'
            ).format(
                _number((index + 0.15) * slot),
                _number(y),
                _number(slot * 0.7),
                _number(PLOT_TOP + PLOT_HEIGHT - y),
                point.title,
            )
        )
    parts += _tick_labels(ticks, 0, top)
    parts += _axis_labels(points) if points else []
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def line_chart(
    title: str, description: str, points: Sequence[Point], low: float = 1.0, high: float = 5.0
) -> Markup:
    """A line through the periods' values on a fixed scale; gaps break the line."""
    parts = [_open("line", PLOT_TOP + PLOT_HEIGHT + AXIS_ROOM, title, description)]
    ticks = range(int(low), int(high) + 1)
    parts += _grid(ticks, low, high)
    slot = 100 / max(len(points), 1)
    previous: tuple[float, float] | None = None
    dots = []
    for index, point in enumerate(points):
        if point.value is None:
            previous = None
            continue
        x, y = (index + 0.5) * slot, _y(point.value, low, high)
        if previous is not None:
            parts.append(
                Markup('<line class="trend" x1="{}%" y1="{}" x2="{}%" y2="{}"/>').format(
                    _number(previous[0]), _number(previous[1]), _number(x), _number(y)
                )
            )
        previous = (x, y)
        # Dots after every segment, so that no line crosses over a dot.
        dots.append(
            Markup('<circle class="dot" cx="{}%" cy="{}" r="4"><title>{}</title></circle>').format(
                _number(x), _number(y), point.title
            )
        )
    parts += dots
    parts += _tick_labels(ticks, low, high)
    parts += _axis_labels(points) if points else []
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
