"""`crisis-triage adapt` on a small sample of bench_core_dev with the bundled model."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.io import read_table

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def test_adapt_the_bundled_model_on_a_dev_sample(shared_data: Path, tmp_path: Path) -> None:
    table = read_table(shared_data / "bench_core_dev.csv.gz", required=["text", "crisis"])
    table["crisis"] = pd.to_numeric(table["crisis"])
    table = table[table["crisis"] != -1]
    negatives = table[table["crisis"] == 0].sample(160, random_state=0)
    sample = pd.concat([table[table["crisis"] == 1], negatives])
    data = tmp_path / "site.csv"
    sample[["text", "crisis"]].to_csv(data, index=False)
    out, report = tmp_path / "site.skops", tmp_path / "report.json"
    # Site adaptation works on TwoStageDetector files: the wave-1 model kept as a baseline.
    base = Path(__file__).resolve().parents[2] / "benchmarks" / "baselines" / "v1_default.skops"
    refused = CliRunner().invoke(app, ["adapt", str(data), "-o", str(out)])
    assert refused.exit_code == 2
    assert "site adaptation of detector v2" in refused.output
    result = CliRunner().invoke(
        app,
        ["adapt", str(data), "-o", str(out), "--base", str(base), "--report-json", str(report)],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(report.read_text())
    assert saved["crises"] == 42
    # The bundled model already ranks these well; the adapted one must not be much worse.
    assert saved["base"]["auroc"]["value"] > 0.9
    assert saved["adapted"]["auroc"]["value"] > saved["base"]["auroc"]["value"] - 0.05
    assert saved["adapted"]["sensitivity"]["value"] >= 0.85
