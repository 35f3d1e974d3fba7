"""`crisis-triage encoder status | build-static` through Typer's test runner."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.detector import _static_build
from crisis_triage.detector._static_encoder import StaticEncoder

runner = CliRunner()


class HashEncoder:
    """Deterministic stand-in for the full encoder (no model needed)."""

    name, dim = "e5-small-q4", 16

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        rows = [np.random.default_rng(seed).normal(size=self.dim) for seed in seeds]
        return np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)


def test_status_prints_both_encoders_as_json() -> None:
    result = runner.invoke(app, ["encoder", "status"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert set(status) == {"e5-small-q4", "static-e5-v1"}
    assert all(isinstance(entry["available"], bool) for entry in status.values())


def test_build_static_without_training_data_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["encoder", "build-static", "--data-dir", str(tmp_path), "-o", str(tmp_path / "t.npz")]
    )
    assert result.exit_code == 1
    assert "train.csv.gz not found" in result.output


def test_build_static_writes_a_table_without_noncommercial_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        {"text": "I feel hopeless tonight", "license": "MIT"},
        {"text": "restrictedword appears here", "license": "CC BY-NC-SA 4.0"},
    ] * 3
    pd.DataFrame(rows).to_csv(tmp_path / "train.csv.gz", index=False)
    monkeypatch.setattr(_static_build, "FullEncoder", HashEncoder)
    out = tmp_path / "table.npz"
    result = runner.invoke(
        app, ["encoder", "build-static", "--data-dir", str(tmp_path), "-o", str(out), "--dim", "8"]
    )
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert card["vocabulary_source"]["noncommercial_rows_left_out"] == 3
    static = StaticEncoder(out)
    assert "hopeless" in static.index_ and "quiero" in static.index_
    assert "restrictedword" not in static.index_
