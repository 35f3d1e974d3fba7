"""The model card: what a model file says about itself (plain JSON-compatible data)."""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

_LIBRARIES = ("crisis-triage", "scikit-learn", "numpy", "scipy", "skops")


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            versions[name] = "not installed"
    return versions


def created_date() -> str:
    """Today's UTC date, or the date of ``SOURCE_DATE_EPOCH`` (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        moment = dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    else:
        moment = dt.datetime.now(tz=dt.UTC)
    return moment.date().isoformat()


def jsonable(value: Any) -> Any:
    """Parameters and metrics as plain JSON values (tuples become lists, numpy becomes python)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


THRESHOLD_HOW = {
    "fixed": "fixed at {threshold:g} (as in CMD-1), not tuned",
    "cost": (
        "the cross-validated threshold with the lowest cost, where a missed crisis costs "
        "{cost_fn:g} false positives"
    ),
    "sensitivity": (
        "the highest threshold whose cross-validated sensitivity is at least {target:.2f}"
    ),
}

PROBABILITY_TRANSFORM = (
    "z = classifier_.decision_function(hstack([vectorizer_.transform(texts), "
    "char_vectorizer_.transform(texts)])) (the char block only when char_vectorizer_ is "
    "not None); probability = 1/(1+exp(-z)) when calibrator_ is None, "
    "calibrator_.predict_proba(z[:, None])[:, 1] = 1/(1+exp(-(a*z+b))) for sigmoid, "
    "calibrator_.predict(z) (clipped piecewise-linear) for isotonic; with gate='lexicon', "
    "messages without an active lexicon hit get probability 0.0 and are not scored; "
    "flagged = probability >= threshold_"
)


# Quantiles kept of a reference score distribution: every half percent, enough for a
# population stability index on deciles and a Kolmogorov-Smirnov test against it.
REFERENCE_QUANTILES = 201


def score_reference(probabilities: Any, threshold: float, *, source: str) -> dict[str, Any]:
    """A model card's reference score distribution: what the model's scores look like on the
    messages it was tuned for, for drift monitoring to compare live scores against."""
    scores = np.asarray(probabilities, dtype=float)
    scores = scores[np.isfinite(scores)]
    if scores.size == 0:
        raise ValueError("a reference score distribution needs at least one score")
    levels = np.linspace(0.0, 1.0, REFERENCE_QUANTILES)
    return {
        "source": source,
        "n": int(scores.size),
        "threshold": float(threshold),
        "flag_rate": round(float(np.mean(scores >= threshold)), 6),
        "quantiles": [float(f"{q:.6g}") for q in np.quantile(scores, levels)],
    }
