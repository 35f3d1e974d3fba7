"""Cross-validated metrics with confidence intervals, for the model card.

Proportions (sensitivity, specificity, PPV, flag rate) get Wilson score intervals; AUROC and
AUPRC get a percentile bootstrap that resamples positives and negatives separately (so every
resample has both classes, which matters when positives are few).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import average_precision_score, roc_auc_score

SMALL_DATA_POSITIVES = 50


def wilson(k: int, n: int) -> dict[str, Any]:
    if n == 0:
        return {"value": None, "ci95": None, "k": 0, "n": 0}
    interval = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return {
        "value": round(k / n, 4),
        "ci95": [round(float(interval.low), 4), round(float(interval.high), 4)],
        "k": int(k),
        "n": int(n),
    }


def bootstrap_ranking(
    y: np.ndarray, p: np.ndarray, n_boot: int, random_state: int | None
) -> dict[str, dict[str, Any]]:
    """AUROC and AUPRC with stratified percentile bootstrap intervals."""
    rng = np.random.default_rng(random_state)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    samples: dict[str, list[float]] = {"auroc": [], "auprc": []}
    for _ in range(n_boot):
        rows = np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        samples["auroc"].append(roc_auc_score(y[rows], p[rows]))
        samples["auprc"].append(average_precision_score(y[rows], p[rows]))
    point = {"auroc": roc_auc_score(y, p), "auprc": average_precision_score(y, p)}
    out: dict[str, dict[str, Any]] = {}
    for name, value in point.items():
        ci = np.percentile(samples[name], [2.5, 97.5]).tolist() if n_boot else None
        out[name] = {
            "value": round(float(value), 4),
            "ci95": [round(float(c), 4) for c in ci] if ci else None,
        }
    return out


def cv_metrics(
    y: np.ndarray,
    p: np.ndarray,
    threshold: float,
    *,
    cost_fn: float,
    n_boot: int,
    random_state: int | None,
) -> dict[str, Any]:
    """Out-of-fold metrics at ``threshold`` (flag when ``p >= threshold``)."""
    flagged = p >= threshold
    positives, negatives = y == 1, y == 0
    tp = int((flagged & positives).sum())
    fp = int((flagged & negatives).sum())
    fn = int((~flagged & positives).sum())
    n = len(y)
    metrics: dict[str, Any] = {
        "n": n,
        "n_positive": int(positives.sum()),
        "sensitivity": wilson(tp, tp + fn),
        "specificity": wilson(int((~flagged & negatives).sum()), int(negatives.sum())),
        "ppv": wilson(tp, tp + fp),
        "flag_rate": wilson(tp + fp, n),
        "flags_per_1000": round(1000 * (tp + fp) / n, 1),
        "cost": {"fn": fn, "fp": fp, "total": cost_fn * fn + fp, "cost_fn": cost_fn},
    }
    metrics.update(bootstrap_ranking(y, p, n_boot, random_state))
    return metrics


def reliability_warnings(n_positive: int, n_negative: int, folds: int) -> list[str]:
    warnings: list[str] = []
    if n_positive < SMALL_DATA_POSITIVES:
        half_width = 1.96 * np.sqrt(0.9 * 0.1 / max(n_positive, 1))
        warnings.append(
            f"only {n_positive} positive messages: cross-validated sensitivity and PPV are "
            f"rough (a sensitivity near 0.9 has a 95% interval of about "
            f"±{min(half_width, 1.0):.2f}); collect more labelled crises before relying on them"
        )
    if n_negative < SMALL_DATA_POSITIVES:
        warnings.append(f"only {n_negative} negative messages: specificity and PPV are rough")
    if folds < 10:
        warnings.append(f"cross-validation used {folds} folds (fewer than 10: small classes)")
    return warnings
