"""`crisis-triage score` and `crisis-triage explain`: the detector on files and on one message.

Exit codes: 0 done; 2 bad input or model (a clear message, never a traceback); 3 the output
is complete but some messages could not be scored (they are flagged for human review);
1 an unexpected internal error (its type only: message text never reaches the terminal).
"""

from __future__ import annotations

import enum
import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated

import click
import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from crisis_triage.cli._app import app
from crisis_triage.detector import (
    MAX_CHARS,
    SCORE_COLUMNS,
    ModelLoadError,
    Scorer,
    load_model,
    score_frame,
    score_messages,
)
from crisis_triage.io import TableError, TableWriter, iter_table_chunks, table_format
from crisis_triage.lexicon import LexiconError

OUTPUT_COLUMNS = SCORE_COLUMNS
STATUS = "status"  # score_frame's status column: counted, not written
EXIT_BAD_INPUT = 2
EXIT_UNSCORED = 3

ModelOption = Annotated[
    Path | None,
    typer.Option("--model", help="A .skops model file (default: the bundled model)."),
]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn expected failures into one clear line and a non-zero exit, never a traceback."""
    try:
        yield
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except (TableError, ModelLoadError, LexiconError, ValueError, TypeError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        detail = f"{exc.strerror}{where}" if exc.strerror else str(exc) or type(exc).__name__
        typer.echo(f"error: {detail}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    except Exception as exc:
        typer.echo(f"error: internal error ({type(exc).__name__}); please report it", err=True)
        raise typer.Exit(1) from None


class Engine(enum.StrEnum):
    local = "local"
    spark = "spark"


@app.command()
def score(
    input_path: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="CSV, JSONL or Parquet (Spark: CSV or Parquet, a path or URI it can read).",
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the scores.")],
    model: ModelOption = None,
    text_col: Annotated[str, typer.Option(help="Column holding the message text.")] = "text",
    chunksize: Annotated[int, typer.Option(min=1, help="Rows per chunk.")] = 10_000,
    max_chars: Annotated[
        int, typer.Option(min=1, help="Longer messages are not scored but flagged for review.")
    ] = MAX_CHARS,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    engine: Annotated[
        Engine, typer.Option(help="local: this process; spark: a pandas UDF on Apache Spark.")
    ] = Engine.local,
    spark_master: Annotated[
        str | None,
        typer.Option(help="Spark master URL (default: Spark's configuration, else local[*])."),
    ] = None,
    spark_conf: Annotated[
        list[str] | None,
        typer.Option("--spark-conf", metavar="KEY=VALUE", help="A Spark setting (repeatable)."),
    ] = None,
) -> None:
    """Score every message in a file (adds probability, flagged, categories, reasons, language).

    Every input column is kept.  Missing texts are scored as empty messages, with a note;
    messages over --max-chars, and messages in a language the model does not cover, are not
    scored but flagged for review (exit code 3).  ``--engine spark`` scores with the same
    detector on Spark (install crisis-triage[spark]); the output is the same file.
    """
    with user_errors():
        table_format(output)
        if engine is Engine.local and output.resolve() == Path(input_path).resolve():
            raise ValueError("the output file must differ from the input file")
        with ExitStack() as stack:
            if engine is Engine.spark:
                chunks = _spark_chunks(
                    stack, input_path, model, text_col, max_chars, chunksize,
                    spark_master, _parse_conf(spark_conf or []),
                )  # fmt: skip
            else:
                detector = load_model(model)
                chunks = _local_chunks(detector, Path(input_path), text_col, chunksize, max_chars)
            counts = write_scored(chunks, output, progress)
    _report_counts(counts, output, max_chars)


def _report_counts(counts: Counter[str], output: Path, max_chars: int) -> None:
    console = Console(stderr=True, highlight=False)
    console.print(
        f"scored {counts['rows']:,} messages, flagged {counts['flagged']:,} -> {output}",
        markup=False,
    )
    if counts["missing"] or counts["empty"]:
        console.print(
            f"note: {counts['missing']:,} missing and {counts['empty']:,} empty texts were "
            "scored as empty messages",
            markup=False,
        )
    if counts["too_long"]:
        console.print(
            f"warning: {counts['too_long']:,} messages longer than {max_chars:,} characters were "
            "not scored; they are flagged for human review in the output",
            markup=False,
        )
    if counts["unsupported_language"]:
        console.print(
            f"warning: {counts['unsupported_language']:,} messages in a language the model does "
            "not cover were not scored; they are flagged for human review in the output",
            markup=False,
        )
    if counts["too_long"] or counts["unsupported_language"]:
        raise typer.Exit(EXIT_UNSCORED)


def _parse_conf(items: list[str]) -> dict[str, str]:
    conf: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--spark-conf takes KEY=VALUE, not {item!r}")
        conf[key.strip()] = value
    return conf


def _local_chunks(
    detector: Scorer, input_path: Path, text_col: str, chunksize: int, max_chars: int
) -> Iterator[pd.DataFrame]:
    """Each input chunk with ``score_frame``'s columns (and ``status``) added."""
    for chunk in iter_table_chunks(input_path, chunksize=chunksize, required=[text_col]):
        clash = [c for c in (*OUTPUT_COLUMNS, STATUS) if c in chunk.columns]
        if clash:
            raise TableError(
                f"{input_path.name} already has column(s) {', '.join(clash)}; rename them first"
            )
        scores = score_frame(detector, chunk[text_col].tolist(), max_chars=max_chars)
        out = chunk.copy()
        for column in (*OUTPUT_COLUMNS, STATUS):
            out[column] = scores[column].to_numpy()
        yield out


def _spark_chunks(
    stack: ExitStack,
    source: str,
    model: Path | None,
    text_col: str,
    max_chars: int,
    chunksize: int,
    master: str | None,
    conf: dict[str, str],
) -> Iterator[pd.DataFrame]:
    try:
        from crisis_triage import spark as spark_engine
    except ImportError:  # pragma: no cover - the module itself needs no extra
        raise ValueError("the Spark engine is not available in this build") from None
    try:
        session = stack.enter_context(spark_engine.spark_session(master, conf))
    except spark_engine.SparkUnavailableError as exc:
        raise ValueError(str(exc)) from None
    return spark_engine.iter_scored_chunks(
        session,
        source,
        model_path=model,
        text_col=text_col,
        max_chars=max_chars,
        chunksize=chunksize,
    )


def write_scored(chunks: Iterator[pd.DataFrame], output: Path, show_progress: bool) -> Counter[str]:
    """Write scored chunks (input columns, score columns, ``status``) to ``output`` atomically;
    the summary counts.  ``status`` feeds the counts and is not written."""
    counts: Counter[str] = Counter()
    partial = output.with_name(".partial-" + output.name)
    done = False
    bar = Progress(
        SpinnerColumn(),
        TextColumn("scoring: {task.completed:,} messages"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not show_progress,
    )
    try:
        with bar, TableWriter(partial) as writer:
            task = bar.add_task("scoring", total=None)
            for chunk in chunks:
                writer.write(chunk.drop(columns=[STATUS]))
                add_counts(counts, chunk)
                bar.update(task, advance=len(chunk))
        os.replace(partial, output)
        done = True
    finally:
        if not done:
            partial.unlink(missing_ok=True)
    return counts


def add_counts(counts: Counter[str], scores: pd.DataFrame) -> None:
    """Add one scored chunk (``score_frame``'s columns) to the summary counts."""
    counts["rows"] += len(scores)
    counts["flagged"] += int(scores["flagged"].sum())
    counts.update(str(status) for status in scores[STATUS])


NOT_SCORED = "not scored: review by a person"


@app.command()
def explain(
    message: Annotated[str, typer.Argument(help="The message to score.")],
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score one message and show the threshold, flag, categories and reasons.

    A message the detector cannot score (too long) says so in words, never as a 0 score, and
    exits 3 like ``score`` does.
    """
    with user_errors():
        detector = load_model(model)
        (result,) = score_messages(detector, [message])
        threshold = float(detector.threshold_)
    scored = result.probability is not None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "scored": scored,
                    "status": result.status if scored else NOT_SCORED,
                    "probability": result.probability,
                    "threshold": threshold,
                    "flagged": result.flagged,
                    "categories": list(result.categories),
                    "reasons": list(result.reasons),
                    "language": result.language,
                }
            )
        )
    else:
        console = Console(highlight=False)
        verdict = "FLAGGED" if result.flagged else "not flagged"
        if result.probability is None:
            console.print(f"probability  {NOT_SCORED}", markup=False)
        else:
            console.print(f"probability  {result.probability:.4f}", markup=False)
        console.print(f"threshold    {threshold:.4g}", markup=False)
        console.print(f"decision     {verdict}", markup=False)
        console.print(f"categories   {result.category_text or '-'}", markup=False)
        console.print(f"language     {result.language}", markup=False)
        console.print("reasons", markup=False)
        for reason in result.reasons:
            console.print(f"  - {reason}", markup=False)
    if not scored:
        raise typer.Exit(EXIT_UNSCORED)
