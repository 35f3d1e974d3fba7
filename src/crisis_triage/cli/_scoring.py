"""`crisis-triage score` and `crisis-triage explain`: the detector on files and on one message.

Exit codes: 0 done; 2 bad input or model (a clear message, never a traceback); 3 the output
is complete but some messages could not be scored (they are flagged for human review);
1 an unexpected internal error (its type only: message text never reaches the terminal).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import click
import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from crisis_triage.cli._app import app
from crisis_triage.detector import MAX_CHARS, ModelLoadError, Scorer, load_model, score_messages
from crisis_triage.io import TableError, TableWriter, iter_table_chunks, table_format
from crisis_triage.lexicon import LexiconError

OUTPUT_COLUMNS = ("probability", "flagged", "categories", "reasons", "language")
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


@app.command()
def score(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="CSV, JSONL or Parquet.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the scores.")],
    model: ModelOption = None,
    text_col: Annotated[str, typer.Option(help="Column holding the message text.")] = "text",
    chunksize: Annotated[int, typer.Option(min=1, help="Rows per chunk.")] = 10_000,
    max_chars: Annotated[
        int, typer.Option(min=1, help="Longer messages are not scored but flagged for review.")
    ] = MAX_CHARS,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Score every message in a file (adds probability, flagged, categories, reasons, language).

    Every input column is kept.  Missing texts are scored as empty messages, with a note;
    messages over --max-chars, and messages in a language the model does not cover, are not
    scored but flagged for review (exit code 3).
    """
    with user_errors():
        table_format(output)
        if output.resolve() == input_path.resolve():
            raise ValueError("the output file must differ from the input file")
        detector = load_model(model)
        counts = _score_file(detector, input_path, output, text_col, chunksize, max_chars, progress)
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


def _score_file(
    detector: Scorer,
    input_path: Path,
    output: Path,
    text_col: str,
    chunksize: int,
    max_chars: int,
    show_progress: bool,
) -> Counter[str]:
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
            for chunk in iter_table_chunks(input_path, chunksize=chunksize, required=[text_col]):
                clash = [c for c in OUTPUT_COLUMNS if c in chunk.columns]
                if clash:
                    raise TableError(
                        f"{input_path.name} already has column(s) {', '.join(clash)}; "
                        "rename them first"
                    )
                rows = score_messages(detector, chunk[text_col].tolist(), max_chars=max_chars)
                out = chunk.copy()
                out["probability"] = pd.Series(
                    [math.nan if r.probability is None else r.probability for r in rows],
                    index=chunk.index,
                    dtype="float64",
                )
                out["flagged"] = [r.flagged for r in rows]
                out["categories"] = [r.category_text for r in rows]
                out["reasons"] = [r.reason_text for r in rows]
                out["language"] = [r.language for r in rows]
                writer.write(out)
                counts["rows"] += len(rows)
                counts["flagged"] += sum(r.flagged for r in rows)
                counts.update(r.status for r in rows)
                bar.update(task, advance=len(rows))
        os.replace(partial, output)
        done = True
    finally:
        if not done:
            partial.unlink(missing_ok=True)
    return counts


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
