"""`crisis-triage adapt`: writes a loadable adapted model with a card, refuses too few crises."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from synthetic_messages import corpus, fast_detector
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.detector import SiteAdaptedDetector, load_model, read_card, save_model

runner = CliRunner()


@pytest.fixture(scope="module")
def base_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels, _ = corpus(240, seed=0)
    path = tmp_path_factory.mktemp("base") / "base.skops"
    return save_model(fast_detector().fit(texts, labels), path)


def _site(tmp_path: Path, n: int, positive_every: int) -> Path:
    texts, labels, _ = corpus(n, positive_every=positive_every, seed=9)
    path = tmp_path / "site.csv"
    pd.DataFrame({"message": texts, "label": labels}).to_csv(path, index=False)
    return path


def test_adapt_writes_model_card_and_report(tmp_path: Path, base_file: Path) -> None:
    data = _site(tmp_path, 200, 4)
    out, report = tmp_path / "site.skops", tmp_path / "report.json"
    args = ["adapt", str(data), "-o", str(out), "--base", str(base_file)]
    args += ["--text-col", "message", "--label-col", "label", "--report-json", str(report)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "grouped CV on 200 site labels (50 crises)" in result.output
    assert isinstance(load_model(out), SiteAdaptedDetector)
    card = read_card(out)
    assert card["base"]["file_sha256"] == read_card(base_file)["file_sha256"]
    assert card["data"]["sha256"] and card["site_labels"]["crises"] == 50
    saved = json.loads(report.read_text())
    assert card["cv_report"] == saved
    assert card["metrics_cv"] == saved["adapted"]
    assert set(saved["adapted"]) >= {"auroc", "auprc", "sensitivity", "ppv"}
    explained = runner.invoke(app, ["explain", "i want to kill myself", "--model", str(out)])
    assert explained.exit_code == 0, explained.output
    assert "site adaptation: base model log-odds" in explained.output


def test_adapt_refuses_too_few_crises_with_a_clear_message(tmp_path: Path, base_file: Path) -> None:
    data = _site(tmp_path, 120, 12)  # 10 crises
    out = tmp_path / "site.skops"
    args = ["adapt", str(data), "-o", str(out), "--base", str(base_file)]
    result = runner.invoke(app, [*args, "--text-col", "message", "--label-col", "label"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "only 10 labelled crises" in result.output and "at least 15" in result.output
    assert not out.exists()
