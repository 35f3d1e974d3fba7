"""The bundled model's card states its known weaknesses and its benchmark numbers with CIs."""

from __future__ import annotations

import json
from pathlib import Path

from crisis_triage.detector import BUNDLED_MODEL_PATH, card_path
from crisis_triage.evaluation import benchmark_card_section, record_benchmark_in_card
from crisis_triage.training._train import KNOWN_WEAKNESSES

REPO = Path(__file__).resolve().parents[2]


def _card() -> dict[str, object]:
    loaded: dict[str, object] = json.loads(card_path(BUNDLED_MODEL_PATH).read_text("utf-8"))
    return loaded


def test_the_card_lists_the_known_weaknesses_the_recipe_writes() -> None:
    assert _card()["known_weaknesses"] == list(KNOWN_WEAKNESSES)


def test_the_card_is_detector_v2_with_labelled_figures() -> None:
    card = _card()
    assert card["detector_version"] == 2
    assert set(card["languages"]) == {"en", "es"}
    held_out = card["metrics_held_out"]
    assert "unread quarter of dev" in held_out["data"]
    assert held_out["min_probability"] > 0.0  # no message scored exactly 0
    for subset in ("core", "stress"):
        for tier in ("full", "fast"):
            auroc = held_out[subset][tier]["auroc"]
            assert auroc["ci95"][0] <= auroc["value"] <= auroc["ci95"][1]
    assert "detector v1 (wave-1 bundled model)" in held_out["comparison"]
    assert "written_test_es" in held_out
    assert "out-of-fold" in card["metrics_out_of_fold"]["how"]
    assert card["tuning_files"] and card["training_text_hashes"]


def test_the_wave1_card_benchmark_matches_the_committed_benchmark_results() -> None:
    result = json.loads((REPO / "benchmarks/results/benchmark.json").read_text("utf-8"))
    section = benchmark_card_section(result)
    v1_card = json.loads((REPO / "benchmarks/baselines/v1_default.card.json").read_text("utf-8"))
    assert v1_card["benchmark"] == section
    value, low, high = section["bench_core_dev"]["exclude"]["auroc"]
    assert low <= value <= high


def _metric(value: float) -> dict[str, float]:
    return {"value": value, "low": value - 0.25, "high": value + 0.0625}


def test_recording_keeps_other_card_fields_and_takes_only_the_candidate(tmp_path: Path) -> None:
    result = {
        "n_boot": 10,
        "seed": 0,
        "results": {
            "set_a": {
                "exclude": {
                    "models": {
                        "default_model": {"metrics": {"auroc": _metric(0.9)}},
                        "other": {"metrics": {"auroc": _metric(0.5)}},
                    }
                }
            }
        },
    }
    card = tmp_path / "m.card.json"
    card.write_text(json.dumps({"file_sha256": "abc"}), encoding="utf-8")
    record_benchmark_in_card(result, card)
    written = json.loads(card.read_text("utf-8"))
    assert written["file_sha256"] == "abc"
    assert written["benchmark"]["set_a"]["exclude"] == {"auroc": [0.9, 0.65, 0.9625]}
