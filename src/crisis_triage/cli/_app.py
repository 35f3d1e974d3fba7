"""The root Typer app; each command group lives in its own module and registers here."""

from __future__ import annotations

import typer

import crisis_triage

app = typer.Typer(
    name="crisis-triage",
    help="Find crisis messages among ordinary patient messages and put them first.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Find crisis messages among ordinary patient messages and put them first."""


@app.command()
def version() -> None:
    """Print the crisis-triage version."""
    typer.echo(crisis_triage.__version__)


def main() -> None:
    app()
