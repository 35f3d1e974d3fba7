"""Reasons taken apart for the case page, and matched terms found in the raw message."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from crisis_triage.detector import Explanation
from crisis_triage.lexicon import LexiconHit
from crisis_triage.storage import Message
from crisis_triage.triage import highlight_spans, parse_reasons, stored_reasons


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


def _stored(reasons: list[str], items: object) -> Message:
    return cast(Message, SimpleNamespace(reasons=reasons, reason_items=items))


def test_stored_items_are_read_as_they_are_and_the_strings_only_without_them() -> None:
    explanation = Explanation(
        0.9,
        True,
        0.1,
        ("SI",),
        (LexiconHit("si-x", "SI", "it' (x) [y", 0, 9, "neg_not", "negated"),),
        (("i'm", 0.52),),
        sentence=(0, 9),
        tier="fast",
        evidence={"ngrams": 1.0},
    )
    items = [item.to_dict() for item in explanation.reason_items()]
    shown = stored_reasons(_stored(["not what the items say"], items))
    assert [(r.kind, r.term, r.counts, r.context) for r in shown[:2]] == [
        ("lexicon", "it' (x) [y", False, "(negated: neg_not)"),
        ("phrase", "i'm", True, None),
    ]
    assert [r.kind for r in shown[2:]] == ["sentence", "evidence"]
    assert shown[2].span == (0, 9)
    assert [r.text for r in shown] == explanation.reasons()
    # Before migration 0014 (None), unreadable (None) or not items: the strings, taken apart.
    for stored in (None, [{"kind": "unknown"}], ["a string"], [{"kind": "sentence", "span": 3}]):
        (fallback,) = stored_reasons(_stored(["phrase 'i'm' +0.52"], stored))
        assert (fallback.kind, fallback.term, fallback.weight) == ("ngram", "i'm", 0.52)
    assert stored_reasons(_stored([], [])) == []  # purged: nothing to show
