"""`crisis-triage lexicon ...`: list, test and validate the bundled lexicon or a site's copy."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Column, Table

from crisis_triage.cli._app import app
from crisis_triage.lexicon import CATEGORIES, DEFAULT_LEXICON_PATH, Lexicon, LexiconError

lexicon_app = typer.Typer(
    help="List, test and validate the crisis lexicon (an editable YAML file).",
    no_args_is_help=True,
)
app.add_typer(lexicon_app, name="lexicon")

PathOption = Annotated[
    Path | None,
    typer.Option(
        "--path",
        "-p",
        help="Lexicon YAML file to use instead of the bundled one.",
        envvar="CRISIS_TRIAGE_LEXICON",
        dir_okay=False,
    ),
]
_PATTERN_WIDTH = 70


def _load(path: Path | None) -> Lexicon:
    try:
        return Lexicon.load(path)
    except LexiconError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _describe_source(lexicon: Lexicon, path: Path | None) -> str:
    where = path if path is not None else f"{DEFAULT_LEXICON_PATH.name} (bundled)"
    return f"lexicon {lexicon.version} from {where}, sha256 {lexicon.sha256[:12]}"


@lexicon_app.command("list")
def list_entries(
    category: Annotated[
        str | None, typer.Option("--category", "-c", help="Only this category.")
    ] = None,
    rules: Annotated[
        bool, typer.Option("--rules", help="List the context rules instead of the entries.")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="Show patterns in full.")] = False,
    path: PathOption = None,
) -> None:
    """List the lexicon's entries (or context rules) as a table."""
    lexicon = _load(path)
    if category is not None:
        category = category.upper()
        if category not in CATEGORIES:
            typer.echo(
                f"error: unknown category {category!r}; use one of {', '.join(CATEGORIES)}",
                err=True,
            )
            raise typer.Exit(2)
    console = Console()
    console.print(_describe_source(lexicon, path))
    if rules:
        table = Table(Column("id", no_wrap=True), Column("effect", no_wrap=True), "action", "scope")
        if full:
            table.add_column("pattern")
        table.add_column("rationale")
        for rule in lexicon.context_rules:
            if category is not None and rule.applies_to and category not in rule.applies_to:
                continue
            scope = f"{rule.direction} {rule.window}, {' '.join(rule.applies_to) or 'all'}"
            written = [rule.source_pattern or rule.pattern] if full else []
            action = "suppress" if rule.suppress else "annotate"
            table.add_row(rule.id, rule.effect, action, scope, *written, rule.rationale)
    else:
        table = Table(Column("id", no_wrap=True), "category", "pattern", "rationale")
        for entry in lexicon.entries:
            if category is None or entry.category == category:
                pattern = _short(entry.source_pattern or entry.pattern, full)
                table.add_row(entry.id, entry.category, pattern, entry.rationale)
    console.print(table)


@lexicon_app.command("test")
def test_message(
    message: Annotated[
        str | None,
        typer.Argument(
            help="A message to match ('-' reads it from stdin). Without one, the examples "
            "written in the lexicon file are checked."
        ),
    ] = None,
    path: PathOption = None,
) -> None:
    """Show every hit in a message: active, or suppressed with the rule and effect."""
    lexicon = _load(path)
    if message is None:
        _check_examples(lexicon, path)
        return
    if message == "-":
        message = sys.stdin.read()
    console = Console()
    hits = lexicon.match(message)
    if not hits:
        console.print("no lexicon terms found")
        return
    table = Table(Column("entry", no_wrap=True), "category", "term", "status", "context")
    for hit in hits:
        status = "active" if hit.active else f"suppressed by {hit.suppressed_by} ({hit.effect})"
        context = ", ".join(f"{effect} ({rule})" for rule, effect in hit.annotations)
        table.add_row(hit.entry_id, hit.category, hit.term, status, context)
    console.print(table)
    categories = lexicon.categories(message)
    console.print(f"categories: {', '.join(categories)}" if categories else "no active hits")


@lexicon_app.command("validate")
def validate(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Lexicon YAML file (default: --path, then the bundled lexicon).", dir_okay=False
        ),
    ] = None,
    path: PathOption = None,
) -> None:
    """Check a lexicon file: schema, regexes, ids and the examples written into it."""
    path = file if file is not None else path
    lexicon = _load(path)
    entries = Counter(e.category for e in lexicon.entries)
    effects = Counter(r.effect for r in lexicon.context_rules)
    typer.echo(_describe_source(lexicon, path))
    typer.echo(
        f"{len(lexicon.entries)} entries ("
        + ", ".join(f"{c} {entries[c]}" for c in CATEGORIES if entries[c])
        + f"), {len(lexicon.context_rules)} context rules"
        + (
            " (" + ", ".join(f"{e} {n}" for e, n in sorted(effects.items())) + ")"
            if effects
            else ""
        )
    )
    _check_examples(lexicon, path)


def _check_examples(lexicon: Lexicon, path: Path | None) -> None:
    problems = lexicon.check_examples()
    if problems:
        for problem in problems:
            typer.echo(f"error: {problem}", err=True)
        typer.echo(
            f"error: {len(problems)} of {lexicon.example_count} examples fail in "
            f"{path if path is not None else DEFAULT_LEXICON_PATH.name}",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"ok: all {lexicon.example_count} examples hold")


def _short(pattern: str, full: bool) -> str:
    if full or len(pattern) <= _PATTERN_WIDTH:
        return pattern
    return pattern[: _PATTERN_WIDTH - 1] + "…"
