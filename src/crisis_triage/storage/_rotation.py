"""Key rotation: re-encrypt every stored value that is not under the active key.

Runs beside the live service.  Each batch is one short transaction; each row is rewritten only if
it still holds the value that was read (compare-and-set), so a note a specialist saves meanwhile
is never overwritten with an older one.  Rows written before encryption existed are encrypted.
Running it again does nothing more; stopping it half-way loses nothing (old keys still decrypt).
Values from before ciphertexts were bound to their rows are bound on the way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, Connection, Engine, Table, Text, cast, select, update
from sqlalchemy.orm import Session

from crisis_triage.storage._crypto import ENVELOPE_PREFIX, DecryptionError, KeyRing, is_envelope
from crisis_triage.storage._encrypted import (
    EncryptedJSON,
    EncryptedText,
    RowBound,
    engine_keyring,
)
from crisis_triage.storage._engine import lock_for_write, release_old_pages
from crisis_triage.storage._models import Base

# Empty values are stored as they are (see _encrypted): nothing to rotate.
_STORED_EMPTY = ("", "[]", "null")


@dataclass
class ColumnCounts:
    rotated: int = 0  # re-encrypted under the active key (or encrypted for the first time)
    unreadable: int = 0  # under a key that is not in the ring, or tampered: left as they are
    changed_meanwhile: int = 0  # rewritten by someone else while we worked: theirs is kept


@dataclass
class RotationReport:
    active_key: str
    columns: dict[str, ColumnCounts] = field(default_factory=dict)

    def total(self, name: str) -> int:
        return sum(int(getattr(counts, name)) for counts in self.columns.values())

    def to_dict(self) -> dict[str, int | str]:
        flat: dict[str, int | str] = {"active_key": self.active_key}
        for name in ("rotated", "unreadable", "changed_meanwhile"):
            flat[name] = self.total(name)
        return flat


def encrypted_columns() -> Iterator[tuple[Table, Column[Any]]]:
    """Every encrypted column in the schema, as (table, column)."""
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText | EncryptedJSON):
                yield table, column


def rotate_keys(
    engine: Engine,
    *,
    batch_size: int = 200,
    on_batch: Callable[[str, ColumnCounts], None] | None = None,
) -> RotationReport:
    """Bring every encrypted value under the engine's active key, bound to its row; returns
    the counts."""
    keyring = engine_keyring(engine)
    report = RotationReport(active_key=keyring.active_id)
    for table, column in encrypted_columns():
        name = f"{table.name}.{column.name}"
        counts = report.columns.setdefault(name, ColumnCounts())
        last_id: int | None = 0
        while last_id is not None:
            with Session(engine) as session, session.begin():
                lock_for_write(session)  # SQLite: take the write lock before reading the batch
                last_id = rotate_batch(
                    session.connection(), table, column, keyring, last_id, batch_size, counts
                )
            if last_id is not None and on_batch is not None:
                on_batch(name, counts)
    with Session(engine) as session:
        release_old_pages(session)
    return report


def rotate_batch(
    connection: Connection,
    table: Table,
    column: Column[Any],
    keyring: KeyRing,
    after_id: int,
    batch_size: int,
    counts: ColumnCounts,
) -> int | None:
    """Rewrite up to ``batch_size`` values of ``column`` (rows after ``after_id``) that are not
    under the active key and bound to their row; the last id seen, or None when done.  Also
    the migration that bound existing values to their rows (in its own transaction)."""
    is_json = isinstance(column.type, EncryptedJSON)
    context = column.type.context  # type: ignore[attr-defined]
    # The stored text, read past the column type: an envelope (a JSON string in JSON columns).
    raw = cast(column, Text)
    current = ('"' if is_json else "") + f"{ENVELOPE_PREFIX}{keyring.active_id}:%"
    id_column = table.c.id
    rows = connection.execute(
        select(id_column, raw.label("raw"))
        .where(
            id_column > after_id,
            column.is_not(None),
            raw.not_like(current),
            raw.not_in(_STORED_EMPTY),
        )
        .order_by(id_column)
        .limit(batch_size)
    ).all()
    if not rows:
        return None
    for row in rows:
        try:
            value = _plain_value(keyring, row.raw, context, row.id, is_json=is_json)
        except DecryptionError:
            counts.unreadable += 1
            continue
        if value is None:
            continue  # a JSON null: nothing to protect
        # A Core update: a case's version is not bumped (what it holds is unchanged for
        # readers), so a specialist saving the case meanwhile does not get a conflict.
        result = connection.execute(
            update(table)
            .where(id_column == row.id, raw == row.raw)
            .values({column.name: RowBound(value, row.id)})
        )
        if result.rowcount == 1:
            counts.rotated += 1
        else:
            counts.changed_meanwhile += 1
    return int(rows[-1].id)


def _plain_value(keyring: KeyRing, stored: str, context: str, row: int, *, is_json: bool) -> Any:
    """The Python value behind a raw stored value (decrypting it if it is an envelope, bound
    to ``row`` or from before values were bound)."""
    if not is_json:
        if not is_envelope(stored):
            return stored
        return keyring.decrypt(stored, context, row=row, accept_unbound=True)
    loaded = json.loads(stored)
    if isinstance(loaded, str) and is_envelope(loaded):
        return json.loads(keyring.decrypt(loaded, context, row=row, accept_unbound=True))
    return loaded
