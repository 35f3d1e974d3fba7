"""`crisis-triage score` and `explain`: formats, pass-through columns, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from synthetic_messages import corpus, fast_detector
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.detector import save_model

SECRET = "my secret crisis words about the bridge"  # must never be echoed back
runner = CliRunner()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels, types = corpus()
    model = fast_detector().fit(texts, labels, crisis_types=types)
    return save_model(model, tmp_path_factory.mktemp("model") / "model.skops")


def _messages() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["m1", "m2", "m3", "m4"],
            "text": [
                "i want to kill myself",
                "can i get a refill",
                SECRET,
                "what time is my appointment",
            ],
            "site": ["a", "b", "a", "b"],
        }
    )


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    assert SECRET not in result.output
    return result.exit_code, result.output


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".csv.gz"])
def test_score_keeps_columns_and_adds_scores(tmp_path: Path, model_path: Path, suffix: str) -> None:
    source, target = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    frame = _messages()
    if suffix == ".jsonl":
        frame.to_json(source, orient="records", lines=True)
    elif suffix == ".parquet":
        frame.to_parquet(source)
    else:
        frame.to_csv(source, index=False)
    code, output = _run("score", str(source), "-o", str(target), "--model", str(model_path))
    assert code == 0, output
    if suffix == ".jsonl":
        scored = pd.read_json(target, lines=True)
    elif suffix == ".parquet":
        scored = pd.read_parquet(target)
    else:
        scored = pd.read_csv(target)
    assert list(scored.columns) == ["id", "text", "site", "probability", "flagged", "categories",
                                    "reasons", "language"]  # fmt: skip
    assert scored["id"].tolist() == ["m1", "m2", "m3", "m4"]
    assert [bool(f) for f in scored["flagged"]][:2] == [True, False]
    assert scored["probability"].between(0, 1).all()
    assert "threshold" in scored["reasons"][0]
    assert not list(tmp_path.glob(".partial-*"))


def test_score_streams_in_chunks(tmp_path: Path, model_path: Path) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.concat([_messages()] * 5, ignore_index=True).to_csv(source, index=False)
    args = ["score", str(source), "-o", str(target), "--model", str(model_path)]
    code, _ = _run(*args, "--chunksize", "3", "--no-progress")
    assert code == 0
    assert len(pd.read_csv(target)) == 20


def test_missing_and_empty_texts_are_scored_with_a_note(tmp_path: Path, model_path: Path) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.csv"
    source.write_text('{"id": 1, "text": null}\n{"id": 2, "text": ""}\n{"id": 3, "text": "hi"}\n')
    code, output = _run("score", str(source), "-o", str(target), "--model", str(model_path))
    assert code == 0 and "1 missing and 1 empty" in output
    scored = pd.read_csv(target)
    assert len(scored) == 3 and scored["probability"].notna().all()
    assert scored["reasons"][0].startswith("missing text: scored as an empty message")
    assert scored["reasons"][1].startswith("empty message")
    # JSONL output stays valid JSON: a missing text is null, never NaN.
    jsonl = tmp_path / "out.jsonl"
    code, _ = _run("score", str(source), "-o", str(jsonl), "--model", str(model_path))
    records = [json.loads(line, parse_constant=_refuse) for line in jsonl.read_text().splitlines()]
    assert code == 0 and records[0]["text"] is None and records[2]["text"] == "hi"


def _refuse(name: str) -> None:
    raise AssertionError(f"invalid JSON constant {name}")


def test_overlong_message_is_flagged_unscored_and_exit_code_says_so(
    tmp_path: Path, model_path: Path
) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    frame = _messages()
    frame.loc[1, "text"] = "a" * 1_048_576
    frame.to_csv(source, index=False)
    code, output = _run("score", str(source), "-o", str(target), "--model", str(model_path))
    assert code == 3 and "not scored" in output
    scored = pd.read_csv(target)
    assert len(scored) == 4 and pd.isna(scored["probability"][1])
    assert bool(scored["flagged"][1]) and "flagged for human review" in scored["reasons"][1]


def test_a_message_in_an_uncovered_language_is_flagged_unscored_with_its_language(
    tmp_path: Path, model_path: Path
) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    frame = _messages()
    frame.loc[2, "text"] = "Je vais prendre toutes mes pilules ce soir, je veux en finir"
    frame.to_csv(source, index=False)
    code, output = _run("score", str(source), "-o", str(target), "--model", str(model_path))
    assert code == 3 and "language the model does not cover" in output
    scored = pd.read_csv(target, keep_default_na=False)
    assert scored["language"][2] == "fr" and scored["probability"][2] == ""
    assert scored["flagged"][2] is True or str(scored["flagged"][2]) == "True"
    assert scored["reasons"][2] == "language not supported (detected: fr): review by a person"
    others = [i for i in range(len(scored)) if i != 2]
    assert all(scored["probability"][i] != "" for i in others)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"id,body\n1,hello\n", "missing column(s) 'text'"),
        (b"id,text\n1,caf\xe9 \xff\xfe\n", "not valid UTF-8"),
        (b"id,text,probability\n1,hello,0.5\n", "already has column(s) probability"),
    ],
)
def test_bad_input_is_a_clear_error(
    tmp_path: Path, model_path: Path, content: bytes, message: str
) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes(content)
    code, output = _run("score", str(source), "-o", str(target), "--model", str(model_path))
    assert code == 2 and message in output
    assert not target.exists() and not list(tmp_path.glob(".partial-*"))


def test_bad_paths_and_models(tmp_path: Path, model_path: Path) -> None:
    source = tmp_path / "in.csv"
    _messages().to_csv(source, index=False)
    model, output_csv = str(model_path), str(tmp_path / "o.csv")
    cases = [
        ([str(tmp_path / "none.csv"), "-o", output_csv, "--model", model], "no such file"),
        ([str(source), "-o", str(tmp_path / "o.txt"), "--model", model], "unknown file type"),
        ([str(source), "-o", str(source), "--model", model], "must differ from the input"),
        ([str(source), "-o", output_csv, "--model", str(tmp_path / "m")], "does not exist"),
    ]
    for args, message in cases:
        code, output = _run("score", *args)
        assert code == 2 and message in output, output
    tampered = tmp_path / "tampered.skops"
    tampered.write_bytes(model_path.read_bytes()[:-10] + b"0123456789")
    model_path.with_name("model.card.json").replace(tmp_path / "tampered.card.json")
    try:
        code, output = _run(
            "score", str(source), "-o", str(tmp_path / "o.csv"), "--model", str(tampered)
        )
    finally:
        (tmp_path / "tampered.card.json").replace(model_path.with_name("model.card.json"))
    assert code == 2 and "does not match its card" in output


def test_explain_one_message(model_path: Path) -> None:
    code, output = _run("explain", "i want to kill myself", "--model", str(model_path))
    assert code == 0
    assert "probability" in output and "threshold" in output and "FLAGGED" in output
    code, output = _run("explain", "i want to kill myself", "--model", str(model_path), "--json")
    result = json.loads(output)
    assert result["flagged"] is True and result["categories"]
    assert any(reason.startswith("ngram") for reason in result["reasons"])


def test_explain_says_in_words_when_a_message_is_not_scored(model_path: Path) -> None:
    code, output = _run("explain", "x" * 1_048_576, "--model", str(model_path))
    assert code == 3
    assert "probability  not scored: review by a person" in output
    assert "limit of 100,000" in output and "0.0000" not in output
    code, output = _run("explain", "x" * 100_001, "--model", str(model_path), "--json")
    result = json.loads(output)
    assert code == 3 and result["scored"] is False and result["probability"] is None
    assert result["status"] == "not scored: review by a person"


def test_explain_bad_input(tmp_path: Path, model_path: Path) -> None:
    code, output = _run("explain", SECRET, "--model", str(tmp_path / "missing.skops"))
    assert code == 2 and "does not exist" in output
    code, output = _run("explain", "", "--model", str(model_path))
    assert code == 0 and "empty message" in output


def test_parquet_output_survives_columns_that_start_empty(tmp_path: Path, model_path: Path) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.parquet"
    lines = ['{"id": 1, "text": "a", "note": null}', '{"id": 2, "text": "b", "note": null}']
    lines.append('{"id": 3, "text": "c", "note": "late value"}')
    source.write_text("\n".join(lines) + "\n")
    args = ["score", str(source), "-o", str(target), "--model", str(model_path)]
    code, output = _run(*args, "--chunksize", "2")
    assert code == 0, output
    scored = pd.read_parquet(target)
    assert scored["note"].tolist()[2] == "late value" and scored["probability"].dtype == float
