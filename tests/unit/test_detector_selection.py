"""Cross-validation features, cost, calibration and threshold choice on hand-made numbers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from crisis_triage.detector._features import FeatureCounts, FeatureSpec, identity, select_columns
from crisis_triage.detector._metrics import cv_metrics, reliability_warnings, wilson
from crisis_triage.detector._selection import (
    CVScores,
    calibrate,
    choose,
    choose_threshold,
    cost,
    fit_calibrator,
)
from crisis_triage.text import normalise, tokenise

TEXTS = [
    normalise(t)
    for t in [
        "i want to end it all tonight",
        "i want a refill of my meds",
        "end it all, i mean it",
        "my meds ran out, refill please",
        "tonight i want it to end",
        "please refill",
        "i mean to end my life",
        "meds please",
    ]
]


def _spec(char: tuple[int, int] | None = None, min_df: int | float = 1) -> FeatureSpec:
    return FeatureSpec((1, 3), char, min_df, sublinear_tf=True)


@pytest.mark.parametrize(("char", "min_df"), [(None, 1), (None, 2), ((2, 3), 2), (None, 0.3)])
def test_fold_features_equal_a_vectoriser_fitted_on_the_fold(
    char: tuple[int, int] | None, min_df: int | float
) -> None:
    spec = _spec(char, min_df)
    counts = FeatureCounts(spec, TEXTS)
    train, test = np.array([0, 1, 2, 4, 5, 7]), np.array([3, 6])
    X_train, X_test, columns = counts.fold(train, test)
    kinds = ["word"] + (["char"] if char else [])
    expected_train, expected_test = [], []
    for kind in kinds:
        vectorizer = TfidfVectorizer(**spec.vectorizer_params(kind), min_df=min_df)
        vectorizer.set_params(preprocessor=identity)
        expected_train.append(vectorizer.fit_transform([TEXTS[i] for i in train]).toarray())
        expected_test.append(vectorizer.transform([TEXTS[i] for i in test]).toarray())
    np.testing.assert_allclose(X_train.toarray(), np.hstack(expected_train), rtol=1e-12)
    np.testing.assert_allclose(X_test.toarray(), np.hstack(expected_test), rtol=1e-12)
    assert sum(len(c) for c in columns) == X_train.shape[1]


def test_selected_columns_equal_a_vectoriser_restricted_to_them() -> None:
    spec = _spec()
    counts = FeatureCounts(spec, TEXTS)
    rows = np.arange(len(TEXTS))
    X, _, columns = counts.fold(rows, rows[:0])
    terms = counts.kept_terms(rows)[0]
    selected = np.array([1, 5, 9, 20])
    X_selected, new_columns = select_columns(X, columns, selected)
    restricted = TfidfVectorizer(
        **spec.vectorizer_params("word"), vocabulary=[str(t) for t in terms[selected]]
    )
    restricted.set_params(preprocessor=identity).fit(TEXTS)
    np.testing.assert_allclose(X_selected.toarray(), restricted.transform(TEXTS).toarray())
    assert [len(c) for c in new_columns] == [4]


def test_word_vectoriser_uses_the_project_normaliser_and_tokeniser() -> None:
    params = _spec().vectorizer_params("word")
    assert params["preprocessor"] is normalise and params["tokenizer"] is tokenise
    assert params["lowercase"] is False and params["token_pattern"] is None


def test_cost_weighs_misses_by_cost_fn() -> None:
    p = np.array([0.9, 0.2, 0.6, 0.1])
    y = np.array([1, 1, 0, 0])
    w = np.ones(4)
    assert cost(p, y, w, 0.5, cost_fn=20) == 20 + 1  # one miss, one false alarm
    assert cost(p, y, w, 0.15, cost_fn=20) == 1
    assert cost(p, y, np.array([1, 3, 1, 1]), 0.5, cost_fn=20) == 61


def test_cost_threshold_is_the_cheapest_positive_score() -> None:
    p = np.array([0.05, 0.3, 0.8, 0.01, 0.2, 0.4, 0.02, 0.0])
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    t, warning = choose_threshold(
        "cost", p, y, np.ones(8), fixed=0.01, cost_fn=20, target_sensitivity=0.9
    )
    # Candidates are positive scores above 0: 0.05 (cost 2 FP), 0.3 (20 + 1), 0.8 (40 + 0).
    assert t == 0.05 and warning is None
    t, _ = choose_threshold("cost", p, y, np.ones(8), fixed=0.01, cost_fn=0.5, target_sensitivity=0)
    assert t == 0.8


def test_sensitivity_threshold_is_the_highest_that_reaches_the_target() -> None:
    p = np.array([0.9, 0.7, 0.5, 0.3, 0.6, 0.2])
    y = np.array([1, 1, 1, 1, 0, 0])
    kwargs = {"fixed": 0.01, "cost_fn": 20.0}
    assert choose_threshold("sensitivity", p, y, np.ones(6), **kwargs, target_sensitivity=0.75)[
        0
    ] == pytest.approx(0.5)
    assert choose_threshold("sensitivity", p, y, np.ones(6), **kwargs, target_sensitivity=1.0)[
        0
    ] == pytest.approx(0.3)
    assert choose_threshold("fixed", p, y, np.ones(6), **kwargs, target_sensitivity=1.0) == (
        0.01,
        None,
    )


def test_unreachable_sensitivity_keeps_every_scored_positive_and_warns() -> None:
    p = np.array([0.9, 0.0, 0.4])  # the second crisis was kept out by the gate
    y = np.array([1, 1, 0])
    t, warning = choose_threshold(
        "sensitivity", p, y, np.ones(3), fixed=0.01, cost_fn=20, target_sensitivity=0.95
    )
    assert t == 0.9 and warning is not None and "cannot reach 0.95" in warning


@pytest.mark.parametrize("method", ["none", "sigmoid", "isotonic"])
def test_calibration_is_monotone_and_gated_out_is_zero(method: str) -> None:
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(-2, 1, 200), rng.normal(1.5, 1, 40)])
    y = np.concatenate([np.zeros(200, int), np.ones(40, int)])
    calibrator = fit_calibrator(method, z, y, np.ones(len(z)))
    grid = np.linspace(-6, 6, 50)
    p = calibrate(calibrator, np.concatenate([grid, [-np.inf]]))
    assert np.all(np.diff(p[:-1]) >= 0) and p[-1] == 0.0
    assert np.all((p >= 0) & (p <= 1))


def test_sigmoid_calibration_stays_finite_on_separable_scores() -> None:
    z = np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])
    y = np.array([0, 0, 0, 1, 1, 1])
    calibrator = fit_calibrator("sigmoid", z, y, np.ones(6))
    p = calibrate(calibrator, z)
    assert 0 < p.min() < 0.5 < p.max() < 1  # Platt's smoothed targets: no 0/1 step


def test_choose_prefers_the_smallest_c_among_equal_costs() -> None:
    y = np.array([1, 0, 1, 0])
    scores = np.array([[2.0, -2.0, 2.0, -2.0], [3.0, -3.0, 3.0, -3.0], [-1.0, 1.0, 2.0, -2.0]])
    cv = CVScores((0.1, 1.0, 10.0), 2, scores, np.zeros(3))
    choice = choose(
        cv,
        y,
        np.ones(4),
        calibration="none",
        mode="fixed",
        fixed=0.5,
        cost_fn=20,
        target_sensitivity=0.9,
    )
    assert choice.C_index == 0 and choice.costs == (0.0, 0.0, 21.0)


def test_wilson_interval_and_small_data_warning() -> None:
    result = wilson(40, 42)
    assert result["value"] == pytest.approx(0.9524, abs=1e-4)
    assert result["ci95"][0] < 0.9524 < result["ci95"][1]
    assert wilson(0, 0)["value"] is None
    assert any("only 12 positive" in w for w in reliability_warnings(12, 500, 10))
    assert not reliability_warnings(80, 800, 10)


def test_cv_metrics_counts_and_intervals() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.6, 0.0, 0.7, 0.1, 0.05, 0.2, 0.0])
    metrics = cv_metrics(y, p, 0.5, cost_fn=20, n_boot=50, random_state=0)
    assert metrics["sensitivity"]["k"] == 2 and metrics["sensitivity"]["n"] == 3
    assert metrics["ppv"]["k"] == 2 and metrics["ppv"]["n"] == 3
    assert metrics["cost"] == {"fn": 1, "fp": 1, "total": 21, "cost_fn": 20}
    low, high = metrics["auroc"]["ci95"]
    assert low <= metrics["auroc"]["value"] <= high
