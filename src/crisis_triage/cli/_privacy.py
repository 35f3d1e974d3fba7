"""Privacy commands: ``keys generate|rotate``, ``retention run``, ``patients export|erase``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from crisis_triage.cli._admin import database_session
from crisis_triage.cli._app import app
from crisis_triage.cli._serve import load_settings, shown_url

keys_app = typer.Typer(
    help="Manage the keys that encrypt message text at rest.", no_args_is_help=True
)
retention_app = typer.Typer(help="Apply the text retention policy.", no_args_is_help=True)
patients_app = typer.Typer(help="A patient's requests: export, erasure.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(retention_app, name="retention")
app.add_typer(patients_app, name="patients")


@keys_app.command("generate")
def keys_generate(
    key_id: Annotated[
        str | None, typer.Option("--id", help="the key's id (default k<date>-<random>)")
    ] = None,
) -> None:
    """Print a new AES-256 key as one ``id:base64key`` line (put it first in your keys)."""
    from crisis_triage.storage import EncryptionError, generate_key_line

    try:
        typer.echo(generate_key_line(key_id))
    except EncryptionError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@keys_app.command("rotate")
def keys_rotate(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="rows per transaction")] = 200,
) -> None:
    """Re-encrypt every stored value that is not under the active (first) key.

    Safe while the service runs; run it again after a stop.  Exit code 1 if some values could
    not be decrypted with any configured key (they are left as they are)."""
    from crisis_triage.governance import AuditActor, record_audit
    from crisis_triage.storage import (
        ColumnCounts,
        DatabaseError,
        make_engine,
        prepare_database,
        rotate_keys,
    )

    settings = load_settings()
    url = settings.resolved_database_url()
    keyring = settings.keyring()
    engine = make_engine(url, keyring=keyring)
    try:
        prepare_database(engine)
    except DatabaseError as exc:
        engine.dispose()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"rotating {shown_url(url)} to key {keyring.active_id}")
    try:
        batches = 0

        def progress(name: str, counts: ColumnCounts) -> None:
            nonlocal batches
            batches += 1
            if batches % 50 == 0:  # a sign of life on a large database
                typer.echo(f"... {name}: {counts.rotated} rotated so far", err=True)

        report = rotate_keys(engine, batch_size=batch_size, on_batch=progress)
        for name, counts in report.columns.items():
            typer.echo(
                f"{name:<24} rotated {counts.rotated:>7}  unreadable {counts.unreadable:>5}  "
                f"changed meanwhile {counts.changed_meanwhile:>5}"
            )
        with database_session() as session:
            record_audit(session, "keys.rotate", actor=AuditActor.cli(), details=report.to_dict())
            session.commit()
    finally:
        engine.dispose()
    unreadable = report.total("unreadable")
    typer.echo(f"done: {report.total('rotated')} value(s) now under key {keyring.active_id}")
    if unreadable:
        typer.echo(
            f"error: {unreadable} value(s) cannot be decrypted with the configured keys "
            "(add the missing key and run again)",
            err=True,
        )
        raise typer.Exit(1)


@retention_app.command("run")
def retention_run(
    days: Annotated[
        int | None,
        typer.Option(min=1, help="override CRISIS_TRIAGE_RETENTION_TEXT_DAYS"),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, change nothing")] = False,
) -> None:
    """Purge message text, reasons and notes of cases resolved more than N days ago."""
    from crisis_triage.governance import AuditActor
    from crisis_triage.triage import purge_expired_text

    settings = load_settings()
    days = days or settings.retention_text_days
    if days is None:
        typer.echo(
            "error: no retention period: set CRISIS_TRIAGE_RETENTION_TEXT_DAYS or pass --days",
            err=True,
        )
        raise typer.Exit(2)
    with database_session() as session:
        report = purge_expired_text(
            session,
            days=days,
            crisis_days=settings.retention_crisis_text_days,
            dry_run=dry_run,
            actor=AuditActor.cli(),
        )
    verb = "would purge" if dry_run else "purged"
    typer.echo(
        f"{verb} the text of {report.messages} message(s) resolved before "
        f"{report.cutoff:%Y-%m-%d %H:%M} UTC ({report.case_notes} case note(s), "
        f"{report.event_notes} event note(s), {report.replies} reply text(s))"
    )


@patients_app.command("export")
def patients_export(
    patient_id: Annotated[str, typer.Argument(help="the platform's patient id")],
    output: Annotated[Path, typer.Option("-o", "--output", help="a JSON file to write")],
) -> None:
    """Write everything stored about a patient (decrypted) to a JSON file (holds their text)."""
    from crisis_triage.governance import AuditActor
    from crisis_triage.triage import NotFoundError, export_patient

    with database_session() as session:
        try:
            data = export_patient(session, patient_id, actor=AuditActor.cli())
        except NotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    # The file holds the patient's messages: readable by its owner only.
    descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
    typer.echo(f"wrote {len(data['messages'])} message(s) and their cases to {output}")


@patients_app.command("erase")
def patients_erase(
    patient_id: Annotated[str, typer.Argument(help="the platform's patient id")],
    yes: Annotated[bool, typer.Option("--yes", help="confirm: this cannot be undone")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="erase even if some of their cases are still open")
    ] = False,
) -> None:
    """Erase a patient's text, notes and identity; de-identified scores and dispositions stay."""
    from crisis_triage.governance import AuditActor
    from crisis_triage.triage import ConflictError, NotFoundError, erase_patient

    if not yes:
        typer.echo("error: erasure cannot be undone: pass --yes to confirm", err=True)
        raise typer.Exit(2)
    with database_session() as session:
        try:
            report = erase_patient(session, patient_id, actor=AuditActor.cli(), force=force)
        except (NotFoundError, ConflictError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    # Not the pseudonym: printed next to the patient id, it would link the two again.
    typer.echo(
        f"erased {report.messages} message(s) ({report.open_cases} still open); their "
        "scores and dispositions stay under a random pseudonym"
    )
