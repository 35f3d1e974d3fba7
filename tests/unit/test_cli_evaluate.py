"""`crisis-triage evaluate / compare / benchmark` with a keyword model standing in for the detector.

The stand-in follows the agreed detector interface (``load_model``, ``make_detector``,
``predict_proba``, ``explain``, ``threshold_``, ``lexicon_``, ``card_``), so these tests run before
the detector is merged; tests at the end use the real detector once it exists.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from typer.testing import CliRunner

import crisis_triage.detector as detector
from crisis_triage.cli import app
from crisis_triage.detector import Explanation
from crisis_triage.evaluation import EvaluationError, _adapter, _benchmark
from crisis_triage.lexicon import Lexicon

SECRET = "zebra-unicorn-secret"
CRISIS = [
    "i want to kill myself tonight",
    "thinking about suicide again",
    "i took an overdose",
    "i cannot go on, goodbye everyone",
    "going to kill myself",
]
ORDINARY = [
    "can i move my appointment",
    "my meds make me dizzy",
    "this traffic is killing me",
    "what time is the clinic open",
    "refill request please",
    "thanks for the help",
]
runner = CliRunner()


class KeywordModel(BaseEstimator):  # type: ignore[misc]
    """A tiny scorer with the detector's interface: more crisis words, higher probability."""

    def __init__(self, threshold: float = 0.3) -> None:
        self.threshold = threshold

    def fit(self, texts: Sequence[str], y: Sequence[int]) -> KeywordModel:
        self.lexicon_ = Lexicon.from_terms(["kill myself", "suicide", "overdose"], version="t")
        self.threshold_ = self.threshold
        self.classes_ = np.array([0, 1])
        self.card_ = {"name": "keyword-test", "n_train": len(texts)}
        return self

    def _words(self, text: str) -> list[str]:
        return [w for w in ("kill", "suicide", "overdose") if w in text.lower()]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        p = np.array([min(0.95, 0.02 + 0.4 * len(self._words(t))) for t in texts])
        return np.column_stack([1 - p, p])

    def explain(self, texts: Sequence[str]) -> list[Explanation]:
        out = []
        for text, p in zip(texts, self.predict_proba(texts)[:, 1], strict=True):
            hits = tuple(self.lexicon_.match(text))
            out.append(
                Explanation(
                    float(p),
                    bool(p >= self.threshold_),
                    self.threshold_,
                    tuple(sorted({h.category for h in hits})),
                    hits,
                    tuple((w, 0.4) for w in self._words(text)),
                )
            )
        return out


def _fitted() -> KeywordModel:
    return KeywordModel().fit(["x"], [0])


@pytest.fixture
def fake_detector(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Replace load_model / make_detector / save_model; records the paths it was asked for."""
    asked: list[Any] = []

    def load_model(path: Path | None = None) -> KeywordModel:
        asked.append(path)
        return _fitted()

    monkeypatch.setattr(_adapter, "load_model", load_model)
    monkeypatch.setattr(_benchmark, "load_model", load_model)
    monkeypatch.setattr(_benchmark, "load_labelled", lambda path, ambiguous: path)
    monkeypatch.setattr(
        _benchmark, "train", lambda data, preset, lexicon: KeywordModel().fit([], [])
    )
    monkeypatch.setattr(_benchmark, "save_model", lambda m, p: Path(p).write_text("m"))
    return asked


def _table(n: int = 240, seed: int = 0, **columns: Any) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    crisis = rng.random(n) < 0.2
    texts = [f"{rng.choice(CRISIS if c else ORDINARY)} {SECRET}" for c in crisis]
    labels = crisis.astype(int)
    labels[rng.random(n) < 0.05] = -1
    frame = pd.DataFrame(
        {
            "uid": [f"m{i}" for i in range(n)],
            "text": texts,
            "crisis": labels,
            "site": rng.choice(["north", "south"], n),
            "sent_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, n), "D"),
        }
    )
    for name, values in columns.items():
        frame[name] = values
    return frame


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def _ok(result: Any) -> None:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def _fails(result: Any, message: str) -> None:
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert "Traceback" not in result.output
    assert SECRET not in result.output  # message text never reaches error output


def test_evaluate_writes_the_three_report_files(fake_detector: list[Any], tmp_path: Path) -> None:
    data = _write(_table(), tmp_path / "labelled.csv")
    out = tmp_path / "report"
    result = runner.invoke(
        app, ["evaluate", "bundled", str(data), "--n-boot", "100", "-o", str(out)]
    )
    _ok(result)
    assert fake_detector == [None]  # 'bundled' asks the detector for its default model
    assert {p.name for p in out.iterdir()} == {"report.html", "report.json", "report.md"}
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["dataset"]["ambiguous_policy"] == "exclude"
    assert report["model_card"]["name"] == "keyword-test"
    assert report["errors"]["n_false_negatives"] > 0  # "i cannot go on" has no crisis word
    assert "sensitivity" in result.output
    # ...so it scores as low as every ordinary message: 99% sensitivity means flagging them all.
    assert [p["flags_everything"] for p in report["operating_points"]][-1] is True
    assert "sensitivity 0.99 is reached only by flagging every message" in result.output


def test_evaluate_with_groups_time_and_redaction(fake_detector: list[Any], tmp_path: Path) -> None:
    data = _write(_table(), tmp_path / "labelled.csv")
    out = tmp_path / "report"
    args = [
        "evaluate",
        "bundled",
        str(data),
        "--group-col",
        "site",
        "--time-col",
        "sent_at",
        "--time-freq",
        "week",
        "--ambiguous",
        "positive",
        "--redact",
        "--n-boot",
        "50",
        "-o",
        str(out),
    ]
    _ok(runner.invoke(app, args))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["time"]["frequency"] == "week"
    assert report["subgroups"][0]["column"] == "site"
    assert report["dataset"]["ambiguous_policy"] == "positive"
    for path in out.iterdir():
        assert SECRET not in path.read_text(encoding="utf-8")


def test_temporal_validation_refits_before_the_split(
    fake_detector: list[Any], tmp_path: Path
) -> None:
    data = _write(_table(), tmp_path / "labelled.csv")
    out = tmp_path / "report"
    args = [
        "evaluate",
        "bundled",
        str(data),
        "--time-col",
        "sent_at",
        "--train-before",
        "2024-01-20",
        "--n-boot",
        "50",
        "-o",
        str(out),
    ]
    _ok(runner.invoke(app, args))
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    temporal = report["provenance"]["config"]["extra"]["temporal"]
    assert temporal["split"].startswith("2024-01-20")
    assert report["model_card"]["n_train"] == temporal["n_train"] > 0  # the refitted clone
    assert report["dataset"]["n_rows"] == temporal["n_test"]
    assert all(p["period"] >= "2024-01-20" for p in report["time"]["periods"])
    _fails(
        runner.invoke(app, [*args[:3], "--train-before", "2024-01-20", "-o", str(out)]),
        "needs a time column",
    )
    late = [*args[:6], "2030-01-01", "-o", str(out)]
    _fails(runner.invoke(app, late), "no messages on or after 2030-01-01")


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        ({}, ["--label-col", "label"], "missing column(s) 'label'"),
        ({"crisis": 0}, [], "no crisis messages"),
        ({"crisis": 2}, [], "must hold 0 (not crisis), 1 (crisis) or -1"),
        ({"crisis": "yes"}, [], "'yes'"),
        ({"text": ""}, [], "empty message"),
        ({}, ["--group-col", "age"], "missing column(s) 'age'"),
        ({"sent_at": "not a date"}, ["--time-col", "sent_at"], "not a date/time"),
    ],
)
def test_evaluate_bad_input_is_a_clear_error(
    fake_detector: list[Any],
    tmp_path: Path,
    change: dict[str, Any],
    extra: list[str],
    message: str,
) -> None:
    data = _write(_table(**change), tmp_path / "labelled.csv")
    result = runner.invoke(
        app, ["evaluate", "bundled", str(data), "--n-boot", "20", *extra, "-o", str(tmp_path / "r")]
    )
    _fails(result, message)
    assert result.exit_code == 1


def test_evaluate_bad_files_and_options(fake_detector: list[Any], tmp_path: Path) -> None:
    data = _write(_table(), tmp_path / "labelled.csv")
    _fails(
        runner.invoke(app, ["evaluate", str(tmp_path / "nope.skops"), str(data)]), "does not exist"
    )
    _fails(runner.invoke(app, ["evaluate", "bundled", str(tmp_path / "none.csv")]), "no such file")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    _fails(runner.invoke(app, ["evaluate", "bundled", str(empty)]), "empty")
    bad = runner.invoke(app, ["evaluate", "bundled", str(data), "--ambiguous", "maybe"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_an_unloadable_model_gives_a_clear_error(tmp_path: Path) -> None:
    data = _write(_table(), tmp_path / "labelled.csv")
    broken = tmp_path / "broken.skops"
    broken.write_bytes(b"not a model")
    _fails(runner.invoke(app, ["evaluate", str(broken), str(data)]), "cannot load model")


def test_compare_two_models(fake_detector: list[Any], tmp_path: Path) -> None:
    data = _write(_table(), tmp_path / "labelled.csv")
    a, b = tmp_path / "a.skops", tmp_path / "b.skops"
    a.write_text("a")
    b.write_text("b")
    out = tmp_path / "cmp"
    _ok(
        runner.invoke(app, ["compare", str(a), str(b), str(data), "--n-boot", "50", "-o", str(out)])
    )
    result = json.loads((out / "comparison.json").read_text(encoding="utf-8"))
    assert list(result["models"]) == ["a", "b"]
    assert result["differences"]["b"]["auroc"]["value"] == 0.0  # same stand-in model twice
    assert (out / "comparison.html").is_file() and (out / "comparison.md").is_file()
    _fails(runner.invoke(app, ["compare", str(a), str(data)]), "at least two models")


def test_benchmark_without_shared_data_fails_naming_the_path(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["benchmark", "--data-dir", str(tmp_path / "absent"), "-o", str(tmp_path / "out")]
    )
    assert result.exit_code == 2, result.output
    assert str(tmp_path / "absent") in result.output and "is missing" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_benchmark_looks_where_crisis_triage_shared_data_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRISIS_TRIAGE_SHARED_DATA", str(tmp_path / "elsewhere"))
    result = runner.invoke(app, ["benchmark", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert str(tmp_path / "elsewhere") in result.output


def test_the_readme_says_where_the_shared_data_folder_lives() -> None:
    """Its commands name ``../shared/data``; a sentence before the first says what that is."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    explained = readme.index("`../shared/data` below is the project's shared data folder")
    assert readme.index("../shared/data") >= explained
    assert "<workspace>/shared/data" in readme[explained : explained + 400]


def _shared_data(root: Path) -> Path:
    (root / "reference").mkdir(parents=True)
    lexicon = "Suicidal Thoughts,Suicide Methods\nSuicide,Overdose\nkill myself,\n"
    (root / "reference" / "cmd1_lexicon_swaminathan2023.csv").write_bytes(
        b"\xef\xbb\xbf" + lexicon.encode()
    )
    for stem, seed in (("bench_core_dev", 1), ("bench_stress_dev", 2), ("train", 3)):
        frame = _table(seed=seed)
        frame["license"] = "MIT"
        frame["crisis_type"] = np.where(frame["crisis"] == 1, "SI/DV", None)
        frame["label_note"] = np.where(frame.index % 2 == 0, "3P a parent writes", "")
        with gzip.open(root / f"{stem}.csv.gz", "wt", encoding="utf-8") as handle:
            frame.to_csv(handle, index=False)
    return root


def test_benchmark_runs_every_candidate(fake_detector: list[Any], tmp_path: Path) -> None:
    data_dir = _shared_data(tmp_path / "shared")
    out = tmp_path / "results"
    cache = tmp_path / "cmd1.skops"
    result = runner.invoke(
        app,
        [
            "benchmark",
            "--data-dir",
            str(data_dir),
            "-o",
            str(out),
            "--n-boot",
            "50",
            "--cmd1-model",
            str(cache),
        ],
    )
    _ok(result)
    bench = json.loads((out / "benchmark.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in bench["candidates"]] == [
        "cmd1_terms",
        "our_lexicon",
        "cmd1_preset",
        "default_model",
    ]
    assert not any(c["skipped"] for c in bench["candidates"])
    assert cache.is_file()  # the trained cmd1 model is kept for the next run
    core = bench["results"]["bench_core_dev"]
    assert set(core) == {"exclude", "positive"}
    assert core["positive"]["dataset"]["n_positive"] > core["exclude"]["dataset"]["n_positive"]
    categories = bench["category_sensitivity"]["bench_core_dev"]["default_model"]
    assert (
        categories["SI"]["n"] == categories["DV"]["n"] == core["exclude"]["dataset"]["n_positive"]
    )
    assert 0 < categories["third_party"]["n"] < categories["SI"]["n"]
    markdown = (out / "benchmark.md").read_text(encoding="utf-8")
    # candidates, then 2 files x 2 policies, then per-category sensitivity for 2 files
    assert markdown.count("| cmd1_terms |") == 1 + 4 + 2
    assert "## Sensitivity per crisis category" in markdown
    assert SECRET not in markdown


def test_benchmark_reports_candidates_it_cannot_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def unavailable(*_: Any, **__: Any) -> Any:
        raise EvaluationError("no model here")

    monkeypatch.setattr(_adapter, "load_model", unavailable)
    monkeypatch.setattr(_benchmark, "train_cmd1", unavailable)
    data_dir = _shared_data(tmp_path / "shared")
    result = runner.invoke(
        app,
        ["benchmark", "--data-dir", str(data_dir), "-o", str(tmp_path / "out"), "--n-boot", "20"],
    )
    _ok(result)
    assert "skipped cmd1_preset" in result.output and "skipped default_model" in result.output
    bench = json.loads((tmp_path / "out" / "benchmark.json").read_text(encoding="utf-8"))
    assert list(bench["results"]["bench_core_dev"]["exclude"]["models"]) == [
        "cmd1_terms",
        "our_lexicon",
    ]


# -- with the real detector -------------------------------------------------------------------
def test_evaluate_a_tiny_real_model(tmp_path: Path) -> None:
    real = detector
    train = _table(n=300, seed=5)
    train = train[train["crisis"] != -1]
    model = real.make_detector("default", gate="none", Cs=(1.0,), cv=3)  # small, quick
    model.fit(train["text"].tolist(), train["crisis"].tolist())
    path = tmp_path / "tiny.skops"
    real.save_model(model, path)
    data = _write(_table(seed=6), tmp_path / "labelled.csv")
    out = tmp_path / "report"
    _ok(
        runner.invoke(
            app,
            [
                "evaluate",
                str(path),
                str(data),
                "--group-col",
                "site",
                "--n-boot",
                "50",
                "-o",
                str(out),
            ],
        )
    )
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["threshold"] == pytest.approx(float(model.threshold_))
    assert "lexicon" in report["models"]
    _ok(
        runner.invoke(
            app,
            [
                "evaluate",
                str(path),
                str(data),
                "--time-col",
                "sent_at",
                "--train-before",
                "2024-01-15",
                "--n-boot",
                "20",
                "-o",
                str(out),
            ],
        )
    )
    _ok(
        runner.invoke(
            app,
            [
                "compare",
                str(path),
                str(path),
                str(data),
                "--n-boot",
                "20",
                "-o",
                str(tmp_path / "cmp"),
            ],
        )
    )


@pytest.mark.shared_data
def test_the_cmd1_term_list_reads(shared_data: Path) -> None:
    from crisis_triage.evaluation import read_cmd1_lexicon

    gate = read_cmd1_lexicon(shared_data / "reference" / "cmd1_lexicon_swaminathan2023.csv")
    assert len(gate.entries) > 250
    assert gate.active_hits("i feel suicidal") and not gate.active_hits("refill my inhaler")


def test_every_miss_is_explained_and_false_positives_up_to_a_cap() -> None:
    from crisis_triage.evaluation import TableSpec, score_frame

    data = score_frame(_fitted(), _table(n=400), TableSpec(), max_explained_false_positives=10)
    flagged = data.scores >= data.threshold
    false_pos = np.flatnonzero((data.labels != 1) & flagged)
    missed = np.flatnonzero((data.labels != 0) & ~flagged)
    assert len(false_pos) > 10 and len(missed) > 0
    assert set(missed.tolist()) <= set(data.explanations)
    assert len(set(false_pos.tolist()) & set(data.explanations)) == 10
