"""A small server-side line chart (inline SVG drawn by the template): geometry only here."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    name: str
    css_class: str
    points: list[tuple[float, float]]  # (x, y) in SVG units, for days that have a value
    values: list[float | None]


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    bottom: int
    x_labels: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    series: list[Series]
    empty: bool


def _nice_max(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= value))


def line_chart(
    labels: list[str],
    named_values: list[tuple[str, str, list[float | None]]],
    *,
    width: int = 640,
    height: int = 220,
    unit: str = "min",
) -> LineChart:
    """One line per ``(name, css class, values)``; ``None`` values leave a gap."""
    left, right, top, bottom = 48, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    found = [v for _, _, values in named_values for v in values if v is not None]
    y_max = _nice_max(max(found, default=0.0))
    step = plot_w / max(1, len(labels) - 1)

    def x(i: int) -> float:
        return round(left + i * step, 1)

    def y(v: float) -> float:
        return round(top + plot_h * (1 - v / y_max), 1)

    series = [
        Series(
            name,
            css,
            [(x(i), y(v)) for i, v in enumerate(values) if v is not None],
            values,
        )
        for name, css, values in named_values
    ]
    every = max(1, math.ceil(len(labels) / 7))
    return LineChart(
        width=width,
        height=height,
        left=left,
        bottom=height - bottom,
        x_labels=[(x(i), label) for i, label in enumerate(labels) if i % every == 0],
        y_ticks=[(y(y_max * f), f"{y_max * f:g} {unit}") for f in (0, 0.5, 1)],
        series=series,
        empty=not found,
    )
