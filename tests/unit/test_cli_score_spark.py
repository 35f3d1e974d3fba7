"""``score --engine spark`` without PySpark or Java: one clear line and exit 2, no Spark needed."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from crisis_triage import spark as spark_engine
from crisis_triage.cli import app
from crisis_triage.spark import SparkUnavailableError, spark_session

runner = CliRunner()


@pytest.fixture
def table(tmp_path: Path) -> Path:
    source = tmp_path / "in.csv"
    pd.DataFrame({"text": ["can i get a refill"]}).to_csv(source, index=False)
    return source


def test_without_pyspark_the_command_says_how_to_install_it(
    table: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # import fails
    result = runner.invoke(app, ["score", str(table), "-o", str(table.with_name("out.csv")),
                                 "--engine", "spark"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "PySpark is not installed" in result.output
    assert "crisis-triage[spark]" in result.output
    assert "Traceback" not in result.output
    assert not table.with_name("out.csv").exists()


def test_without_java_spark_is_not_started(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark", reason="PySpark is not installed")
    from pyspark.sql import SparkSession

    if SparkSession.getActiveSession() is not None:
        pytest.skip("a Spark session is already active in this process")
    monkeypatch.setattr(spark_engine._session.shutil, "which", lambda name: None)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(SparkUnavailableError, match="Java runtime"), spark_session("local[1]"):
        pass


def test_spark_conf_must_be_key_value(table: Path) -> None:
    result = runner.invoke(app, ["score", str(table), "-o", str(table.with_name("out.csv")),
                                 "--engine", "spark", "--spark-conf", "novalue"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--spark-conf takes KEY=VALUE" in result.output
