"""Per-group metrics (fairlearn MetricFrame) with intervals, suppression and a shortfall test.

Point estimates and group sizes come from fairlearn's ``MetricFrame``.  Its own bootstrap
(``n_boot``/``ci_quantiles``) is not used: it resamples with a pandas group-by per resample
(about 80 ms each here, minutes for 2,000 resamples) and is not stratified.  Intervals come from
the project's vectorised stratified bootstrap run within each group, with Wilson intervals for
small proportions, exactly as for the whole set.

A group's sensitivity is marked as significantly below the rest when a one-sided Fisher exact
test (detected vs missed crises, this group vs all other rows) gives a Holm-adjusted p < alpha.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.stats import fisher_exact

from crisis_triage.evaluation import _metrics as m
from crisis_triage.evaluation._bootstrap import bootstrap
from crisis_triage.evaluation._intervals import estimate

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
# Metrics that need crises in the group to mean anything.
NEEDS_POSITIVES = ("sensitivity", "auroc", "auprc")
GROUP_METRICS = ("sensitivity", "specificity", "ppv", "npv", "flags_per_1000", "auroc", "auprc")


def group_statistics(threshold: float, y: Any, s: Any) -> dict[str, float]:
    """All point metrics and counts of one group, as one MetricFrame metric.

    One metric returning a dict rather than thirteen scalar metrics: MetricFrame converts its
    inputs element by element for every metric call (``np.stack``), which on 100,000 rows cost
    about a second per metric.
    """
    truth, scores = np.asarray(y).astype(bool), np.asarray(s, dtype=np.float64)
    flagged = scores >= threshold
    out: dict[str, float] = {
        name: float(getattr(m, name)(truth, flagged))
        for name in ("sensitivity", "specificity", "ppv", "npv", "flags_per_1000")
    }
    out["auroc"], out["auprc"] = m.auroc(truth, scores), m.auprc(truth, scores)
    tp, fp, tn, fn = m.confusion_counts(truth, flagged)
    out |= {
        "count_n": float(truth.shape[0]),
        "count_positives": float(tp + fn),
        "count_tp": float(tp),
        "count_fp": float(fp),
        "count_fn": float(fn),
        "count_tn": float(tn),
    }
    return out


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (family-wise error control)."""
    order = np.argsort(p_values)
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (len(p_values) - rank) * p_values[index])
        adjusted[index] = min(1.0, running)
    return adjusted


def subgroup_table(
    column: str,
    values: Sequence[str],
    truth: BoolArray,
    scores: FloatArray,
    threshold: float,
    *,
    n_boot: int,
    seed: int,
    level: float,
    wilson_below: int,
    min_size: int,
    min_positives: int,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """One column's groups: sizes, metrics with intervals, suppression and shortfall marks."""
    from fairlearn.metrics import MetricFrame  # optional dependency (extra "evaluation")

    frame = MetricFrame(
        metrics={"statistics": partial(group_statistics, threshold)},
        y_true=truth.astype(int),
        y_pred=scores,
        sensitive_features=pd.Series(list(values), name=column),
    )
    group_array = np.asarray(values, dtype=object)
    rows: list[dict[str, Any]] = []
    for group, point in frame.by_group["statistics"].items():
        member = group_array == group
        row = _group_row(
            str(group),
            point,
            member,
            truth,
            scores,
            threshold,
            n_boot=n_boot,
            seed=seed,
            level=level,
            wilson_below=wilson_below,
            min_size=min_size,
            min_positives=min_positives,
        )
        rows.append(row)
    _mark_shortfalls(rows, alpha)
    rows.sort(key=lambda r: (-r["n"], r["group"]))
    return {"column": column, "groups": rows, "alpha": alpha, "test": "fisher-exact-holm"}


def _group_row(
    group: str,
    point: dict[str, float],
    member: BoolArray,
    truth: BoolArray,
    scores: FloatArray,
    threshold: float,
    **options: Any,
) -> dict[str, Any]:
    counts = {k: int(point[f"count_{k}"]) for k in ("n", "positives", "tp", "fp", "fn", "tn")}
    row: dict[str, Any] = {"group": group, **counts, "metrics": {}, "suppressed": None}
    total_tp, total_fn = (
        int((truth & (scores >= threshold)).sum()),
        int((truth & (scores < threshold)).sum()),
    )
    row["rest_tp"], row["rest_fn"] = total_tp - counts["tp"], total_fn - counts["fn"]
    if counts["n"] < options["min_size"]:
        row["suppressed"] = f"fewer than {options['min_size']} messages: too small to judge"
        return row
    few_positives = counts["positives"] < options["min_positives"]
    if few_positives:
        row["suppressed_metrics"] = list(NEEDS_POSITIVES)
        row["suppressed"] = (
            f"fewer than {options['min_positives']} crisis messages: sensitivity, AUROC and "
            "AUPRC not shown"
        )
    sub_truth, sub_scores = truth[member], scores[member]
    replicates = None
    if options["n_boot"] > 0 and 0 < counts["positives"] < counts["n"]:
        replicates = bootstrap(
            sub_truth,
            {"m": sub_scores},
            {"m": [threshold]},
            n_boot=options["n_boot"],
            seed=options["seed"],
        )["m"]
    boot = replicates.at(0) if replicates is not None else {}
    scalar = replicates.scalar if replicates is not None else {}
    proportions = {
        "sensitivity": (counts["tp"], counts["positives"]),
        "specificity": (counts["tn"], counts["n"] - counts["positives"]),
        "ppv": (counts["tp"], counts["tp"] + counts["fp"]),
        "npv": (counts["tn"], counts["tn"] + counts["fn"]),
        "flags_per_1000": (counts["tp"] + counts["fp"], counts["n"]),
    }
    kw = {"level": options["level"], "wilson_below": options["wilson_below"]}
    for name in GROUP_METRICS:
        if few_positives and name in NEEDS_POSITIVES:
            continue
        value = float(point[name])
        if name in proportions:
            scale = 1000.0 if name == "flags_per_1000" else 1.0
            result = estimate(value, boot.get(name), counts=proportions[name], scale=scale, **kw)
        else:
            result = estimate(value, scalar.get(name), level=options["level"])
        row["metrics"][name] = result.to_dict()
    return row


def _mark_shortfalls(rows: list[dict[str, Any]], alpha: float) -> None:
    tested = [r for r in rows if "sensitivity" in r["metrics"]]
    p_values = []
    for row in tested:
        table = [[row["tp"], row["fn"]], [row["rest_tp"], row["rest_fn"]]]
        if row["rest_tp"] + row["rest_fn"] == 0:
            p_values.append(1.0)
            continue
        p_values.append(float(fisher_exact(table, alternative="less").pvalue))
    for row, raw, adjusted in zip(tested, p_values, holm(p_values), strict=True):
        row["sensitivity_p"] = raw
        row["sensitivity_p_holm"] = adjusted
        row["sensitivity_below_rest"] = bool(adjusted < alpha)
    for row in rows:
        row.setdefault("sensitivity_below_rest", False)


def subgroup_tables(
    groups: Mapping[str, Sequence[str]], keep: BoolArray, **kwargs: Any
) -> list[dict[str, Any]]:
    """``subgroup_table`` for every group column, on the kept rows."""
    return [
        subgroup_table(column, [v for v, k in zip(values, keep, strict=True) if k], **kwargs)
        for column, values in groups.items()
    ]
