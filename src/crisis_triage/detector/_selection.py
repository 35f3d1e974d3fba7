"""Choosing C, calibrating and choosing the threshold from out-of-fold scores.

Costs follow CMD-1: a missed crisis (false negative) costs ``cost_fn`` false positives.
Every message counts, including messages a lexicon gate keeps from stage 2 (their
probability is 0, so a gated-out crisis is always a false negative).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from crisis_triage.detector._features import FeatureCounts, select_columns

THRESHOLD_MODES = ("fixed", "cost", "sensitivity")
CALIBRATIONS = ("none", "sigmoid", "isotonic")


@dataclass(frozen=True)
class ModelSpec:
    """How one stage-2 logistic regression is fitted."""

    solver: str
    class_weight: Any
    max_iter: int
    random_state: int | None
    prune_refit: bool

    def classifier(self, C: float) -> LogisticRegression:
        return LogisticRegression(
            C=C,
            l1_ratio=1.0,
            solver=self.solver,
            class_weight=self.class_weight,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )


@dataclass
class FitResult:
    classifier: LogisticRegression
    selected: np.ndarray | None  # columns kept by pruning (None: all)
    converged: bool


def fit_stage2(
    spec: ModelSpec,
    C: float,
    X: sp.csr_matrix,
    y: np.ndarray,
    weight: np.ndarray,
    columns: list[np.ndarray],
) -> tuple[FitResult, sp.csr_matrix]:
    """Fit the L1 model; with pruning, refit it on the n-grams it kept.

    Returns the fit and the matrix the final classifier was trained on.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        classifier = spec.classifier(C).fit(X, y, sample_weight=weight)
        selected = None
        if spec.prune_refit:
            selected = np.flatnonzero(classifier.coef_[0])
            if len(selected):
                X, _ = select_columns(X, columns, selected)
                classifier = spec.classifier(C).fit(X, y, sample_weight=weight)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return FitResult(classifier, selected, converged), X


def stage2_scores(fit: FitResult, X: sp.csr_matrix, columns: list[np.ndarray]) -> np.ndarray:
    if fit.selected is not None:
        if not len(fit.selected):
            return np.full(X.shape[0], float(fit.classifier.intercept_[0]))
        X, _ = select_columns(X, columns, fit.selected)
    return np.asarray(fit.classifier.decision_function(X), dtype=np.float64)


@dataclass
class CVScores:
    """Out-of-fold stage-2 log-odds for every C (``-inf`` where the gate said no)."""

    Cs: tuple[float, ...]
    folds: int
    scores: np.ndarray  # shape (len(Cs), n)
    n_nonzero: np.ndarray  # mean number of non-zero coefficients per C
    unconverged: int = 0
    notes: list[str] = field(default_factory=list)


def cross_validate(
    counts: FeatureCounts,
    gated: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    Cs: Sequence[float],
    folds: int,
    spec: ModelSpec,
) -> CVScores:
    """Stratified k-fold over all messages; stage 2 sees only the gated rows of each fold.

    ``counts`` holds the n-gram counts of the gated rows, in order.
    """
    n = len(y)
    position = np.full(n, -1)
    position[gated] = np.arange(len(gated))
    scores = np.full((len(Cs), n), -np.inf)
    nonzero = np.zeros(len(Cs))
    unconverged = 0
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=spec.random_state)
    for train, test in splitter.split(np.zeros((n, 1)), y):
        train_g = train[position[train] >= 0]
        test_g = test[position[test] >= 0]
        if len(np.unique(y[train_g])) < 2:
            raise ValueError(
                "a cross-validation fold has no gated positive (or negative) training "
                "message; use fewer folds or more data"
            )
        X_train, X_test, columns = counts.fold(position[train_g], position[test_g])
        for i, C in enumerate(Cs):
            fit, _ = fit_stage2(spec, C, X_train, y[train_g], weight[train_g], columns)
            unconverged += not fit.converged
            nonzero[i] += np.count_nonzero(fit.classifier.coef_) / folds
            if len(test_g):
                scores[i, test_g] = stage2_scores(fit, X_test, columns)
    return CVScores(tuple(Cs), folds, scores, nonzero, unconverged)


# -- calibration ----------------------------------------------------------------------------
def fit_calibrator(
    method: str, z: np.ndarray, y: np.ndarray, weight: np.ndarray
) -> LogisticRegression | IsotonicRegression | None:
    """Map stage-2 log-odds to probabilities, fitted on out-of-fold log-odds.

    ``sigmoid`` is Platt scaling with Platt's smoothed targets (written as weighted
    duplicate rows so that a plain ``LogisticRegression`` fits it); ``isotonic`` is a
    clipped ``IsotonicRegression``.  ``none`` keeps the logistic regression's own
    probabilities.
    """
    if method == "none":
        return None
    if method == "isotonic":
        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(
            z, y, sample_weight=weight
        )
    n_pos, n_neg = weight[y == 1].sum(), weight[y == 0].sum()
    target = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    features = np.concatenate([z, z]).reshape(-1, 1)
    labels = np.concatenate([np.ones_like(y), np.zeros_like(y)])
    weights = np.concatenate([weight * target, weight * (1 - target)])
    return LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000).fit(
        features, labels, sample_weight=weights
    )


def calibrate(
    calibrator: LogisticRegression | IsotonicRegression | None, z: np.ndarray
) -> np.ndarray:
    """Probabilities from log-odds; ``-inf`` (gated out) maps to exactly 0."""
    p = np.zeros(len(z))
    finite = np.isfinite(z)
    if finite.any():
        values = z[finite]
        if calibrator is None:
            p[finite] = 1.0 / (1.0 + np.exp(-values))
        elif isinstance(calibrator, IsotonicRegression):
            p[finite] = calibrator.predict(values)
        else:  # = calibrator.predict_proba(values[:, None])[:, 1], without its checks
            p[finite] = expit(values * calibrator.coef_[0, 0] + calibrator.intercept_[0])
    return p


# -- thresholds -----------------------------------------------------------------------------
def cost(p: np.ndarray, y: np.ndarray, weight: np.ndarray, t: float, cost_fn: float) -> float:
    flagged = p >= t
    fn = weight[(y == 1) & ~flagged].sum()
    fp = weight[(y == 0) & flagged].sum()
    return float(cost_fn * fn + fp)


def choose_threshold(
    mode: str,
    p: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    *,
    fixed: float,
    cost_fn: float,
    target_sensitivity: float,
) -> tuple[float, str | None]:
    """The threshold (flag when ``p >= threshold``) and a warning, if any.

    ``cost``: the threshold with the lowest ``cost_fn * FN + FP`` (ties: the lowest
    threshold).  ``sensitivity``: the highest threshold whose sensitivity is at least the
    target.  Candidates are the scores of positive messages above 0.
    """
    if mode == "fixed":
        return float(fixed), None
    candidates = np.unique(p[(y == 1) & (p > 0)])
    if not len(candidates):
        return float(fixed), "no positive message got a score above 0; fixed threshold kept"
    order = np.argsort(p)
    p_sorted, y_sorted, w_sorted = p[order], y[order], weight[order]
    # Weight of positives strictly below each candidate and of negatives at or above it.
    pos_w = np.where(y_sorted == 1, w_sorted, 0.0)
    neg_w = np.where(y_sorted == 0, w_sorted, 0.0)
    below = np.searchsorted(p_sorted, candidates, side="left")
    pos_cum = np.concatenate([[0.0], np.cumsum(pos_w)])
    neg_cum = np.concatenate([[0.0], np.cumsum(neg_w)])
    fn = pos_cum[below]
    fp = neg_cum[-1] - neg_cum[below]
    if mode == "cost":
        return float(candidates[np.argmin(cost_fn * fn + fp)]), None
    sensitivity = 1.0 - fn / pos_cum[-1]
    reaching = np.flatnonzero(sensitivity >= target_sensitivity - 1e-12)
    if not len(reaching):
        return float(candidates[0]), (
            f"cross-validated sensitivity cannot reach {target_sensitivity:.2f} "
            f"(at most {sensitivity[0]:.3f}, the gate keeps some crises from the model)"
        )
    return float(candidates[reaching[-1]]), None


@dataclass(frozen=True)
class Choice:
    C_index: int
    threshold: float
    calibrator: LogisticRegression | IsotonicRegression | None
    probabilities: np.ndarray
    costs: tuple[float, ...]  # one per C
    warning: str | None


def choose(
    cv: CVScores,
    y: np.ndarray,
    weight: np.ndarray,
    *,
    calibration: str,
    mode: str,
    fixed: float,
    cost_fn: float,
    target_sensitivity: float,
) -> Choice:
    """For each C: calibrate, choose a threshold, cost it; keep the cheapest C (ties: smallest)."""
    options = []
    for z in cv.scores:
        finite = np.isfinite(z)
        calibrator = fit_calibrator(calibration, z[finite], y[finite], weight[finite])
        p = calibrate(calibrator, z)
        t, warning = choose_threshold(
            mode, p, y, weight, fixed=fixed, cost_fn=cost_fn, target_sensitivity=target_sensitivity
        )
        options.append((cost(p, y, weight, t, cost_fn), t, calibrator, p, warning))
    costs = tuple(option[0] for option in options)
    best = int(np.argmin(costs))  # the first (smallest C) among equal costs
    _, t, calibrator, p, warning = options[best]
    return Choice(best, t, calibrator, p, costs, warning)
