"""Engines, sessions and migrations: the only place that knows which database is in use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import platformdirs
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from crisis_triage.storage._crypto import KeyRing
from crisis_triage.storage._encrypted import attach_keyring
from crisis_triage.storage._keys import keyring_from_environment

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
APP_NAME = "crisis-triage"


class DatabaseError(RuntimeError):
    """The database cannot be used (unreachable, bad URL, or an unmigrated schema)."""


def default_database_url() -> str:
    """A SQLite file in the user's data directory (the directory is created if needed)."""
    data_dir = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'crisis-triage.db'}"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    pre_ping: bool = False,
    echo: bool = False,
    keyring: KeyRing | None = None,
) -> Engine:
    """An engine for ``url`` with settings that keep SQLite and PostgreSQL behaving alike.

    Message text and notes are encrypted with ``keyring``; without one, the keys come from the
    ``CRISIS_TRIAGE_ENCRYPTION_*`` variables (or a development key: see ``load_keyring``).

    SQL parameters are hidden from error messages (``hide_parameters``) so that message text
    can never reach a log or a traceback through a database error.  ``pre_ping`` tests each
    pooled connection before use (one more round trip per request; without it, a request that
    meets a connection the server dropped fails once with 503 and the connection is replaced).
    """
    url = normalise_url(url)
    parsed = make_url(url)
    keyring = keyring or keyring_from_environment(url)
    kwargs: dict[str, Any] = {"hide_parameters": True, "echo": echo}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs.update(
            pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=pre_ping, pool_timeout=10
        )
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    attach_keyring(engine, keyring)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Zero the bytes of deleted and overwritten values, so that text removed by retention,
    # erasure or key rotation does not linger in free space inside the file.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def release_old_pages(session: Session) -> None:
    """After removing or rewriting text: on SQLite, copy the WAL into the database and empty
    it, so earlier page images (with the old values) leave the disk; best effort if readers
    are active.  PostgreSQL keeps dead rows until (auto)vacuum; nothing to do here."""
    session.commit()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        session.commit()


def lock_for_write(session: Session) -> None:
    """Take the database write lock now, on SQLite (``BEGIN IMMEDIATE``).

    SQLite has no row locks: without this, two transactions that read the same row and then
    write it find out only at the write, and one must fail.  With it the second waits for the
    first to commit and then reads what it wrote.  PostgreSQL uses row locks instead (no-op).
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (replies are built after it)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the packaged Alembic migrations up to ``revision`` (safe to call on every start)."""
    command.upgrade(_alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(_alembic_config(engine), revision)


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise DatabaseError("no migrations are packaged")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_database(engine: Engine) -> None:
    """Raise DatabaseError unless the database answers and its schema is at the packaged head."""
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            revision = MigrationContext.configure(connection).get_current_revision()
    except Exception as exc:
        raise DatabaseError(f"database unreachable ({type(exc).__name__})") from None
    if revision != head_revision():
        raise DatabaseError(
            f"database schema is at {revision or 'nothing'}, expected {head_revision()}: "
            "run `crisis-triage db upgrade`"
        )


def is_embedded(engine: Engine) -> bool:
    """True for SQLite: the database is a file this process may create and migrate itself."""
    return engine.dialect.name == "sqlite"


def prepare_database(engine: Engine) -> None:
    """Make ``engine`` ready for a command, or raise DatabaseError saying what to do.

    An embedded SQLite database (the default) is created and migrated on first use, as ``serve``
    does.  A server database (PostgreSQL) is never migrated behind its operator's back: it must
    already be at the packaged head (``crisis-triage db upgrade``).
    """
    if is_embedded(engine):
        try:
            upgrade(engine)
        except Exception as exc:
            raise DatabaseError(
                f"cannot create or migrate the database ({type(exc).__name__})"
            ) from None
    check_database(engine)
