"""`crisis-triage encoder ...`: which encoders are usable here; building the static table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from crisis_triage.cli._app import app
from crisis_triage.detector import EncoderUnavailable, encoder_status
from crisis_triage.detector._static_build import build_static_table, collect_vocabulary
from crisis_triage.detector._static_encoder import STATIC_TABLE_PATH
from crisis_triage.training import default_data_dir

encoder_app = typer.Typer(
    help="Sentence encoders: status, and building the static word table.",
    no_args_is_help=True,
)
app.add_typer(encoder_app, name="encoder")


@encoder_app.command("status")
def status() -> None:
    """Print each encoder's availability (and why not), file hashes and versions as JSON."""
    typer.echo(json.dumps(encoder_status(), indent=2))


@encoder_app.command("build-static")
def build_static(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Table file to write (.npz; card beside it).")
    ] = STATIC_TABLE_PATH,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder with train.csv.gz (default: $CRISIS_TRIAGE_SHARED_DATA or ../shared/data)."
        ),
    ] = None,
    min_count: Annotated[int, typer.Option(help="Keep training words seen this often.")] = 3,
    dim: Annotated[int, typer.Option(help="Dimensions after PCA.")] = 256,
) -> None:
    """Distil the static encoder's word table from the full encoder (minutes: ~25k words)."""
    train_csv = (data_dir if data_dir is not None else default_data_dir()) / "train.csv.gz"
    if not train_csv.is_file():
        typer.echo(f"error: {train_csv} not found; pass --data-dir", err=True)
        raise typer.Exit(1)
    if output.suffix != ".npz":
        typer.echo("error: the output must end in .npz", err=True)
        raise typer.Exit(1)
    counts, source = collect_vocabulary(train_csv, min_count=min_count)
    typer.echo(f"vocabulary: {len(counts):,} words; embedding each through the full encoder")

    def progress(done: int, total: int) -> None:
        typer.echo(f"  {done:,} / {total:,} words", err=True)

    try:
        card = build_static_table(
            counts, counts, output, dim=dim, vocabulary_source=source, progress=progress
        )
    except EncoderUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {output} ({card['table_bytes']:,} bytes, sha256 {card['table_sha256']})")
