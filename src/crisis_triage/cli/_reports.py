"""``crisis-triage report response-times`` and ``crisis-triage export labels``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from crisis_triage.cli._admin import cli_actor, database_session
from crisis_triage.cli._app import app

report_app = typer.Typer(help="Reports from the triage database.", no_args_is_help=True)
export_app = typer.Typer(help="Export data from the triage database.", no_args_is_help=True)
app.add_typer(report_app, name="report")
app.add_typer(export_app, name="export")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@report_app.command("response-times")
def report_response_times(
    days: Annotated[int, typer.Option(min=1, max=366, help="how many UTC days back")] = 30,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Minutes from message sent to triage per day, crises vs the rest, and clinician PPV."""
    from crisis_triage.triage import response_times

    with database_session() as session:
        report = response_times(session, days=days)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), default=str, indent=2))
        return
    typer.echo(f"time from sent to triage, minutes ({report.since} to {report.until}, UTC)")
    header = f"{'day':<12}{'group':<8}{'msgs':>6}{'triaged':>8}{'median':>9}{'p90':>9}{'p95':>9}"
    typer.echo(header)
    rows = [(str(d.day), s) for d in report.days for s in (d.crisis, d.rest)]
    rows += [("all", report.overall[group]) for group in ("crisis", "rest")]
    for label, stats in rows:
        typer.echo(
            f"{label:<12}{stats.group:<8}{stats.messages:>6}{stats.triaged:>8}"
            f"{_fmt(stats.median_minutes):>9}{_fmt(stats.p90_minutes):>9}"
            f"{_fmt(stats.p95_minutes):>9}"
        )
    ppv = report.ppv
    if ppv.ppv is None:
        typer.echo("clinician-confirmed PPV: no flagged message resolved yet")
    else:
        typer.echo(
            f"clinician-confirmed PPV: {ppv.ppv:.3f} ({ppv.confirmed}/{ppv.resolved}, "
            f"95% CI {ppv.ci_low:.3f}-{ppv.ci_high:.3f}); missed crises: {report.missed_crises}"
        )


@export_app.command("labels")
def export_labels(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="a .csv, .jsonl or .parquet file to write")
    ],
    since: Annotated[
        datetime | None, typer.Option(help="only cases resolved from this time (UTC)")
    ] = None,
) -> None:
    """Write clinicians' dispositions as labelled messages to retrain on (holds message text;
    audited as ``labels.export``)."""
    import pandas as pd

    from crisis_triage.governance import record_audit
    from crisis_triage.io import TableError, TableWriter
    from crisis_triage.triage import LABEL_COLUMNS, iter_labels

    try:
        writer = TableWriter(output)
    except TableError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if since is not None and since.tzinfo is None:
        from datetime import UTC

        since = since.replace(tzinfo=UTC)
    count = 0
    with database_session() as session, writer:
        for chunk in iter_labels(session, since=since):
            writer.write(chunk)
            count += len(chunk)
        if count == 0:
            writer.write(pd.DataFrame(columns=list(LABEL_COLUMNS)))
        details: dict[str, str | int | None] = {"entries": count}
        if since is not None:
            details["since"] = since.isoformat()
        record_audit(session, "labels.export", actor=cli_actor(), details=details)
        session.commit()
    typer.echo(f"wrote {count} labelled message(s) to {output}")
