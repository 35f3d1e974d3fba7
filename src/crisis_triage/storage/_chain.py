"""The audit log's chain format: what each entry's MAC covers, and the signed checkpoints.

``entry_hash`` is the HMAC-SHA256, under the MAC key of the key ring's ``key_id`` (see
``KeyRing.mac``), of the entry's canonical form: sorted-key JSON of every field but ``id`` and
the hash itself, ``prev_hash`` and ``key_id`` included.  Without the key nobody can recompute
a chain that verifies, so an edited entry stays detectable however the rest is rewritten.
A checkpoint is the chain's head at a moment, MAC'd the same way and kept off the database:
a chain cut short behind it no longer holds the entry it names.  The format lives here
because the migration that keyed existing logs needs it too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from crisis_triage.storage._crypto import KeyRing

GENESIS_HASH = "0" * 64
CHAIN_FORMAT_VERSION = 2
# Prefixes keep the two kinds of MAC apart: an entry's canonical form starts with "{".
_CHECKPOINT_DOMAIN = b"crisis-triage audit checkpoint\n"


class ChainedEntry(Protocol):
    """What the chain covers; an ``AuditEntry`` or a row read from ``audit_log``."""

    at: datetime
    actor_kind: str
    actor_id: int | None
    actor_name: str
    origin: str | None
    action: str
    outcome: str
    patient_id: str | None
    case_id: int | None
    message_id: int | None
    details: dict[str, Any] | None
    prev_hash: str
    key_id: str | None


def canonical_form(entry: ChainedEntry) -> bytes:
    """The bytes that ``entry_hash`` covers: every field but ``id`` and the hash itself."""
    document: dict[str, Any] = {
        "v": CHAIN_FORMAT_VERSION,
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor_kind": entry.actor_kind,
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "origin": entry.origin,
        "action": entry.action,
        "outcome": entry.outcome,
        "patient_id": entry.patient_id,
        "case_id": entry.case_id,
        "message_id": entry.message_id,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
        "key_id": entry.key_id,
    }
    return _canonical_json(document)


def _canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def chain_mac(keyring: KeyRing, entry: ChainedEntry) -> str:
    """The entry's ``entry_hash`` under the key it names (DecryptionError if not in the ring)."""
    if entry.key_id is None:
        raise ValueError("an audit entry must name the key of its MAC")
    return keyring.mac(canonical_form(entry), entry.key_id)


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at ``at``: entry ``entry_id`` had ``entry_hash``, ``entries`` long."""

    entry_id: int
    entry_hash: str
    entries: int
    at: str
    key_id: str
    signature: str = ""

    def _signed_part(self) -> bytes:
        fields = asdict(self)
        del fields["signature"]
        return _CHECKPOINT_DOMAIN + _canonical_json(fields)

    def signed(self, keyring: KeyRing) -> Checkpoint:
        signature = keyring.mac(self._signed_part(), self.key_id)
        return Checkpoint(**{**asdict(self), "signature": signature})

    def signature_holds(self, keyring: KeyRing) -> bool:
        """False when the checkpoint was forged or changed (or its key left the ring)."""
        if self.key_id not in keyring.key_ids:
            return False
        return keyring.check_mac(self._signed_part(), self.key_id, self.signature)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Checkpoint:
        """One checkpoint from its JSON line (ValueError if it is not one)."""
        try:
            data = json.loads(line)
            return cls(
                entry_id=int(data["entry_id"]),
                entry_hash=str(data["entry_hash"]),
                entries=int(data["entries"]),
                at=str(data["at"]),
                key_id=str(data["key_id"]),
                signature=str(data["signature"]),
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a checkpoint ({type(exc).__name__})") from None
