"""The bundled model against the shared data: built from the current training file, and sane on
the realistic benchmark (a floor, not a target: the numbers live in the report)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score

from crisis_triage.detector import load_model
from crisis_triage.io import read_table

pytestmark = pytest.mark.shared_data


def test_bundled_model_was_built_from_the_shared_training_file(shared_data: Path) -> None:
    card = load_model().card_
    digest = hashlib.sha256((shared_data / "train.csv.gz").read_bytes()).hexdigest()
    assert card["data"]["sha256"] == digest, "rebuild with `crisis-triage train-default`"
    assert card["recipe"]["command"] == "crisis-triage train-default"


def test_bundled_model_ranks_benchmark_crises_above_chance(shared_data: Path) -> None:
    bench = read_table(shared_data / "bench_core_dev.csv.gz", required=["text", "crisis"])
    bench = bench[bench["crisis"].astype(int) >= 0]
    p = load_model().predict_proba(bench["text"].tolist())[:, 1]
    assert roc_auc_score(bench["crisis"].astype(int), p) > 0.75
