"""``crisis-triage audit verify`` and ``crisis-triage audit export``."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import typer

from crisis_triage.cli._admin import cli_actor, database_session
from crisis_triage.cli._app import app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crisis_triage.governance import AuditFilter
    from crisis_triage.storage import Checkpoint

audit_app = typer.Typer(help="Check and export the audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


@audit_app.command("verify")
def audit_verify(
    head: Annotated[
        str | None,
        typer.Option(
            metavar="ID:HASH",
            help="a head printed by an earlier verify and kept elsewhere: it must still be there",
        ),
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            help="a file of signed checkpoints (`audit checkpoint`): each must still hold",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Check the audit log's keyed chain.  Exit code 0 when intact, 1 at the first broken
    entry (its id is printed).  Keep checkpoints elsewhere (`audit checkpoint -o FILE`) and
    pass them back with --checkpoints: a chain that no longer holds the entries they name was
    cut short or rewritten."""
    from crisis_triage.governance import check_checkpoints, verify_chain
    from crisis_triage.storage import AuditEntry

    kept = _kept_head(head) if head is not None else None
    kept_checkpoints = _read(checkpoints) if checkpoints is not None else []
    with database_session() as session:
        report = verify_chain(session)
        kept_entry = session.get(AuditEntry, kept[0]) if kept is not None else None
        problems = check_checkpoints(session, kept_checkpoints)
    keys = ", ".join(report.key_ids) or "none"
    if not report.ok:
        typer.echo(
            f"audit log BROKEN at entry {report.broken_id}: {report.problem}; "
            f"the {report.entries} entries before it are intact (keys {keys})",
            err=True,
        )
        raise typer.Exit(1)
    if kept is not None and (kept_entry is None or kept_entry.entry_hash != kept[1]):
        what = "is gone" if kept_entry is None else "has another hash"
        problems.append(f"the kept head entry {kept[0]} {what} (the chain was cut or recomputed)")
    if problems:
        for problem in problems:
            typer.echo(f"audit log CUT OR REWRITTEN: {problem}", err=True)
        raise typer.Exit(1)
    noun = "entry" if report.entries == 1 else "entries"
    head_text = f"entry {report.head_id} {report.head_hash}" if report.head_id else "empty"
    typer.echo(f"audit log intact: {report.entries} {noun} under key(s) {keys}; head {head_text}")
    if kept is not None:
        typer.echo(f"the kept head entry {kept[0]} is unchanged")
    if kept_checkpoints:
        typer.echo(f"{len(kept_checkpoints)} checkpoint(s) hold")


def _read(path: Path) -> list[Checkpoint]:
    from crisis_triage.governance import read_checkpoints

    try:
        return read_checkpoints(path)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: --checkpoints: {exc}", err=True)
        raise typer.Exit(2) from None


@audit_app.command("checkpoint")
def audit_checkpoint(
    output: Annotated[
        Path,
        typer.Option("-o", "--output", help="the checkpoint file to append to", dir_okay=False),
    ],
) -> None:
    """Append a signed checkpoint of the audit log's head to a file; keep that file where the
    database's administrators cannot write, and run this periodically (cron, a systemd timer)."""
    from crisis_triage.governance import append_checkpoint, make_checkpoint

    with database_session() as session:
        checkpoint = make_checkpoint(session)
    if checkpoint is None:
        typer.echo("the audit log is empty: nothing to checkpoint")
        return
    append_checkpoint(output, checkpoint)
    typer.echo(
        f"checkpoint: entry {checkpoint.entry_id} of {checkpoint.entries}, "
        f"key {checkpoint.key_id}, appended to {output}"
    )


def _kept_head(value: str) -> tuple[int, str]:
    entry_id, _, digest = value.partition(":")
    if not entry_id.isdigit() or len(digest) != 64:
        typer.echo("error: --head is ID:HASH, as `audit verify` prints it", err=True)
        raise typer.Exit(2)
    return int(entry_id), digest.lower()


def _moment(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or time; without a zone it is taken as UTC."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        typer.echo(f"error: {option} must be an ISO 8601 date or time, e.g. 2026-11-22", err=True)
        raise typer.Exit(2) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _write(session: Session, where: AuditFilter, out: IO[str], fmt: ExportFormat) -> int:
    from crisis_triage.governance import EXPORT_FIELDS, audit_entries, entry_record

    count = 0
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS) if fmt is ExportFormat.CSV else None
    if writer is not None:
        writer.writeheader()
    for entry in audit_entries(session, where):
        record = entry_record(entry)
        if writer is not None:
            record["details"] = json.dumps(record["details"], sort_keys=True)
            writer.writerow(record)
        else:
            out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count


@audit_app.command("export")
def audit_export(
    output: Annotated[Path, typer.Option("-o", "--output", help="the file to write")],
    user: Annotated[str | None, typer.Option(help="entries by this username")] = None,
    patient: Annotated[str | None, typer.Option(help="entries about this patient id")] = None,
    since: Annotated[str | None, typer.Option(help="from this ISO time on (UTC if naive)")] = None,
    until: Annotated[str | None, typer.Option(help="before this ISO time (UTC if naive)")] = None,
    action: Annotated[
        str | None, typer.Option(help="this action, or a prefix with '*', e.g. 'case.*'")
    ] = None,
    fmt: Annotated[
        ExportFormat | None,
        typer.Option("--format", help="jsonl or csv; default from the file name (.csv: csv)"),
    ] = None,
) -> None:
    """Write the matching audit entries, oldest first, as JSON lines or CSV.  The export
    itself is audited (``audit.export``)."""
    from crisis_triage.governance import AuditFilter, record_audit

    where = AuditFilter(
        user=user,
        patient_id=patient,
        since=_moment(since, "--since"),
        until=_moment(until, "--until"),
        action=action,
    )
    chosen = fmt or (ExportFormat.CSV if output.suffix.lower() == ".csv" else ExportFormat.JSONL)
    with database_session() as session:
        with output.open("w", encoding="utf-8", newline="") as out:
            count = _write(session, where, out, chosen)
        details: dict[str, str | int | None] = {**where.describe(), "entries": count}
        details["format"] = chosen.value
        record_audit(session, "audit.export", actor=cli_actor(), details=details)
        session.commit()
    typer.echo(f"wrote {count} audit entries to {output}")
