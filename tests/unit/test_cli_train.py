"""`crisis-triage train` and `train-default`: metrics with intervals, warnings, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from synthetic_messages import GATE_TERMS, corpus
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.detector import load_model

runner = CliRunner()
FAST = ["--cv", "3", "--C", "1", "--C", "10"]


@pytest.fixture
def data_csv(tmp_path: Path) -> Path:
    texts, labels, types = corpus(160)
    path = tmp_path / "labelled.csv"
    pd.DataFrame(
        {"id": range(len(texts)), "text": texts, "crisis": labels, "crisis_type": types}
    ).to_csv(path, index=False)
    return path


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_train_writes_model_and_card_and_reports_reliability(
    tmp_path: Path, data_csv: Path
) -> None:
    out = tmp_path / "site.skops"
    code, output = _run("train", str(data_csv), "-o", str(out), "--gate", "none", *FAST)
    assert code == 0, output
    for expected in ("sensitivity", "95% CI", "auroc", "only 40 positive messages", "sha256"):
        assert expected in output
    model = load_model(out)
    assert model.card_["data"]["file"] == "labelled.csv"
    assert (tmp_path / "site.card.json").is_file()


def test_train_cmd1_preset_with_a_term_list_gate(tmp_path: Path, data_csv: Path) -> None:
    terms = tmp_path / "terms.csv"
    terms.write_text("Terms\n" + "\n".join(GATE_TERMS) + "\n", encoding="utf-8")
    out = tmp_path / "cmd1.skops"
    args = ["train", str(data_csv), "-o", str(out), "--preset", "cmd1", "--lexicon", str(terms)]
    code, output = _run(*args, *FAST)
    assert code == 0, output
    model = load_model(out)
    assert model.gate == "lexicon" and "7 terms" in model.lexicon_.version
    assert model.threshold_ == 0.01


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--label-col", "label"], "missing column(s) 'label'"),
        (["--preset", "best"], "--preset must be one of"),
        (["--ambiguous", "maybe"], "--ambiguous must be one of"),
        (["--char-ngrams", "two"], "--char-ngrams must look like"),
        (["--source-weight", "nope"], "--source-weight must look like"),
        (["--gate", "sometimes"], "gate must be one of"),
    ],
)
def test_train_bad_options(tmp_path: Path, data_csv: Path, args: list[str], message: str) -> None:
    code, output = _run("train", str(data_csv), "-o", str(tmp_path / "m.skops"), *FAST, *args)
    assert code == 2 and message in output, output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"text,crisis\n", "no labelled rows"),
        (b"text,crisis\nhello,1\nbye,maybe\n", "must hold 1 (crisis), 0 (not) or -1"),
        (b"text,crisis\n,1\nbye,0\n", "empty or missing messages"),
        (b"text,crisis\n\xff\xfe,1\n", "not valid UTF-8"),
    ],
)
def test_train_bad_files(tmp_path: Path, content: bytes, message: str) -> None:
    data = tmp_path / "bad.csv"
    data.write_bytes(content)
    code, output = _run("train", str(data), "-o", str(tmp_path / "m.skops"))
    assert code == 2 and message in output, output
    assert not (tmp_path / "m.skops").exists()


def test_train_output_must_be_skops(tmp_path: Path, data_csv: Path) -> None:
    code, output = _run("train", str(data_csv), "-o", str(tmp_path / "m.pkl"))
    assert code == 2 and "must end in .skops" in output


def test_train_default_without_data_is_a_clear_error(tmp_path: Path) -> None:
    code, output = _run("train-default", "--data-dir", str(tmp_path))
    assert code == 2 and "train.csv.gz" in output and "not found" in output


@pytest.mark.parametrize(("flagged", "says"), [(50, True), (49, False)])
def test_a_threshold_that_flags_every_message_is_said_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flagged: int, says: bool
) -> None:
    """A sensitivity target met only by flagging everything (as the card's cross-validated
    flag rate records it) is a warning, not a silent 1.000 in the table."""
    from types import SimpleNamespace

    from crisis_triage.cli._training import print_report
    from crisis_triage.detector import card_path

    def rate(k: int, n: int) -> dict[str, object]:
        return {"value": k / n, "ci95": None, "k": k, "n": n}

    card = {
        "metrics_cv": {
            "sensitivity": rate(5, 5),
            "ppv": rate(5, flagged),
            "specificity": rate(50 - flagged, 45),
            "flag_rate": rate(flagged, 50),
            "auroc": {"value": 0.6, "ci95": None},
            "auprc": {"value": 0.2, "ci95": None},
        },
        "cv": {"folds": 3},
        "threshold": {"value": 0.01, "how": "sensitivity >= 0.99"},
        "training": {"n_positive": 5, "n": 50},
        "warnings": [],
    }
    path = tmp_path / "m.skops"
    card_path(path).write_text(json.dumps({"file_sha256": "0" * 64}), encoding="utf-8")
    print_report(SimpleNamespace(card_=card, C_=1.0), path)  # type: ignore[arg-type]
    output = " ".join(capsys.readouterr().out.split())
    assert ("flags every message" in output) is says
    if says:
        assert "the model does not sort the queue" in output
