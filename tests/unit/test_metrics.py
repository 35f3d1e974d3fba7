"""Metric functions against scikit-learn and hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from crisis_triage.evaluation import (
    EvaluationError,
    auprc,
    auroc,
    brier,
    calibration_intercept,
    calibration_slope,
    confusion_counts,
    expected_calibration_error,
    flags_per_1000,
    net_benefit,
    npv,
    ppv,
    sensitivity,
    specificity,
)

# Hand case: tp=1 (row 0), fn=1 (row 1), fp=1 (row 2), tn=2 (rows 3, 4).
Y = np.array([1, 1, 0, 0, 0])
P = np.array([1, 0, 1, 0, 0])


def _random(seed: int, n: int = 500) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.2
    s = np.clip(rng.beta(2, 5, n) + 0.25 * y, 0, 1).round(2)  # rounding makes ties
    return y.astype(int), s


def test_hand_computed_threshold_metrics() -> None:
    assert confusion_counts(Y, P) == (1, 1, 2, 1)
    assert sensitivity(Y, P) == 0.5
    assert specificity(Y, P) == pytest.approx(2 / 3)
    assert ppv(Y, P) == 0.5
    assert npv(Y, P) == pytest.approx(2 / 3)
    assert flags_per_1000(Y, P) == 400.0
    assert net_benefit(Y, P, 0.2) == pytest.approx(1 / 5 - 1 / 5 * 0.25)


def test_hand_computed_ranking_metrics() -> None:
    y = [0, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8]
    assert auroc(y, s) == 0.75  # 3 of 4 positive-negative pairs ordered correctly
    assert auprc(y, s) == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    assert auroc([0, 1], [0.5, 0.5]) == 0.5  # a tie counts one half


def test_hand_computed_calibration() -> None:
    # bins: [0.05] -> |0-0.05|; [0.15, 0.15] -> |1-0.3|; [0.95] -> |1-0.95|
    assert expected_calibration_error([0, 1, 0, 1], [0.05, 0.15, 0.15, 0.95]) == pytest.approx(0.2)
    assert brier([0, 1], [0.2, 0.6]) == pytest.approx((0.04 + 0.16) / 2)
    # Constant score 0.1 against a 25% event rate: the intercept is the logit gap.
    y = np.array([1, 0, 0, 0] * 25)
    assert calibration_intercept(y, np.full(100, 0.1)) == pytest.approx(logit(0.25) - logit(0.1))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_against_scikit_learn(seed: int) -> None:
    y, s = _random(seed)
    flagged = (s >= 0.4).astype(int)
    assert auroc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert auprc(y, s) == pytest.approx(average_precision_score(y, s))
    assert brier(y, s) == pytest.approx(brier_score_loss(y, s))
    assert sensitivity(y, flagged) == pytest.approx(recall_score(y, flagged))
    assert specificity(y, flagged) == pytest.approx(recall_score(y, flagged, pos_label=0))
    assert ppv(y, flagged) == pytest.approx(precision_score(y, flagged))
    assert npv(y, flagged) == pytest.approx(precision_score(y, flagged, pos_label=0))
    assert flags_per_1000(y, flagged) == pytest.approx(1000 * flagged.mean())


def test_calibration_slope_matches_unpenalised_logistic_regression() -> None:
    y, s = _random(4, n=2000)
    x = logit(np.clip(s, 1e-6, 1 - 1e-6))[:, None]
    reference = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(x, y)
    assert calibration_slope(y, s) == pytest.approx(reference.coef_[0, 0], rel=1e-6)


def test_a_calibrated_model_has_slope_one_and_intercept_zero() -> None:
    rng = np.random.default_rng(7)
    s = rng.beta(1, 8, 40_000)
    y = rng.random(40_000) < s
    assert calibration_slope(y, s) == pytest.approx(1.0, abs=0.08)
    assert calibration_intercept(y, s) == pytest.approx(0.0, abs=0.05)
    assert expected_calibration_error(y, s) < 0.01
    # Scores twice too extreme on the logit scale give a slope near one half.
    extreme = 1 / (1 + np.exp(-2 * logit(s)))
    assert calibration_slope(y, extreme) == pytest.approx(0.5, abs=0.05)


def test_undefined_metrics_are_nan_without_warnings() -> None:
    assert math.isnan(sensitivity([0, 0], [1, 0]))
    assert math.isnan(ppv([1, 0], [0, 0]))
    assert math.isnan(npv([1, 0], [1, 1]))
    assert math.isnan(auroc([1, 1], [0.2, 0.3]))
    assert math.isnan(auprc([0, 0], [0.2, 0.3]))
    assert math.isnan(calibration_slope([0, 1], [0.1, 0.9]))  # perfect separation
    assert math.isnan(calibration_intercept([0, 0], [0.1, 0.9]))


@pytest.mark.parametrize(
    ("y", "s", "message"),
    [
        ([0, 2], [0.1, 0.2], "labels must be 0 or 1"),
        (["yes", "no"], [0.1, 0.2], "labels must be 0 or 1"),
        ([0, 1], [0.1, float("nan")], "finite"),
        ([0, 1], [0.1, 1.5], r"\[0, 1\]"),
        ([0, 1], [0.1], "1 scores for 2 labels"),
    ],
)
def test_bad_input_is_a_clear_error(y: list[object], s: list[float], message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        brier(y, s)


def test_bad_predictions_and_thresholds() -> None:
    with pytest.raises(EvaluationError, match="predictions must be 0 or 1"):
        sensitivity([0, 1], [0.2, 0.7])
    with pytest.raises(EvaluationError, match="3 values"):
        ppv([0, 1, 1], [1, 0])
    with pytest.raises(EvaluationError, match="strictly between"):
        net_benefit(Y, P, 1.0)
