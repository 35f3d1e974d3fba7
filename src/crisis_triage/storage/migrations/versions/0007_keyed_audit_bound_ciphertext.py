"""keyed audit chain; ciphertext bound to its row

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

``audit_log.key_id``, and every existing entry re-chained with the HMAC of the active key (the
guard triggers are lifted for this transaction only); the chain before was a plain SHA-256
that anyone with write access could recompute.  Needs the service's encryption keys, as every
later start does.
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
from crisis_triage.storage._encrypted import engine_keyring
from crisis_triage.storage._models import AuditEntry

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with _guards_lifted():
        with op.batch_alter_table("audit_log") as batch:
            batch.add_column(sa.Column("key_id", sa.String(length=32), nullable=True))
        keyring = engine_keyring(op.get_bind())
        _rechain(lambda entry: chain_mac(keyring, entry), key_id=keyring.active_id)


def downgrade() -> None:
    with _guards_lifted():
        _rechain(_unkeyed_hash, key_id=None)
        with op.batch_alter_table("audit_log") as batch:
            batch.drop_column("key_id")


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
