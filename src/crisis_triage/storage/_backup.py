"""Backups of a SQLite database, and the check that the configured keys open stored text.

A backup holds message text and notes encrypted, exactly as stored: without the keys it was
written under it is unreadable, and the keys are never put into it.  ``check_keys`` lists the
key ids the data uses and tries each one on a stored value, so a restore (and the service's
start) can refuse a key ring that would show every message as unreadable.

SQLite backups use the online backup API (``sqlite3.Connection.backup``): a consistent copy
while the service keeps writing.  PostgreSQL is backed up with ``pg_dump`` (docs/backup.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, Text, cast, func, make_url, select

from crisis_triage.storage._crypto import (
    DecryptionError,
    KeyRing,
    envelope_key_id,
)
from crisis_triage.storage._encrypted import EncryptedJSON, engine_keyring
from crisis_triage.storage._engine import make_engine
from crisis_triage.storage._rotation import encrypted_columns

# Enough of a stored value to read its key id (``ct1:`` + up to 32 characters + ``:``).
_PREFIX_CHARACTERS = 48


class BackupError(RuntimeError):
    """A backup or restore cannot be done; the message says why (never what is stored)."""


class KeysRefusedError(BackupError):
    """The configured keys do not open the stored text (``check`` says which keys)."""

    def __init__(self, check: KeyCheck) -> None:
        super().__init__(check.problem())
        self.check = check


@dataclass
class KeyCheck:
    """Which keys the stored text needs, and whether the configured key ring opens it."""

    values_by_key: dict[str, int] = field(default_factory=dict)  # encrypted values per key id
    missing: list[str] = field(default_factory=list)  # key ids not in the key ring
    wrong: list[str] = field(default_factory=list)  # in the ring, but the key does not open it

    @property
    def ok(self) -> bool:
        return not self.missing and not self.wrong

    def problem(self) -> str:
        """One sentence for an operator, or '' when the keys open the data."""
        parts = []
        if self.missing:
            parts.append(f"key(s) {', '.join(self.missing)} are not configured")
        if self.wrong:
            parts.append(
                f"key(s) {', '.join(self.wrong)} are configured but are not the keys "
                "the text was written with"
            )
        if not parts:
            return ""
        return (
            "the configured encryption keys do not open the stored message text: "
            + "; ".join(parts)
            + " (set CRISIS_TRIAGE_ENCRYPTION_KEYS or CRISIS_TRIAGE_ENCRYPTION_KEY_FILE to the "
            "keys this database was written with)"
        )


def check_keys(engine: Engine) -> KeyCheck:
    """Scan every encrypted column for the key ids it uses and decrypt one value per key id.

    Reads only the first characters of each value, plus one whole value per key id and column.
    """
    keyring = engine_keyring(engine)
    found: Counter[str] = Counter()
    missing: set[str] = set()
    wrong: set[str] = set()
    with engine.connect() as connection:
        for table, column in encrypted_columns():
            raw = cast(column, Text)
            quote = '"' if isinstance(column.type, EncryptedJSON) else ""
            prefixes = connection.execute(
                select(func.substr(raw, 1, _PREFIX_CHARACTERS)).where(column.is_not(None))
            ).scalars()
            here = Counter(
                key_id
                for prefix in prefixes
                if (key_id := envelope_key_id(prefix.removeprefix(quote))) is not None
            )
            found.update(here)
            context = column.type.context  # type: ignore[attr-defined]
            for key_id in here:
                if key_id not in keyring.key_ids:
                    missing.add(key_id)
                    continue
                # Any envelope version ("ct1" unbound, "ct2" bound to its row: LIKE's "_").
                pattern = f"{quote}ct_:{key_id}:%"
                row_id, stored = connection.execute(
                    select(table.c.id, raw).where(raw.like(pattern)).limit(1)
                ).one()
                try:
                    keyring.decrypt(
                        stored.removeprefix(quote).removesuffix(quote),
                        context,
                        row=row_id,
                        accept_unbound=True,
                    )
                except DecryptionError:
                    wrong.add(key_id)
    return KeyCheck(dict(sorted(found.items())), sorted(missing), sorted(wrong))


def sqlite_path(url: str) -> Path:
    """The database file of a SQLite URL, or BackupError for anything else."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        raise BackupError(
            f"`db backup` and `db restore` copy SQLite files; this is a "
            f"{parsed.get_backend_name()} database: use pg_dump and pg_restore "
            "(docs/backup.md), then `crisis-triage db check-keys`"
        )
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database).expanduser()


def _copy(source: sqlite3.Connection, target_path: Path) -> None:
    """Copy ``source`` into a new owner-only file at ``target_path``."""
    descriptor = os.open(target_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(descriptor)
    with contextlib.closing(sqlite3.connect(target_path)) as target:
        source.backup(target)
        # One self-contained file: no write-ahead log beside it.
        target.execute("PRAGMA journal_mode=DELETE")


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.partial")


def _remove(path: Path) -> None:
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)


def backup_sqlite(url: str, target: Path) -> None:
    """Copy the live SQLite database at ``url`` into a new file ``target`` (atomically)."""
    source_path = sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"there is no database at {source_path}")
    if target.exists():
        raise BackupError(f"{target} exists: choose a new file name (nothing is overwritten)")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(target)
    try:
        with contextlib.closing(sqlite3.connect(source_path)) as source:
            _copy(source, partial)
        os.replace(partial, target)
    finally:
        _remove(partial)


def restore_sqlite(backup: Path, url: str, keyring: KeyRing) -> KeyCheck:
    """Copy ``backup`` into the new (or empty) SQLite database at ``url``, if ``keyring``
    opens the text in it; otherwise leave ``url`` as it was and raise ``KeysRefusedError``."""
    target = sqlite_path(url)
    if not backup.is_file():
        raise BackupError(f"there is no backup file at {backup}")
    if target.exists() and target.stat().st_size > 0:
        raise BackupError(
            f"{target} already holds a database: restore into an empty location "
            "(set CRISIS_TRIAGE_DATABASE_URL) so that nothing stored is overwritten"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(target)
    try:
        with contextlib.closing(sqlite3.connect(f"file:{backup}?mode=ro", uri=True)) as source:
            try:
                source.execute("SELECT version_num FROM alembic_version").fetchall()
            except sqlite3.DatabaseError:
                raise BackupError(f"{backup} is not a crisis-triage database backup") from None
            _copy(source, partial)
        engine = make_engine(f"sqlite:///{partial}", keyring=keyring)
        try:
            check = check_keys(engine)
        finally:
            engine.dispose()
        if not check.ok:
            raise KeysRefusedError(check)
        target.unlink(missing_ok=True)  # an empty file left by an earlier attempt
        os.replace(partial, target)
        return check
    finally:
        _remove(partial)
