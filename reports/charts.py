"""Charts as inline SVG, drawn here (no plotting library): crisp in print, searchable labels.

Geometry is float (it is only drawing); every value label is formatted from exact
minor units by :mod:`reports.formatting`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup, escape

from reports.formatting import Money, compact_major, format_money
from transforms.money import exponent

INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
BAR = "#b9cbe4"
BAR_CURRENT = "#1d4e89"
BAR_NEGATIVE = "#f0b4b4"
BAR_NEGATIVE_CURRENT = "#b42318"
AVERAGE = "#d97706"


@dataclass(frozen=True)
class TrendPoint:
    label: str  # "W46"
    sublabel: str  # "11/9"
    value_minor: int | None  # None = no data that week (no bar)
    current: bool = False


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    low, high = min(low, 0.0), max(high, 0.0)
    if high == low:
        high = low + 1
    step = _nice_step((high - low) / count)
    start = math.floor(low / step) * step
    stop = math.ceil(high / step) * step
    ticks, value = [], start
    while value <= stop + step / 1000:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _text(x: float, y: float, body: str, *, size: float = 9, fill: str = MUTED, anchor: str = "middle",
          weight: int = 400) -> str:
    bold = ' font-weight="700"' if weight >= 600 else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}" text-anchor="{anchor}"{bold}>'
            f'{escape(body)}</text>')


def trend_chart(points: list[TrendPoint], currency: str, lang: str, *, font: str,
                width: int = 700, height: int = 172) -> Markup:
    """A bar chart of weekly net revenue: current week dark with its value on top, a dashed
    average line, y axis in compact units (万 / k), x axis by ISO week."""
    left, right, top, bottom = 52, 12, 22, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    scale = 10 ** exponent(currency)
    known = [p.value_minor for p in points if p.value_minor is not None]
    values = [v / scale for v in known] or [0.0]
    ticks = _ticks(min(values), max(values))
    low, high = ticks[0], ticks[-1]

    def y_of(v: float) -> float:
        return top + plot_h * (high - v) / (high - low)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img"><g font-family="{escape(font)}">'
    ]
    for tick in ticks:
        y = y_of(tick)
        stroke = "#9ca3af" if tick == 0 else GRID
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{stroke}" stroke-width="0.8"/>')
        parts.append(_text(left - 6, y + 3, compact_major(Decimal(str(tick)), lang), anchor="end"))
    slot = plot_w / max(len(points), 1)
    bar_w = min(slot * 0.62, 40)
    zero_y = y_of(0)
    for i, point in enumerate(points):
        cx = left + slot * (i + 0.5)
        if point.value_minor is not None:
            v = point.value_minor / scale
            y = y_of(v)
            negative = v < 0
            colour = (BAR_NEGATIVE_CURRENT if point.current else BAR_NEGATIVE) if negative else (
                BAR_CURRENT if point.current else BAR)
            y0, h = (zero_y, y - zero_y) if negative else (y, zero_y - y)
            parts.append(f'<rect x="{cx - bar_w / 2:.1f}" y="{y0:.1f}" width="{bar_w:.1f}" height="{max(h, 0.6):.1f}" '
                         f'rx="1.5" fill="{colour}"/>')
            if point.current:
                label = format_money(Money(point.value_minor, currency), lang)
                anchor, lx = "middle", cx
                if cx + len(label) * 3 > width - right:
                    anchor, lx = "end", cx + bar_w / 2
                ly = (y0 + h + 11) if negative else (y - 5)
                parts.append(_text(lx, ly, label, size=9.5, fill=INK, anchor=anchor, weight=700))
        weight, fill = (700, INK) if point.current else (400, MUTED)
        parts.append(_text(cx, height - bottom + 14, point.label, size=9, fill=fill, weight=weight))
        parts.append(_text(cx, height - bottom + 26, point.sublabel, size=8, fill=MUTED))
    if len(known) >= 2:
        average = sum(known) / len(known) / scale
        y = y_of(average)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{AVERAGE}" '
                     f'stroke-width="1" stroke-dasharray="4 3"/>')
    parts.append("</g></svg>")
    return Markup("".join(parts))


def sparkline(values: list[int | None], *, width: int = 72, height: int = 18, colour: str = BAR_CURRENT) -> Markup:
    """A tiny line of recent weeks for a leaderboard row; the last point is dotted."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return Markup("")
    lo = min(v for _, v in known)
    hi = max(v for _, v in known)
    span = (hi - lo) or 1
    step = (width - 4) / max(len(values) - 1, 1)
    pts = [(2 + i * step, height - 2 - (height - 4) * (v - lo) / span) for i, v in known]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    last_x, last_y = pts[-1]
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.2" stroke-linejoin="round"/>'
        f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="1.8" fill="{colour}"/></svg>'
    )
