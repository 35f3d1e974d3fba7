"""A site-adapted detector: a small stacker over a frozen base detector and the site's n-grams.

The base detector (normally the bundled model) is never refitted.  The stacker is an L2
logistic regression on:

- the base model's stage-2 log-odds, split in two features: for messages the lexicon gate lets
  through, and for messages it keeps out (the base model still scores them here, so a site can
  learn phrasings the lexicon misses);
- whether the gate passed, and one indicator per lexicon category with an active hit, plus one
  for a hit about another person (third-party reports);
- a compact TF-IDF of the site's own word n-grams.

Features are scaled before the L2 penalty: ``base_weight`` (3) scales the base log-odds, so
that following the base model is cheap, and ``indicator_weight`` (1) scales the other dense
features; the learning curve in docs/site-adaptation.md chose these.

The threshold is the highest one whose out-of-fold sensitivity on the site's labels reaches
``target_sensitivity`` (grouped, stratified folds), unless that flags more than
``max_flag_rate`` of the messages out of fold; then the card warns and the threshold flags at most
that share.  With ``keep_base_flags`` a message that
has an active lexicon hit and that the base model flags is never scored below the threshold;
without it (the default) such a demotion is stated in the message's explanation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.utils.validation import check_is_fitted

from crisis_triage.detector._base_features import (
    DENSE_NAMES,
    AdaptationError,
    BaseFeatures,
    any_active_hit,
    base_features,
    check_site_labels,
)
from crisis_triage.detector._card import created_date, jsonable, library_versions
from crisis_triage.detector._detector import TwoStageDetector
from crisis_triage.detector._explanation import Explanation
from crisis_triage.detector._selection import choose_threshold
from crisis_triage.lexicon import CATEGORIES, Lexicon


class SiteAdaptedDetector(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A frozen base detector plus a stacker fitted on one site's labels (see module doc).

    Fitted attributes: ``classes_``, ``base_`` (the base detector), ``site_vectorizer_``,
    ``stacker_`` (``LogisticRegression``), ``threshold_``, ``oof_probability_`` (the
    out-of-fold scores the threshold was chosen on), ``lexicon_`` (the base model's) and
    ``card_``.
    """

    def __init__(
        self,
        *,
        base: Any = None,
        C: float = 1.0,
        base_weight: float = 3.0,
        indicator_weight: float = 1.0,
        site_ngram_range: tuple[int, int] = (1, 2),
        site_min_df: int = 2,
        max_site_features: int = 2000,
        cv: int = 5,
        target_sensitivity: float = 0.95,
        max_flag_rate: float = 0.25,
        keep_base_flags: bool = False,
        random_state: int | None = 0,
    ) -> None:
        self.base = base
        self.C = C
        self.base_weight = base_weight
        self.indicator_weight = indicator_weight
        self.site_ngram_range = site_ngram_range
        self.site_min_df = site_min_df
        self.max_site_features = max_site_features
        self.cv = cv
        self.target_sensitivity = target_sensitivity
        self.max_flag_rate = max_flag_rate
        self.keep_base_flags = keep_base_flags
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    # -- fitting --------------------------------------------------------------------------
    def fit(self, X: Sequence[str], y: Any, groups: Any = None) -> SiteAdaptedDetector:
        """Fit the stacker on the site's messages ``X`` and labels ``y`` (1 crisis, 0 not)."""
        base = self._checked_base()
        return self.fit_features(base_features(base, X), y, groups)

    def fit_features(
        self, features: BaseFeatures, y: Any, groups: Any = None
    ) -> SiteAdaptedDetector:
        """``fit`` with the base model's features already computed (cross-validation reuses
        them: the base model is frozen, so its scores do not depend on the fold)."""
        base = self._checked_base()
        labels = np.asarray(y, dtype=np.int64)
        check_site_labels(labels, self.cv)
        group_ids = np.arange(len(labels)) if groups is None else np.asarray(groups)
        oof = np.zeros(len(labels))
        folds = StratifiedGroupKFold(self.cv, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(np.zeros(len(labels)), labels, group_ids):
            vectorizer, stacker = self._fit_parts(features, labels, train)
            oof[test] = stacker.predict_proba(self._design(vectorizer, features, test))[:, 1]
        threshold, warning = choose_threshold(
            "sensitivity",
            oof,
            labels,
            np.ones(len(labels)),
            fixed=0.5,
            cost_fn=1.0,
            target_sensitivity=self.target_sensitivity,
        )
        threshold, warning = self._capped(threshold, warning, oof, labels)
        self.site_vectorizer_, self.stacker_ = self._fit_parts(
            features, labels, np.arange(len(labels))
        )
        self.base_ = base
        self.classes_ = np.array([0, 1])
        self.threshold_ = float(threshold)
        self.oof_probability_ = oof
        self.card_ = self._card(labels, warning)
        return self

    def _capped(
        self, threshold: float, warning: str | None, oof: np.ndarray, labels: np.ndarray
    ) -> tuple[float, str | None]:
        """With few crises, one crisis scored near zero can drag the threshold to the floor and
        flag nearly everything (seen in the learning curve); cap the out-of-fold flag rate."""
        rate = float((oof >= threshold).mean())
        if rate <= self.max_flag_rate:
            return threshold, warning
        capped = float(np.quantile(oof, 1.0 - self.max_flag_rate, method="higher"))
        reached = float((oof[labels == 1] >= capped).mean())
        return capped, (
            f"reaching out-of-fold sensitivity {self.target_sensitivity:.2f} would flag "
            f"{rate:.0%} of messages; the threshold was raised to flag at most "
            f"{self.max_flag_rate:.0%} (out-of-fold sensitivity {reached:.2f}); label more "
            "crises, or lower --max-flag-rate only knowingly"
        )

    def _checked_base(self) -> TwoStageDetector:
        if not isinstance(self.base, TwoStageDetector) or not hasattr(self.base, "threshold_"):
            raise AdaptationError("base must be a fitted TwoStageDetector (e.g. load_model())")
        for name, ok in (
            ("C", self.C > 0),
            ("cv", isinstance(self.cv, int) and self.cv >= 2),
            ("target_sensitivity", 0 < self.target_sensitivity <= 1),
            ("max_flag_rate", 0 < self.max_flag_rate <= 1),
            ("max_site_features", self.max_site_features >= 0),
        ):
            if not ok:
                raise ValueError(f"invalid {name}")
        return self.base

    def _fit_parts(
        self, features: BaseFeatures, labels: np.ndarray, rows: np.ndarray
    ) -> tuple[TfidfVectorizer | None, LogisticRegression]:
        vectorizer = None
        if self.max_site_features:
            vectorizer = TfidfVectorizer(
                ngram_range=self.site_ngram_range,
                min_df=self.site_min_df,
                max_features=self.max_site_features,
                sublinear_tf=True,
                dtype=np.float64,
            )
            try:
                vectorizer.fit([features.normalised[i] for i in rows])
            except ValueError:  # no n-gram reaches min_df: the stacker uses the base alone
                vectorizer = None
        stacker = LogisticRegression(C=self.C, max_iter=2000)
        stacker.fit(self._design(vectorizer, features, rows), labels[rows])
        return vectorizer, stacker

    def _design(
        self, vectorizer: TfidfVectorizer | None, features: BaseFeatures, rows: np.ndarray
    ) -> sp.csr_matrix:
        # Scaling a feature up makes its weight cheaper under the L2 penalty: a large
        # base_weight keeps the stacker close to the base model when labels are few.
        scale = np.full(features.dense.shape[1], self.indicator_weight)
        scale[0] = self.base_weight
        dense = sp.csr_matrix(features.dense[rows] * scale)
        if vectorizer is None:
            return dense
        words = vectorizer.transform([features.normalised[i] for i in rows])
        return sp.hstack([dense, words], format="csr")

    def _card(self, labels: np.ndarray, warning: str | None) -> dict[str, Any]:
        params = self.get_params(deep=False)
        params["base"] = "TwoStageDetector (see base)"
        base_card = self.base_.card_
        return dict(
            jsonable(
                {
                    "model": "crisis_triage.detector.SiteAdaptedDetector",
                    "created": created_date(),
                    "libraries": library_versions(),
                    "params": params,
                    "base": {
                        "model": base_card.get("model"),
                        "preset": base_card.get("preset"),
                        "threshold": self.base_.threshold_,
                        "data_sha256": base_card.get("data", {}).get("sha256"),
                    },
                    "site_labels": {
                        "n": len(labels),
                        "crises": int(labels.sum()),
                        "not_crises": int((labels == 0).sum()),
                    },
                    "threshold": {
                        "value": self.threshold_,
                        "mode": "sensitivity",
                        "how": (
                            "the highest threshold whose out-of-fold sensitivity on the site's "
                            f"labels ({self.cv} grouped stratified folds) is at least "
                            f"{self.target_sensitivity:.2f}, unless that flags more than "
                            f"{self.max_flag_rate:.0%} of them out of fold: then the threshold "
                            "that flags at most that share (and a warning)"
                        ),
                    },
                    "lexicon_gate": (
                        "messages with an active lexicon hit that the base model flags are never "
                        "scored below the threshold"
                        if self.keep_base_flags
                        else "the stacker may score a message with an active lexicon hit that "
                        "the base model flags below the threshold; its explanation then says so"
                    ),
                    "stacker_features": [*DENSE_NAMES, "site word n-grams (TF-IDF)"],
                    "warnings": [warning] if warning else [],
                }
            )
        )

    @property
    def lexicon_(self) -> Lexicon:
        """The base model's lexicon (stored once, inside ``base_``)."""
        lexicon: Lexicon = self._fitted_base().lexicon_
        return lexicon

    # -- scoring --------------------------------------------------------------------------
    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Column 1 is the site-adapted probability of a crisis."""
        p = self._probability(base_features(self._fitted_base(), X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Sequence[str]) -> np.ndarray:
        flagged: np.ndarray = self.predict_proba(X)[:, 1] >= self.threshold_
        return flagged.astype(np.int64)

    def probability_from_features(self, features: BaseFeatures) -> np.ndarray:
        """Scores for messages whose base features are already computed."""
        check_is_fitted(self, "threshold_")
        return self._probability(features)

    def _fitted_base(self) -> TwoStageDetector:
        check_is_fitted(self, "threshold_")
        base: TwoStageDetector = self.base_
        return base

    def _probability(self, features: BaseFeatures) -> np.ndarray:
        rows = np.arange(len(features.normalised))
        design = self._design(self.site_vectorizer_, features, rows)
        p: np.ndarray = self.stacker_.predict_proba(design)[:, 1]
        if self.keep_base_flags:
            protected = features.base_flagged & any_active_hit(features)
            p = np.where(protected, np.maximum(p, self.threshold_), p)
        return p

    def explain(self, X: Sequence[str], n_top: int = 5) -> list[Explanation]:
        """The base model's reasons (lexicon hits, its n-grams) plus the stacker's pushes."""
        features = base_features(self._fitted_base(), X, n_top=n_top)
        p = self._probability(features)
        rows = np.arange(len(p))
        design = self._design(self.site_vectorizer_, features, rows)
        names = [*DENSE_NAMES] + [
            f"site n-gram '{g}'"
            for g in (
                self.site_vectorizer_.get_feature_names_out()
                if self.site_vectorizer_ is not None
                else []
            )
        ]
        coef = self.stacker_.coef_[0]
        lexicon_hit = any_active_hit(features)
        out = []
        for i in rows:
            row = design.getrow(i)
            pushes = sorted(
                ((names[j], coef[j] * v) for j, v in zip(row.indices, row.data, strict=True)),
                key=lambda item: -abs(item[1]),
            )[: max(n_top, 3)]
            flagged = bool(p[i] >= self.threshold_)
            notes = [
                "site adaptation: "
                + ", ".join(f"{name} {push:+.2f}" for name, push in pushes if push)
            ]
            passed = bool(features.dense[i, 2] > 0)
            if features.base_flagged[i] and not flagged and lexicon_hit[i]:
                notes.append(
                    "site adaptation lowered this message below the threshold: the base model "
                    f"alone flags it (p={features.base_probability[i]:.3f})"
                )
            elif flagged and not passed:
                notes.append(
                    "no active lexicon hit: flagged by the site-adapted model, not the lexicon"
                )
            hits = features.hits[i]
            explanation = Explanation(
                probability=float(p[i]),
                flagged=flagged,
                threshold=self.threshold_,
                categories=tuple(
                    c for c in CATEGORIES if any(h.active and h.category == c for h in hits)
                ),
                lexicon_hits=tuple(hits),
                top_ngrams=features.top_ngrams[i],
                notes=tuple(notes),
            )
            out.append(explanation)
        return out
