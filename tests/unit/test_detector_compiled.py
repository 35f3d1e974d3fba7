"""TwoStageDetector scores through CompiledScorer and says exactly what scikit-learn says.

The reference below is the detector's scoring written with the fitted scikit-learn objects
(TF-IDF matrix, ``decision_function``, ``predict_proba``), as it was before scoring was
compiled: probabilities, flags, categories and the explaining n-grams must all agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.isotonic import IsotonicRegression
from synthetic_messages import NEGATIVES, POSITIVES, corpus, fast_detector

from crisis_triage.detector import TwoStageDetector, load_model
from crisis_triage.detector import _features as feat
from crisis_triage.detector._detector import HEAD_THRESHOLD
from crisis_triage.lexicon import CATEGORIES
from crisis_triage.text import normalise

TEXTS, LABELS, TYPES = corpus()
PROBES = [
    *TEXTS[:40],
    *[text for texts in POSITIVES.values() for text in texts],
    *NEGATIVES,
    "",
    "   ",
    "I WANT TO KILL MYSELF. i want to kill myself!!! kms",
    "\uff53\uff55\uff49\uff43\uff49\uff44\uff45 \u2019 caf\u00e9 \U0001f62d",
    "my husband hits me " * 300,  # long: the batch path even alone
    "nothing here at all",
]


def _sklearn_reference(model: TwoStageDetector, texts: list[str], n_top: int) -> list[Any]:
    normalised = [normalise(t) for t in texts]
    hits = [model.lexicon_.match(s, normalised=True) for s in normalised]
    passed = np.ones(len(texts), dtype=bool)
    if model.gate == "lexicon":
        passed = np.array([any(h.active for h in found) for found in hits], dtype=bool)
    rows = np.flatnonzero(passed)
    matrix = feat.transform(model._vectorizers(), [normalised[i] for i in rows])
    z = model.classifier_.decision_function(matrix)
    calibrator = model.calibrator_
    if calibrator is None:
        p_model = 1.0 / (1.0 + np.exp(-z))
    elif isinstance(calibrator, IsotonicRegression):
        p_model = calibrator.predict(z)
    else:
        p_model = calibrator.predict_proba(z.reshape(-1, 1))[:, 1]
    p = np.zeros(len(texts))
    p[rows] = p_model
    heads = {c: h.predict_proba(matrix)[:, 1] for c, h in model.category_heads_.items()}
    names = feat.feature_names([model.vectorizer_, model.char_vectorizer_])
    coef = model.classifier_.coef_[0]
    out = []
    for i in range(len(texts)):
        categories = {h.category for h in hits[i] if h.active}
        top: tuple[tuple[str, float], ...] = ()
        if passed[i]:
            r = int(np.searchsorted(rows, i))
            if p[i] >= model.threshold_:
                categories |= {c for c, hp in heads.items() if hp[r] >= HEAD_THRESHOLD}
            row = matrix[r]
            pushes = coef[row.indices] * row.data
            ranked = [j for j in np.argsort(-np.abs(pushes), kind="stable") if pushes[j]]
            top = tuple((str(names[row.indices[j]]), float(pushes[j])) for j in ranked[:n_top])
        out.append((p[i], tuple(c for c in CATEGORIES if c in categories), top))
    return out


def _assert_same(model: TwoStageDetector, texts: list[str], n_top: int = 5) -> None:
    expected = _sklearn_reference(model, texts, n_top)
    for batch in (texts, *[[text] for text in texts]):  # a batch, then one at a time
        got = model.explain(batch, n_top=n_top)
        want = expected if len(batch) > 1 else [expected[texts.index(batch[0])]]
        for explanation, (p, categories, top) in zip(got, want, strict=True):
            assert explanation.probability == pytest.approx(p, abs=1e-12)
            assert explanation.flagged == (p >= model.threshold_)
            assert explanation.categories == categories
            assert [g for g, _ in explanation.top_ngrams] == [g for g, _ in top]
            np.testing.assert_allclose(
                [w for _, w in explanation.top_ngrams], [w for _, w in top], atol=1e-12
            )
    np.testing.assert_allclose(
        model.predict_proba(texts)[:, 1], [p for p, _, _ in expected], atol=1e-12
    )


@pytest.mark.parametrize(
    ("preset", "overrides"),
    [
        ("cmd1", {}),  # lexicon gate, every n-gram, no calibration
        ("default", {}),  # pruned vocabulary, sigmoid calibration
        ("default", {"calibration": "isotonic"}),
        ("default", {"prune_refit": False, "char_ngrams": (3, 4), "sublinear_tf": False}),
    ],
    ids=["cmd1", "default", "isotonic", "full vocabulary+char"],
)
def test_detector_scores_equal_the_sklearn_computation(
    preset: str, overrides: dict[str, Any]
) -> None:
    model = fast_detector(preset, **overrides).fit(TEXTS, LABELS, crisis_types=TYPES)
    assert model.category_heads_  # heads are exercised
    _assert_same(model, PROBES)


V1_MODEL = Path(__file__).resolve().parents[2] / "benchmarks" / "baselines" / "v1_default.skops"


def test_wave1_model_scores_equal_the_sklearn_computation() -> None:
    _assert_same(load_model(V1_MODEL), PROBES)


def test_bundled_v2_ngram_scores_equal_the_sklearn_computation() -> None:
    model = load_model()
    texts = [normalise(t) for t in PROBES]
    blocks = [feat.prenormalised(v).transform(texts) for v in model.vectorizers_ if v is not None]
    X = sp.hstack(blocks).tocsr()
    expected = model.ngram_model_.decision_function(X)
    np.testing.assert_allclose(model._compiled().decision_function(texts), expected, atol=1e-9)


def test_compiled_scorer_is_built_once_and_not_saved() -> None:
    model = fast_detector("default").fit(TEXTS, LABELS)
    model.predict_proba(["i want to kill myself"])
    compiled = model._compiled()
    model.explain(["thanks for today"])
    assert model._compiled() is compiled
    assert "_cache" not in model.__getstate__()
