"""keyed audit chain; ciphertext bound to its row

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

``audit_log.key_id``, and every existing entry re-chained with the HMAC of the active key (the
guard triggers are lifted for this transaction only); the chain before was a plain SHA-256
that anyone with write access could recompute.  Then every encrypted value is rewritten bound
to its row (AES-GCM associated data with the row id; the key rotation's pass), so that a
ciphertext moved to another row no longer opens.  Needs the service's encryption keys, as every
later start does; values under keys not in the ring are left as they are (and read as
unavailable, as before).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from types import SimpleNamespace
from typing import Any, cast

import sqlalchemy as sa
from alembic import op

from crisis_triage.storage._chain import GENESIS_HASH, chain_mac
from crisis_triage.storage._crypto import DecryptionError
from crisis_triage.storage._encrypted import EncryptedJSON, engine_keyring
from crisis_triage.storage._models import AuditEntry
from crisis_triage.storage._rotation import ColumnCounts, encrypted_columns, rotate_batch

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with _guards_lifted():
        with op.batch_alter_table("audit_log") as batch:
            batch.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
        keyring = engine_keyring(op.get_bind())
        _rechain(lambda entry: chain_mac(keyring, entry), key_id=keyring.active_id)
    _bind_ciphertexts_to_rows()


def _columns_at_this_revision(connection: sa.Connection) -> list[tuple[sa.Table, sa.Column[Any]]]:
    """The encrypted columns of the models that this revision's schema already has (later
    revisions add encrypted columns of their own, written bound from the start)."""
    inspector = sa.inspect(connection)
    present = {
        name: {c["name"] for c in inspector.get_columns(name)}
        for name in inspector.get_table_names()
    }
    return [(t, c) for t, c in encrypted_columns() if c.name in present.get(t.name, set())]


def _bind_ciphertexts_to_rows() -> None:
    connection = op.get_bind()
    keyring = engine_keyring(connection)
    for table, column in _columns_at_this_revision(connection):
        last_id: int | None = 0
        while last_id is not None:
            last_id = rotate_batch(connection, table, column, keyring, last_id, 500, ColumnCounts())


def downgrade() -> None:
    _unbind_ciphertexts()
    with _guards_lifted():
        _rechain(_unkeyed_hash, key_id=None)
        with op.batch_alter_table("audit_log") as batch:
            batch.drop_column("key_id")


def _unbind_ciphertexts() -> None:
    """Back to revision 0006's envelopes (bound to the column only), which it can read."""
    connection = op.get_bind()
    keyring = engine_keyring(connection)
    for table, column in _columns_at_this_revision(connection):
        is_json = isinstance(column.type, EncryptedJSON)
        context = column.type.context  # type: ignore[attr-defined]
        raw = sa.cast(column, sa.Text)
        rows = connection.execute(
            sa.select(table.c.id, raw.label("raw")).where(raw.like("%ct2:%"))
        ).all()
        for row in rows:
            stored = json.loads(row.raw) if is_json else row.raw
            try:
                plain = keyring.decrypt(stored, context, row=row.id)
            except DecryptionError:
                continue  # under a key not in the ring: unreadable either way
            unbound = keyring.encrypt(plain, context)
            value = sa.type_coerce(unbound, sa.JSON if is_json else sa.Text)
            connection.execute(
                sa.update(table).where(table.c.id == row.id).values({column.name: value})
            )


def _rechain(make_hash: Callable[[Any], str], *, key_id: str | None) -> None:
    connection = op.get_bind()
    table = cast(sa.Table, AuditEntry.__table__)
    columns = [c for c in table.columns if key_id is not None or c.name != "key_id"]
    rows = connection.execute(sa.select(*columns).order_by(table.c.id)).all()
    previous = GENESIS_HASH
    for row in rows:
        entry = SimpleNamespace(**row._mapping)
        entry.prev_hash, entry.key_id = previous, key_id
        entry.entry_hash = make_hash(entry)
        values = {"prev_hash": entry.prev_hash, "entry_hash": entry.entry_hash}
        if key_id is not None:
            values["key_id"] = key_id
        connection.execute(sa.update(table).where(table.c.id == row.id).values(values))
        previous = entry.entry_hash


_V1_FIELDS = [
    "actor_kind",
    "actor_id",
    "actor_name",
    "origin",
    "action",
    "outcome",
    "patient_id",
    "case_id",
    "message_id",
    "details",
    "prev_hash",
]


def _unkeyed_hash(entry: Any) -> str:
    """The chain of revision 0003: SHA-256 of the canonical form, format version 1."""
    document = {name: getattr(entry, name) for name in _V1_FIELDS}
    document.update(v=1, at=entry.at.astimezone(UTC).isoformat(timespec="microseconds"))
    encoded = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


@contextmanager
def _guards_lifted() -> Iterator[None]:
    """The append-only triggers off for this migration only (SQLite's batch mode rebuilds the
    table, and its triggers with it, so they are taken down and put back as they were)."""
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        yield
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
        return
    triggers = connection.execute(
        sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        )
    ).all()
    for name, _sql in triggers:
        op.execute(f'DROP TRIGGER "{name}"')
    yield
    for _name, sql in triggers:
        op.execute(sql)
