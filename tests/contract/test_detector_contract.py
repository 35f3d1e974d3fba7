"""TwoStageDetector keeps the scikit-learn estimator contract and the model-file contract."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from scipy.special import expit
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from synthetic_messages import corpus, fast_detector

from crisis_triage.detector import (
    ModelLoadError,
    TwoStageDetector,
    card_path,
    load_model,
    make_detector,
    save_model,
)

TEXTS, LABELS, TYPES = corpus()
PROBES = [
    "i want to kill myself tonight",
    "refill my prescription please",
    "my husband hits me",
    "",
    "this traffic is killing me",
]


@pytest.fixture(scope="module")
def fitted() -> TwoStageDetector:
    return fast_detector().fit(TEXTS, LABELS, crisis_types=TYPES)


@pytest.mark.parametrize("preset", ["cmd1", "default"])
def test_clone_and_get_params_round_trip(preset: str) -> None:
    detector = fast_detector(preset, char_ngrams=(2, 4), random_state=7)
    params = detector.get_params()
    twin = clone(detector)
    assert twin.get_params().keys() == params.keys()
    for key, value in params.items():
        if key != "lexicon":
            assert twin.get_params()[key] == value
    assert twin.get_params()["lexicon"].sha256 == params["lexicon"].sha256
    assert TwoStageDetector(**params).get_params()["ngram_range"] == params["ngram_range"]
    assert twin.set_params(gate="none").gate == "none"


def test_init_only_stores_parameters() -> None:
    detector = TwoStageDetector(gate="no-such-gate", threshold=-3)
    assert detector.gate == "no-such-gate"
    with pytest.raises(ValueError, match="gate must be one of"):
        detector.fit(TEXTS, LABELS)


def test_fit_returns_self_and_sets_fitted_attributes() -> None:
    detector = fast_detector()
    assert detector.fit(TEXTS, LABELS) is detector
    for name in ("classes_", "threshold_", "lexicon_", "card_", "classifier_", "vectorizer_"):
        assert hasattr(detector, name)
    assert list(detector.classes_) == [0, 1]


def test_methods_refuse_before_fit() -> None:
    detector = fast_detector()
    for method in (detector.predict_proba, detector.predict, detector.explain):
        with pytest.raises(NotFittedError):
            method(["hello"])
    with pytest.raises(ValueError, match="fitted"):
        save_model(detector, "unused.skops")


def test_same_seed_same_model(tmp_path: Path, fitted: TwoStageDetector) -> None:
    again = fast_detector().fit(TEXTS, LABELS, crisis_types=TYPES)
    np.testing.assert_array_equal(again.predict_proba(PROBES), fitted.predict_proba(PROBES))
    assert again.card_["metrics_cv"] == fitted.card_["metrics_cv"]
    first = save_model(fitted, tmp_path / "a.skops").read_bytes()
    second = save_model(again, tmp_path / "b.skops").read_bytes()
    assert first == second, "same data and seed must give byte-identical model files"


def test_predict_follows_threshold(fitted: TwoStageDetector) -> None:
    p = fitted.predict_proba(PROBES)
    assert p.shape == (len(PROBES), 2)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.predict(PROBES), (p[:, 1] >= fitted.threshold_))


def test_documented_transform_reproduces_probabilities(fitted: TwoStageDetector) -> None:
    """What a fast scorer must compute, from the public fitted attributes only."""
    assert fitted.char_vectorizer_ is None
    z = fitted.classifier_.decision_function(fitted.vectorizer_.transform(PROBES))
    calibrator = fitted.calibrator_
    assert calibrator is not None
    a, b = calibrator.coef_[0, 0], calibrator.intercept_[0]
    np.testing.assert_allclose(expit(a * z + b), fitted.predict_proba(PROBES)[:, 1], rtol=1e-12)


def test_save_load_round_trip(tmp_path: Path, fitted: TwoStageDetector) -> None:
    path = save_model(fitted, tmp_path / "model.skops")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(PROBES), fitted.predict_proba(PROBES))
    assert loaded.explain(PROBES) == fitted.explain(PROBES)
    assert loaded.lexicon_.sha256 == fitted.lexicon_.sha256
    assert loaded.get_params()["lexicon"].version == "test-gate"
    card = json.loads(card_path(path).read_text())
    assert card["file_sha256"] and card["lexicon"]["sha256"] == fitted.lexicon_.sha256
    for key in ("libraries", "data", "metrics_cv", "threshold", "params", "created", "preset"):
        assert key in card


def test_a_loaded_model_names_its_file_and_a_resave_gets_its_own_name(
    tmp_path: Path, fitted: TwoStageDetector
) -> None:
    path = save_model(fitted, tmp_path / "site-model.skops")
    digest = json.loads(card_path(path).read_text())["file_sha256"]
    loaded = load_model(path)
    assert loaded.card_["model_id"] == f"site-model@{digest[:12]}"
    again = save_model(loaded, tmp_path / "copy.skops")
    assert "model_id" not in json.loads(card_path(again).read_text())
    assert load_model(again).card_["model_id"].startswith("copy@")


class Gadget:
    """A type no detector file should contain."""

    def __init__(self) -> None:
        self.value = 1


def test_load_refuses_untrusted_types(tmp_path: Path, fitted: TwoStageDetector) -> None:
    model = clone(fitted).set_params()
    model.__dict__.update(fitted.__dict__)
    model.extra_ = Gadget()
    path = save_model(model, tmp_path / "odd.skops")
    assert "Gadget" in " ".join(sio.get_untrusted_types(file=path))
    with pytest.raises(ModelLoadError, match=r"not on the allow-list.*Gadget"):
        load_model(path)


def test_load_refuses_altered_file(tmp_path: Path, fitted: TwoStageDetector) -> None:
    path = save_model(fitted, tmp_path / "model.skops")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="does not match its card"):
        load_model(path)


def test_load_refuses_missing_and_corrupt_files(tmp_path: Path, fitted: TwoStageDetector) -> None:
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_model(tmp_path / "nothing.skops")
    path = save_model(fitted, tmp_path / "model.skops")
    card_path(path).unlink()
    with pytest.raises(ModelLoadError, match=r"card model\.card\.json is missing"):
        load_model(path)
    # A corrupt archive whose card carries its (matching) hash still fails clearly.
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip archive")
    save_model(fitted, tmp_path / "donor.skops")
    card = json.loads((tmp_path / "donor.card.json").read_text())
    card["file_sha256"] = hashlib.sha256(b"not a zip archive").hexdigest()
    card_path(junk).write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="not a readable skops model file"):
        load_model(junk)


def test_load_refuses_files_that_are_not_detectors(tmp_path: Path) -> None:
    path = tmp_path / "dict.skops"
    path.write_bytes(sio.dumps({"a": 1}))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    card_path(path).write_text(json.dumps({"file_sha256": digest}))
    with pytest.raises(ModelLoadError, match="does not hold a fitted detector"):
        load_model(path)


def test_make_detector_presets() -> None:
    cmd1 = make_detector("cmd1")
    assert (cmd1.gate, cmd1.ngram_range, cmd1.threshold_mode, cmd1.threshold) == (
        "lexicon",
        (1, 5),
        "fixed",
        0.01,
    )
    assert (cmd1.cost_fn, cmd1.cv, cmd1.calibration) == (20.0, 10, "none")
    assert make_detector("default").gate == "lexicon"
    with pytest.raises(ValueError, match="unknown preset"):
        make_detector("cmd2")
    with pytest.raises(ValueError, match="unknown detector parameter"):
        make_detector("cmd1", colour="red")


def test_model_bytes_do_not_depend_on_the_process(tmp_path: Path, fitted: TwoStageDetector) -> None:
    """Memory addresses must not leak into the file: a fresh interpreter saves the same bytes."""
    here = save_model(fitted, tmp_path / "here.skops")
    there = tmp_path / "there.skops"
    script = (
        "import sys; sys.path.insert(0, sys.argv[2])\n"
        "from synthetic_messages import corpus, fast_detector\n"
        "from crisis_triage.detector import save_model\n"
        "texts, labels, types = corpus()\n"
        "save_model(fast_detector().fit(texts, labels, crisis_types=types), sys.argv[1])\n"
    )
    tests_dir = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run([sys.executable, "-c", script, str(there), str(tests_dir)], check=True, env=env)
    assert here.read_bytes() == there.read_bytes()
