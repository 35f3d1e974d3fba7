"""Plain metric functions ``f(y_true, y_score_or_pred)``.

Every function validates its input, never warns, and returns ``nan`` when the metric is
undefined (no positives for sensitivity, nothing flagged for PPV, one class for AUROC, ...).
Threshold metrics take binary predictions; ranking and calibration metrics take scores.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from crisis_triage.evaluation._calibration import fit_calibration

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class EvaluationError(ValueError):
    """Evaluation input is unusable (labels, scores, columns); the message says why."""


# -- input checks -------------------------------------------------------------------------
def as_labels(y_true: ArrayLike) -> BoolArray:
    """Binary labels as a boolean array; anything but 0/1 (or False/True) is an error."""
    values = np.asarray(y_true)
    if values.ndim != 1:
        raise EvaluationError("labels must be one-dimensional")
    if values.dtype == bool:
        return np.asarray(values, dtype=np.bool_)
    try:
        numeric = values.astype(np.float64)
    except (TypeError, ValueError):
        raise EvaluationError("labels must be 0 or 1") from None
    if not np.isin(numeric, (0.0, 1.0)).all():
        bad = sorted({repr(v) for v in values[~np.isin(numeric, (0.0, 1.0))].tolist()})[:5]
        raise EvaluationError(f"labels must be 0 or 1; found {', '.join(bad)}")
    return np.asarray(numeric == 1.0, dtype=np.bool_)


def as_scores(y_score: ArrayLike, *, n: int | None = None, probability: bool = False) -> FloatArray:
    """Finite float scores (in [0, 1] when ``probability``)."""
    try:
        scores = np.asarray(y_score, dtype=np.float64)
    except (TypeError, ValueError):
        raise EvaluationError("scores must be numbers") from None
    if scores.ndim != 1:
        raise EvaluationError("scores must be one-dimensional")
    if n is not None and scores.shape[0] != n:
        raise EvaluationError(f"{scores.shape[0]} scores for {n} labels")
    if not np.isfinite(scores).all():
        raise EvaluationError("scores must be finite (no NaN or infinity)")
    if probability and scores.size and (scores.min() < 0.0 or scores.max() > 1.0):
        raise EvaluationError("probabilities must lie in [0, 1]")
    return scores


def as_predictions(y_pred: ArrayLike, *, n: int) -> BoolArray:
    """Binary predictions (flagged / not flagged) for ``n`` messages."""
    values = np.asarray(y_pred)
    if values.shape != (n,):
        raise EvaluationError(f"predictions must be a one-dimensional array of {n} values")
    try:
        return as_labels(values)
    except EvaluationError:
        raise EvaluationError("predictions must be 0 or 1 (flagged or not)") from None


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[BoolArray, BoolArray]:
    truth = as_labels(y_true)
    return truth, as_predictions(y_pred, n=truth.shape[0])


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else math.nan


# -- threshold metrics --------------------------------------------------------------------
def confusion_counts(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[int, int, int, int]:
    """(tp, fp, tn, fn) for binary labels and predictions."""
    truth, flagged = _pair(y_true, y_pred)
    tp = int(np.count_nonzero(truth & flagged))
    fp = int(np.count_nonzero(~truth & flagged))
    fn = int(np.count_nonzero(truth & ~flagged))
    return tp, fp, truth.shape[0] - tp - fp - fn, fn


def sensitivity(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of crisis messages that are flagged (recall, true-positive rate)."""
    tp, _, _, fn = confusion_counts(y_true, y_pred)
    return _ratio(tp, tp + fn)


def specificity(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of non-crisis messages that are not flagged."""
    _, fp, tn, _ = confusion_counts(y_true, y_pred)
    return _ratio(tn, tn + fp)


def ppv(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of flagged messages that are crises (precision)."""
    tp, fp, _, _ = confusion_counts(y_true, y_pred)
    return _ratio(tp, tp + fp)


def npv(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of unflagged messages that are not crises."""
    _, _, tn, fn = confusion_counts(y_true, y_pred)
    return _ratio(tn, tn + fn)


def flags_per_1000(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Flagged messages per 1,000 messages (the review load a threshold implies)."""
    truth, flagged = _pair(y_true, y_pred)
    return 1000.0 * _ratio(int(np.count_nonzero(flagged)), truth.shape[0])


def net_benefit(y_true: ArrayLike, y_pred: ArrayLike, threshold: float) -> float:
    """Net benefit of acting on the flags at threshold probability ``threshold``.

    ``TP/n - FP/n * pt / (1 - pt)`` (Vickers & Elkin 2006): true positives found per message,
    minus false positives weighted by the harm-to-benefit odds that the threshold implies.
    """
    if not 0.0 < threshold < 1.0:
        raise EvaluationError("the threshold probability must lie strictly between 0 and 1")
    tp, fp, tn, fn = confusion_counts(y_true, y_pred)
    n = tp + fp + tn + fn
    return _ratio(tp, n) - _ratio(fp, n) * threshold / (1.0 - threshold)


# -- ranking metrics ----------------------------------------------------------------------
def _labels_scores(y_true: ArrayLike, y_score: ArrayLike, probability: bool = False) -> Any:
    truth = as_labels(y_true)
    return truth, as_scores(y_score, n=truth.shape[0], probability=probability)


def auroc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the ROC curve (ties count one half); ``nan`` with a single class."""
    truth, scores = _labels_scores(y_true, y_score)
    if truth.all() or not truth.any():
        return math.nan
    return float(roc_auc_score(truth, scores))


def auprc(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Area under the precision-recall curve as average precision; ``nan`` without positives."""
    truth, scores = _labels_scores(y_true, y_score)
    if not truth.any():
        return math.nan
    return float(average_precision_score(truth, scores))


# -- calibration --------------------------------------------------------------------------
def brier(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Mean squared difference between probability and outcome."""
    truth, scores = _labels_scores(y_true, y_score, probability=True)
    if truth.shape[0] == 0:
        return math.nan
    return float(brier_score_loss(truth, scores, pos_label=True))


def expected_calibration_error(y_true: ArrayLike, y_score: ArrayLike, n_bins: int = 10) -> float:
    """ECE with ``n_bins`` equal-width bins: sum over bins of |observed - predicted| * share."""
    truth, scores = _labels_scores(y_true, y_score, probability=True)
    if truth.shape[0] == 0:
        return math.nan
    bins = calibration_bin_index(scores, n_bins)
    observed = np.bincount(bins, weights=truth.astype(np.float64), minlength=n_bins)
    predicted = np.bincount(bins, weights=scores, minlength=n_bins)
    return float(np.abs(observed - predicted).sum() / truth.shape[0])


def calibration_bin_index(scores: FloatArray, n_bins: int) -> NDArray[np.intp]:
    """Equal-width bin of each probability; 1.0 falls in the last bin."""
    if n_bins < 1:
        raise EvaluationError("n_bins must be at least 1")
    return np.minimum((scores * n_bins).astype(np.intp), n_bins - 1)


def calibration_slope(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Slope of ``logit P(y) = a + b * logit(score)`` (1 is ideal; below 1: too extreme)."""
    truth, scores = _labels_scores(y_true, y_score, probability=True)
    return fit_calibration(scores, truth).slope


def calibration_intercept(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Calibration-in-the-large: ``a`` in ``logit P(y) = a + logit(score)`` (0 is ideal).

    Positive: crises are more common than the scores say (under-prediction).
    """
    truth, scores = _labels_scores(y_true, y_score, probability=True)
    return fit_calibration(scores, truth).intercept
