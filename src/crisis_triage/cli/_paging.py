"""``paging add|list|remove|test``: the channels alerts page (Slack, Teams, PagerDuty, e-mail).

The target (a webhook URL or routing key: a secret) is read from standard input or a hidden
prompt, never from the command line, where shell history and process lists would keep it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from crisis_triage.cli._admin import cli_actor, database_session
from crisis_triage.cli._app import app

paging_app = typer.Typer(
    help="Paging channels for alerts: Slack, Teams, PagerDuty, e-mail.", no_args_is_help=True
)
app.add_typer(paging_app, name="paging")


@paging_app.command("add")
def paging_add(
    name: Annotated[str, typer.Option(help="a name for the channel, e.g. on-call-slack")],
    kind: Annotated[str, typer.Option(help="slack, teams, pagerduty or email")],
    topic: Annotated[
        list[str],
        typer.Option(help="repeatable: crisis, escalation, unscored, operator"),
    ],
    target_stdin: Annotated[
        bool,
        typer.Option(
            "--target-stdin",
            help="read the webhook URL / routing key / addresses from standard input",
        ),
    ] = False,
) -> None:
    """Add a channel; its target is asked for (hidden) unless given on standard input."""
    from crisis_triage.integrations.paging import PagingChannelError, add_channel

    if target_stdin:
        target = sys.stdin.readline().strip()
    else:
        target = str(typer.prompt("Webhook URL, routing key or addresses", hide_input=True))
    with database_session() as session:
        try:
            view = add_channel(
                session, name=name, kind=kind, target=target, topics=topic, actor=cli_actor()
            )
        except PagingChannelError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        session.commit()
        typer.echo(
            f"added paging channel {view.id} '{view.name}' ({view.kind} {view.target_hint}) "
            f"for {', '.join(view.topics)}"
        )


@paging_app.command("list")
def paging_list() -> None:
    """List channels: id, name, kind, a hint of the target (never the target), topics."""
    from crisis_triage.integrations.paging import list_channels

    with database_session() as session:
        for view in list_channels(session):
            typer.echo(
                f"{view.id}\t{view.name}\t{view.kind}\t{view.target_hint}\t{','.join(view.topics)}"
            )


@paging_app.command("remove")
def paging_remove(channel_id: Annotated[int, typer.Argument(help="the channel's id")]) -> None:
    """Stop paging a channel (pages still queued for it are not sent)."""
    from crisis_triage.integrations.paging import remove_channel
    from crisis_triage.triage import NotFoundError

    with database_session() as session:
        try:
            remove_channel(session, channel_id, actor=cli_actor())
        except NotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        session.commit()
        typer.echo(f"removed paging channel {channel_id}")


@paging_app.command("test")
def paging_test(channel_id: Annotated[int, typer.Argument(help="the channel's id")]) -> None:
    """Queue a test page; the service's worker sends it like any page (see its outbox row)."""
    from crisis_triage.integrations.paging import queue_test_page
    from crisis_triage.triage import NotFoundError

    with database_session() as session:
        try:
            delivery_id = queue_test_page(session, channel_id, actor=cli_actor())
        except NotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        session.commit()
        typer.echo(f"queued test page (delivery {delivery_id})")
