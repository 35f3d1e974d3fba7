"""What the frozen base detector says about a batch of messages: the stacker's dense features.

Also the check that a site's labels can support an adaptation (enough crises per fold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crisis_triage.detector._detector import TwoStageDetector
from crisis_triage.detector._inputs import as_texts
from crisis_triage.lexicon import CATEGORIES, LexiconHit
from crisis_triage.text import normalise

LOGIT_CLIP = 15.0
DENSE_NAMES = (
    "base model log-odds",
    "base model log-odds ignoring the closed lexicon gate",
    "lexicon gate passed",
    *(f"lexicon {c} hit" for c in CATEGORIES),
    "lexicon hit about another person",
)
MIN_FOLD_CRISES = 2


class AdaptationError(ValueError):
    """The site's labels cannot support an adaptation (too few crises, one class, ...)."""


@dataclass(frozen=True)
class BaseFeatures:
    """What the frozen base model says about a batch of messages (computed once, reused)."""

    dense: np.ndarray  # (n, len(DENSE_NAMES))
    normalised: list[str]
    hits: list[list[LexiconHit]]
    base_probability: np.ndarray
    base_flagged: np.ndarray
    top_ngrams: list[tuple[tuple[str, float], ...]]


def base_features(base: TwoStageDetector, texts: Sequence[str], n_top: int = 0) -> BaseFeatures:
    """Score ``texts`` with the base model (ungated too) and collect the lexicon indicators."""
    normalised = [normalise(t) for t in as_texts(texts)]
    hits = [base.lexicon_.match(s, normalised=True) for s in normalised]
    passed = np.array([any(h.active for h in found) for found in hits], dtype=bool)
    if base.gate == "none":
        passed = np.ones(len(normalised), dtype=bool)
    scores = base._compiled().score(normalised, top_k=n_top)
    z = np.clip(np.asarray(scores.decision, dtype=float), -LOGIT_CLIP, LOGIT_CLIP)
    categories = np.array(
        [[any(h.active and h.category == c for h in found) for c in CATEGORIES] for found in hits],
        dtype=float,
    ).reshape(len(hits), len(CATEGORIES))
    other_person = np.array(
        [any(h.active and "other_person" in h.effects for h in found) for found in hits],
        dtype=float,
    )
    # Column 0 is the base model's log-odds as deployed (the gate's floor where it is closed),
    # so that a stacker that keeps only column 0 ranks exactly as the base model does.
    dense = np.column_stack(
        [
            np.where(passed, z, -LOGIT_CLIP),
            np.where(passed, 0.0, z),
            passed,
            categories,
            other_person,
        ]
    )
    base_p = base.predict_proba(texts)[:, 1]
    return BaseFeatures(
        dense=dense,
        normalised=normalised,
        hits=hits,
        base_probability=base_p,
        base_flagged=base_p >= base.threshold_,
        top_ngrams=list(scores.top_ngrams),
    )


def any_active_hit(features: BaseFeatures) -> np.ndarray:
    return np.array([any(h.active for h in found) for found in features.hits], dtype=bool)


def check_site_labels(labels: np.ndarray, folds: int, minimum: int | None = None) -> None:
    """Refuse labels that cannot support an adaptation, saying how many crises are needed."""
    needed = max(minimum or 0, folds * MIN_FOLD_CRISES)
    if not set(np.unique(labels)) <= {0, 1}:
        raise AdaptationError("site labels must be 1 (crisis) or 0 (not a crisis)")
    crises, others = int(labels.sum()), int((labels == 0).sum())
    if crises < needed:
        raise AdaptationError(
            f"only {crises} labelled crises: site adaptation needs at least {needed} "
            f"({MIN_FOLD_CRISES} per cross-validation fold x {folds} folds) to choose a "
            "threshold out of fold; label more messages (at 1.5% prevalence, about "
            f"{int(np.ceil(needed / 0.015))} messages hold {needed} crises) or fewer folds"
        )
    if others < needed:
        raise AdaptationError(f"only {others} non-crisis messages: at least {needed} needed")
