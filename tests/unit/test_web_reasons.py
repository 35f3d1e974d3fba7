"""Reasons taken apart for the case page, and matched terms found in the raw message."""

from __future__ import annotations

import pytest

from crisis_triage.detector import Explanation
from crisis_triage.lexicon import LexiconHit
from crisis_triage.triage import highlight_spans, parse_reasons


def test_the_detectors_own_reason_strings_parse_back() -> None:
    explanation = Explanation(
        probability=0.9,
        flagged=True,
        threshold=0.1,
        categories=("SI",),
        lexicon_hits=(
            LexiconHit("si_kill_myself", "SI", "kill myself", 0, 11),
            LexiconHit("si_suicide", "SI", "suicide", 20, 27, "negation_no", "negated"),
            LexiconHit("hi_kill", "HI", "kill him", 30, 38, annotations=(("hist", "historical"),)),
        ),
        top_ngrams=(("want to", 1.25), ("appointment", -0.5)),
        gate_passed=True,
    )
    reasons = parse_reasons([*explanation.reasons(), "model failed: RuntimeError"])
    assert [(r.kind, r.term, r.category, r.counts) for r in reasons[:3]] == [
        ("lexicon", "kill myself", "SI", True),
        ("lexicon", "suicide", "SI", False),
        ("lexicon", "kill him", "HI", True),
    ]
    assert reasons[1].context == "(negated: negation_no)"
    assert reasons[2].context == "[historical: hist]"
    assert [(r.term, r.weight) for r in reasons[3:5]] == [("want to", 1.25), ("appointment", -0.5)]
    assert (reasons[5].kind, reasons[5].text) == ("note", "model failed: RuntimeError")


@pytest.mark.parametrize("term", ["can't go on", "i'm done", "'til the end'", "o'neil's"])
def test_terms_and_phrases_with_apostrophes_parse_back_whole(term: str) -> None:
    """A matched term or phrase holding apostrophes is one reason, not a note (issue 16)."""
    hits = (
        LexiconHit("si-not-live", "SI", term, 0, len(term)),
        LexiconHit("si-not-live", "SI", term, 0, len(term), "neg_not", "negated"),
        LexiconHit("si-not-live", "SI", term, 0, len(term), annotations=(("past_1", "past"),)),
        LexiconHit(
            "si-not-live", "SI", term, 0, len(term), "hyp_if", "hypothetical", (("r", "e"),)
        ),
    )
    explanation = Explanation(0.9, True, 0.1, ("SI",), hits, ((term, 0.52), ("x", -0.1)))
    reasons = parse_reasons(explanation.reasons())
    assert [r.kind for r in reasons] == ["lexicon"] * 4 + ["ngram"] * 2
    assert {r.term for r in reasons[:5]} == {term}
    assert [r.counts for r in reasons[:4]] == [True, False, True, False]
    assert [r.context for r in reasons[:4]] == [
        None,
        "(negated: neg_not)",
        "[past: past_1]",
        "(hypothetical: hyp_if) [e: r]",
    ]
    assert (reasons[4].weight, reasons[5].weight) == (0.52, -0.1)
    for phrase in ("phrase", "ngram"):
        (parsed,) = parse_reasons([f"{phrase} '{term}' +0.52"])
        assert (parsed.kind, parsed.term, parsed.weight) == ("ngram", term, 0.52)


def test_highlights_are_whole_words_in_any_case_and_spacing() -> None:
    text = "I want to KILL   myself. Overdosed? No: overdose."
    pieces = highlight_spans(text, ["kill myself", "overdose"])
    assert [p for p, hit in pieces if hit] == ["KILL   myself", "overdose"]
    assert "".join(p for p, _ in pieces) == text


def test_highlighting_nothing_keeps_the_text() -> None:
    assert highlight_spans("hello", []) == [("hello", False)]
    assert highlight_spans("hello", ["  ", "'"]) == [("hello", False)]
    assert highlight_spans("", ["x"]) == []
    # Regex characters in a term are matched literally.
    assert [p for p, hit in highlight_spans("a (b) c.*", ["b", ".*"]) if hit] == ["b"]
