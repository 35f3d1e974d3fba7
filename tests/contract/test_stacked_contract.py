"""StackedDetector (detector v2) keeps the estimator contract, the model-file contract and the
no-gate promise: every message gets a probability strictly between 0 and 1."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from synthetic_messages import corpus, gate_lexicon

from crisis_triage.detector import StackedDetector, load_model, save_model
from crisis_triage.detector._encoder_registry import register_encoder, unregister_encoder

TEXTS, LABELS, TYPES = corpus(300)
PROBES = [
    "i want to kill myself tonight",
    "refill my prescription please",
    "my husband hits me",
    "",
    "this traffic is killing me",
    "ya no quiero vivir",
]


class HashingEncoder:
    """A deterministic bag-of-words random projection: a stand-in encoder for tests."""

    def __init__(self, name: str, dim: int = 32) -> None:
        self.name = name
        self.dim = dim

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                # crc32, not hash(): str hashes change from process to process.
                rng = np.random.default_rng(zlib.crc32(word.encode()))
                out[i] += rng.standard_normal(self.dim).astype(np.float32)
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out


@pytest.fixture(scope="module", autouse=True)
def test_encoders() -> Iterator[None]:
    for name in ("test-static", "test-full"):
        register_encoder(name, lambda name=name: HashingEncoder(name))
    yield
    for name in ("test-static", "test-full"):
        unregister_encoder(name)


def small_detector(**overrides: object) -> StackedDetector:
    params: dict[str, object] = {
        "lexicon": gate_lexicon(),
        "fast_encoder": "test-static",
        "full_encoder": "test-full",
        "cv": 3,
        "min_category_positives": 5,
    }
    return StackedDetector(**(params | overrides))


@pytest.fixture(scope="module")
def fitted() -> StackedDetector:
    return small_detector().fit(TEXTS, LABELS, crisis_types=[t or "" for t in TYPES])


def test_init_only_stores_parameters() -> None:
    detector = StackedDetector(cv=-1, stack_C=-2.0)
    assert detector.cv == -1
    assert detector.stack_C == -2.0
    assert not hasattr(detector, "threshold_")


def test_clone_and_get_params_round_trip() -> None:
    detector = small_detector(random_state=7)
    twin = clone(detector)
    assert twin.get_params()["random_state"] == 7
    assert twin.get_params()["fast_encoder"] == "test-static"
    assert set(twin.get_params()) == set(detector.get_params())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cv": 1}, "cv"),
        ({"stack_outside_calibration_weight": 1.5}, "stack_outside_calibration_weight"),
        ({"semantic_outside_calibration_weight": -0.1}, "semantic_outside_calibration_weight"),
    ],
)
def test_bad_parameters_are_refused_at_fit(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        small_detector(**overrides).fit(TEXTS, LABELS)


def test_rows_outside_calibration_at_weight_0_teach_the_encoder_model_nothing() -> None:
    """At weight 0 the encoder model learns from the calibration rows only: relabelling every
    row outside them leaves it exactly as it was; at weight 1 they count."""
    calibrate_on = np.arange(len(TEXTS)) % 3 != 0
    relabelled = np.where(calibrate_on, LABELS, 1 - np.asarray(LABELS))

    def coefficients(weight: float) -> list[np.ndarray]:
        detector = small_detector(semantic_outside_calibration_weight=weight)
        return [
            clone(detector).fit(TEXTS, labels, calibrate_on=calibrate_on).semantic_model_.coef_
            for labels in (LABELS, relabelled)
        ]

    np.testing.assert_allclose(*coefficients(0.0))
    assert not np.allclose(*coefficients(1.0))


def test_unfitted_detector_refuses_to_score() -> None:
    with pytest.raises(NotFittedError):
        small_detector().predict_proba(["hello"])


def test_too_few_crises_is_a_clear_error() -> None:
    labels = [0] * len(TEXTS)
    labels[0] = 1
    with pytest.raises(ValueError, match="too few crises"):
        small_detector().fit(TEXTS, labels)


def test_every_message_gets_a_probability_strictly_between_0_and_1(
    fitted: StackedDetector,
) -> None:
    p = fitted.predict_proba(PROBES)[:, 1]
    assert np.all((p > 0) & (p < 1))
    assert fitted.predict_proba(PROBES).shape == (len(PROBES), 2)


def test_crises_rank_above_routine_messages(fitted: StackedDetector) -> None:
    p = fitted.predict_proba(PROBES)[:, 1]
    assert p[0] > p[1]
    assert p[2] > p[1]


def test_determinism_per_seed() -> None:
    a = small_detector(random_state=3).fit(TEXTS, LABELS).predict_proba(PROBES)
    b = small_detector(random_state=3).fit(TEXTS, LABELS).predict_proba(PROBES)
    np.testing.assert_allclose(a, b)


def test_explain_fast_and_full_tiers(fitted: StackedDetector) -> None:
    full = fitted.explain(PROBES)
    fast = fitted.explain_fast(PROBES)
    assert {e.tier for e in full} == {"full"}
    assert {e.tier for e in fast} == {"fast"}
    assert fitted.semantic_available()
    for e in full:
        assert set(e.evidence) == {"ngrams", "static", "semantic"}
        assert e.threshold == pytest.approx(fitted.threshold_)


def test_full_tier_falls_back_to_fast_and_says_so(fitted: StackedDetector) -> None:
    unregister_encoder("test-full")
    try:
        twin = clone(fitted)
        twin.__dict__.update(
            {k: v for k, v in fitted.__dict__.items() if k.endswith("_") and k != "_cache"}
        )
        explanation = twin.explain(["i want to kill myself tonight"])[0]
        assert explanation.tier == "fast"
        assert any("encoder unavailable" in note for note in explanation.notes)
        assert not twin.semantic_available()
    finally:
        register_encoder("test-full", lambda: HashingEncoder("test-full"))


def test_phrases_have_no_function_word_only_ngrams(fitted: StackedDetector) -> None:
    for explanation in fitted.explain(PROBES, n_top=10):
        for phrase, _ in explanation.top_ngrams:
            assert phrase.strip() not in {"i", "my", "me", "been", "to", "the", "de", "que"}


def test_risk_sentence_is_a_span_of_the_message(fitted: StackedDetector) -> None:
    text = "Thanks for the refill. I want to kill myself tonight. See you Monday."
    explanation = fitted.explain([text])[0]
    if explanation.flagged:
        assert explanation.sentence is not None
        start, end = explanation.sentence
        assert "kill myself" in text[start:end]


def test_save_load_round_trip(fitted: StackedDetector, tmp_path: Path) -> None:
    path = save_model(fitted, tmp_path / "v2.skops")
    loaded = load_model(path)
    assert isinstance(loaded, StackedDetector)
    np.testing.assert_allclose(loaded.predict_proba(PROBES), fitted.predict_proba(PROBES))
    assert loaded.card_["detector_version"] == 2
    assert path.read_bytes() == save_model(fitted, tmp_path / "again.skops").read_bytes()
