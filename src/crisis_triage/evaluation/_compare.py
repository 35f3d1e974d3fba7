"""Several scorers on the same messages: one table, overlaid curves, paired differences.

All scorers share the same stratified resamples, so the interval of a difference (scorer minus
the reference, the first scorer) reflects the pairing: both were measured on the same messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from crisis_triage.evaluation import _summary as s
from crisis_triage.evaluation._bootstrap import Replicates, bootstrap
from crisis_triage.evaluation._data import EvaluationData
from crisis_triage.evaluation._in_sample import combined
from crisis_triage.evaluation._intervals import percentile_interval
from crisis_triage.evaluation._metrics import EvaluationError
from crisis_triage.evaluation._report import SCHEMA_VERSION, ReportConfig, ReportResult, clean
from crisis_triage.evaluation._report import provenance as _provenance

DIFFERENCE_METRICS = ("auroc", "auprc", "sensitivity", "specificity", "ppv", "flags_per_1000")


def _replicate(rep: Replicates, name: str, pt: float) -> NDArray[np.float64] | None:
    if name in rep.scalar:
        return rep.scalar[name]
    return rep.at(0, pt).get(name)


def compare(
    labels: ArrayLike,
    scores: Mapping[str, ArrayLike],
    thresholds: Mapping[str, float],
    config: ReportConfig,
    *,
    binary: frozenset[str] = frozenset(),
    descriptions: Mapping[str, str] | None = None,
    include_curves: bool = True,
    in_sample: Mapping[str, Any] | None = None,
) -> ReportResult:
    """Compare scorers (first = reference) on the same labelled messages.

    ``binary`` names 0/1 scorers such as lexicon baselines (no calibration metrics for them).
    ``in_sample`` is the overlap with what the models were trained on (``combined``); without
    it the result says the overlap was not checked.
    """
    if not scores:
        raise EvaluationError("nothing to compare")
    names = list(scores)
    first = names[0]
    datasets = {
        name: EvaluationData.from_arrays(labels, values, thresholds[name])
        for name, values in scores.items()
    }
    keep, truth = datasets[first].resolve(config.ambiguous)
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    if n_pos == 0 or n_neg == 0:
        raise EvaluationError("comparison needs both crisis (1) and non-crisis (0) messages")
    kept = {name: data.scores[keep] for name, data in datasets.items()}
    reps = None
    if config.n_boot > 0:
        reps = bootstrap(
            truth,
            kept,
            {n: [thresholds[n]] for n in names},
            n_boot=config.n_boot,
            seed=config.seed,
            calibration=[n for n in names if n not in binary],
        )
    kw: dict[str, Any] = {"level": config.level, "wilson_below": config.wilson_below}
    pt = thresholds[first] if 0 < thresholds[first] < 1 else None
    models: dict[str, Any] = {}
    for name in names:
        rep = reps[name] if reps else None
        metrics = s.ranking_estimates(
            truth, kept[name], rep, level=config.level, calibration=name not in binary
        )
        metrics |= s.threshold_estimates(
            truth, kept[name], thresholds[name], rep, 0, benefit_threshold=pt, **kw
        )
        models[name] = {
            "threshold": thresholds[name],
            "description": (descriptions or {}).get(name, ""),
            "metrics": {k: v.to_dict() for k, v in metrics.items()},
        }
        if include_curves:
            models[name]["curves"] = s.curves(truth, kept[name], thresholds[name])
    differences: dict[str, Any] = {}
    for name in names[1:]:
        differences[name] = {}
        for metric in DIFFERENCE_METRICS:
            a, b = (
                models[name]["metrics"][metric]["value"],
                models[first]["metrics"][metric]["value"],
            )
            entry: dict[str, Any] = {
                "value": None if a is None or b is None else a - b,
                "low": None,
                "high": None,
            }
            if reps is not None and entry["value"] is not None:
                ra = _replicate(reps[name], metric, thresholds[first])
                rb = _replicate(reps[first], metric, thresholds[first])
                if ra is not None and rb is not None:
                    entry["low"], entry["high"] = percentile_interval(ra - rb, config.level)
            differences[name][metric] = entry
    ambiguous = int(np.count_nonzero(datasets[first].labels == -1))
    result = {
        "kind": "comparison",
        "schema_version": SCHEMA_VERSION,
        "title": config.title,
        "in_sample": dict(in_sample) if in_sample is not None else combined({}),
        "provenance": _provenance(config),
        "reference": first,
        "dataset": {
            "name": config.data_name,
            "n_rows": int(keep.shape[0]),
            "n_evaluated": int(keep.sum()),
            "n_positive": n_pos,
            "n_negative": n_neg,
            "n_ambiguous": ambiguous,
            "ambiguous_policy": config.ambiguous,
            "prevalence": n_pos / (n_pos + n_neg),
        },
        "models": models,
        "differences": differences,
    }
    return ReportResult(clean(result))
