"""Turning a scorer's explanations into stored scores, shared by ingest and the semantic worker.

A scorer that is missing, raises, or returns something unusable never loses a message: the
result is ``unscored`` with the reason, and the failure is logged by exception type only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crisis_triage.detector import Explanation, ReasonItem, Scorer
from crisis_triage.text import UNDETERMINED
from crisis_triage.triage._tiers import Explain

log = logging.getLogger(__name__)

SCORED = "scored"
UNSCORED = "unscored"
# Not scored because of its language (the column holds 16 characters: not "unsupported_language").
UNSUPPORTED = "unsupported"
UNKNOWN_MODEL = "unknown"
# The model scores at most this many characters of a message, its first ones; a longer message
# is stored whole and queued for a person ("review now" unless flagged).  It was the API's
# limit on a message, so every message accepted before is scored exactly as before.
MAX_SCORED_CHARS = 20_000


@dataclass(frozen=True)
class Score:
    """One message's score.  Its reasons are kept as data (``items``, stored in
    ``messages.reason_items``); ``reasons`` are their lines of text (``messages.reasons``)."""

    status: str
    probability: float | None = None
    flagged: bool | None = None
    threshold: float | None = None
    categories: tuple[str, ...] = ()
    items: tuple[ReasonItem, ...] = ()
    error: str | None = None
    tier: str | None = None  # FAST or FINAL when scored
    language: str = UNDETERMINED  # ISO 639-1 code, "und" when undetermined

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(item.render() for item in self.items)


def model_version(scorer: Scorer) -> str:
    """The id of the model that scores: ``model_id`` (set by ``load_model``) or another card
    field that names it; "unknown" only for a scorer without a card."""
    card: dict[str, Any] = getattr(scorer, "card_", None) or {}
    for key in ("model_id", "version", "model_version", "model_sha256", "sha256", "name"):
        if card.get(key):
            return str(card[key])[:64]
    return UNKNOWN_MODEL


def scored_part(text: str) -> str:
    """What the model reads of ``text``: its first ``MAX_SCORED_CHARS`` characters."""
    return text[:MAX_SCORED_CHARS]


def partly_scored(text_length: int) -> bool:
    """Whether the model read only part of a message of ``text_length`` characters."""
    return text_length > MAX_SCORED_CHARS


def partly_scored_reason(text_length: int) -> str:
    return (
        f"scored the first {MAX_SCORED_CHARS:,} of {text_length:,} characters: "
        "a person should read it all"
    )


def unscored(texts: Sequence[str], reason: str, error: str) -> list[Score]:
    note = ReasonItem.note(f"unscored: review now ({reason})")
    return [Score(UNSCORED, items=(note,), error=error)] * len(texts)


def _from_explanation(explanation: Explanation, tier: str) -> Score:
    probability = float(explanation.probability)
    if not math.isfinite(probability) or not 0.0 <= probability <= 1.0:
        reason = "unscored: review now (the model gave no valid probability)"
        return Score(UNSCORED, items=(ReasonItem.note(reason),), error="InvalidProbability")
    return Score(
        SCORED,
        probability=probability,
        flagged=bool(explanation.flagged),
        threshold=float(explanation.threshold),
        categories=tuple(explanation.categories),
        items=tuple(explanation.reason_items()),
        tier=tier,
    )


def score_texts(explain: Explain, texts: list[str], tier: str) -> list[Score]:
    """One score per text, from ``explain``; a failure makes every text unscored."""
    try:
        explanations: list[Explanation] = list(explain(texts))
        if len(explanations) != len(texts):
            raise ValueError("the scorer returned the wrong number of explanations")
        return [_from_explanation(explanation, tier) for explanation in explanations]
    except Exception as exc:
        error = type(exc).__name__
        log.error("scoring failed for %d message(s): %s", len(texts), error)
        return unscored(texts, f"scoring failed: {error}", error)
