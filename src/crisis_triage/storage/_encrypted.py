"""Encrypted column types: the rest of the code reads and writes ``str`` / lists as before.

Each engine carries its key ring (``attach_keyring``, done by ``make_engine``); the column types
find it through the dialect they are given on every bind and every result.

Every ciphertext is bound to its row (``KeyRing.encrypt(..., row=id)``).  Reading, the column is
selected as ``<row id>:<stored value>`` (``column_expression``), so the row is known wherever
the column is read, ORM or Core.  Writing, a row's id is only known once it is inserted: the
value is first written unbound, then rewritten bound to the id in the same transaction — by
mapper events for ORM objects (``bind_new_values``), by ``bind_rows`` for Core inserts.  Empty
values ("" and []) are stored as they are: a purge needs no row ids, and they hide nothing.

A value under a key that is not in the ring reads as ``UNREADABLE_TEXT``; a value that fails
authentication, is not bound to its row, or is plaintext, reads as ``INTEGRITY_ERROR_TEXT``,
never as another row's text.  Both are logged by column, row and key id, never the value, and
integrity failures go to the engine's listener (the service raises an operator alert).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    Table,
    Text,
    bindparam,
    cast,
    event,
    type_coerce,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapper, attributes
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Alias
from sqlalchemy.types import TypeDecorator

from crisis_triage.storage._crypto import (
    CiphertextIntegrityError,
    DecryptionError,
    EncryptionError,
    KeyRing,
    is_envelope,
)

log = logging.getLogger(__name__)

UNREADABLE_TEXT = "[text unavailable: it cannot be decrypted with the configured keys]"
INTEGRITY_ERROR_TEXT = (
    "[text withheld: integrity error, the stored value was not written for this record]"
)
WITHHELD_TEXTS = frozenset({UNREADABLE_TEXT, INTEGRITY_ERROR_TEXT})
_EMPTY_VALUES: tuple[Any, ...] = ("", [])


@dataclass(frozen=True)
class IntegrityFailure:
    """Which stored value failed its integrity check (never the value itself)."""

    column: str  # table.column
    row: int | None
    key_id: str | None


@dataclass(frozen=True)
class RowBound:
    """A value to store bound to row ``row`` (what ``bind_rows`` and the events write)."""

    value: Any
    row: int


_KEYRINGS: WeakKeyDictionary[Dialect, KeyRing] = WeakKeyDictionary()
_LISTENERS: WeakKeyDictionary[Dialect, Callable[[IntegrityFailure], None]] = WeakKeyDictionary()


def attach_keyring(engine: Engine, keyring: KeyRing) -> None:
    """Encrypt and decrypt with ``keyring`` on every connection of ``engine``."""
    _KEYRINGS[engine.dialect] = keyring


def on_integrity_failure(engine: Engine, listener: Callable[[IntegrityFailure], None]) -> None:
    """Call ``listener`` for each value read through ``engine`` that fails its integrity check
    (from the reading thread: it must be quick and must not use the database)."""
    _LISTENERS[engine.dialect] = listener


def engine_keyring(bind: Engine | Connection) -> KeyRing:
    """The key ring of an engine (or of a connection or session bind made from one)."""
    return keyring_for(bind.dialect)


def keyring_for(dialect: Dialect) -> KeyRing:
    keyring = _KEYRINGS.get(dialect)
    if keyring is None:
        raise EncryptionError("this engine has no encryption keys (make it with make_engine)")
    return keyring


def decrypt_or_placeholder(keyring: KeyRing, stored: str, context: str) -> str | None:
    """The plaintext of an unbound value, or None (logged, without the value)."""
    try:
        return keyring.decrypt(stored, context)
    except DecryptionError as exc:
        log.error("cannot decrypt a stored value: %s", exc)
        return None


def _open(dialect: Dialect, selected: Any, context: str, *, is_json: bool) -> tuple[Any, str]:
    """``<row id>:<stored>`` as selected -> (value, "") or (None, the placeholder to show)."""
    row_text, sep, stored = str(selected).partition(":")
    row = int(row_text) if sep and row_text.isdigit() else None
    key_id = None
    try:
        if row is None:
            raise CiphertextIntegrityError(f"{context}: read without its row")
        value: Any = json.loads(stored) if is_json else stored
        if value is None or value in _EMPTY_VALUES:
            return value, ""
        if not isinstance(value, str) or not is_envelope(value):
            raise CiphertextIntegrityError(f"{context} row {row}: not an encrypted value")
        key_id = value.split(":", 2)[1]
        plain = keyring_for(dialect).decrypt(value, context, row=row)
        return (json.loads(plain) if is_json else plain), ""
    except CiphertextIntegrityError as exc:
        log.error("integrity error on a stored value: %s", exc)
        listener = _LISTENERS.get(dialect)
        if listener is not None:
            listener(IntegrityFailure(column=context, row=row, key_id=key_id))
        return None, INTEGRITY_ERROR_TEXT
    except (DecryptionError, ValueError) as exc:
        log.error("cannot decrypt a stored value: %s", exc)
        return None, UNREADABLE_TEXT


def _with_row_id(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``<id>:<column>`` as text, for a column of a table (or of an alias of one)."""
    table = getattr(column, "table", None)
    if not isinstance(table, Table | Alias) or "id" not in table.c:
        return column  # e.g. a subquery's column: already selected with its id inside it
    return cast(table.c.id, Text) + ":" + cast(column, Text)


def _seal(dialect: Dialect, value: Any, context: str, *, is_json: bool) -> Any:
    row = None
    if isinstance(value, RowBound):
        value, row = value.value, value.row
    if value is None or value in _EMPTY_VALUES:
        return value
    plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")) if is_json else value
    return keyring_for(dialect).encrypt(plain, context, row=row)


class EncryptedText(TypeDecorator[str]):
    """A text column stored as an AES-GCM envelope bound to ``context`` (``table.column``)
    and to its row."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return _seal(dialect, value, self.context, is_json=False)  # type: ignore[no-any-return]

    def column_expression(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return type_coerce(_with_row_id(column), self)  # read back through this type

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any]:
        def process(selected: Any) -> str | None:
            if selected is None:
                return None
            value, placeholder = _open(dialect, selected, self.context, is_json=False)
            return placeholder or value

        return process


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON column whose value is stored as an envelope of its JSON text (a JSON string).

    ``unreadable`` is what a value that cannot be shown reads as: ``"list"`` gives
    ``[<placeholder>]`` (for lists of reasons), ``"none"`` gives None.
    """

    impl = JSON
    cache_ok = True

    def __init__(self, context: str, unreadable: str = "none") -> None:
        super().__init__()
        self.context = context
        self.unreadable = unreadable

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return _seal(dialect, value, self.context, is_json=True)

    def column_expression(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        return type_coerce(_with_row_id(column), self)  # read back through this type

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any]:
        def process(selected: Any) -> Any:
            if selected is None:
                return None
            value, placeholder = _open(dialect, selected, self.context, is_json=True)
            if placeholder:
                return [placeholder] if self.unreadable == "list" else None
            return value

        return process


def _encrypted_keys(mapper: Mapper[Any]) -> list[str]:
    return [
        attr.key
        for attr in mapper.column_attrs
        if isinstance(attr.columns[0].type, EncryptedText | EncryptedJSON)
    ]


def bind_new_values(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    """After an ORM insert or update: rewrite the encrypted values it wrote, bound to the row."""
    values = {}
    for key in _encrypted_keys(mapper):
        history = attributes.get_history(target, key)
        if history.added:
            value = history.added[0]
            if value is not None and value not in _EMPTY_VALUES:
                values[key] = RowBound(value, target.id)
    if values:
        table = _table_of(mapper.local_table)
        connection.execute(update(table).where(table.c.id == target.id).values(values))


def bind_rows(connection: Connection, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
    """After a Core insert: rewrite each row's encrypted values bound to its id.  Each row is
    a mapping with ``id`` and the plain values it was inserted with."""
    names = [c.name for c in table.columns if isinstance(c.type, EncryptedText | EncryptedJSON)]
    params = []
    for row in rows:
        bound = {
            f"v_{name}": RowBound(row[name], row["id"])
            for name in names
            if row.get(name) is not None and row[name] not in _EMPTY_VALUES
        }
        if bound:
            params.append({"row_id": row["id"], **bound})
    for keys in {tuple(sorted(p)) for p in params}:  # one statement per set of columns
        statement = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({k[2:]: bindparam(k) for k in keys if k != "row_id"})
        )
        connection.execute(statement, [p for p in params if tuple(sorted(p)) == keys])


def _table_of(selectable: Any) -> Table:
    if not isinstance(selectable, Table):  # pragma: no cover - every model maps one table
        raise TypeError("encrypted columns must belong to a table")
    return selectable


def listen_for_binding(model: type) -> None:
    """Bind the encrypted values of ``model``'s rows to their ids on every ORM write."""
    event.listen(model, "after_insert", bind_new_values)
    event.listen(model, "after_update", bind_new_values)
