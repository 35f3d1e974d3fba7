"""History rescoring on Spark: ``score --engine spark`` writes the local command's scores.

Needs PySpark (``crisis-triage[spark]``) and a Java runtime.  Without them the tests skip and
say which is missing, unless CRISIS_TRIAGE_REQUIRE_SPARK=1 (CI), when they fail.  One local
Spark session serves the whole module (Spark takes many seconds to start).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from synthetic_messages import corpus, fast_detector
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.detector import save_model

pytestmark = [pytest.mark.spark, pytest.mark.slow]
SECRET = "my secret crisis words about the bridge"
runner = CliRunner()


def _spark_or_skip() -> None:
    reason = None
    if importlib.util.find_spec("pyspark") is None:
        reason = "PySpark is not installed (pip install 'crisis-triage[spark]')"
    elif shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        reason = "no Java runtime (apt-get install default-jre-headless)"
    if reason is None:
        return
    if os.environ.get("CRISIS_TRIAGE_REQUIRE_SPARK") == "1":
        pytest.fail(reason + " (CRISIS_TRIAGE_REQUIRE_SPARK=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """One local Spark session with two cores; the CLI joins it instead of starting its own."""
    _spark_or_skip()
    from crisis_triage.spark import spark_session

    with spark_session("local[2]", {"spark.sql.shuffle.partitions": "2"}) as session:
        yield session


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels, types = corpus()
    model = fast_detector().fit(texts, labels, crisis_types=types)
    return save_model(model, tmp_path_factory.mktemp("model") / "model.skops")


def _messages() -> pd.DataFrame:
    texts, _, _ = corpus(n=300, seed=7)
    texts[:6] = [
        SECRET,
        'she said "goodbye, everyone",\nthen left',  # quotes, a comma and a newline
        "",  # empty in CSV: missing
        "Je veux mourir, je n'en peux plus, aidez-moi s'il vous plaît ce soir",  # not covered
        "x" * 500,  # over --max-chars
        "  ",
    ]
    return pd.DataFrame(
        {"id": [f"m{i}" for i in range(len(texts))], "text": texts, "site": ["a", "b"] * 150}
    )


def _score(source: Path, target: Path, model_path: Path, *engine: str) -> pd.DataFrame:
    result = runner.invoke(
        app,
        ["score", str(source), "-o", str(target), "--model", str(model_path), "--max-chars",
         "400", "--chunksize", "64", "--no-progress", *engine],
    )  # fmt: skip
    assert "Traceback" not in result.output
    assert SECRET not in result.output
    assert result.exit_code == 3, result.output  # the long and the French message are unscored
    return pd.read_csv(target, dtype={"text": str}, keep_default_na=False, na_values=[""])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_spark_scores_equal_the_local_scores(
    spark: Any, tmp_path: Path, model_path: Path, suffix: str
) -> None:
    source = tmp_path / f"messages{suffix}"
    frame = _messages()
    if suffix == ".csv":
        frame.to_csv(source, index=False)
    else:
        frame.to_parquet(source)
    local = _score(source, tmp_path / "local.csv", model_path)
    distributed = _score(source, tmp_path / "spark.csv", model_path, "--engine", "spark")

    assert list(distributed.columns) == list(local.columns)
    assert list(distributed["id"]) == list(frame["id"])  # input order kept
    np.testing.assert_allclose(
        distributed["probability"], local["probability"], rtol=0, atol=1e-9, equal_nan=True
    )
    assert local["probability"].notna().sum() > 250  # most rows really were scored
    assert local["probability"].isna().sum() == 2  # the long and the French message
    for column in ("flagged", "categories", "reasons", "language", "site", "text"):
        pd.testing.assert_series_equal(distributed[column], local[column])
    assert local["flagged"].sum() > 0


def test_spark_names_a_missing_text_column(spark: Any, tmp_path: Path, model_path: Path) -> None:
    source = tmp_path / "messages.parquet"
    _messages().to_parquet(source)
    result = runner.invoke(
        app,
        ["score", str(source), "-o", str(tmp_path / "out.csv"), "--model", str(model_path),
         "--text-col", "body", "--engine", "spark"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "missing column 'body'" in result.output
    assert not (tmp_path / "out.csv").exists()
