"""In-sample warnings: messages a model was trained or tuned on are found through its card and
the reports (JSON, HTML, Markdown) and the CLI label them."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.evaluation import (
    IN_SAMPLE_LABEL,
    ReportConfig,
    TableSpec,
    _adapter,
    _benchmark,
    check_in_sample,
    compare_models,
    evaluate,
    file_sha256,
    in_sample_overlap,
    run_benchmark,
)
from crisis_triage.text import normalise, text_hash

TRAINED = ["I want to end my life", "can I move my appointment", "thinking about suicide"]
UNSEEN = ["my husband hit me again", "refill request please", "what time do you open"]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CardModel:
    """Scores by keyword, with a card saying what it was trained on."""

    threshold_ = 0.5

    def __init__(self, card: dict[str, Any]) -> None:
        self.card_ = card

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        words = ("life", "suicide", "hit")
        p = np.array([0.9 if any(w in t.lower() for w in words) else 0.1 for t in texts])
        return np.column_stack([1 - p, p])

    def explain(self, texts: Sequence[str]) -> list[Any]:
        return [None for _ in texts]


def _frame(texts: list[str]) -> pd.DataFrame:
    labels = [1 if any(w in t.lower() for w in ("life", "suicide", "hit")) else 0 for t in texts]
    return pd.DataFrame({"text": texts, "crisis": labels})


def test_a_text_hash_is_the_sha256_of_the_normalised_text() -> None:
    assert text_hash("  I Want  to END my life ") == _sha(normalise("I want to end my life"))


@pytest.mark.parametrize("length", [64, 16], ids=["full digests", "compact 16-character form"])
def test_messages_whose_text_the_card_records_are_counted(length: int) -> None:
    card = {"training_text_hashes": sorted(text_hash(t)[:length] for t in TRAINED)}
    # Case and spacing do not hide a training message: the hash is of the normalised text.
    texts = [*UNSEEN, TRAINED[0].upper(), f" {TRAINED[2]} "]
    found = check_in_sample(card, texts)
    assert (found.value, found.overlapping_messages, found.basis) == (True, 2, "text hashes")
    assert in_sample_overlap(card, UNSEEN) == 0
    assert found.to_dict()["label"] == IN_SAMPLE_LABEL


def test_an_evaluated_file_named_in_the_card_overlaps_entirely(tmp_path: Path) -> None:
    train = tmp_path / "train.csv"
    train.write_text("text,crisis\nhello,0\n", encoding="utf-8")
    # An old-style card: only the training file's hash, and an adapted model's base card nested.
    card = {"base": {"data": {"file": "train.csv", "sha256": file_sha256(train)}}}
    found = check_in_sample(card, UNSEEN, data_sha256=file_sha256(train))
    assert found.to_dict() | {"note": ""} == {
        "value": True,
        "overlapping_messages": 3,
        "n_messages": 3,
        "basis": "file",
        "matched_files": ["train.csv"],
        "label": IN_SAMPLE_LABEL,
        "note": "",
    }
    other = check_in_sample(card, UNSEEN, data_sha256=_sha("another file"))
    assert (other.value, other.overlapping_messages, other.basis) == (False, 0, "other file")


def test_a_card_that_records_nothing_says_the_overlap_was_not_checked() -> None:
    found = check_in_sample({"name": "old"}, TRAINED).to_dict()
    assert (found["value"], found["basis"]) == (False, "not recorded")
    assert "could not be checked" in found["note"]


def _config() -> ReportConfig:
    return ReportConfig(n_boot=0, min_group_size=1)


def test_the_report_carries_and_shows_the_overlap(tmp_path: Path) -> None:
    card = {"training_text_hashes": sorted(text_hash(t) for t in TRAINED)}
    spec = TableSpec()
    mixed = evaluate(CardModel(card), _frame(TRAINED + UNSEEN), spec, _config())
    assert mixed.data["in_sample"]["value"] is True
    assert mixed.data["in_sample"]["overlapping_messages"] == 3
    assert list(mixed.data)[:4] == ["kind", "schema_version", "title", "in_sample"]
    assert IN_SAMPLE_LABEL in mixed.to_html() and IN_SAMPLE_LABEL in mixed.to_markdown()
    saved = json.loads(mixed.save(tmp_path)["json"].read_text(encoding="utf-8"))
    assert saved["in_sample"]["value"] is True

    held_out = evaluate(CardModel(card), _frame([*UNSEEN, "I want to hit him"]), spec, _config())
    assert held_out.data["in_sample"]["value"] is False
    assert held_out.data["in_sample"]["overlapping_messages"] == 0
    assert IN_SAMPLE_LABEL not in held_out.to_html() + held_out.to_markdown()


def test_a_comparison_labels_overlap_of_any_model(tmp_path: Path) -> None:
    data = tmp_path / "tuning.csv"
    _frame(TRAINED + UNSEEN).to_csv(data, index=False)
    tuned = CardModel({"tuning_files": [{"file": "tuning.csv", "sha256": file_sha256(data)}]})
    models = {"held_out": CardModel({"training_text_hashes": []}), "tuned": tuned}
    result = compare_models(
        models, _frame(TRAINED + UNSEEN), TableSpec(), _config(), data_sha256=file_sha256(data)
    )
    in_sample = result.data["in_sample"]
    assert (in_sample["value"], in_sample["overlapping_messages"]) == (True, 6)
    assert in_sample["models"]["held_out"]["value"] is False
    assert in_sample["models"]["tuned"]["matched_files"] == ["tuning.csv"]
    assert IN_SAMPLE_LABEL in result.to_html() and IN_SAMPLE_LABEL in result.to_markdown()


def test_evaluate_on_the_command_line_warns_and_labels_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "dev.csv"
    _frame(TRAINED + UNSEEN).to_csv(data, index=False)
    card = {"tuning_files": [{"file": "dev.csv", "sha256": file_sha256(data)}]}
    monkeypatch.setattr(_adapter, "load_model", lambda path=None: CardModel(dict(card)))
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app, ["evaluate", "bundled", str(data), "--n-boot", "0", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"warning: {IN_SAMPLE_LABEL}" in result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["in_sample"]["value"] is True
    assert report["in_sample"]["overlapping_messages"] == 6
    assert IN_SAMPLE_LABEL in (out / "report.md").read_text(encoding="utf-8")


def test_the_benchmark_labels_files_a_candidate_was_tuned_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for stem, texts in (("core", TRAINED + UNSEEN), ("stress", [*UNSEEN, "my life is over"])):
        with gzip.open(tmp_path / f"{stem}.csv.gz", "wt", encoding="utf-8") as handle:
            _frame(texts).to_csv(handle, index=False)
    card = {
        "tuning_files": [{"file": "core.csv.gz", "sha256": file_sha256(tmp_path / "core.csv.gz")}]
    }
    model = CardModel(card)
    candidate = _benchmark.Candidate(
        "tuned", "tuned on core", 0.5, _benchmark._model_scores(model), card=card
    )
    monkeypatch.setattr(_benchmark, "candidates", lambda data_dir, cache=None: [candidate])
    result = run_benchmark(tmp_path, n_boot=0, files=("core", "stress"))
    assert result["in_sample"]["value"] is True
    assert result["in_sample"]["files"]["core"]["overlapping_messages"] == 6
    assert result["in_sample"]["files"]["stress"]["value"] is False
    core = result["results"]["core"]["exclude"]["in_sample"]
    assert core["models"]["tuned"]["value"] is True
    markdown = _benchmark.render_benchmark_markdown(result)
    sections = {part.split("\n", 1)[0]: part for part in markdown.split("\n## ")[1:]}
    assert IN_SAMPLE_LABEL in sections["core — ambiguous excluded"]
    assert IN_SAMPLE_LABEL not in sections["stress — ambiguous excluded"]


@pytest.mark.shared_data
@pytest.mark.parametrize("stem", ["bench_core_dev", "bench_stress_dev"])
def test_the_bundled_model_on_a_shared_dev_file_is_in_sample(shared_data: Path, stem: str) -> None:
    """Its lexicon was written while reading the dev files; its card says so."""
    model = _adapter.load_scorer("bundled")
    path = shared_data / f"{stem}.csv.gz"
    found = check_in_sample(model.card_, (), data_sha256=file_sha256(path), n_messages=7)
    assert (found.value, found.overlapping_messages) == (True, 7)
    assert found.matched_files == (path.name,)
