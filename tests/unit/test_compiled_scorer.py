"""CompiledScorer gives scikit-learn's scores, for every vectorizer option the detector uses."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import hstack
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import MaxAbsScaler

from crisis_triage.detector import _ngram_index
from crisis_triage.detector._compiled import CompiledScorer, UnsupportedModelError
from crisis_triage.detector._ngram_index import IntHashMap
from crisis_triage.text import normalise, tokenise

# A small labelled corpus written here: crisis and ordinary phrases, mixed at random.
CRISIS = [
    "i want to kill myself",
    "i have been cutting again",
    "he hits me and i am scared",
    "took the whole bottle of pills",
    "i dont want to be alive anymore",
    "thinking about ending it all tonight",
    "i wanna kms",
    "planning my su1c1de",
]
ORDINARY = [
    "can i move my appointment to friday",
    "the new medication makes me sleepy",
    "thank you for the session yesterday",
    "how long should i take the antibiotics",
    "this traffic is killing me lol",
    "i cut myself off from sugar",
    "what are the side effects of sertraline",
    "my insurance card changed, call 555-123-4567",
]
FILLER = ["honestly", "today", "again", "please", "i think", "ok", "and", "so", "really"]


def _corpus(seed: int = 7, size: int = 160) -> tuple[list[str], list[int]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(size):
        label = i % 3 == 0
        core = rng.choice(CRISIS if label else ORDINARY)
        extra = " ".join(rng.choices(FILLER, k=rng.randint(0, 4)))
        other = rng.choice(ORDINARY) if rng.random() < 0.3 else ""
        texts.append(f"{extra} {core}. {other}".strip())
        labels.append(int(label))
    return texts, labels


TRAIN_TEXTS, TRAIN_LABELS = _corpus()
HELD_OUT, _ = _corpus(seed=11, size=60)
EDGE_TEXTS = [
    "",
    " ",
    "\n\t  \u3000",
    "!!!",
    "I WANT TO KILL MYSELF!!! I want to kill myself. i want to kill myself",  # tf > 1
    "\uff53\uff55\uff49\uff43\uff49\uff44\uff45 \u2019 caf\u00e9",  # full-width, accents
    "\u0645\u0631\u062d\u0628\u0627 \U0001f62d \u4f60\u597d",  # Arabic, emoji, CJK
    "e\u0301 combining, zero\u200bwidth, soft\u00adhyphen",
    "xyzzy plugh quux",  # nothing in the vocabulary
    "call me at (555) 123-4567 or mail a@b.com, see https://x.org/a",
    " ".join(["i want to kill myself and", "honestly today"] * 2000),  # very long
    "kill kill kill kill kill myself myself",
]
ALL_TEXTS = TRAIN_TEXTS + HELD_OUT + EDGE_TEXTS


def _word(**options: Any) -> TfidfVectorizer:
    settings_: dict[str, Any] = {
        "preprocessor": normalise,
        "tokenizer": tokenise,
        "lowercase": False,
        "token_pattern": None,
        "ngram_range": (1, 5),
        "min_df": 1,
    }
    return TfidfVectorizer(**(settings_ | options))


def _char_wb(**options: Any) -> TfidfVectorizer:
    settings_: dict[str, Any] = {
        "analyzer": "char_wb",
        "ngram_range": (2, 5),
        "preprocessor": normalise,
        "lowercase": False,
        "min_df": 2,
    }
    return TfidfVectorizer(**(settings_ | options))


def _classifier() -> LogisticRegression:
    return LogisticRegression(
        l1_ratio=1, solver="liblinear", C=10.0, max_iter=10_000, random_state=0
    )


def _union(**weights: float) -> FeatureUnion:
    return FeatureUnion(
        [("word", _word(sublinear_tf=True)), ("char", _char_wb(sublinear_tf=True))],
        transformer_weights=weights or None,
    )


VARIANTS: dict[str, Callable[[], Any]] = {
    "word 1-5": lambda: _word(),
    "word 1-5 sublinear min_df=2": lambda: _word(sublinear_tf=True, min_df=2),
    "word binary l1": lambda: _word(binary=True, norm="l1"),
    "word no norm, no idf": lambda: _word(norm=None, use_idf=False),
    "word raw idf": lambda: _word(smooth_idf=False, sublinear_tf=True),
    "word 2-4, max_df (vocabulary not prefix-closed)": lambda: _word(
        ngram_range=(2, 4), max_df=0.2
    ),
    "word max_features": lambda: _word(max_features=150, sublinear_tf=True),
    "word unigrams": lambda: _word(ngram_range=(1, 1)),
    "word fixed vocabulary, terms outside ngram_range": lambda: _word(
        ngram_range=(2, 3),
        vocabulary=["kill", "kill myself", "want to kill", "i want to kill", "to", "to kill"],
    ),
    "word default tokens, english stop words": lambda: TfidfVectorizer(
        ngram_range=(1, 3), stop_words="english"
    ),
    "word tokenise with stop words": lambda: _word(stop_words=["i", "the", "to"]),
    "char_wb": lambda: _char_wb(),
    "char_wb lowercase, no preprocessor": lambda: TfidfVectorizer(
        analyzer="char_wb", ngram_range=(1, 4), strip_accents="unicode"
    ),
    "char (generic analyzer path)": lambda: TfidfVectorizer(analyzer="char", ngram_range=(2, 4)),
    "word + char_wb union": lambda: _union(),
    "word + char_wb union, weighted": lambda: _union(word=0.7, char=1.6),
}


def _fit(features: Any) -> Pipeline:
    return make_pipeline(features, _classifier()).fit(TRAIN_TEXTS, TRAIN_LABELS)


@pytest.fixture(scope="module", params=list(VARIANTS), ids=list(VARIANTS))
def fitted(request: pytest.FixtureRequest) -> tuple[Pipeline, CompiledScorer]:
    pipeline = _fit(VARIANTS[request.param]())
    assert np.count_nonzero(pipeline[-1].coef_) > 0  # a model that says something
    return pipeline, CompiledScorer.from_estimator(pipeline)


def test_batch_scores_equal_sklearn(fitted: tuple[Pipeline, CompiledScorer]) -> None:
    pipeline, scorer = fitted  # more texts than the small-batch limit: the numpy path
    np.testing.assert_allclose(
        scorer.decision_function(ALL_TEXTS), pipeline.decision_function(ALL_TEXTS), atol=1e-9
    )
    np.testing.assert_allclose(
        scorer.predict_proba(ALL_TEXTS), pipeline.predict_proba(ALL_TEXTS), atol=1e-9
    )


def test_single_text_scores_equal_sklearn(fitted: tuple[Pipeline, CompiledScorer]) -> None:
    pipeline, scorer = fitted  # one text at a time: the plain-Python path
    expected = pipeline.decision_function(ALL_TEXTS)
    got = np.concatenate([scorer.decision_function([text]) for text in ALL_TEXTS])
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_contributions_add_up_to_the_decision(fitted: tuple[Pipeline, CompiledScorer]) -> None:
    pipeline, scorer = fitted
    intercept = pipeline[-1].intercept_[0]
    for texts in (ALL_TEXTS, ALL_TEXTS[:3]):
        scores = scorer.score(texts, top_k=10_000)
        for decision, top in zip(scores.decision, scores.top_ngrams, strict=True):
            assert sum(push for _, push in top) == pytest.approx(decision - intercept, abs=1e-9)
            sizes = [abs(push) for _, push in top]
            assert sizes == sorted(sizes, reverse=True)


def test_top_ngrams_match_sklearn_feature_contributions() -> None:
    pipeline = _fit(_word(sublinear_tf=True))
    scorer = CompiledScorer.from_estimator(pipeline)
    vectorizer, classifier = pipeline[0], pipeline[-1]
    names = vectorizer.get_feature_names_out()
    text = "honestly i want to kill myself. can i move my appointment to friday"
    row = vectorizer.transform([text]).toarray()[0] * classifier.coef_[0]
    expected = sorted(
        ((names[i], row[i]) for i in np.flatnonzero(row)), key=lambda item: -abs(item[1])
    )[:3]
    for top in (
        scorer.score([text], top_k=3).top_ngrams[0],
        scorer.score([text] * 20).top_ngrams[0],
    ):
        assert [gram for gram, _ in top][:3] == [gram for gram, _ in expected]
        np.testing.assert_allclose([p for _, p in top][:3], [p for _, p in expected], atol=1e-12)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibrated_ensemble_probabilities_equal_sklearn(method: str) -> None:
    pipeline = make_pipeline(_word(sublinear_tf=True, min_df=2), _classifier())
    calibrated = CalibratedClassifierCV(pipeline, method=method, cv=3)
    calibrated.fit(TRAIN_TEXTS, TRAIN_LABELS)
    scorer = CompiledScorer.from_estimator(calibrated)
    expected = calibrated.predict_proba(ALL_TEXTS)
    np.testing.assert_allclose(scorer.predict_proba(ALL_TEXTS), expected, atol=1e-9)
    np.testing.assert_allclose(scorer.predict_proba(ALL_TEXTS[:5]), expected[:5], atol=1e-9)
    with pytest.raises(UnsupportedModelError, match="single decision function"):
        scorer.decision_function(["x"])


def test_prefit_calibration_and_explicit_calibrator_equal_sklearn() -> None:
    pipeline = _fit(_union())
    calibrated = CalibratedClassifierCV(FrozenEstimator(pipeline), method="sigmoid")
    calibrated.fit(HELD_OUT, _corpus(seed=11, size=60)[1])
    expected = calibrated.predict_proba(ALL_TEXTS)
    from_estimator = CompiledScorer.from_estimator(calibrated)
    np.testing.assert_allclose(from_estimator.predict_proba(ALL_TEXTS), expected, atol=1e-9)
    union = pipeline[0]
    explicit = CompiledScorer.from_fitted(
        [union.transformer_list[0][1], union.transformer_list[1][1]],
        pipeline[-1],
        calibrator=calibrated.calibrated_classifiers_[0].calibrators[0],
    )
    np.testing.assert_allclose(explicit.predict_proba(ALL_TEXTS), expected, atol=1e-9)


# Random text made of vocabulary words, punctuation, masks and arbitrary unicode.
WORDS = sorted({w for t in CRISIS + ORDINARY + FILLER for w in t.split()})
random_texts = st.lists(
    st.one_of(st.sampled_from(WORDS), st.sampled_from([".", "!", "?", "\n", "k1ll"]), st.text()),
    max_size=40,
).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(st.lists(random_texts, min_size=1, max_size=24))
def test_random_text_scores_equal_sklearn(texts: list[str]) -> None:
    for pipeline, scorer in RANDOM_TEXT_MODELS:
        expected = pipeline.decision_function(texts)
        np.testing.assert_allclose(scorer.decision_function(texts), expected, atol=1e-9)


RANDOM_TEXT_MODELS = [
    (p, CompiledScorer.from_estimator(p))
    for p in (_fit(_word(sublinear_tf=True)), _fit(_union()), _fit(_word(ngram_range=(2, 3))))
]


def test_results_do_not_depend_on_cache_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_ngram_index, "_CACHE_LIMIT", 2)  # caches evict constantly
    pipeline = _fit(_union())
    scorer = CompiledScorer.from_estimator(pipeline)
    for _ in range(2):
        np.testing.assert_allclose(
            scorer.decision_function(ALL_TEXTS), pipeline.decision_function(ALL_TEXTS), atol=1e-9
        )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: make_pipeline(_word(dtype=np.float32), _classifier()), "dtype"),
        (lambda: make_pipeline(CountVectorizer(), _classifier()), "TfidfVectorizer"),
        (
            lambda: make_pipeline(_word(), LogisticRegression()).fit(
                TRAIN_TEXTS, [i % 3 for i in range(len(TRAIN_TEXTS))]
            ),
            "binary",
        ),
        (lambda: make_pipeline(_word(), MaxAbsScaler(), _classifier()), "Pipeline"),
    ],
    ids=["float32", "count vectorizer", "multiclass", "three steps"],
)
def test_unsupported_models_raise_a_clear_error(make: Callable[[], Any], message: str) -> None:
    estimator = make()
    if not hasattr(estimator[-1], "coef_"):
        estimator.fit(TRAIN_TEXTS, TRAIN_LABELS)
    with pytest.raises(UnsupportedModelError, match=message):
        CompiledScorer.from_estimator(estimator)


def test_unfitted_and_unsupported_options_raise() -> None:
    with pytest.raises(UnsupportedModelError, match="not fitted"):
        CompiledScorer.from_fitted(_word(), _classifier())
    fitted = _fit(_word())
    fitted[0].input = "filename"
    with pytest.raises(UnsupportedModelError, match="input"):
        CompiledScorer.from_estimator(fitted)
    with pytest.raises(UnsupportedModelError, match="calibrator"):
        CompiledScorer.from_fitted(_fit(_word())[0], fitted[-1], calibrator=object())


def test_bad_input_raises_type_error_without_echoing_text() -> None:
    scorer = CompiledScorer.from_estimator(_fit(_word()))
    with pytest.raises(TypeError, match="single string"):
        scorer.decision_function("i want to kill myself")
    with pytest.raises(TypeError, match="index 1") as caught:
        scorer.decision_function(["secret words here", None])  # type: ignore[list-item]
    assert "secret" not in str(caught.value)
    assert scorer.decision_function([]).shape == (0,)
    assert scorer.predict_proba([]).shape == (0, 2)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.integers(0, 2**40), st.integers(0, 2**31), max_size=300), st.data())
def test_int_hash_map_agrees_with_a_dict(table: dict[int, int], data: st.DataObject) -> None:
    keys = np.array(list(table), dtype=np.int64)
    hashed = IntHashMap(keys, np.array(list(table.values()), dtype=np.int64))
    queries = data.draw(st.lists(st.integers(0, 2**40), max_size=50)) + list(table)[:50]
    got = hashed.get(np.array(queries, dtype=np.int64)).tolist()
    assert got == [table.get(q, -1) for q in queries]


def _detector_like_model() -> dict[str, Any]:
    """The shapes TwoStageDetector uses: word + char_wb blocks with fixed vocabularies (the
    n-grams an L1 fit kept), a classifier on the stacked blocks, a sigmoid calibrator that
    is a 1-feature LogisticRegression on the log-odds, and category heads."""
    labels = np.array(TRAIN_LABELS)
    blocks = [_word(sublinear_tf=True, min_df=2), _char_wb(sublinear_tf=True)]
    selector = _fit(FeatureUnion([("w", blocks[0]), ("c", blocks[1])]))
    kept = np.flatnonzero(selector[-1].coef_[0])
    vectorizers, offset = [], 0
    for block in selector[0].transformer_list:
        names = block[1].get_feature_names_out()
        mine = kept[(kept >= offset) & (kept < offset + len(names))] - offset
        fresh = _word if block[0] == "w" else _char_wb
        vectorizer = fresh(sublinear_tf=True, min_df=1, vocabulary=list(names[mine]))
        vectorizers.append(vectorizer.fit(TRAIN_TEXTS))
        offset += len(names)

    def features(texts: list[str]) -> Any:
        return hstack([v.transform(texts) for v in vectorizers], format="csr")

    matrix = features(TRAIN_TEXTS)
    classifier = _classifier().fit(matrix, labels)
    z = classifier.decision_function(matrix)
    calibrator = LogisticRegression(C=1e6).fit(z.reshape(-1, 1), labels)
    rng = np.random.default_rng(3)
    heads = {
        name: LogisticRegression(C=5.0).fit(
            matrix, (labels + (rng.random(len(labels)) < share)) > 0
        )
        for name, share in (("SI", 0.2), ("DV", 0.5))
    }
    return {
        "vectorizers": vectorizers,
        "features": features,
        "classifier": classifier,
        "calibrator": calibrator,
        "heads": heads,
    }


def test_detector_shaped_model_scores_and_explains_like_sklearn() -> None:
    model = _detector_like_model()
    scorer = CompiledScorer.from_fitted(
        model["vectorizers"],
        model["classifier"],
        calibrator=model["calibrator"],
        heads=model["heads"],
        prefixes=("", "[char] "),
    )
    names = np.array(
        [str(n) for n in model["vectorizers"][0].get_feature_names_out()]
        + ["[char] " + str(n) for n in model["vectorizers"][1].get_feature_names_out()]
    )
    coef = model["classifier"].coef_[0]
    for texts in (ALL_TEXTS, ALL_TEXTS[:2], [HELD_OUT[4]]):
        matrix = model["features"](texts)
        z = model["classifier"].decision_function(matrix)
        scores = scorer.score(texts, top_k=4)
        np.testing.assert_allclose(scores.decision, z, atol=1e-9)
        expected_p = model["calibrator"].predict_proba(z.reshape(-1, 1))[:, 1]
        np.testing.assert_allclose(scores.probability[:, 1], expected_p, atol=1e-9)
        for name, head in model["heads"].items():
            np.testing.assert_allclose(
                scores.heads[name], head.predict_proba(matrix)[:, 1], atol=1e-9
            )
        for i, top in enumerate(scores.top_ngrams):  # ranked as TwoStageDetector.explain does
            row = matrix[i]
            pushes = coef[row.indices] * row.data
            ranked = [j for j in np.argsort(-np.abs(pushes), kind="stable") if pushes[j]][:4]
            assert [gram for gram, _ in top] == [names[row.indices[j]] for j in ranked]
            np.testing.assert_allclose([p for _, p in top], pushes[ranked], atol=1e-12)


def test_equal_contributions_keep_feature_order() -> None:
    texts = ["alpha beta gamma", "alpha beta delta", "gamma delta"] * 3
    vectorizer = TfidfVectorizer(vocabulary=["gamma", "beta", "alpha", "delta"]).fit(texts)
    classifier = LogisticRegression().fit(vectorizer.transform(texts), [1, 0, 0] * 3)
    classifier.coef_ = np.array([[0.0, 1.5, 1.5, 0.0]])  # alpha and beta always co-occur
    scorer = CompiledScorer.from_fitted(vectorizer, classifier)
    for batch in (["alpha beta"], ["alpha beta"] * 40):
        top = scorer.score(batch, top_k=2).top_ngrams[0]
        assert [gram for gram, _ in top] == ["beta", "alpha"]  # column order, not names
        assert top[0][1] == top[1][1]


def test_heads_must_be_logistic_regressions() -> None:
    pipeline = _fit(_word())
    with pytest.raises(UnsupportedModelError, match="head 'SI'"):
        CompiledScorer.from_fitted(pipeline[0], pipeline[-1], heads={"SI": object()})  # type: ignore[dict-item]
