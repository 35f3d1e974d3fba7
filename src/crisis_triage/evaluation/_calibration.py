"""Logistic recalibration fits (calibration slope and intercept), vectorised over resamples.

The same Newton solver serves the point estimate (one row, one column per message) and the
bootstrap (one row per resample, one column per group of messages with equal or nearly equal
scores, holding the resample's counts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit

FloatArray = NDArray[np.float64]
EPSILON = 1e-6  # probabilities are clipped to [EPSILON, 1 - EPSILON] before taking logits
_MAX_ITER = 60
_TOL = 1e-9


@dataclass(frozen=True)
class CalibrationFit:
    """``slope``: b in logit P(y) = a + b*logit(p).  ``intercept``: a in logit P(y) = a + logit(p)
    (slope fixed at 1, "calibration in the large")."""

    slope: float
    intercept: float


def logit(scores: FloatArray) -> FloatArray:
    clipped = np.clip(scores, EPSILON, 1.0 - EPSILON)
    return np.asarray(np.log(clipped) - np.log1p(-clipped), dtype=np.float64)


def fit_calibration(scores: FloatArray, truth: NDArray[np.bool_]) -> CalibrationFit:
    """Slope and intercept for one sample (``nan`` when undefined, e.g. one class)."""
    x = logit(scores)
    positives = truth.astype(np.float64)[None, :]
    totals = np.ones_like(positives)
    slope = fit_slope(x, positives, totals)
    intercept = fit_intercept(x, positives, totals)
    return CalibrationFit(slope=float(slope[0]), intercept=float(intercept[0]))


def _loglik(eta: FloatArray, positives: FloatArray, totals: FloatArray) -> FloatArray:
    return np.asarray((positives * eta - totals * np.logaddexp(0.0, eta)).sum(axis=1))


def _undefined(positives: FloatArray, totals: FloatArray) -> NDArray[np.bool_]:
    """Rows with no positives or no negatives: the fit has no finite solution."""
    n_pos = positives.sum(axis=1)
    return np.asarray((n_pos <= 0) | (n_pos >= totals.sum(axis=1)))


def fit_slope(x: FloatArray, positives: FloatArray, totals: FloatArray) -> FloatArray:
    """Newton-Raphson for (a, b) per row; returns b (``nan`` where it does not converge)."""
    rows = positives.shape[0]
    a = np.zeros(rows)
    b = np.ones(rows)
    current = _loglik(a[:, None] + b[:, None] * x, positives, totals)
    converged = np.zeros(rows, dtype=bool)
    for _ in range(_MAX_ITER):
        p = expit(a[:, None] + b[:, None] * x)
        resid = positives - totals * p
        weight = totals * p * (1.0 - p)
        g_a, g_b = resid.sum(axis=1), resid @ x
        h_aa, h_ab, h_bb = weight.sum(axis=1), weight @ x, weight @ (x * x)
        det = h_aa * h_bb - h_ab * h_ab
        with np.errstate(divide="ignore", invalid="ignore"):
            da = np.where(det > 0, (h_bb * g_a - h_ab * g_b) / det, 0.0)
            db = np.where(det > 0, (h_aa * g_b - h_ab * g_a) / det, 0.0)
        da[converged] = 0.0
        db[converged] = 0.0
        step = np.ones(rows)
        for _ in range(30):  # step halving keeps every row's log-likelihood from falling
            trial = _loglik(
                (a + step * da)[:, None] + (b + step * db)[:, None] * x, positives, totals
            )
            worse = trial < current - 1e-12
            if not worse.any():
                break
            step[worse] *= 0.5
        a, b, current = a + step * da, b + step * db, np.maximum(trial, current)
        converged |= np.maximum(np.abs(da), np.abs(db)) < _TOL
        if converged.all():
            break
    bad = ~converged | _undefined(positives, totals) | _separated(x, positives, totals)
    return np.where(bad | ~np.isfinite(b), math.nan, b)


def _separated(x: FloatArray, positives: FloatArray, totals: FloatArray) -> NDArray[np.bool_]:
    """Rows whose classes do not overlap on x: the slope's maximum likelihood is infinite."""
    has_pos, has_neg = positives > 0, (totals - positives) > 0
    min_pos = np.where(has_pos, x, np.inf).min(axis=1)
    max_pos = np.where(has_pos, x, -np.inf).max(axis=1)
    min_neg = np.where(has_neg, x, np.inf).min(axis=1)
    max_neg = np.where(has_neg, x, -np.inf).max(axis=1)
    return np.asarray((max_neg <= min_pos) | (max_pos <= min_neg))


def fit_intercept(x: FloatArray, positives: FloatArray, totals: FloatArray) -> FloatArray:
    """Newton-Raphson for a in logit P(y) = a + x (offset model) per row."""
    a = np.zeros(positives.shape[0])
    target = positives.sum(axis=1)
    converged = np.zeros(positives.shape[0], dtype=bool)
    for _ in range(_MAX_ITER):
        p = expit(a[:, None] + x)
        gradient = target - (totals * p).sum(axis=1)
        hessian = (totals * p * (1.0 - p)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(hessian > 0, gradient / hessian, 0.0)
        step = np.clip(step, -5.0, 5.0)  # the offset model is concave; clipping only damps
        step[converged] = 0.0
        a = a + step
        converged |= np.abs(step) < _TOL
        if converged.all():
            break
    bad = ~converged | _undefined(positives, totals)
    return np.where(bad, math.nan, a)
