"""What fitting and scoring do: gate, categories, pruning, card, small-data warnings, errors."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_messages import corpus, fast_detector

from crisis_triage.detector import TwoStageDetector

TEXTS, LABELS, TYPES = corpus()


@pytest.fixture(scope="module")
def gated() -> TwoStageDetector:
    return fast_detector("cmd1").fit(TEXTS, LABELS, crisis_types=TYPES)


@pytest.fixture(scope="module")
def ungated() -> TwoStageDetector:
    return fast_detector("default").fit(TEXTS, LABELS, crisis_types=TYPES)


def test_lexicon_gate_keeps_messages_without_active_hit_from_the_model(
    gated: TwoStageDetector,
) -> None:
    messages = ["i want to kill myself", "i want to be alive anymore no more"]
    p = gated.predict_proba(messages)[:, 1]
    assert p[1] == 0.0 and p[0] > 0
    explanation = gated.explain(messages)[1]
    assert not explanation.gate_passed and not explanation.flagged
    assert explanation.top_ngrams == ()
    assert any("lexicon gate" in reason for reason in explanation.reasons())
    (alone,) = gated.explain(["nothing to see here"])  # no message reaches stage 2 at all
    assert alone.probability == 0.0 and not alone.gate_passed


def test_without_gate_every_message_is_scored(ungated: TwoStageDetector) -> None:
    explanations = ungated.explain(["thanks for the session", "i do not want to be alive anymore"])
    assert all(e.gate_passed for e in explanations)
    assert explanations[1].probability > explanations[0].probability > 0


def test_gate_misses_count_in_cross_validation(gated: TwoStageDetector) -> None:
    card = gated.card_
    assert card["training"]["n_positive_passing_gate"] < card["training"]["n_positive"]
    assert any("lexicon gate keeps" in w for w in card["warnings"])
    assert card["metrics_cv"]["sensitivity"]["value"] < 1.0


def test_explanations_name_the_ngrams_that_pushed_the_score(ungated: TwoStageDetector) -> None:
    (explanation,) = ungated.explain(["i want to kill myself"])
    assert explanation.flagged and explanation.threshold == ungated.threshold_
    grams = [gram for gram, _ in explanation.top_ngrams]
    assert grams and all(weight != 0 for _, weight in explanation.top_ngrams)
    weights = [abs(weight) for _, weight in explanation.top_ngrams]
    assert weights == sorted(weights, reverse=True)
    assert any(gram in "i want to kill myself" for gram in grams)


def test_category_heads_and_lexicon_give_categories(ungated: TwoStageDetector) -> None:
    assert set(ungated.category_heads_) == {"SI", "NSSI", "DV"}
    assert ungated.card_["categories"]["labelled_positives_by_category"]["HI"] == 0
    dv, si = ungated.explain(["my husband hits me when he drinks", "i want to kill myself"])
    assert "DV" in dv.categories and "SI" in si.categories
    assert ungated.predict_categories(["thanks for the session today"]) == [()]


def test_without_crisis_types_categories_come_from_the_lexicon_only() -> None:
    model = fast_detector("default").fit(TEXTS, LABELS)
    assert model.category_heads_ == {}
    (explanation,) = model.explain(["i want to kill myself"])
    assert explanation.categories == ("SI",)  # the test gate lexicon files every term as SI


def test_pruning_keeps_only_selected_ngrams(ungated: TwoStageDetector) -> None:
    vocabulary = ungated.vectorizer_.vocabulary_
    assert len(vocabulary) == ungated.classifier_.coef_.shape[1]
    unpruned = fast_detector("default", prune_refit=False).fit(TEXTS, LABELS)
    assert len(unpruned.vectorizer_.vocabulary_) > 5 * len(vocabulary)
    assert ungated.card_["stage2"]["pruned_and_refitted"] is True


def test_char_ngrams_add_a_second_vectoriser() -> None:
    model = fast_detector("default", char_ngrams=(3, 4), prune_refit=False).fit(TEXTS, LABELS)
    assert model.char_vectorizer_ is not None
    width = len(model.vectorizer_.vocabulary_) + len(model.char_vectorizer_.vocabulary_)
    assert model.classifier_.coef_.shape[1] == width
    (explanation,) = model.explain(["i cut myself again"])
    assert all(isinstance(gram, str) for gram, _ in explanation.top_ngrams)


@pytest.mark.parametrize(
    ("mode", "calibration"), [("cost", "isotonic"), ("sensitivity", "sigmoid"), ("fixed", "none")]
)
def test_threshold_modes_and_calibrations(mode: str, calibration: str) -> None:
    model = fast_detector(
        "default", threshold_mode=mode, calibration=calibration, target_sensitivity=0.9
    ).fit(TEXTS, LABELS)
    assert 0 < model.threshold_ <= 1
    p = model.predict_proba(TEXTS)[:, 1]
    assert np.all((p >= 0) & (p <= 1))
    assert model.card_["threshold"]["mode"] == mode
    if mode == "sensitivity":
        assert model.card_["metrics_cv"]["sensitivity"]["value"] >= 0.9


def test_small_data_is_reported_as_unreliable() -> None:
    texts, labels, _ = corpus(120, positive_every=6)
    model = fast_detector("default").fit(texts, labels)
    card = model.card_
    assert card["metrics_cv"]["n_positive"] == 20
    assert any("only 20 positive messages" in w for w in card["warnings"])
    low, high = card["metrics_cv"]["sensitivity"]["ci95"]
    assert high - low > 0.1


def test_sample_weights_change_the_model_and_are_checked() -> None:
    plain = fast_detector("default").fit(TEXTS, LABELS)
    weights = np.where(np.array(LABELS) == 1, 5.0, 1.0)
    weighted = fast_detector("default").fit(TEXTS, LABELS, sample_weight=weights)
    assert weighted.card_["training"]["sample_weighted"] is True
    probes = ["i feel tired after work", "i want to kill myself"]
    assert not np.allclose(plain.predict_proba(probes), weighted.predict_proba(probes))
    with pytest.raises(ValueError, match="sample_weight"):
        fast_detector().fit(TEXTS, LABELS, sample_weight=-weights)


def test_bad_inputs_are_clear_errors_without_message_text() -> None:
    with pytest.raises(TypeError, match=r"X\[2\] is missing"):
        fast_detector().fit([*TEXTS[:2], None, *TEXTS[3:]], LABELS)
    with pytest.raises(ValueError, match="only 0 and 1; found 2"):
        fast_detector().fit(TEXTS, [2, *LABELS[1:]])
    with pytest.raises(ValueError, match="one label per message"):
        fast_detector().fit(TEXTS, LABELS[:-1])
    with pytest.raises(TypeError, match="not a single string"):
        fast_detector().fit(TEXTS, LABELS).predict_proba("one message")
    with pytest.raises(ValueError, match="unknown categories"):
        fast_detector().fit(TEXTS, LABELS, crisis_types=["XX", *TYPES[1:]])
    with pytest.raises(ValueError, match="at least 2 positive"):
        fast_detector().fit(TEXTS, [0] * len(TEXTS))


def test_fit_accepts_fixed_c_and_records_the_card() -> None:
    model = fast_detector("default", C=3.0).fit(TEXTS, LABELS)
    card = model.card_
    assert model.C_ == 3.0 and card["cv"]["C_grid"] == [3.0]
    assert card["preset"] == "custom" and card["params"]["C"] == 3.0
    assert card["lexicon"]["version"] == "test-gate"
    assert "1/(1+exp(-(a*z+b)))" in card["probability_transform"]
    assert set(card["libraries"]) >= {"scikit-learn", "numpy", "skops", "crisis-triage"}
