"""SMS sender commands: ``sms senders add|list|remove`` (a phone number to a patient id).

The number is asked for at the prompt (or read from standard input), not taken as an argument,
so that it stays out of shell history and process lists; it is stored only as a keyed hash.
Every change is audited with the command line as the actor.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from crisis_triage.cli._admin import cli_actor, database_session
from crisis_triage.cli._app import app

sms_app = typer.Typer(help="The inbound SMS channel (Twilio).", no_args_is_help=True)
senders_app = typer.Typer(
    help="Map SMS senders' phone numbers to patient ids.", no_args_is_help=True
)
app.add_typer(sms_app, name="sms")
sms_app.add_typer(senders_app, name="senders")


@senders_app.command("add")
def senders_add(
    patient_id: Annotated[str, typer.Argument(help="the patient the number belongs to")],
    phone_stdin: Annotated[
        bool, typer.Option("--phone-stdin", help="read the phone number from standard input")
    ] = False,
) -> None:
    """Map a phone number (asked for, in international form: +15551234567) to PATIENT_ID."""
    from crisis_triage.integrations import add_sms_sender
    from crisis_triage.triage import ConflictError

    if phone_stdin:
        phone = sys.stdin.readline().strip()
    else:
        phone = str(typer.prompt("Phone number (international form, e.g. +15551234567)"))
    with database_session() as session:
        try:
            row = add_sms_sender(session, phone, patient_id, actor=cli_actor())
        except (ValueError, ConflictError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"added SMS sender {row.id} for patient {row.patient_id}")


@senders_app.command("list")
def senders_list(
    patient_id: Annotated[
        str | None, typer.Option(help="only the mappings of this patient")
    ] = None,
) -> None:
    """The mappings: id, patient id, when and by whom (the numbers are not stored)."""
    from crisis_triage.integrations import list_sms_senders

    with database_session() as session:
        rows = list_sms_senders(session, patient_id)
    for row in rows:
        typer.echo(f"{row.id}\t{row.patient_id}\t{row.created_at:%Y-%m-%d %H:%M}\t{row.created_by}")
    if not rows:
        typer.echo("no SMS senders", err=True)


@senders_app.command("remove")
def senders_remove(sender_id: Annotated[int, typer.Argument(help="the mapping's id")]) -> None:
    """Remove a mapping: that number's messages then arrive as from an unknown sender."""
    from crisis_triage.integrations import remove_sms_sender
    from crisis_triage.triage import NotFoundError

    with database_session() as session:
        try:
            row = remove_sms_sender(session, sender_id, actor=cli_actor())
        except NotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
    typer.echo(f"removed SMS sender {row.id} (patient {row.patient_id})")
