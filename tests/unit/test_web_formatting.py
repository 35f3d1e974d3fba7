"""The dashboard's display helpers: waiting times, percentages and the chart geometry."""

from __future__ import annotations

import pytest

from crisis_triage.web._charts import line_chart
from crisis_triage.web._pages_auth import safe_next
from crisis_triage.web._render import minutes_text, percent, waited


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-3, "0s"),
        (45.9, "45s"),
        (61, "1m 01s"),
        (3600 + 125, "1h 02m"),
        (2 * 86400 + 7200, "2d 2h"),
    ],
)
def test_waiting_times_read_at_a_glance(seconds: float, shown: str) -> None:
    assert waited(seconds) == shown


def test_minutes_and_percentages_say_dash_when_unknown() -> None:
    assert minutes_text(None) == "–" and percent(None) == "–"
    assert minutes_text(2.5) == "2m 30s"
    assert percent(0.6667) == "67%" and percent(0.6667, 1) == "66.7%"


def test_chart_scales_to_a_round_maximum_and_leaves_gaps() -> None:
    chart = line_chart(["d1", "d2", "d3"], [("Crises", "line-crisis", [4.0, None, 13.0])])
    assert [label for _, label in chart.y_ticks] == ["0 min", "10 min", "20 min"]
    [series] = chart.series
    assert len(series.points) == 2  # the missing day is a gap, not a zero
    (x1, y1), (x2, y2) = series.points
    assert x1 < x2 and y2 < y1  # later and higher is further right and further up
    assert not chart.empty
    assert line_chart(["d1"], [("Crises", "c", [None])]).empty


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/cases/3", "/cases/3"),
        ("//evil.example", "/queue"),
        ("https://evil.example", "/queue"),
        ("/\\evil.example", "/queue"),
        ("", "/queue"),
    ],
)
def test_after_login_only_local_paths_are_followed(target: str, kept: str) -> None:
    assert safe_next(target) == kept
