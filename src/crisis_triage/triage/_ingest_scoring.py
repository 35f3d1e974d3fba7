"""Scoring for ingest: each message's language, then its score, or why it has none.

Never raises: a missing or failing scorer gives ``unscored`` messages (their failure logged by
exception type only, never text); a message reliably identified as a language the model does
not cover is ``unsupported`` (not scored, queued for a person with the reason why).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crisis_triage.detector import (
    DEFAULT_LANGUAGES,
    Explanation,
    LanguageCheck,
    Scorer,
    check_language,
    model_languages,
    unsupported_language_reason,
)
from crisis_triage.text import UNDETERMINED

log = logging.getLogger(__name__)

SCORED = "scored"
UNSCORED = "unscored"
# Not scored because of its language (the column holds 16 characters: not "unsupported_language").
UNSUPPORTED = "unsupported"
UNKNOWN_MODEL = "unknown"


@dataclass(frozen=True)
class MessageScore:
    status: str
    probability: float | None = None
    flagged: bool | None = None
    threshold: float | None = None
    categories: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    error: str | None = None
    language: str = UNDETERMINED


def model_version(scorer: Scorer) -> str:
    """The id of the model that scores: ``model_id`` (set by ``load_model``) or another card
    field that names it; "unknown" only for a scorer without a card."""
    card: dict[str, Any] = getattr(scorer, "card_", None) or {}
    for key in ("model_id", "version", "model_version", "model_sha256", "sha256", "name"):
        if card.get(key):
            return str(card[key])[:64]
    return UNKNOWN_MODEL


def _languages(texts: Sequence[str], covered: Sequence[str]) -> list[LanguageCheck | None]:
    try:
        return [check_language(text, covered) for text in texts]
    except Exception as exc:  # an undetermined language is scored as usual
        log.error(
            "language identification failed for %d message(s): %s", len(texts), type(exc).__name__
        )
        return [None] * len(texts)


def score_all(scorer: Scorer | None, texts: list[str]) -> list[MessageScore]:
    covered = model_languages(scorer) if scorer is not None else DEFAULT_LANGUAGES
    checks = _languages(texts, covered)
    languages = [check.code if check else UNDETERMINED for check in checks]
    if scorer is None:
        reason = "unscored: review now (no model is loaded)"
        return [
            MessageScore(UNSCORED, reasons=(reason,), error="ModelNotLoaded", language=language)
            for language in languages
        ]
    scores: dict[int, MessageScore] = {}
    for i, check in enumerate(checks):
        if check is not None and not check.supported:
            reason = unsupported_language_reason(check.code)
            scores[i] = MessageScore(UNSUPPORTED, reasons=(reason,), language=check.code)
    todo = [i for i in range(len(texts)) if i not in scores]
    scores.update(
        zip(
            todo,
            _explained(scorer, [texts[i] for i in todo], [languages[i] for i in todo]),
            strict=True,
        )
    )
    return [scores[i] for i in range(len(texts))]


def _explained(scorer: Scorer, texts: list[str], languages: list[str]) -> list[MessageScore]:
    if not texts:
        return []
    try:
        explanations: list[Explanation] = list(scorer.explain(texts))
        if len(explanations) != len(texts):
            raise ValueError("the scorer returned the wrong number of explanations")
    except Exception as exc:
        error = type(exc).__name__
        log.error("scoring failed for %d message(s): %s", len(texts), error)
        reason = f"unscored: review now (scoring failed: {error})"
        return [
            MessageScore(UNSCORED, reasons=(reason,), error=error, language=language)
            for language in languages
        ]
    scores = []
    for explanation, language in zip(explanations, languages, strict=True):
        probability = float(explanation.probability)
        if not math.isfinite(probability) or not 0.0 <= probability <= 1.0:
            reason = "unscored: review now (the model gave no valid probability)"
            scores.append(
                MessageScore(
                    UNSCORED, reasons=(reason,), error="InvalidProbability", language=language
                )
            )
            continue
        scores.append(
            MessageScore(
                SCORED,
                probability=probability,
                flagged=bool(explanation.flagged),
                threshold=float(explanation.threshold),
                categories=tuple(explanation.categories),
                reasons=tuple(explanation.reasons()),
                language=language,
            )
        )
    return scores
