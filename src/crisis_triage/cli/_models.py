"""``crisis-triage models list|add|promote|rollback|shadow|shadow-stop|compare``: the model
registry.  Promotion, rollback and shadowing need an admin's username and password (asked for,
or CRISIS_TRIAGE_ADMIN_PASSWORD) and are audited."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from crisis_triage.cli._admin import cli_actor, database_session
from crisis_triage.cli._app import app
from crisis_triage.cli._scoring import user_errors

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crisis_triage.registry import ModelEntry
    from crisis_triage.storage import User

models_app = typer.Typer(
    help="The model registry: champion, challenger in shadow, comparisons.", no_args_is_help=True
)
app.add_typer(models_app, name="models")

AdminOpt = Annotated[str, typer.Option("--admin", help="An admin's username (asks the password).")]


def _admin(session: Session, username: str, action: str) -> User:
    from crisis_triage.registry import require_admin

    password = os.environ.get("CRISIS_TRIAGE_ADMIN_PASSWORD")
    if password is None:
        password = typer.prompt(f"password for {username}", hide_input=True)
    return require_admin(session, username, password, action)


def _registry_errors() -> tuple[type[Exception], ...]:
    from crisis_triage.evaluation import EvaluationError
    from crisis_triage.triage import TriageError

    return (TriageError, EvaluationError)


def _show(entry: ModelEntry) -> None:
    threshold = f"{entry.threshold:.4g}" if entry.threshold is not None else "-"
    since = f" shadow since {entry.shadow_since:%Y-%m-%d %H:%M}" if entry.shadow_since else ""
    typer.echo(
        f"{entry.model_id:<40} {entry.role:<10} threshold {threshold:<8} "
        f"sha256 {entry.file_sha256[:12]}  {entry.path}{since}"
    )


def _fail_on_registry_errors(exc: Exception) -> NoReturn:
    """A refused registry operation as a user error (``user_errors``: one line, exit 2)."""
    raise ValueError(str(exc)) from None


@models_app.command("list")
def models_list() -> None:
    """Every registered model with its role, threshold, hash and file."""
    from crisis_triage.registry import list_models

    with user_errors(), database_session() as session:
        entries = list_models(session)
    if not entries:
        typer.echo("no models registered (crisis-triage models add MODEL.skops)")
    for entry in entries:
        _show(entry)


@models_app.command("add")
def models_add(
    path: Annotated[Path, typer.Argument(help="A .skops model file with its .card.json.")],
) -> None:
    """Register a model file (its hash is checked against its card, its types allow-listed)."""
    from crisis_triage.registry import register_model

    with user_errors(), database_session() as session:
        try:
            entry = register_model(session, path, actor=cli_actor())
        except _registry_errors() as exc:
            _fail_on_registry_errors(exc)
    typer.echo("registered:")
    _show(entry)


@models_app.command("promote")
def models_promote(
    model_id: Annotated[str, typer.Argument(help="The model's id (models list).")],
    admin: AdminOpt,
) -> None:
    """Make a registered model the champion (the old one is kept for rollback).  The service
    scores with the champion after its next restart."""
    from crisis_triage.registry import promote

    with user_errors(), database_session() as session:
        try:
            entry = promote(session, model_id, admin=_admin(session, admin, "model.promote"))
        except _registry_errors() as exc:
            _fail_on_registry_errors(exc)
    typer.echo("champion:")
    _show(entry)


@models_app.command("rollback")
def models_rollback(admin: AdminOpt) -> None:
    """Give the champion role back to the model the current champion replaced."""
    from crisis_triage.registry import rollback

    with user_errors(), database_session() as session:
        try:
            entry = rollback(session, admin=_admin(session, admin, "model.rollback"))
        except _registry_errors() as exc:
            _fail_on_registry_errors(exc)
    typer.echo("champion:")
    _show(entry)


@models_app.command("shadow")
def models_shadow(
    model_id: Annotated[str, typer.Argument(help="The model's id (models list).")],
    admin: AdminOpt,
) -> None:
    """Run a registered model as the challenger: it scores every new message in shadow, apart
    from the queue (the service's background worker does the scoring)."""
    from crisis_triage.registry import start_shadow

    with user_errors(), database_session() as session:
        try:
            entry = start_shadow(
                session, model_id, admin=_admin(session, admin, "model.shadow_start")
            )
        except _registry_errors() as exc:
            _fail_on_registry_errors(exc)
    typer.echo("challenger:")
    _show(entry)


@models_app.command("shadow-stop")
def models_shadow_stop(admin: AdminOpt) -> None:
    """Stop the challenger's shadow scoring (its scores are kept for comparisons)."""
    from crisis_triage.registry import stop_shadow

    with user_errors(), database_session() as session:
        try:
            entry = stop_shadow(session, admin=_admin(session, admin, "model.shadow_stop"))
        except _registry_errors() as exc:
            _fail_on_registry_errors(exc)
    _show(entry)


@models_app.command("compare")
def models_compare(
    data: Annotated[
        Path | None,
        typer.Option("--file", help="A labelled file; without it, resolved messages."),
    ] = None,
    challenger_id: Annotated[
        str | None, typer.Option("--challenger", help="Default: the model in shadow.")
    ] = None,
    label_col: Annotated[str, typer.Option(help="Label column of --file.")] = "crisis",
    text_col: Annotated[str, typer.Option(help="Text column of --file.")] = "text",
    n_boot: Annotated[int, typer.Option(min=0, help="Bootstrap resamples.")] = 2000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")] = Path(
        "champion-vs-challenger"
    ),
) -> None:
    """Champion vs challenger with paired bootstrap intervals: on the messages resolved since
    shadowing began (dispositions as labels), or on a labelled --file."""
    from crisis_triage.evaluation import ReportConfig, TableSpec
    from crisis_triage.registry import compare_on_file, compare_resolved

    where = data.name if data else "messages resolved since shadowing began"
    config = ReportConfig(n_boot=n_boot, seed=seed, title="Champion vs challenger", data_name=where)
    with user_errors(), database_session() as session:
        try:
            if data is None:
                result = compare_resolved(session, config, challenger_id)
            else:
                spec = TableSpec(label_col=label_col, text_col=text_col)
                result = compare_on_file(session, data, spec, config, challenger_id)
        except _registry_errors() as exc:
            _fail_on_registry_errors(exc)
        paths = result.save(output, "comparison")
    for path in paths.values():
        typer.echo(f"wrote {path}")
    difference = result.data["differences"]["challenger"]
    for metric in ("sensitivity", "ppv", "flags_per_1000"):
        value = difference[metric]
        if value["value"] is not None:
            low, high = value["low"], value["high"]
            interval = f" ({low:+.3f} to {high:+.3f})" if low is not None else ""
            typer.echo(f"challenger - champion {metric}: {value['value']:+.3f}{interval}")
