"""The language rule, then the score: used at ingest and by the semantic worker.

Never raises: a missing or failing scorer gives ``unscored`` messages (their failure logged by
exception type only, never text); a message reliably identified as a language the model does
not cover is ``unsupported`` (not scored, queued for a person with the reason why).  Ingest
scores with the fast tier when the model has a working semantic tier to finish the score later.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from crisis_triage.detector import (
    DEFAULT_LANGUAGES,
    LanguageCheck,
    Scorer,
    check_language,
    model_languages,
    unsupported_language_reason,
)
from crisis_triage.text import UNDETERMINED
from crisis_triage.triage._scoring import UNSUPPORTED, Score, score_texts, unscored
from crisis_triage.triage._tiers import FAST, FINAL, Explain, fast_explainer

log = logging.getLogger(__name__)


def _languages(texts: Sequence[str], covered: Sequence[str]) -> list[LanguageCheck | None]:
    try:
        return [check_language(text, covered) for text in texts]
    except Exception as exc:  # an undetermined language is scored as usual
        log.error(
            "language identification failed for %d message(s): %s", len(texts), type(exc).__name__
        )
        return [None] * len(texts)


def _with_languages(scores: list[Score], checks: list[LanguageCheck | None]) -> list[Score]:
    return [
        replace(score, language=check.code if check else UNDETERMINED)
        for score, check in zip(scores, checks, strict=True)
    ]


def score_supported(scorer: Scorer, explain: Explain, texts: list[str], tier: str) -> list[Score]:
    """One score per text: ``unsupported`` for a text reliably in a language ``scorer`` does not
    cover, else ``explain``'s score as ``tier`` (or ``unscored`` when it fails)."""
    checks = _languages(texts, model_languages(scorer))
    scores: dict[int, Score] = {}
    for i, check in enumerate(checks):
        if check is not None and not check.supported:
            reason = unsupported_language_reason(check.code)
            scores[i] = Score(UNSUPPORTED, reasons=(reason,))
    todo = [i for i in range(len(texts)) if i not in scores]
    if todo:
        explained = score_texts(explain, [texts[i] for i in todo], tier)
        scores.update(zip(todo, explained, strict=True))
    return _with_languages([scores[i] for i in range(len(texts))], checks)


def score_all(scorer: Scorer | None, texts: list[str]) -> list[Score]:
    """Ingest's scores: fast-tier when the model has a semantic tier to finish them, else final."""
    if scorer is None:
        checks = _languages(texts, DEFAULT_LANGUAGES)
        return _with_languages(unscored(texts, "no model is loaded", "ModelNotLoaded"), checks)
    fast = fast_explainer(scorer)
    if fast is not None:
        return score_supported(scorer, fast, texts, FAST)
    return score_supported(scorer, scorer.explain, texts, FINAL)
