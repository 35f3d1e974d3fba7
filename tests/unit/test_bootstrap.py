"""The vectorised stratified bootstrap: exact per resample, seeded, paired, and ~95% coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import norm

from crisis_triage.evaluation import (
    Estimate,
    auprc,
    auroc,
    bootstrap,
    brier,
    calibration_intercept,
    calibration_slope,
    expected_calibration_error,
    net_benefit,
    npv,
    percentile_interval,
    ppv,
    sensitivity,
    specificity,
    wilson_interval,
)
from crisis_triage.evaluation._bootstrap import resample_counts
from crisis_triage.evaluation._intervals import estimate


def _data(seed: int = 0, n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.1
    scores = np.clip(rng.beta(1, 8, n) + 0.3 * truth * rng.random(n), 0, 1).round(3)  # ties
    return truth, scores


def _expanded(truth: np.ndarray, n_boot: int, seed: int) -> list[np.ndarray]:
    """The row indices of each resample, rebuilt from the same seeded counts."""
    pos, neg = np.flatnonzero(truth), np.flatnonzero(~truth)
    out = []
    for wp, wn in resample_counts(truth, n_boot, seed):
        for b in range(wp.shape[0]):
            out.append(np.r_[np.repeat(pos, wp[b].astype(int)), np.repeat(neg, wn[b].astype(int))])
    return out


def test_every_replicate_equals_the_metric_on_that_resample() -> None:
    truth, scores = _data()
    reps = bootstrap(truth, {"m": scores}, {"m": [0.2, 0.35]}, n_boot=6, seed=3, calibration=["m"])[
        "m"
    ]
    scalar = {
        "auroc": auroc,
        "auprc": auprc,
        "brier": brier,
        "ece": expected_calibration_error,
        "calibration_slope": calibration_slope,
        "calibration_intercept": calibration_intercept,
    }
    for b, rows in enumerate(_expanded(truth, 6, 3)):
        y, s = truth[rows], scores[rows]
        for name, function in scalar.items():
            assert reps.scalar[name][b] == pytest.approx(function(y, s), abs=1e-9), name
        for index, threshold in enumerate((0.2, 0.35)):
            at, flagged = reps.at(index), s >= threshold
            for name, function in (
                ("sensitivity", sensitivity),
                ("specificity", specificity),
                ("ppv", ppv),
                ("npv", npv),
            ):
                assert at[name][b] == pytest.approx(function(y, flagged)), name
            assert at["flags_per_1000"][b] == pytest.approx(1000 * flagged.mean())
            assert at["net_benefit"][b] == pytest.approx(net_benefit(y, flagged, threshold))


def test_resamples_are_stratified_and_seeded() -> None:
    truth, scores = _data()
    for wp, wn in resample_counts(truth, 50, 1):
        assert (wp.sum(axis=1) == truth.sum()).all()
        assert (wn.sum(axis=1) == (~truth).sum()).all()
    first = bootstrap(truth, {"m": scores}, {"m": [0.2]}, n_boot=50, seed=1)["m"]
    again = bootstrap(truth, {"m": scores}, {"m": [0.2]}, n_boot=50, seed=1)["m"]
    other = bootstrap(truth, {"m": scores}, {"m": [0.2]}, n_boot=50, seed=2)["m"]
    assert np.array_equal(first.scalar["auroc"], again.scalar["auroc"])
    assert not np.array_equal(first.scalar["auroc"], other.scalar["auroc"])


def test_scorers_share_resamples_so_differences_are_paired() -> None:
    truth, scores = _data()
    noisy = np.clip(scores + np.random.default_rng(5).normal(0, 0.05, scores.shape), 0, 1)
    reps = bootstrap(
        truth,
        {"a": scores, "b": scores.copy(), "c": noisy},
        {"a": [0.2], "b": [0.2], "c": [0.2]},
        n_boot=200,
        seed=0,
    )
    same = reps["a"].scalar["auroc"] - reps["b"].scalar["auroc"]
    assert np.all(same == 0.0)
    paired = reps["a"].scalar["auroc"] - reps["c"].scalar["auroc"]
    # Pairing removes the shared resampling noise: the difference varies less than either AUROC.
    assert paired.std() < reps["a"].scalar["auroc"].std()


def test_grouped_calibration_on_large_data_stays_close_to_exact() -> None:
    rng = np.random.default_rng(9)
    scores = rng.beta(1, 10, 5000)
    truth = rng.random(5000) < scores * 1.3
    kw = {"n_boot": 20, "seed": 4, "calibration": ["m"]}
    exact = bootstrap(truth, {"m": scores}, {"m": [0.1]}, max_calibration_groups=10_000, **kw)
    grouped = bootstrap(truth, {"m": scores}, {"m": [0.1]}, max_calibration_groups=200, **kw)
    for name in ("calibration_slope", "calibration_intercept"):
        gap = np.abs(exact["m"].scalar[name] - grouped["m"].scalar[name])
        assert gap.max() < 0.01, name


def test_estimate_uses_wilson_for_small_proportions_and_says_so() -> None:
    replicates = np.linspace(0.6, 0.9, 101)
    small = estimate(0.8, replicates, counts=(8, 10))
    assert small.method == "wilson"
    assert (small.low, small.high) == pytest.approx(wilson_interval(8, 10))
    large = estimate(0.8, replicates, counts=(400, 500))
    assert large.method == "bootstrap"
    assert (large.low, large.high) == pytest.approx(np.quantile(replicates, [0.025, 0.975]))
    assert estimate(0.99, replicates, counts=(497, 500)).method == "wilson"  # < 5 failures
    assert estimate(float("nan"), replicates) == Estimate(None)
    # Too many undefined resamples: no interval rather than a misleading one.
    assert percentile_interval(np.array([0.5] + [np.nan] * 9)) != percentile_interval(replicates)
    assert estimate(0.5, np.array([0.5] + [np.nan] * 9)).method == "none"


def test_wilson_matches_the_textbook_formula() -> None:
    k, n, z = 7, 42, norm.ppf(0.975)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson_interval(k, n) == pytest.approx((centre - half, centre + half))


def test_intervals_cover_the_true_value_about_95_percent_of_the_time() -> None:
    """Simulated binormal data with known AUROC and sensitivity; 200 data sets, fixed seed."""
    rng = np.random.default_rng(2024)
    shift, n_pos, n_neg, threshold, runs = 1.2, 100, 300, 0.6, 200
    true_auc = norm.cdf(shift / np.sqrt(2))
    true_sens = norm.sf(np.log(threshold / (1 - threshold)) - shift)
    truth = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    covered = {"auroc": 0, "sensitivity_bootstrap": 0, "sensitivity_wilson": 0}
    for run in range(runs):
        scores = expit(np.r_[rng.normal(shift, 1, n_pos), rng.normal(0, 1, n_neg)])
        reps = bootstrap(truth, {"m": scores}, {"m": [threshold]}, n_boot=200, seed=run)["m"]
        low, high = percentile_interval(reps.scalar["auroc"])
        covered["auroc"] += low <= true_auc <= high
        low, high = percentile_interval(reps.at(0)["sensitivity"])
        covered["sensitivity_bootstrap"] += low <= true_sens <= high
        low, high = wilson_interval(int((scores[:n_pos] >= threshold).sum()), n_pos)
        covered["sensitivity_wilson"] += low <= true_sens <= high
    for name, hits in covered.items():
        assert 0.89 <= hits / runs <= 0.99, (name, hits / runs)


def test_bootstrap_rejects_zero_resamples() -> None:
    truth, scores = _data()
    with pytest.raises(ValueError, match="at least 1"):
        bootstrap(truth, {"m": scores}, {"m": [0.5]}, n_boot=0, seed=0)
