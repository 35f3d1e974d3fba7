"""Encrypted column types: the rest of the code reads and writes ``str`` / lists as before.

Each engine carries its key ring (``attach_keyring``, done by ``make_engine``); the column types
find it through the dialect they are given on every bind and every result.  Values that are not
envelopes (rows written before encryption) are read as they are, and ``rotate_keys`` encrypts
them.  A value that cannot be decrypted reads as ``UNREADABLE_TEXT`` and is logged by column and
key id: the case stays in the queue, its text is shown as unavailable.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import JSON, Connection, Engine, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from crisis_triage.storage._crypto import (
    DecryptionError,
    EncryptionError,
    KeyRing,
    is_envelope,
)

log = logging.getLogger(__name__)

UNREADABLE_TEXT = "[text unavailable: it cannot be decrypted with the configured keys]"

_KEYRINGS: WeakKeyDictionary[Dialect, KeyRing] = WeakKeyDictionary()


def attach_keyring(engine: Engine, keyring: KeyRing) -> None:
    """Encrypt and decrypt with ``keyring`` on every connection of ``engine``."""
    _KEYRINGS[engine.dialect] = keyring


def engine_keyring(bind: Engine | Connection) -> KeyRing:
    """The key ring of an engine (or of a connection or session bind made from one)."""
    return keyring_for(bind.dialect)


def keyring_for(dialect: Dialect) -> KeyRing:
    keyring = _KEYRINGS.get(dialect)
    if keyring is None:
        raise EncryptionError("this engine has no encryption keys (make it with make_engine)")
    return keyring


def decrypt_or_placeholder(keyring: KeyRing, stored: str, context: str) -> str | None:
    """The plaintext, or None (logged, without the value) when it cannot be decrypted."""
    try:
        return keyring.decrypt(stored, context)
    except DecryptionError as exc:
        log.error("cannot decrypt a stored value: %s", exc)
        return None


class EncryptedText(TypeDecorator[str]):
    """A text column stored as an AES-GCM envelope bound to ``context`` (``table.column``)."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring_for(dialect).encrypt(value, self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or not is_envelope(value):
            return value  # type: ignore[no-any-return]
        plain = decrypt_or_placeholder(keyring_for(dialect), value, self.context)
        return UNREADABLE_TEXT if plain is None else plain


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON column whose value is stored as an envelope of its JSON text (a JSON string).

    ``unreadable`` is what a value that cannot be decrypted reads as: ``"list"`` gives
    ``[UNREADABLE_TEXT]`` (for lists of reasons), ``"none"`` gives None.
    """

    impl = JSON
    cache_ok = True

    def __init__(self, context: str, unreadable: str = "none") -> None:
        super().__init__()
        self.context = context
        self.unreadable = unreadable

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return keyring_for(dialect).encrypt(plain, self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not isinstance(value, str) or not is_envelope(value):
            return value
        plain = decrypt_or_placeholder(keyring_for(dialect), value, self.context)
        if plain is None:
            return [UNREADABLE_TEXT] if self.unreadable == "list" else None
        return json.loads(plain)
