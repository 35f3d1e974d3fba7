"""``crisis-triage db backup|restore|check-keys``.

The keys are handled explicitly: a backup holds message text encrypted and never the keys, so
it is unreadable without them; a restore refuses keys that do not open it (and ``serve``
refuses to start on a database its keys cannot open).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crisis_triage.cli._serve import KEYS_HELP, checked_keys, db_app, load_settings, shown_url

if TYPE_CHECKING:
    from crisis_triage.service import Settings
    from crisis_triage.storage import KeyCheck


def _needed_keys(check: KeyCheck) -> str:
    if not check.values_by_key:
        return "no encrypted text yet"
    return ", ".join(f"{key} ({count} values)" for key, count in check.values_by_key.items())


def _audit(url: str, settings: Settings, action: str, details: dict[str, str | int]) -> None:
    from crisis_triage.governance import AuditActor, record_audit
    from crisis_triage.storage import make_engine, make_session_factory

    engine = make_engine(url, keyring=settings.keyring())
    try:
        with make_session_factory(engine)() as session:
            record_audit(session, action, actor=AuditActor.cli(), details=details)
            session.commit()
    finally:
        engine.dispose()


@db_app.command("backup")
def db_backup(
    target: Annotated[Path, typer.Argument(help="the new backup file (never overwritten)")],
) -> None:
    """Copy the SQLite database into FILE while the service runs (online backup API).

    The copy holds message text encrypted under your keys, and not the keys: keep the key
    file safe apart from it; without the keys the backup is unreadable.  PostgreSQL: pg_dump
    (docs/backup.md)."""
    from crisis_triage.storage import BackupError, backup_sqlite, sqlite_path

    settings = load_settings()
    url = settings.resolved_database_url()
    try:
        sqlite_path(url)
        check = checked_keys(url, settings)
        _audit(url, settings, "db.backup", {"file": target.name[:128]})
        backup_sqlite(url, target)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"backed up {shown_url(url)} to {target}")
    typer.echo(f"the text in it is encrypted with key(s): {_needed_keys(check)}")
    typer.echo(
        "it holds no keys: without them it is unreadable. Keep the key file safe and apart "
        "from the backup"
    )
    dev_key = settings.dev_key_file()
    if dev_key is not None:
        typer.echo(f"these are DEVELOPMENT keys, kept in {dev_key}: back that file up too")
    if not check.ok:
        typer.echo(f"warning: {check.problem()}", err=True)


@db_app.command("restore")
def db_restore(
    backup: Annotated[Path, typer.Argument(help="a file written by `crisis-triage db backup`")],
) -> None:
    """Restore a backup into the configured SQLite database, which must not exist yet.

    Refuses (exit code 2) unless the configured keys open the text in the backup."""
    from crisis_triage.storage import BackupError, KeysRefusedError, restore_sqlite

    settings = load_settings()
    url = settings.resolved_database_url()
    if settings.dev_key_file() is not None:
        typer.echo(
            "error: no encryption keys are configured. Set CRISIS_TRIAGE_ENCRYPTION_KEY_FILE "
            "(or CRISIS_TRIAGE_ENCRYPTION_KEYS) to the keys the backup was written with; a "
            "development key file from the old database may be named there",
            err=True,
        )
        raise typer.Exit(2)
    try:
        check = restore_sqlite(backup, url, settings.keyring())
    except KeysRefusedError as exc:
        typer.echo(f"error: nothing restored: {exc}; see {KEYS_HELP}", err=True)
        raise typer.Exit(2) from None
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _audit(url, settings, "db.restore", {"file": backup.name[:128]})
    typer.echo(f"restored {backup} into {shown_url(url)}; keys used: {_needed_keys(check)}")
    typer.echo("next: `crisis-triage db upgrade` (if this version is newer), then serve")


@db_app.command("check-keys")
def db_check_keys() -> None:
    """Check that the configured keys open every key id the stored text uses (exit code 2 if
    not); run it after restoring a PostgreSQL dump."""
    from crisis_triage.storage import DatabaseError, check_database, make_engine

    settings = load_settings()
    url = settings.resolved_database_url()
    engine = make_engine(url, keyring=settings.keyring())
    try:
        check_database(engine)
    except DatabaseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    check = checked_keys(url, settings)
    typer.echo(f"{shown_url(url)}: text encrypted with {_needed_keys(check)}")
    if not check.ok:
        typer.echo(f"error: {check.problem()}", err=True)
        raise typer.Exit(2)
    typer.echo("the configured keys open it")
