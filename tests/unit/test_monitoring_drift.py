"""Drift statistics against a reference score distribution: PSI and KS stay low on a sample
from the reference's own distribution and rise past the bounds on a shifted one."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from crisis_triage.detector import score_reference
from crisis_triage.monitoring import (
    DriftBounds,
    ReferenceScores,
    check_drift,
    population_stability_index,
)

THRESHOLD = 0.1


def _scores(seed: int, n: int, b: float = 30.0) -> np.ndarray:
    """Calibrated-looking crisis probabilities: most near zero, a few high."""
    return np.random.default_rng(seed).beta(0.6, b, size=n)


@pytest.fixture
def reference() -> ReferenceScores:
    card = {"reference_scores": score_reference(_scores(0, 4000), THRESHOLD, source="dev oof")}
    found = ReferenceScores.from_card(card)
    assert found is not None
    return found


def _flags(scores: np.ndarray) -> int:
    return int((scores >= THRESHOLD).sum())


def test_score_reference_summarises_the_scores() -> None:
    scores = _scores(1, 1000)
    entry = score_reference(scores, THRESHOLD, source="oof")
    assert entry["n"] == 1000 and entry["source"] == "oof"
    assert entry["quantiles"][0] == pytest.approx(scores.min(), rel=1e-5)
    assert entry["quantiles"][-1] == pytest.approx(scores.max(), rel=1e-5)
    assert entry["flag_rate"] == pytest.approx(np.mean(scores >= THRESHOLD))
    with pytest.raises(ValueError, match="at least one"):
        score_reference([], THRESHOLD, source="none")


def test_reference_cdf_follows_its_quantiles(reference: ReferenceScores) -> None:
    q = np.asarray(reference.quantiles)
    assert reference.cdf(np.array([q[100]]))[0] == pytest.approx(0.5, abs=0.01)
    assert reference.cdf(np.array([-1.0, 2.0])).tolist() == [0.0, 1.0]


def test_unshifted_sample_does_not_count_as_drift(reference: ReferenceScores) -> None:
    live = _scores(7, 600)
    check = check_drift(reference, live, _flags(live), DriftBounds())
    assert check.psi is not None and check.psi < 0.1
    assert check.ks_statistic is not None and check.ks_statistic < 0.1
    assert not check.shifted, check.reasons


def test_shifted_scores_count_as_drift(reference: ReferenceScores) -> None:
    live = _scores(7, 600, b=8.0)  # the same shape, scores about four times higher
    check = check_drift(reference, live, _flags(live), DriftBounds())
    assert check.shifted
    assert check.psi is not None and check.psi > 0.25
    assert any("PSI" in r for r in check.reasons)
    assert any("flag rate" in r for r in check.reasons)


def test_bounds_are_configurable_and_small_days_are_not_judged(
    reference: ReferenceScores,
) -> None:
    live = _scores(7, 600, b=8.0)
    lenient = DriftBounds(psi=100.0, ks_statistic=1.0, flag_rate_ratio=100.0)
    assert not check_drift(reference, live, _flags(live), lenient).shifted
    few = check_drift(reference, live[:50], _flags(live[:50]), DriftBounds())
    assert few.psi is None and not few.shifted


def test_flag_rate_alone_can_shift(reference: ReferenceScores) -> None:
    live = _scores(7, 600)
    check = check_drift(reference, live, flagged=0, bounds=DriftBounds())
    assert check.reasons and all("flag rate" in r for r in check.reasons)


def test_psi_is_zero_against_itself(reference: ReferenceScores) -> None:
    same = np.interp(np.linspace(0, 1, 2001), np.linspace(0, 1, 201), reference.quantiles)
    assert population_stability_index(reference, same) < 0.01


def test_a_card_without_a_reference_gives_none() -> None:
    assert ReferenceScores.from_card({}) is None
    assert ReferenceScores.from_card({"reference_scores": {"quantiles": [0.1]}}) is None


def test_docs_python_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "monitoring.md"
    (example,) = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    exec(compile(example, str(doc), "exec"), {})  # noqa: S102 - our own documentation
    assert capsys.readouterr().out.startswith("True ")


def test_training_records_the_reference_from_out_of_fold_dev_scores(tmp_path: Path) -> None:
    """``record_provenance`` (train-default) puts the full tier's out-of-fold scores of the
    calibration (dev) rows into the card; background rows are left out."""
    from types import SimpleNamespace

    from crisis_triage.training._figures import record_provenance
    from crisis_triage.training._recipe import CORE_FILE, DEV_FILE

    for name in (DEV_FILE, CORE_FILE):
        (tmp_path / name).write_bytes(b"x")
    target = np.array([False, True, True, True, True])  # row 0: background
    calibrate_on = np.array([False, True, True, True, False])  # row 4: a written example
    dev_scores = np.array([0.01, 0.2, 0.03, 0.5])  # out-of-fold, per target row
    model = SimpleNamespace(
        card_={}, fast_encoder="static-e5-v1", full_encoder="e5-small-q4", threshold_=0.1,
        oof_={"full_probability": dev_scores},
    )  # fmt: skip
    data = SimpleNamespace(
        texts=["a", "b", "c", "d", "e"], target=target, calibrate_on=calibrate_on
    )
    record_provenance(model, data, tmp_path)  # type: ignore[arg-type]
    reference = model.card_["reference_scores"]
    assert reference["n"] == 3 and reference["threshold"] == 0.1
    assert reference["quantiles"][0] == 0.01 and reference["quantiles"][-1] == 0.2
    assert reference["flag_rate"] == pytest.approx(1 / 3)
    assert DEV_FILE in reference["source"]
