"""``crisis-triage serve`` and ``crisis-triage db upgrade``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from crisis_triage.cli._app import app

if TYPE_CHECKING:
    from crisis_triage.service import Settings
    from crisis_triage.storage import KeyCheck

db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def load_settings() -> Settings:
    """Settings from CRISIS_TRIAGE_* variables, or a clear message and exit code 2."""
    from pydantic import ValidationError

    from crisis_triage.service import Settings

    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "settings"
            typer.echo(f"error: {where}: {error['msg']}", err=True)
        raise typer.Exit(2) from None


def shown_url(url: str) -> str:
    from sqlalchemy import make_url

    return make_url(url).render_as_string(hide_password=True)


def migrate(url: str) -> str:
    """Create (if needed) and migrate the database at ``url``; returns the revision."""
    from crisis_triage.storage import current_revision, make_engine, upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
        return current_revision(engine) or "?"
    except Exception as exc:
        typer.echo(f"error: cannot migrate {shown_url(url)}: {type(exc).__name__}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database if needed and run the packaged migrations up to the latest."""
    settings = load_settings()
    url = settings.resolved_database_url()
    revision = migrate(url)
    typer.echo(f"database {shown_url(url)} is at revision {revision}")


WORKER_HEALTHCHECK_SECONDS = 60
KEYS_HELP = "docs/backup.md"


def announce_dev_key(settings: Settings) -> None:
    """Say, unmissably, that text is encrypted with a generated development key."""
    path = settings.dev_key_file()
    if path is None:
        return
    bar = "!" * 78
    for line in (
        bar,
        "WARNING: NO ENCRYPTION KEY IS CONFIGURED. Message text is encrypted with a",
        f"DEVELOPMENT key generated in {path}.",
        "Anyone with that file reads the text; without it, the text (and every backup)",
        "is unreadable. Not for real patient data: set CRISIS_TRIAGE_ENCRYPTION_KEY_FILE",
        "(`crisis-triage keys generate`). CRISIS_TRIAGE_ENVIRONMENT=production refuses this.",
        bar,
    ):
        typer.secho(line, err=True, fg=typer.colors.RED, bold=True)


def checked_keys(url: str, settings: Settings) -> KeyCheck:
    """``check_keys`` on the database at ``url`` with the configured keys."""
    from crisis_triage.storage import check_keys, make_engine

    engine = make_engine(url, keyring=settings.keyring())
    try:
        return check_keys(engine)
    finally:
        engine.dispose()


def refuse_unopenable_data(url: str, settings: Settings) -> None:
    """Exit 2 when the configured keys do not open the text stored at ``url``."""
    check = checked_keys(url, settings)
    if not check.ok:
        typer.echo(f"error: {check.problem()}; see {KEYS_HELP}", err=True)
        raise typer.Exit(2)


def print_first_run_help(url: str) -> None:
    """On a database with no users yet, say how to make the first admin (nobody can log in)."""
    from crisis_triage.accounts import FIRST_ADMIN_COMMAND, has_users
    from crisis_triage.storage import make_engine, make_session_factory

    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            if has_users(session):
                return
    finally:
        engine.dispose()
    typer.echo("crisis-triage: no users yet. Create the first admin, then log in on the dashboard:")
    typer.echo(f"    {FIRST_ADMIN_COMMAND}")


def share_metrics_between_workers() -> None:
    """Several workers: Prometheus counters go to files in PROMETHEUS_MULTIPROC_DIR, which
    ``/metrics`` adds up whichever worker answers.  Set here (a new temporary directory) unless
    given; a given one is emptied, as prometheus-client needs at each start."""
    import os
    import tempfile
    from pathlib import Path

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        return
    folder = tempfile.mkdtemp(prefix="crisis-triage-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    typer.echo(f"crisis-triage: metrics of the workers shared in {folder}")


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(envvar="CRISIS_TRIAGE_HOST", help="address to listen on")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(min=1, max=65535, envvar="CRISIS_TRIAGE_PORT", help="port to listen on"),
    ] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the triage service (database from CRISIS_TRIAGE_DATABASE_URL, default a SQLite
    file in your data directory, created and migrated on first start)."""
    import uvicorn

    from crisis_triage.governance import install_redaction
    from crisis_triage.service import logging_config
    from crisis_triage.web import DASHBOARD_PATH, create_app

    install_redaction()
    settings = load_settings()
    url = settings.resolved_database_url()
    migrate(url)
    announce_dev_key(settings)
    refuse_unopenable_data(url, settings)
    typer.echo(f"crisis-triage: database {shown_url(url)}")
    typer.echo(f"crisis-triage: serving on http://{host}:{port} (API docs at /docs)")
    log_config = logging_config(settings.log_format, log_level)
    typer.echo(f"crisis-triage: dashboard at http://{host}:{port}{DASHBOARD_PATH} (log in there)")
    print_first_run_help(url)
    if workers == 1:
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level=log_level,
            log_config=log_config,
            access_log=False,  # AccessLogMiddleware logs requests (route templates, no ids)
        )
    else:
        share_metrics_between_workers()
        uvicorn.run(
            "crisis_triage.web:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=log_config,
            access_log=False,
            # uvicorn kills a worker that misses a 5 s health ping; a worker loading its model,
            # or busy, on a loaded machine can miss one, and then every replacement did too.
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )
