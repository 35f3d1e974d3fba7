"""The language rule, then the score: used at ingest and by the semantic worker.

Never raises: a missing or failing scorer gives ``unscored`` messages (their failure logged by
exception type only, never text); a message reliably identified as a language the model does
not cover is ``unsupported`` (not scored, queued for a person with the reason why).  Ingest
scores with the fast tier when the model has a working semantic tier to finish the score later.
Both tiers read at most the first ``MAX_SCORED_CHARS`` of a message; a longer one is scored on
that part and says so in its reasons (its case is "review now" unless flagged: ``tier_for``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from crisis_triage.detector import (
    DEFAULT_LANGUAGES,
    LanguageCheck,
    ReasonItem,
    Scorer,
    check_language,
    model_languages,
    unsupported_language_reason,
)
from crisis_triage.text import UNDETERMINED
from crisis_triage.triage._scoring import (
    SCORED,
    UNSUPPORTED,
    Score,
    partly_scored,
    partly_scored_reason,
    score_texts,
    scored_part,
    unscored,
)
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


def _told_if_partial(scores: list[Score], texts: list[str]) -> list[Score]:
    """Each score of a text longer than the model reads, with the reason saying so (an unscored
    or unsupported message is read by a person anyway, and says why)."""
    return [
        replace(score, items=(*score.items, ReasonItem.note(partly_scored_reason(len(text)))))
        if score.status == SCORED and partly_scored(len(text))
        else score
        for score, text in zip(scores, texts, strict=True)
    ]


def score_supported(scorer: Scorer, explain: Explain, texts: list[str], tier: str) -> list[Score]:
    """One score per text: ``unsupported`` for a text reliably in a language ``scorer`` does not
    cover, else ``explain``'s score as ``tier`` (or ``unscored`` when it fails)."""
    parts = [scored_part(text) for text in texts]
    checks = _languages(parts, model_languages(scorer))
    scores: dict[int, Score] = {}
    for i, check in enumerate(checks):
        if check is not None and not check.supported:
            reason = unsupported_language_reason(check.code)
            scores[i] = Score(UNSUPPORTED, items=(ReasonItem.note(reason),))
    todo = [i for i in range(len(parts)) if i not in scores]
    if todo:
        explained = score_texts(explain, [parts[i] for i in todo], tier)
        scores.update(zip(todo, explained, strict=True))
    scored = _with_languages([scores[i] for i in range(len(parts))], checks)
    return _told_if_partial(scored, texts)


def score_all(scorer: Scorer | None, texts: list[str]) -> list[Score]:
    """Ingest's scores: fast-tier when the model has a semantic tier to finish them, else final."""
    if scorer is None:
        checks = _languages([scored_part(text) for text in texts], DEFAULT_LANGUAGES)
        return _with_languages(unscored(texts, "no model is loaded", "ModelNotLoaded"), checks)
    fast = fast_explainer(scorer)
    if fast is not None:
        return score_supported(scorer, fast, texts, FAST)
    return score_supported(scorer, scorer.explain, texts, FINAL)
