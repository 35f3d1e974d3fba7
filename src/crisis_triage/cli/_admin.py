"""Admin commands: ``users add|list|disable|enable|set-role|reset-password``,
``apikeys create|list|revoke``.  Every change is audited with the command line as the actor."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from crisis_triage.cli._app import app
from crisis_triage.cli._serve import load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crisis_triage.governance import AuditActor, AuditValue
    from crisis_triage.triage import Role

users_app = typer.Typer(
    help="Manage users (specialists, supervisors, admins).", no_args_is_help=True
)
keys_app = typer.Typer(help="Manage platform API keys.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="apikeys")


@contextmanager
def database_session() -> Iterator[Session]:
    """A session on the configured database (an embedded SQLite one is created on first use)."""
    from crisis_triage.storage import (
        DatabaseError,
        make_engine,
        make_session_factory,
        prepare_database,
    )

    engine = make_engine(load_settings().resolved_database_url())
    try:
        prepare_database(engine)
    except DatabaseError as exc:
        engine.dispose()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def cli_actor() -> AuditActor:
    """The audit log's actor for a command: the command line, named by the OS account."""
    import getpass

    from crisis_triage.governance import AuditActor

    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no entry for this uid (some containers)
        name = "unknown"
    return AuditActor.cli(f"cli:{name}")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Option(help="specialist, supervisor or admin")] = "specialist",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Add a user; the password is asked for (twice) unless given on standard input."""
    from crisis_triage.accounts import AccountError, create_user

    parsed_role = _parse_role(role)
    password = _read_password(password_stdin)
    with database_session() as session:
        try:
            user = create_user(session, username, password, parsed_role, actor=cli_actor())
        except AccountError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"added user {user.username} (id {user.id}, role {user.role})")


def _read_password(from_stdin: bool) -> str:
    """The first line of standard input (for scripts), or asked for twice at the terminal."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _parse_role(role: str) -> Role:
    from crisis_triage.triage import Role

    try:
        return Role(role)
    except ValueError:
        typer.echo(f"error: the role must be one of {', '.join(r.value for r in Role)}", err=True)
        raise typer.Exit(2) from None


def _change_user(username: str, *, role: Role | None = None, active: bool | None = None) -> None:
    """Change a user's role or active flag (ending their sessions); audited as ``user.update``."""
    from crisis_triage.accounts import AccountError, find_user, update_user
    from crisis_triage.governance import record_audit
    from crisis_triage.triage import NotFoundError

    with database_session() as session:
        try:
            user, changes = update_user(
                session, find_user(session, username).id, role=role, is_active=active
            )
        except (AccountError, NotFoundError) as exc:
            session.rollback()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        if changes:
            details: dict[str, AuditValue] = {"user_id": user.id, **changes}
            record_audit(session, "user.update", actor=cli_actor(), details=details)
        session.commit()
        state = "active" if user.is_active else "disabled"
        what = "changed" if changes else "unchanged"
        typer.echo(f"user {user.username} {what}: role {user.role}, {state}")


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="login name")]) -> None:
    """Stop a user from logging in (their open sessions end at once)."""
    _change_user(username, active=False)


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument(help="login name")]) -> None:
    """Let a disabled user log in again."""
    _change_user(username, active=True)


@users_app.command("set-role")
def users_set_role(
    username: Annotated[str, typer.Argument(help="login name")],
    role: Annotated[str, typer.Argument(help="specialist, supervisor or admin")],
) -> None:
    """Give a user another role (their open sessions end, so it takes effect at once)."""
    _change_user(username, role=_parse_role(role))


@users_app.command("reset-password")
def users_reset_password(
    username: Annotated[str, typer.Argument(help="login name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Set a new password (asked for twice unless given on standard input); lifts a lockout
    and ends the user's open sessions."""
    from crisis_triage.accounts import AccountError, find_user, reset_password
    from crisis_triage.triage import NotFoundError

    password = _read_password(password_stdin)
    with database_session() as session:
        try:
            user = find_user(session, username)
            reset_password(session, user, password, actor=cli_actor())
        except (AccountError, NotFoundError) as exc:
            session.rollback()
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"password of {user.username} reset; their sessions were ended")


@users_app.command("list")
def users_list() -> None:
    """List users and their roles."""
    from sqlalchemy import select

    from crisis_triage.storage import User

    with database_session() as session:
        for user in session.scalars(select(User).order_by(User.id)):
            state = "active" if user.is_active else "inactive"
            typer.echo(f"{user.id}\t{user.username}\t{user.role}\t{state}")


@keys_app.command("create")
def apikeys_create(
    name: Annotated[str, typer.Option(help="who uses the key, e.g. the platform's name")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="repeatable: messages:write (default), queue:read, alerts:read, metrics:read, "
            "care:read, care:write"
        ),
    ] = None,
) -> None:
    """Create an API key.  The key is printed once, as the last line; only its hash is kept."""
    from crisis_triage.accounts import DEFAULT_SCOPES, AccountError, create_api_key

    with database_session() as session:
        try:
            key, row = create_api_key(session, name, scope or DEFAULT_SCOPES, actor=cli_actor())
        except AccountError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"created API key {row.id} '{row.name}' with scopes {', '.join(row.scopes)}")
        typer.echo(
            "store it now: it cannot be shown again. Send it as 'Authorization: Bearer <key>'"
        )
        typer.echo(key)


@keys_app.command("list")
def apikeys_list() -> None:
    """List API keys (prefix, name, scopes, revoked or not); never the keys themselves."""
    from sqlalchemy import select

    from crisis_triage.storage import ApiKey

    with database_session() as session:
        for key in session.scalars(select(ApiKey).order_by(ApiKey.id)):
            state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
            typer.echo(f"{key.id}\t{key.prefix}...\t{key.name}\t{','.join(key.scopes)}\t{state}")


@keys_app.command("revoke")
def apikeys_revoke(key_id: Annotated[int, typer.Argument(help="the key's id")]) -> None:
    """Revoke an API key at once."""
    from crisis_triage.accounts import AccountError, revoke_api_key

    with database_session() as session:
        try:
            revoke_api_key(session, key_id, actor=cli_actor())
        except AccountError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"revoked API key {key_id}")
