"""The two-stage crisis message detector (CMD-1's design) as a scikit-learn estimator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from crisis_triage.detector import _features as feat
from crisis_triage.detector._card import (
    PROBABILITY_TRANSFORM,
    THRESHOLD_HOW,
    created_date,
    jsonable,
    library_versions,
)
from crisis_triage.detector._compiled import CompiledScorer, CompiledScores
from crisis_triage.detector._explanation import Explanation
from crisis_triage.detector._fitting import fit_detector
from crisis_triage.detector._inputs import TextDetectorMixin, as_texts
from crisis_triage.detector._presets import preset_params
from crisis_triage.detector._selection import CALIBRATIONS, THRESHOLD_MODES, calibrate
from crisis_triage.lexicon import CATEGORIES, LexiconHit
from crisis_triage.text import normalise

GATES = ("lexicon", "none")
SOLVERS = ("liblinear", "saga")
HEAD_THRESHOLD = 0.5


@dataclass
class _Scored:
    hits: list[list[LexiconHit]]  # empty unless asked for (or needed by the gate)
    passed: np.ndarray  # reached stage 2
    probability: np.ndarray
    model: CompiledScores | None  # stage-2 scores of the messages that passed (None if none)


class TwoStageDetector(TextDetectorMixin, ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Lexicon gate (optional) + L1 logistic regression on TF-IDF n-grams.

    Parameters are described in docs/detector.md.  The defaults are the CMD-1 study's
    configuration; ``make_detector("default")`` gives the bundled model's.

    Fitted attributes: ``classes_``, ``lexicon_`` (the Lexicon used, carried in the model
    file), ``vectorizer_`` and ``char_vectorizer_`` (plain fitted ``TfidfVectorizer``;
    the second is None without char n-grams), ``classifier_`` (``LogisticRegression``),
    ``calibrator_`` (None, ``LogisticRegression`` on the log-odds, or
    ``IsotonicRegression``), ``threshold_``, ``C_``, ``category_heads_`` (category ->
    ``LogisticRegression``) and ``card_`` (the model card, a JSON-compatible dict).
    """

    def __init__(
        self,
        *,
        gate: str = "lexicon",
        lexicon: Any = None,
        ngram_range: tuple[int, int] = (1, 5),
        char_ngrams: tuple[int, int] | None = None,
        min_df: int | float = 1,
        sublinear_tf: bool = False,
        Cs: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0),
        C: float | None = None,
        cv: int = 10,
        cost_fn: float = 20.0,
        threshold_mode: str = "fixed",
        threshold: float = 0.01,
        target_sensitivity: float = 0.95,
        calibration: str = "none",
        class_weight: Any = None,
        prune_refit: bool = False,
        solver: str = "liblinear",
        max_iter: int = 1000,
        min_category_positives: int = 20,
        category_C: float = 10.0,
        n_bootstrap: int = 200,
        random_state: int | None = 0,
    ) -> None:
        self.gate = gate
        self.lexicon = lexicon
        self.ngram_range = ngram_range
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.Cs = Cs
        self.C = C
        self.cv = cv
        self.cost_fn = cost_fn
        self.threshold_mode = threshold_mode
        self.threshold = threshold
        self.target_sensitivity = target_sensitivity
        self.calibration = calibration
        self.class_weight = class_weight
        self.prune_refit = prune_refit
        self.solver = solver
        self.max_iter = max_iter
        self.min_category_positives = min_category_positives
        self.category_C = category_C
        self.n_bootstrap = n_bootstrap
        self.random_state = random_state

    # -- fitting --------------------------------------------------------------------------
    def fit(
        self,
        X: Sequence[str],
        y: Any,
        sample_weight: Any = None,
        crisis_types: Any = None,
    ) -> TwoStageDetector:
        """Fit on messages ``X`` with labels ``y`` (1 crisis, 0 not).

        ``crisis_types`` (optional, e.g. ``"SI/NSSI"`` per positive message) trains
        per-category heads for categories with at least ``min_category_positives`` examples.
        """
        self._check_params()
        fitted = fit_detector(self, X, y, sample_weight, crisis_types)
        for name, value in fitted.attributes.items():
            setattr(self, name, value)
        self.card_ = self._card(fitted.card)
        self._cache: dict[str, Any] = {}
        return self

    def _check_params(self) -> None:
        checks = [
            (self.gate in GATES, f"gate must be one of {GATES}"),
            (
                self.threshold_mode in THRESHOLD_MODES,
                f"threshold_mode must be in {THRESHOLD_MODES}",
            ),
            (self.calibration in CALIBRATIONS, f"calibration must be one of {CALIBRATIONS}"),
            (self.solver in SOLVERS, f"solver must be one of {SOLVERS}"),
            (0 < self.threshold <= 1, "threshold must be in (0, 1]"),
            (0 < self.target_sensitivity <= 1, "target_sensitivity must be in (0, 1]"),
            (self.cost_fn > 0, "cost_fn must be positive"),
            (isinstance(self.cv, int) and self.cv >= 2, "cv must be a whole number >= 2"),
            (self.C is None or self.C > 0, "C must be positive"),
            (self.n_bootstrap >= 0, "n_bootstrap must be >= 0"),
            (self.min_category_positives >= 1, "min_category_positives must be >= 1"),
            (self.category_C > 0, "category_C must be positive"),
            (
                (isinstance(self.min_df, int) and self.min_df >= 1)
                or (isinstance(self.min_df, float) and 0 < self.min_df < 1),
                "min_df must be a whole number >= 1 or a fraction in (0, 1)",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        feat.check_ngram_range(self.ngram_range, "ngram_range")
        if self.char_ngrams is not None:
            feat.check_ngram_range(self.char_ngrams, "char_ngrams")

    def _card(self, fitted: dict[str, Any]) -> dict[str, Any]:
        params = self.get_params()
        params["lexicon"] = fitted["lexicon"]["source"]
        how = THRESHOLD_HOW[self.threshold_mode].format(
            threshold=self.threshold, cost_fn=self.cost_fn, target=self.target_sensitivity
        )
        card: dict[str, Any] = jsonable(
            {
                "model": "crisis_triage.detector.TwoStageDetector",
                "created": created_date(),
                "libraries": library_versions(),
                "preset": fitted["preset"],
                "params": params,
                "threshold": {"value": self.threshold_, "mode": self.threshold_mode, "how": how},
                "probability_transform": PROBABILITY_TRANSFORM,
                **fitted,
                "data": {},
            }
        )
        return card

    # -- scoring --------------------------------------------------------------------------
    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Column 1 is the probability of a crisis (0.0 for messages the gate keeps out)."""
        p = self._score(as_texts(X)).probability
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """1 where the crisis probability is at least ``threshold_``."""
        flagged: np.ndarray = self.predict_proba(X)[:, 1] >= self.threshold_
        return flagged.astype(np.int64)

    def predict_categories(self, X: Sequence[str]) -> list[tuple[str, ...]]:
        return [e.categories for e in self.explain(X, n_top=0)]

    def explain(self, X: Sequence[str], n_top: int = 5) -> list[Explanation]:
        """Score, flag, categories, lexicon hits and the n-grams that moved the log-odds most.

        Categories: those of the active lexicon hits, plus, for flagged messages, those whose
        category head gives at least 0.5.  A flagged message with neither has no category.
        """
        scored = self._score(as_texts(X), keep_hits=True, n_top=n_top)
        p, model = scored.probability, scored.model
        rows = np.cumsum(scored.passed) - 1
        explanations = []
        for i, text_hits in enumerate(scored.hits):
            flagged = bool(p[i] >= self.threshold_)
            categories = {h.category for h in text_hits if h.active}
            top: tuple[tuple[str, float], ...] = ()
            if scored.passed[i] and model is not None:
                if flagged:
                    categories |= {
                        c for c, hp in model.heads.items() if hp[rows[i]] >= HEAD_THRESHOLD
                    }
                top = model.top_ngrams[rows[i]]
            explanations.append(
                Explanation(
                    probability=float(p[i]),
                    flagged=flagged,
                    threshold=float(self.threshold_),
                    categories=tuple(c for c in CATEGORIES if c in categories),
                    lexicon_hits=tuple(text_hits),
                    top_ngrams=top,
                    gate_passed=bool(scored.passed[i]),
                )
            )
        return explanations

    def _score(self, texts: list[str], keep_hits: bool = False, n_top: int = 0) -> _Scored:
        check_is_fitted(self, "threshold_")
        normalised = [normalise(t) for t in texts]
        hits: list[list[LexiconHit]] = []
        if self.gate == "lexicon" or keep_hits:
            hits = [self.lexicon_.match(s, normalised=True) for s in normalised]
        if self.gate == "lexicon":
            passed = np.array([any(h.active for h in found) for found in hits], dtype=bool)
        else:
            passed = np.ones(len(texts), dtype=bool)
        z = np.full(len(texts), -np.inf)
        model = None
        if passed.any():
            # Same decision function, category heads and n-gram contributions as the
            # scikit-learn objects give (tests/unit/test_compiled_scorer.py), several times
            # faster: see crisis_triage.detector._compiled.
            model = self._compiled().score(
                [normalised[i] for i in np.flatnonzero(passed)], top_k=n_top
            )
            z[passed] = model.decision
        return _Scored(hits, passed, calibrate(self.calibrator_, z), model)

    def _vectorizers(self) -> list[Any]:
        cache = self.__dict__.setdefault("_cache", {})
        if "vectorizers" not in cache:
            cache["vectorizers"] = [
                feat.prenormalised(v) if v is not None else None
                for v in (self.vectorizer_, self.char_vectorizer_)
            ]
        return list(cache["vectorizers"])

    def _compiled(self) -> CompiledScorer:
        """Stage 2 compiled for fast scoring of normalised text (built on first use)."""
        cache = self.__dict__.setdefault("_cache", {})
        if "compiled" not in cache:
            blocks = [(i, v) for i, v in enumerate(self._vectorizers()) if v is not None]
            cache["compiled"] = CompiledScorer.from_fitted(
                [v for _, v in blocks],
                self.classifier_,
                heads=self.category_heads_,
                prefixes=["" if i == 0 else feat.CHAR_PREFIX for i, _ in blocks],
            )
        compiled: CompiledScorer = cache["compiled"]
        return compiled


def make_detector(preset: str = "default", **overrides: Any) -> TwoStageDetector:
    """A detector with a named configuration (``cmd1`` or ``default``) and any overrides."""
    params = preset_params(preset)
    unknown = set(overrides) - set(TwoStageDetector().get_params())
    if unknown:
        raise ValueError(f"unknown detector parameter(s): {', '.join(sorted(unknown))}")
    return TwoStageDetector(**(params | overrides))
