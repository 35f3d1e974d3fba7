"""Report sections computed on the whole evaluation set: metrics, operating points, curves."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import precision_recall_curve, roc_curve

from crisis_triage.evaluation import _metrics as m
from crisis_triage.evaluation._bootstrap import Replicates
from crisis_triage.evaluation._intervals import Estimate, estimate, wilson_interval

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
TARGET_SENSITIVITIES = (0.90, 0.95, 0.98, 0.99)
MAX_CURVE_POINTS = 400


def threshold_estimates(
    truth: BoolArray,
    scores: FloatArray,
    threshold: float,
    replicates: Replicates | None,
    index: int,
    *,
    level: float,
    wilson_below: int,
    benefit_threshold: float | None = None,
) -> dict[str, Estimate]:
    """Sensitivity, specificity, PPV, NPV, flags per 1,000 and net benefit at ``threshold``.

    Net benefit is weighed at ``benefit_threshold`` (default ``threshold``), so that a binary
    baseline can be compared with the model at the model's threshold probability.
    """
    flagged = scores >= threshold
    tp, fp, tn, fn = m.confusion_counts(truth, flagged)
    pt = threshold if benefit_threshold is None else benefit_threshold
    boot = replicates.at(index, pt) if replicates is not None else {}
    kw: dict[str, Any] = {"level": level, "wilson_below": wilson_below}
    out = {
        "sensitivity": estimate(
            m.sensitivity(truth, flagged), boot.get("sensitivity"), counts=(tp, tp + fn), **kw
        ),
        "specificity": estimate(
            m.specificity(truth, flagged), boot.get("specificity"), counts=(tn, tn + fp), **kw
        ),
        "ppv": estimate(m.ppv(truth, flagged), boot.get("ppv"), counts=(tp, tp + fp), **kw),
        "npv": estimate(m.npv(truth, flagged), boot.get("npv"), counts=(tn, tn + fn), **kw),
        "flags_per_1000": estimate(
            m.flags_per_1000(truth, flagged),
            boot.get("flags_per_1000"),
            counts=(tp + fp, truth.shape[0]),
            scale=1000.0,
            **kw,
        ),
    }
    if 0.0 < pt < 1.0:
        out["net_benefit"] = estimate(
            m.net_benefit(truth, flagged, pt), boot.get("net_benefit"), level=level
        )
    return out


def ranking_estimates(
    truth: BoolArray,
    scores: FloatArray,
    replicates: Replicates | None,
    *,
    level: float,
    calibration: bool,
) -> dict[str, Estimate]:
    """AUROC and AUPRC, plus Brier, ECE and calibration slope/intercept when asked."""
    functions: dict[str, Any] = {"auroc": m.auroc, "auprc": m.auprc}
    if calibration:
        functions |= {
            "brier": m.brier,
            "ece": m.expected_calibration_error,
            "calibration_slope": m.calibration_slope,
            "calibration_intercept": m.calibration_intercept,
        }
    boot = replicates.scalar if replicates is not None else {}
    return {
        name: estimate(function(truth, scores), boot.get(name), level=level)
        for name, function in functions.items()
    }


def sensitivity_thresholds(
    truth: BoolArray, scores: FloatArray, targets: tuple[float, ...] = TARGET_SENSITIVITIES
) -> list[float]:
    """For each target, the highest threshold whose sensitivity reaches it on this data."""
    positive_scores = np.sort(scores[truth])[::-1]
    if positive_scores.size == 0:
        return [math.nan for _ in targets]
    out = []
    for target in targets:
        needed = max(1, math.ceil(target * positive_scores.size - 1e-9))
        out.append(float(positive_scores[needed - 1]))
    return out


def curves(truth: BoolArray, scores: FloatArray, threshold: float) -> dict[str, Any]:
    """ROC and precision-recall curves (thinned for plotting) and the operating point."""
    fpr, tpr, _ = roc_curve(truth, scores, drop_intermediate=True)
    precision, recall, _ = precision_recall_curve(truth, scores, drop_intermediate=True)
    flagged = scores >= threshold
    return {
        "roc": {"fpr": _thin(fpr), "tpr": _thin(tpr)},
        "pr": {"recall": _thin(recall[::-1]), "precision": _thin(precision[::-1])},
        "operating_point": {
            "threshold": threshold,
            "fpr": 1.0 - m.specificity(truth, flagged),
            "tpr": m.sensitivity(truth, flagged),
            "precision": m.ppv(truth, flagged),
        },
        "prevalence": float(truth.mean()),
    }


def _thin(values: FloatArray) -> list[float]:
    if values.shape[0] <= MAX_CURVE_POINTS:
        return [float(v) for v in values]
    keep = np.unique(np.linspace(0, values.shape[0] - 1, MAX_CURVE_POINTS).round().astype(int))
    return [float(v) for v in values[keep]]


def reliability(
    truth: BoolArray, scores: FloatArray, *, n_bins: int = 10, level: float = 0.95
) -> list[dict[str, Any]]:
    """Reliability diagram points on equal-count bins of predicted risk (deciles by default).

    Equal-count bins keep every point supported by data when most scores are tiny, as they are
    at crisis prevalence; each bin carries a Wilson interval for the observed rate.
    """
    codes = pd.qcut(pd.Series(scores), q=n_bins, labels=False, duplicates="drop")
    rows = []
    for code in sorted(codes.dropna().unique()):
        members = (codes == code).to_numpy()
        events = int(truth[members].sum())
        size = int(members.sum())
        low, high = wilson_interval(events, size, level)
        rows.append(
            {
                "n": size,
                "mean_predicted": float(scores[members].mean()),
                "observed": events / size,
                "observed_low": low,
                "observed_high": high,
                "min_score": float(scores[members].min()),
                "max_score": float(scores[members].max()),
            }
        )
    return rows


def decision_curve(
    truth: BoolArray,
    scores: Mapping[str, FloatArray],
    binary: frozenset[str] = frozenset(),
    extra_thresholds: tuple[float, ...] = (),
) -> dict[str, Any]:
    """Net benefit across threshold probabilities for each scorer, treat-all and treat-none.

    A scorer named in ``binary`` (e.g. the lexicon baseline) has fixed flags (score >= 0.5);
    every other scorer flags messages whose score reaches the threshold probability.
    """
    grid = np.unique(np.concatenate([np.geomspace(0.001, 0.5, 60), extra_thresholds]).round(5))
    grid = grid[(grid > 0) & (grid < 1)]
    n = truth.shape[0]
    prevalence = float(truth.mean())
    odds = grid / (1.0 - grid)
    out: dict[str, Any] = {
        "thresholds": grid.tolist(),
        "treat_all": (prevalence - (1.0 - prevalence) * odds).tolist(),
        "treat_none": [0.0] * grid.shape[0],
        "models": {},
    }
    for name, values in scores.items():
        if name in binary:
            flagged = values >= 0.5
            tp = np.full(grid.shape, np.count_nonzero(flagged & truth), dtype=float)
            fp = np.full(grid.shape, np.count_nonzero(flagged & ~truth), dtype=float)
        else:
            pos, neg = np.sort(values[truth]), np.sort(values[~truth])
            tp = pos.shape[0] - np.searchsorted(pos, grid, side="left").astype(float)
            fp = neg.shape[0] - np.searchsorted(neg, grid, side="left").astype(float)
        out["models"][name] = (tp / n - fp / n * odds).tolist()
    return out
