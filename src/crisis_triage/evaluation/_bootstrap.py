"""A stratified, seeded, vectorised bootstrap for every metric at once.

Resampling: positives and negatives are resampled separately with replacement (their counts
stay fixed), as a matrix of counts per resample and message.  Each scorer sorts its scores once;
every metric of every resample then comes from cumulative sums of those counts in score order:

* AUROC: for each positive, the resampled number of negatives scored below it (ties: one half).
* AUPRC (average precision): recall steps at each distinct positive score, times the precision
  there.
* Threshold metrics: true and false positives above each threshold.
* Brier and ECE: one matrix product with per-message columns.
* Calibration slope/intercept: a Newton fit on groups of messages with equal scores (at most
  ``max_calibration_groups`` groups of neighbouring scores on large data, an approximation that
  only the resamples use; the point estimate is exact).

Several scorers share the same resamples, which makes differences between them paired.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from crisis_triage.evaluation._calibration import fit_intercept, fit_slope, logit
from crisis_triage.evaluation._metrics import EvaluationError, calibration_bin_index

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
SCALAR_METRICS = ("auroc", "auprc", "brier", "ece", "calibration_slope", "calibration_intercept")
THRESHOLD_METRICS = ("sensitivity", "specificity", "ppv", "npv", "flags_per_1000", "net_benefit")
_CELLS_PER_BATCH = 4_000_000  # resamples x messages per batch: bounds memory (~32 MB/array)


@dataclass(frozen=True)
class Replicates:
    """Bootstrap replicates for one scorer.

    ``scalar[name]`` has one value per resample; ``tp``/``fp`` have one row per resample and one
    column per threshold in ``thresholds``.
    """

    n_positive: int
    n_negative: int
    thresholds: FloatArray
    scalar: dict[str, FloatArray]
    tp: FloatArray
    fp: FloatArray

    def at(self, index: int, benefit_threshold: float | None = None) -> dict[str, FloatArray]:
        """Threshold metrics at ``thresholds[index]``, one value per resample.

        Net benefit is weighed at ``benefit_threshold`` (default: the threshold itself).
        """
        tp, fp = self.tp[:, index], self.fp[:, index]
        p, n = float(self.n_positive), float(self.n_negative)
        total = p + n
        tn, fn = n - fp, p - tp
        threshold = float(
            self.thresholds[index] if benefit_threshold is None else benefit_threshold
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            out = {
                "sensitivity": tp / p if p else np.full_like(tp, np.nan),
                "specificity": tn / n if n else np.full_like(tp, np.nan),
                "ppv": np.where(tp + fp > 0, tp / (tp + fp), np.nan),
                "npv": np.where(tn + fn > 0, tn / (tn + fn), np.nan),
                "flags_per_1000": 1000.0 * (tp + fp) / total,
            }
            if 0.0 < threshold < 1.0:
                out["net_benefit"] = tp / total - fp / total * threshold / (1.0 - threshold)
        return out


def resample_counts(
    truth: NDArray[np.bool_], n_boot: int, seed: int
) -> Iterator[tuple[FloatArray, FloatArray]]:
    """Batches of (positive counts, negative counts), each ``(batch, n_pos or n_neg)``.

    The counts of row ``b`` say how often each positive (negative) was drawn in resample ``b``;
    message order is the order of ``truth``'s positives (negatives).
    """
    rng = np.random.default_rng(seed)
    n_pos, n_neg = int(truth.sum()), int((~truth).sum())
    batch = max(1, min(n_boot, _CELLS_PER_BATCH // max(1, n_pos + n_neg)))
    done = 0
    while done < n_boot:
        size = min(batch, n_boot - done)
        yield _draw(rng, size, n_pos), _draw(rng, size, n_neg)
        done += size


def _draw(rng: np.random.Generator, rows: int, n: int) -> FloatArray:
    if n == 0:
        return np.zeros((rows, 0))
    picks = rng.integers(0, n, size=(rows, n), dtype=np.int64)
    picks += (np.arange(rows, dtype=np.int64) * n)[:, None]
    return np.bincount(picks.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def _cumulative(counts: FloatArray) -> FloatArray:
    out = np.zeros((counts.shape[0], counts.shape[1] + 1))
    np.cumsum(counts, axis=1, out=out[:, 1:])
    return out


@dataclass
class _Prepared:
    """Everything about one scorer's scores that does not depend on the resample."""

    scores: FloatArray
    truth: NDArray[np.bool_]
    thresholds: FloatArray
    calibration: bool
    max_calibration_groups: int
    n_bins: int = 10
    tp: list[FloatArray] = field(default_factory=list)
    fp: list[FloatArray] = field(default_factory=list)
    scalar: dict[str, list[FloatArray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        pos, neg = self.scores[self.truth], self.scores[~self.truth]
        self.pos_order = np.argsort(pos, kind="stable")
        self.neg_order = np.argsort(neg, kind="stable")
        sp, sn = pos[self.pos_order], neg[self.neg_order]
        self.n_pos, self.n_neg = sp.shape[0], sn.shape[0]
        self.auc_lo = np.searchsorted(sn, sp, side="left")
        self.auc_hi = np.searchsorted(sn, sp, side="right")
        run_values, run_starts = np.unique(sp, return_index=True)
        self.ap_start = run_starts
        self.ap_end = np.append(run_starts[1:], self.n_pos)
        self.ap_neg = np.searchsorted(sn, run_values, side="left")
        self.t_pos = np.searchsorted(sp, self.thresholds, side="left")
        self.t_neg = np.searchsorted(sn, self.thresholds, side="left")
        self.pos_matrix = self._moment_columns(sp, positive=True)
        self.neg_matrix = self._moment_columns(sn, positive=False)
        if self.calibration:
            self._prepare_calibration(sp, sn)

    def _moment_columns(self, sorted_scores: FloatArray, *, positive: bool) -> FloatArray:
        """Columns: score in ECE bin k (k < n_bins), ECE-bin membership, squared error."""
        bins = calibration_bin_index(sorted_scores, self.n_bins)
        member = np.zeros((sorted_scores.shape[0], self.n_bins))
        member[np.arange(sorted_scores.shape[0]), bins] = 1.0
        error = (1.0 - sorted_scores) ** 2 if positive else sorted_scores**2
        return np.hstack([member * sorted_scores[:, None], member, error[:, None]])

    def _prepare_calibration(self, sp: FloatArray, sn: FloatArray) -> None:
        x_pos, x_neg = logit(sp), logit(sn)
        x_all = np.sort(np.concatenate([x_pos, x_neg]))
        edges = np.unique(x_all)
        if edges.shape[0] > self.max_calibration_groups:
            quantiles = np.linspace(0.0, 1.0, self.max_calibration_groups + 1)[1:-1]
            edges = np.unique(np.quantile(x_all, quantiles))
            group_of = np.searchsorted(edges, x_all, side="right")
            sums = np.bincount(group_of, weights=x_all)
            sizes = np.bincount(group_of)
            self.cal_x = sums[sizes > 0] / sizes[sizes > 0]
            keep = np.flatnonzero(sizes > 0)
            pos_group = np.searchsorted(keep, np.searchsorted(edges, x_pos, side="right"))
            neg_group = np.searchsorted(keep, np.searchsorted(edges, x_neg, side="right"))
        else:
            self.cal_x = edges
            pos_group = np.searchsorted(edges, x_pos, side="left")
            neg_group = np.searchsorted(edges, x_neg, side="left")
        groups = np.arange(self.cal_x.shape[0])
        self.cal_pos = (
            np.searchsorted(pos_group, groups, "left"),
            np.searchsorted(pos_group, groups, "right"),
        )
        self.cal_neg = (
            np.searchsorted(neg_group, groups, "left"),
            np.searchsorted(neg_group, groups, "right"),
        )

    def add_batch(self, pos_counts: FloatArray, neg_counts: FloatArray) -> None:
        wp = np.take(pos_counts, self.pos_order, axis=1)  # np.take: ~7x faster than [:, idx]
        wn = np.take(neg_counts, self.neg_order, axis=1)
        cp, cn = _cumulative(wp), _cumulative(wn)
        p, n = float(self.n_pos), float(self.n_neg)
        out: dict[str, FloatArray] = {}
        with np.errstate(divide="ignore", invalid="ignore"):
            below = 0.5 * (_cols(cn, self.auc_lo) + _cols(cn, self.auc_hi))
            out["auroc"] = (wp * below).sum(axis=1) / (p * n) if p and n else _nan(wp)
            step = _cols(cp, self.ap_end) - _cols(cp, self.ap_start)
            tp_run = p - _cols(cp, self.ap_start)
            flagged = tp_run + (n - _cols(cn, self.ap_neg))
            precision = np.divide(tp_run, flagged, out=np.zeros_like(tp_run), where=flagged > 0)
            out["auprc"] = (step * precision).sum(axis=1) / p if p else _nan(wp)
        moments = wp @ self.pos_matrix + wn @ self.neg_matrix
        total = p + n
        k = self.n_bins
        observed = wp @ self.pos_matrix[:, k : 2 * k]
        out["ece"] = np.abs(observed - moments[:, :k]).sum(axis=1) / total
        out["brier"] = moments[:, 2 * k] / total
        if self.calibration:
            pos_g = _cols(cp, self.cal_pos[1]) - _cols(cp, self.cal_pos[0])
            tot_g = pos_g + _cols(cn, self.cal_neg[1]) - _cols(cn, self.cal_neg[0])
            out["calibration_slope"] = fit_slope(self.cal_x, pos_g, tot_g)
            out["calibration_intercept"] = fit_intercept(self.cal_x, pos_g, tot_g)
        for name, values in out.items():
            self.scalar.setdefault(name, []).append(values)
        self.tp.append(p - _cols(cp, self.t_pos))
        self.fp.append(n - _cols(cn, self.t_neg))

    def result(self) -> Replicates:
        return Replicates(
            n_positive=self.n_pos,
            n_negative=self.n_neg,
            thresholds=self.thresholds,
            scalar={name: np.concatenate(parts) for name, parts in self.scalar.items()},
            tp=np.vstack(self.tp),
            fp=np.vstack(self.fp),
        )


def _cols(matrix: FloatArray, index: IntArray) -> FloatArray:
    return np.take(matrix, index, axis=1)


def _nan(like: FloatArray) -> FloatArray:
    return np.full(like.shape[0], np.nan)


def bootstrap(
    truth: NDArray[np.bool_],
    scores: Mapping[str, FloatArray],
    thresholds: Mapping[str, Sequence[float]],
    *,
    n_boot: int,
    seed: int,
    calibration: Sequence[str] = (),
    max_calibration_groups: int = 1000,
) -> dict[str, Replicates]:
    """Replicates of every metric for each scorer, all on the same stratified resamples.

    ``thresholds[name]`` lists the thresholds at which threshold metrics are wanted (a message
    is flagged when its score is at least the threshold).  Calibration slope/intercept are
    fitted for the scorers named in ``calibration`` only (they cost most).
    """
    if n_boot < 1:
        raise EvaluationError("n_boot must be at least 1")
    prepared = {
        name: _Prepared(
            np.asarray(values, dtype=np.float64),
            truth,
            np.asarray(thresholds.get(name, ()), dtype=np.float64),
            name in calibration,
            max_calibration_groups,
        )
        for name, values in scores.items()
    }
    for pos_counts, neg_counts in resample_counts(truth, n_boot, seed):
        for item in prepared.values():
            item.add_batch(pos_counts, neg_counts)
    return {name: item.result() for name, item in prepared.items()}
