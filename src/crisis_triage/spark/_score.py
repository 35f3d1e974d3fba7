"""The detector as a Spark pandas UDF, and the scored rows back on the driver in input order.

The model file and its card are broadcast once (each executor fetches them once); each Python
worker loads them once through ``load_model`` (checksum and type allow-list as everywhere) and
keeps the detector for every later Arrow batch.  Scoring is ``score_frame``, the function the
local command uses, so the two engines cannot drift apart.
"""

from __future__ import annotations

import hashlib
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from crisis_triage.detector import (
    BUNDLED_MODEL_PATH,
    MAX_CHARS,
    SCORE_COLUMNS,
    Scorer,
    card_path,
    load_model,
    score_frame,
)
from crisis_triage.io import TableError, table_format

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SPARK_FORMATS = ("csv", "parquet")
STATUS_COLUMN = "status"
_RESULT = "__crisis_triage_score"
_ROW = "__crisis_triage_row"
_RESULT_SCHEMA = (
    "probability double, flagged boolean, categories string, reasons string, "
    "language string, status string"
)

# One detector per Python worker process, keyed by the model file's hash.
_WORKER_MODELS: dict[str, Scorer] = {}


def read_messages(spark: SparkSession, source: str) -> DataFrame:
    """A Parquet file or directory, or a CSV file (header row; every column read as text, an
    empty field as missing: the local reader's rules)."""
    try:
        fmt = table_format(source)
    except TableError:
        fmt = "parquet"  # a directory of part files, as Spark writes them
    if fmt not in SPARK_FORMATS:
        raise TableError(f"{Path(source).name}: the Spark engine reads Parquet or CSV, not {fmt}")
    if fmt == "parquet":
        return spark.read.parquet(source)
    separator = "\t" if ".tsv" in source.lower() else ","
    return spark.read.csv(
        source,
        header=True,
        sep=separator,
        quote='"',
        escape='"',
        multiLine=True,
        encoding="UTF-8",
        mode="FAILFAST",
        inferSchema=False,
    )


def _model_payload(model_path: Path | None) -> tuple[str, bytes, bytes]:
    path = model_path if model_path is not None else BUNDLED_MODEL_PATH
    return path.name, path.read_bytes(), card_path(path).read_bytes()


def _worker_model(payload: tuple[str, bytes, bytes]) -> Scorer:
    """The broadcast model, loaded once in this Python worker (verified like any model file)."""
    name, data, card = payload
    key = hashlib.sha256(card).hexdigest()  # the card holds the file's SHA-256
    model = _WORKER_MODELS.get(key)
    if model is None:
        with tempfile.TemporaryDirectory(prefix="crisis-triage-model-") as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            card_path(path).write_bytes(card)
            model = load_model(path)
        _WORKER_MODELS[key] = model
    return model


def _score_udf(model: Any, max_chars: int) -> Any:
    """``model``: the broadcast ``(name, model bytes, card bytes)``."""
    from pyspark.sql.pandas.functions import pandas_udf

    def score(batches: Iterator[pd.Series]) -> Iterator[pd.DataFrame]:
        detector = _worker_model(model.value)
        for texts in batches:
            yield score_frame(detector, texts.tolist(), max_chars=max_chars)

    with warnings.catch_warnings():
        # PySpark 4 warns that pandas 3 is not "fully" supported; the scores here are checked
        # against the local scorer's by a test (tests/integration/test_spark_scoring.py).
        warnings.filterwarnings(
            "ignore", "PySpark does not yet fully support pandas", category=FutureWarning
        )
        return pandas_udf(score, _RESULT_SCHEMA)  # type: ignore[call-overload]


def score_dataframe(
    spark: SparkSession,
    messages: DataFrame,
    *,
    model_path: Path | None = None,
    text_col: str = "text",
    max_chars: int = MAX_CHARS,
) -> DataFrame:
    """``messages`` with the score columns and ``status`` added (every input column kept)."""
    from pyspark.sql.functions import col

    if text_col not in messages.columns:
        found = ", ".join(map(repr, messages.columns))
        raise TableError(f"missing column {text_col!r}; found {found}")
    clash = [c for c in (*SCORE_COLUMNS, STATUS_COLUMN) if c in messages.columns]
    if clash:
        raise TableError(f"the input already has column(s) {', '.join(clash)}; rename them first")
    model = spark.sparkContext.broadcast(_model_payload(model_path))
    scored = messages.withColumn(_RESULT, _score_udf(model, max_chars)(col(text_col)))
    added = [col(f"{_RESULT}.{name}").alias(name) for name in (*SCORE_COLUMNS, STATUS_COLUMN)]
    return scored.select(*[col(f"`{c}`") for c in messages.columns], *added)


def iter_scored_chunks(
    spark: SparkSession,
    source: str,
    *,
    model_path: Path | None = None,
    text_col: str = "text",
    max_chars: int = MAX_CHARS,
    chunksize: int = 10_000,
) -> Iterator[pd.DataFrame]:
    """The scored table back on the driver as pandas chunks of at most ``chunksize`` rows, in
    input order (the scoring runs on the executors; nothing is shuffled)."""
    load_model(model_path)  # a bad model file fails here, clearly, before any Spark job
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(chunksize))
    messages, ordered = _spread(spark, read_messages(spark, source))
    scored = score_dataframe(
        spark, messages, model_path=model_path, text_col=text_col, max_chars=max_chars
    )
    if ordered:
        scored = scored.drop(_ROW)
    columns = scored.columns
    rows: list[tuple[Any, ...]] = []
    for row in scored.toLocalIterator(prefetchPartitions=True):
        rows.append(tuple(row))
        if len(rows) >= chunksize:
            yield _frame(rows, columns)
            rows = []
    if rows:
        yield _frame(rows, columns)


def _spread(spark: SparkSession, messages: DataFrame) -> tuple[DataFrame, bool]:
    """``messages`` over at least as many partitions as Spark has cores, in input order.

    A CSV read with quoted newlines allowed is one partition per file, a small Parquet file
    too: one core would score it all.  Rows get their input position, are range-partitioned on
    it (partition i holds earlier rows than partition i+1) and sorted within each partition,
    so reading the partitions in turn gives the input order back.  True when the position
    column ``_ROW`` was added (drop it after scoring).
    """
    from pyspark.sql.functions import monotonically_increasing_id

    cores = spark.sparkContext.defaultParallelism
    if messages.rdd.getNumPartitions() >= cores:
        return messages, False
    if _ROW in messages.columns:
        raise TableError(f"the input already has a column {_ROW}; rename it first")
    numbered = messages.withColumn(_ROW, monotonically_increasing_id())
    return numbered.repartitionByRange(cores, _ROW).sortWithinPartitions(_ROW), True


def _frame(rows: list[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=columns)
    frame["probability"] = frame["probability"].astype("float64")
    frame["flagged"] = frame["flagged"].astype("bool")
    return frame
