"""WCAG AA: every text/background colour pair the dashboard's stylesheet uses has a contrast
ratio of at least 4.5:1 (3:1 for focus rings and other non-text marks), and no colour is
written outside the variables in :root, so this list covers them all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "src/crisis_triage/web/static/app.css"

# (text, background) as the stylesheet combines them.
TEXT_PAIRS = [
    ("--text", "--bg"),
    ("--text", "--surface"),
    ("--muted", "--bg"),
    ("--muted", "--surface"),
    ("--accent", "--surface"),
    ("--accent", "--bg"),
    ("--accent-text", "--accent"),
    ("--accent-text", "--accent-hover"),
    ("--topbar-text", "--topbar-bg"),
    ("--topbar-muted", "--topbar-bg"),
    ("--crisis-text", "--crisis"),
    ("--crisis-ink", "--crisis-tint"),
    ("--crisis-ink", "--surface"),
    ("--text", "--crisis-tint"),
    ("--muted", "--crisis-tint"),
    ("--review-text", "--review"),
    ("--review-ink", "--review-tint"),
    ("--review-ink", "--surface"),
    ("--routine-ink", "--routine"),
    ("--chip-ink", "--chip-bg"),
    ("--mark-ink", "--mark-bg"),
    ("--ok-ink", "--ok-tint"),
    ("--warn-ink", "--warn-tint"),
    ("--error-ink", "--error-tint"),
    ("--text", "--new-row"),
    ("--muted", "--new-row"),
]
# Non-text marks (focus ring, chart lines, row stripes) need 3:1 against what they sit on.
MARK_PAIRS = [
    ("--focus", "--surface"),
    ("--focus", "--bg"),
    ("--crisis", "--surface"),
    ("--crisis", "--crisis-tint"),
    ("--review", "--surface"),
    ("--line-rest", "--surface"),
]


def _variables() -> dict[str, str]:
    css = CSS.read_text(encoding="utf-8")
    root = re.search(r":root\s*{(.*?)}", css, re.S)
    assert root, "app.css has no :root block"
    return dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{6})\s*;", root.group(1)))


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_known_values() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic fail


@pytest.mark.parametrize(("fg", "bg"), TEXT_PAIRS)
def test_text_pairs_reach_aa(fg: str, bg: str) -> None:
    colours = _variables()
    ratio = contrast(colours[fg], colours[bg])
    assert ratio >= 4.5, f"{fg} on {bg}: {ratio:.2f}:1"


@pytest.mark.parametrize(("fg", "bg"), MARK_PAIRS)
def test_marks_reach_three_to_one(fg: str, bg: str) -> None:
    colours = _variables()
    ratio = contrast(colours[fg], colours[bg])
    assert ratio >= 3.0, f"{fg} on {bg}: {ratio:.2f}:1"


def test_no_colour_is_written_outside_root() -> None:
    css = CSS.read_text(encoding="utf-8")
    outside = re.sub(r":root\s*{.*?}", "", css, count=1, flags=re.S)
    outside = re.sub(r"/\*.*?\*/", "", outside, flags=re.S)
    literals = re.findall(r"#[0-9a-fA-F]{3,8}\b|rgba?\(|hsla?\(", outside)
    assert literals == [], "use a :root variable (and add its pairs above)"
