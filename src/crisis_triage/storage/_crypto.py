"""Field-level encryption: a key ring of AES-256-GCM keys and the stored envelope.

A value is stored as ``ct2:<key id>:<base64(nonce || ciphertext || tag)>`` with a random 96-bit
nonce.  The associated data is ``ct2:<key id>:<table.column>:<row id>``, so a ciphertext only
opens in the row and column it was written for (and under the key id it names): swapped between
two rows, it fails authentication (``CiphertextIntegrityError``) instead of showing one
patient's text under another's case.  ``ct1`` envelopes (associated data without the row) are
the earlier format: opened only when asked to (``accept_unbound``, for the pass that rebinds
them), and what a value gets before its row has an id.  The first key of the ring encrypts;
every key decrypts, which is what lets keys rotate while the service keeps running.

Each key also yields, by HKDF, a separate MAC key (``mac``/``check_mac``) that keys the audit
chain: the audit log rotates with the encryption keys, and each MAC names the key id it used.

Errors name the column and the key id, never the plaintext or the ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ENVELOPE_VERSION = "ct2"
ENVELOPE_PREFIX = f"{ENVELOPE_VERSION}:"
UNBOUND_VERSION = "ct1"
_VERSIONS = (ENVELOPE_VERSION, UNBOUND_VERSION)
KEY_BYTES = 32
NONCE_BYTES = 12
_TAG_BYTES = 16
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,31}")
# HKDF's "info": the MAC key is derived from, and independent of, the encryption key.
_MAC_KEY_INFO = b"crisis-triage mac key v1"


class EncryptionError(RuntimeError):
    """Encryption is misconfigured: no keys, a malformed key, or an unreadable key file."""


class DecryptionError(EncryptionError):
    """A stored value cannot be decrypted (unknown key id, tampered, or in the wrong column).

    The message says which column and key id, never what was stored.
    """


class CiphertextIntegrityError(DecryptionError):
    """A stored value fails authentication: tampered, or not written for this row and column
    (moved from another row, or an old value put back).  Never shown as text."""


def is_envelope(value: str) -> bool:
    return value.startswith(ENVELOPE_PREFIX) or value.startswith(f"{UNBOUND_VERSION}:")


def envelope_key_id(value: str) -> str | None:
    """The key id an envelope names, or None for a value that is not an envelope."""
    if not is_envelope(value):
        return None
    parts = value.split(":", 2)
    return parts[1] if len(parts) == 3 else None


def generate_key_line(key_id: str | None = None) -> str:
    """A new key as one ``id:base64key`` line (the id defaults to ``k<date>-<random>``)."""
    key_id = key_id or f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}"
    _check_key_id(key_id)
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode('ascii')}"


def _check_key_id(key_id: str) -> None:
    if not _KEY_ID.fullmatch(key_id):
        raise EncryptionError(
            f"key id {key_id!r} must be 1-32 letters, digits or '-' (not starting with '-')"
        )


class KeyRing:
    """AES-256-GCM keys by id; the first one (``active_id``) encrypts, all of them decrypt."""

    __slots__ = ("_ciphers", "_mac_keys", "active_id")

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        self._ciphers: dict[str, AESGCM] = {}
        self._mac_keys: dict[str, bytes] = {}
        for key_id, key in keys:
            _check_key_id(key_id)
            if len(key) != KEY_BYTES:
                raise EncryptionError(f"key {key_id!r} must be {KEY_BYTES} bytes (AES-256)")
            if key_id in self._ciphers:
                raise EncryptionError(f"key id {key_id!r} appears twice")
            self._ciphers[key_id] = AESGCM(key)
            self._mac_keys[key_id] = HKDF(
                algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_MAC_KEY_INFO
            ).derive(key)
        if not self._ciphers:
            raise EncryptionError("the key ring is empty")
        self.active_id: str = next(iter(self._ciphers))

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    def __repr__(self) -> str:  # never the keys themselves
        return f"KeyRing(active={self.active_id!r}, ids={list(self._ciphers)!r})"

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Keys from ``id:base64key`` entries separated by commas or new lines (``#`` comments)."""
        keys = []
        for raw in re.split(r"[,\n]", spec):
            entry = raw.split("#", 1)[0].strip()
            if not entry:
                continue
            key_id, sep, encoded = entry.partition(":")
            if not sep:
                raise EncryptionError("each key must be written as id:base64key")
            try:
                key = base64.b64decode(encoded.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise EncryptionError(f"key {key_id.strip()!r} is not valid base64") from None
            keys.append((key_id.strip(), key))
        return cls(keys)

    @classmethod
    def from_file(cls, path: Path) -> KeyRing:
        try:
            return cls.parse(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise EncryptionError(f"cannot read key file {path}: {type(exc).__name__}") from None

    def mac(self, data: bytes, key_id: str | None = None) -> str:
        """HMAC-SHA256 (hex) of ``data`` under ``key_id``'s MAC key (default the active key)."""
        key_id = key_id or self.active_id
        key = self._mac_keys.get(key_id)
        if key is None:
            raise DecryptionError(f"key {key_id!r} is not in the key ring")
        return hmac.new(key, data, hashlib.sha256).hexdigest()

    def check_mac(self, data: bytes, key_id: str, expected: str) -> bool:
        """Whether ``expected`` is ``data``'s MAC under ``key_id`` (constant-time compare)."""
        return hmac.compare_digest(self.mac(data, key_id), expected)

    def encrypt(self, plaintext: str, context: str, *, row: int | None = None) -> str:
        """Encrypt ``plaintext`` for row ``row`` of the column named ``context``
        (``table.column``); without a row, an unbound (``ct1``) envelope."""
        version = UNBOUND_VERSION if row is None else ENVELOPE_VERSION
        nonce = os.urandom(NONCE_BYTES)
        aad = _aad(version, self.active_id, context, row)
        sealed = self._ciphers[self.active_id].encrypt(nonce, plaintext.encode("utf-8"), aad)
        body = base64.b64encode(nonce + sealed).decode("ascii")
        return f"{version}:{self.active_id}:{body}"

    def decrypt(
        self, stored: str, context: str, *, row: int | None = None, accept_unbound: bool = False
    ) -> str:
        """The plaintext of an envelope written for ``row`` of ``context``, or DecryptionError
        (CiphertextIntegrityError when it was not written for them).

        Without ``row``, only an unbound envelope opens; with one, only an envelope bound to it,
        or also an unbound one if ``accept_unbound``."""
        parts = stored.split(":", 2)
        if len(parts) != 3 or parts[0] not in _VERSIONS:
            raise DecryptionError(f"{context}: not an encrypted value")
        version, key_id, body = parts
        where = context if row is None else f"{context} row {row}"
        if version == UNBOUND_VERSION and row is not None and not accept_unbound:
            raise CiphertextIntegrityError(f"{where}: key {key_id!r}: not bound to its row")
        if version == ENVELOPE_VERSION and row is None:
            raise DecryptionError(f"{context}: key {key_id!r}: bound to a row, none given")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(f"{where}: key {key_id!r} is not in the key ring")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptionError(f"{where}: key {key_id!r}: malformed envelope") from None
        if len(raw) < NONCE_BYTES + _TAG_BYTES:
            raise DecryptionError(f"{where}: key {key_id!r}: malformed envelope")
        aad = _aad(version, key_id, context, None if version == UNBOUND_VERSION else row)
        try:
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except InvalidTag:
            raise CiphertextIntegrityError(
                f"{where}: key {key_id!r}: authentication failed (tampered, or written "
                "for another row or column)"
            ) from None
        return plain.decode("utf-8")


def _aad(version: str, key_id: str, context: str, row: int | None) -> bytes:
    if row is None:
        return f"{version}:{key_id}:{context}".encode()
    return f"{version}:{key_id}:{context}:{row}".encode()
