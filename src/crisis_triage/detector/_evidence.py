"""Lexicon hits as evidence for a learned model, never as a gate.

Each message becomes a short dense vector: which categories have an active hit, which context
effects explained a hit away or annotated one, and how many active hits there are.  A model
weighs this evidence with everything else it knows; a message with no hit is scored like any
other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crisis_triage.lexicon import CATEGORIES, CONTEXT_EFFECTS, Lexicon, LexiconHit

EVIDENCE_FEATURES: tuple[str, ...] = (
    *(f"active {category}" for category in CATEGORIES),
    *(f"explained away: {effect}" for effect in CONTEXT_EFFECTS),
    *(f"annotated: {effect}" for effect in CONTEXT_EFFECTS),
    "active hits (log)",
)
_CATEGORY = {category: i for i, category in enumerate(CATEGORIES)}
_EXPLAINED = {effect: len(CATEGORIES) + i for i, effect in enumerate(CONTEXT_EFFECTS)}
_ANNOTATED = {
    effect: len(CATEGORIES) + len(CONTEXT_EFFECTS) + i for i, effect in enumerate(CONTEXT_EFFECTS)
}
_COUNT = len(EVIDENCE_FEATURES) - 1


def evidence_row(hits: Sequence[LexiconHit]) -> np.ndarray:
    """The evidence vector of one message's hits (see ``EVIDENCE_FEATURES``)."""
    row = np.zeros(len(EVIDENCE_FEATURES))
    active = 0
    for hit in hits:
        if hit.active:
            active += 1
            if hit.category in _CATEGORY:
                row[_CATEGORY[hit.category]] = 1.0
            for _, effect in hit.annotations:
                if effect in _ANNOTATED:
                    row[_ANNOTATED[effect]] = 1.0
        elif hit.effect in _EXPLAINED:
            row[_EXPLAINED[hit.effect]] = 1.0
    row[_COUNT] = np.log1p(active)
    return row


def lexicon_evidence(
    lexicon: Lexicon, normalised_texts: Sequence[str]
) -> tuple[np.ndarray, list[list[LexiconHit]]]:
    """Evidence matrix (n, len(EVIDENCE_FEATURES)) and the hits of every message."""
    hits = [lexicon.match(text, normalised=True) for text in normalised_texts]
    matrix = np.zeros((len(hits), len(EVIDENCE_FEATURES)))
    for i, message_hits in enumerate(hits):
        if message_hits:
            matrix[i] = evidence_row(message_hits)
    return matrix, hits
