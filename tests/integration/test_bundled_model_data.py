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
    for name, recorded in (
        ("train.csv.gz", card["data"]["background"]["sha256"]),
        *((f["file"], f["sha256"]) for f in card["tuning_files"]),
    ):
        digest = hashlib.sha256((shared_data / name).read_bytes()).hexdigest()
        assert recorded == digest, f"{name} changed: rebuild with `crisis-triage train-default`"
    assert card["recipe"]["command"] == "crisis-triage train-default"


def test_bundled_model_ranks_benchmark_crises_above_chance(shared_data: Path) -> None:
    bench = read_table(shared_data / "bench_core_dev.csv.gz", required=["text", "crisis"])
    bench = bench[bench["crisis"].astype(int) >= 0]
    # The fast tier: the full tier's encoder costs ~0.1 s a message here, too slow for a test.
    explained = load_model().explain_fast(bench["text"].tolist(), n_top=0)
    p = [e.probability for e in explained]
    assert min(p) > 0.0, "no message may score exactly 0"
    assert roc_auc_score(bench["crisis"].astype(int), p) > 0.75
