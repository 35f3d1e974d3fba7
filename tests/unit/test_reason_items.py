"""The detector's reasons as data: the strings are rendered from the items, byte for byte as
before, and the items survive being stored as JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import pytest

from crisis_triage.detector import Explanation, ReasonItem, load_model
from crisis_triage.detector._explanation import EVIDENCE_LABELS
from crisis_triage.lexicon import LexiconHit


def legacy_reasons(e: Explanation) -> list[str]:
    """``Explanation.reasons()`` as it was before the items (kept here as the reference)."""
    reasons = [f"lexicon {hit.describe()}" for hit in e.lexicon_hits]
    word = "phrase" if e.tier is not None else "ngram"
    reasons += [f"{word} '{gram}' {weight:+.2f}" for gram, weight in e.top_ngrams]
    if e.sentence is not None:
        start, end = e.sentence
        reasons.append(f"risk sentence: characters {start}-{end}")
    if e.evidence:
        evidence: Mapping[str, float] = e.evidence
        reasons.append(
            "evidence (log-odds before weighing): "
            + ", ".join(f"{EVIDENCE_LABELS.get(k, k)} {v:+.2f}" for k, v in evidence.items())
        )
    if not e.gate_passed:
        reasons.append("no active lexicon hit: not scored by the model (lexicon gate)")
    return reasons + list(e.notes)


TERM = "can't go on"
HITS = (
    LexiconHit("si-not-live", "SI", TERM, 0, len(TERM)),
    LexiconHit("si-not-live", "SI", TERM, 0, len(TERM), "neg_not", "negated"),
    LexiconHit("si-not-live", "SI", "i'm done", 0, 8, annotations=(("past_1", "past"),)),
    LexiconHit("si-x", "SI", "o'neil's", 0, 8, "hyp_if", "hypothetical", (("r", "e"), ("s", "f"))),
    LexiconHit("si-y", "HI", "kill", 0, 4, "odd_rule", None),  # an effect-less rule
)
EXPLANATIONS = [
    # v1 (no tier: "ngram"), with the lexicon gate closed and a note (site adaptation's shape).
    Explanation(
        0.01,
        False,
        0.2,
        (),
        HITS,
        (("i'm", 0.52), ("'til the end'", np.float64(-0.125)), ("x", np.float32(0.005))),
        gate_passed=False,
        notes=("site adaptation: base probability +1.20, site n-gram 'i'm' +0.30",),
    ),
    # v2: phrases, the risk sentence (numpy ints), evidence with an unknown label, notes.
    Explanation(
        0.9,
        True,
        0.1,
        ("SI",),
        HITS[:2],
        ((TERM, 2.905), ("i don't want", 0.3149)),
        notes=("scored by the fast tier", "semantic encoder unavailable: fast-tier score only"),
        sentence=(np.int64(0), np.int64(39)),  # type: ignore[arg-type]
        tier="fast",
        evidence={"ngrams": -0.03, "static": np.float32(2.72), "other": 1.0},  # type: ignore[dict-item]
    ),
    Explanation(0.5, True, 0.5, (), (), ()),  # nothing to say
]


@pytest.mark.parametrize("explanation", EXPLANATIONS)
def test_reason_strings_are_the_items_rendered_and_unchanged(explanation: Explanation) -> None:
    items = explanation.reason_items()
    assert explanation.reasons() == legacy_reasons(explanation)
    assert [item.render() for item in items] == explanation.reasons()


@pytest.mark.parametrize("explanation", EXPLANATIONS)
def test_items_survive_json_and_render_the_same_after(explanation: Explanation) -> None:
    stored = json.loads(json.dumps([item.to_dict() for item in explanation.reason_items()]))
    back = [ReasonItem.from_dict(entry) for entry in stored]
    assert back == explanation.reason_items()
    assert [item.render() for item in back] == explanation.reasons()


def test_items_hold_the_terms_whole_with_their_context() -> None:
    items = EXPLANATIONS[0].reason_items()
    assert [(i.kind, i.term, i.category, i.counts) for i in items[:5]] == [
        ("lexicon", TERM, "SI", True),
        ("lexicon", TERM, "SI", False),
        ("lexicon", "i'm done", "SI", True),
        ("lexicon", "o'neil's", "SI", False),
        ("lexicon", "kill", "HI", False),
    ]
    assert items[1].context == (("negated", "neg_not"),)
    assert items[3].context == (("hypothetical", "hyp_if"), ("e", "r"), ("f", "s"))
    assert [(i.kind, i.term, i.weight) for i in items[5:8]] == [
        ("ngram", "i'm", 0.52),
        ("ngram", "'til the end'", -0.125),
        ("ngram", "x", pytest.approx(0.005)),
    ]
    assert [i.kind for i in items[8:]] == ["note", "note"]
    v2 = EXPLANATIONS[1].reason_items()
    assert [i.kind for i in v2[2:]] == ["phrase", "phrase", "sentence", "evidence", "note", "note"]
    assert v2[4].span == (0, 39)
    assert v2[5].evidence == (
        ("word patterns", -0.03),
        ("meaning (fast)", pytest.approx(2.72)),
        ("other", 1.0),
    )


@pytest.mark.parametrize("entry", [{}, {"kind": "other"}, {"kind": "sentence", "span": [1]}, []])
def test_what_is_not_an_item_is_refused(entry: object) -> None:
    with pytest.raises((ValueError, AttributeError)):
        ReasonItem.from_dict(entry)  # type: ignore[arg-type]


def test_the_bundled_model_renders_its_reasons_as_before() -> None:
    """The shipped model (saved by older code) explains as before: Explanation is built at
    scoring time, so the items need nothing from the model file."""
    model = load_model()
    texts = [
        "I can't go on, i'm done with everything",
        "I don't want to kill myself, my friend said she wants to die",
        "refill my prescription please",
        "he'll hurt me again tonight, i'm scared",
        "",
    ]
    for explanation in [*model.explain(texts), *model.explain_fast(texts)]:
        assert explanation.reasons() == legacy_reasons(explanation)
        stored = json.loads(json.dumps([i.to_dict() for i in explanation.reason_items()]))
        assert [ReasonItem.from_dict(e).render() for e in stored] == explanation.reasons()
