"""The audit trail: who read message text or changed something, what, when and from where.

Code that shows message text or notes to a person, or changes a case, user, key or setting,
calls ``record_audit`` in the same transaction, as late as it can (just before the commit):
appending takes the chain's lock until that transaction ends.

Every entry is chained to the one before and keyed: ``entry_hash`` is the HMAC-SHA256 of the
entry's canonical form (``storage.canonical_form``), which includes ``prev_hash`` (the previous
entry's hash, ``GENESIS_HASH`` for the first) and ``key_id``, the key of the engine's key ring
that made it (the active one when written; the audit log rotates with the encryption keys).
Changing, removing or reordering an entry breaks the chain from there on, and without the key
it cannot be recomputed (``verify_chain`` finds it).  Appends are serialised so that concurrent
transactions form one chain: a transaction-level advisory lock on PostgreSQL, the database
write lock on SQLite; a unique ``prev_hash`` makes a fork impossible regardless.  Cutting the
newest entries off is found against a checkpoint kept elsewhere (``_audit_checkpoint``).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis_triage.storage import (
    GENESIS_HASH,
    AuditEntry,
    KeyRing,
    chain_mac,
    engine_keyring,
    lock_for_write,
    utcnow,
)

if TYPE_CHECKING:
    from crisis_triage.storage import ApiKey, User

# The client address of the current request (set by the service's middleware).
audit_origin: ContextVar[str | None] = ContextVar("crisis_triage_audit_origin", default=None)

AuditValue = str | int | float | bool | None

# Key of the PostgreSQL advisory lock that serialises appends (any fixed 64-bit number).
_CHAIN_LOCK_KEY = 7_413_019_823
# Details carry ids, codes and counts: a longer string is most likely text that must not be here.
MAX_DETAIL_LENGTH = 128


@dataclass(frozen=True)
class AuditActor:
    """Who did it: a user, a platform API key, the command line, or the system itself."""

    kind: str  # "user" | "api_key" | "cli" | "system" | "anonymous"
    id: int | None
    name: str

    @classmethod
    def system(cls) -> AuditActor:
        return cls(kind="system", id=None, name="system")

    @classmethod
    def cli(cls, name: str = "cli") -> AuditActor:
        return cls(kind="cli", id=None, name=name)

    @classmethod
    def for_user(cls, user: User) -> AuditActor:
        return cls(kind="user", id=user.id, name=user.username)

    @classmethod
    def for_api_key(cls, key: ApiKey) -> AuditActor:
        return cls(kind="api_key", id=key.id, name=key.name)


# Stands for "nobody we know": a failed login with an unknown username, for instance.
ANONYMOUS = AuditActor(kind="anonymous", id=None, name="")


def hash_entry(entry: AuditEntry, keyring: KeyRing) -> str:
    """The ``entry_hash`` that ``entry`` must carry (its MAC under the key it names)."""
    return chain_mac(keyring, entry)


def _checked_details(details: Mapping[str, AuditValue] | None) -> dict[str, AuditValue] | None:
    if not details:
        return None
    checked: dict[str, AuditValue] = {}
    for key, value in details.items():
        if not isinstance(value, str | int | float | bool | None):
            raise TypeError(f"audit detail {key!r} must be a str, number, bool or None")
        if isinstance(value, str) and len(value) > MAX_DETAIL_LENGTH:
            raise ValueError(f"audit detail {key!r} is too long for an id or a code")
        checked[str(key)] = value
    return checked


def _lock_chain(session: Session) -> None:
    """Hold the chain until this transaction ends, so that appends form one sequence."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(_CHAIN_LOCK_KEY)))
    else:
        lock_for_write(session)


def record_audit(
    session: Session,
    action: str,
    *,
    actor: AuditActor | None,
    outcome: str = "ok",
    patient_id: str | None = None,
    case_id: int | None = None,
    message_id: int | None = None,
    details: Mapping[str, AuditValue] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one audit entry in the caller's transaction (flushed; the caller commits).

    ``action`` is a dotted name: ``message.read``, ``case.<action>``, ``auth.login``,
    ``auth.login_failed``, ``auth.lockout``, ``auth.logout``, ``user.create``,
    ``user.update``, ``apikey.create``, ``apikey.revoke``, ``keys.rotate``,
    ``settings.update``, ``retention.purge``, ``patient.export``, ``patient.erase``,
    ``labels.export``, ``audit.export``, ``fhir.search``, ``fhir.read``,
    ``sms_sender.create``, ``sms_sender.remove``, ``model.register``, ``model.promote``,
    ``model.rollback``, ``model.shadow_start``, ``model.shadow_stop``.  ``outcome`` is ``ok``,
    ``denied`` or ``failed``.
    ``details`` holds ids, codes and counts only, never message text (strings over 128
    characters are refused).
    The origin (client address) comes from ``audit_origin``.  ``actor=None`` records an
    anonymous caller.
    """
    who = actor or ANONYMOUS
    entry = AuditEntry(
        at=at or utcnow(),
        actor_kind=who.kind,
        actor_id=who.id,
        actor_name=who.name[:100],
        origin=(audit_origin.get() or None),
        action=action,
        outcome=outcome,
        patient_id=patient_id,
        case_id=case_id,
        message_id=message_id,
        details=_checked_details(details),
    )
    if entry.origin is not None:
        entry.origin = entry.origin[:64]
    _lock_chain(session)
    previous = session.scalar(select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1))
    entry.prev_hash = previous or GENESIS_HASH
    keyring = engine_keyring(session.get_bind())
    entry.key_id = keyring.active_id
    entry.entry_hash = hash_entry(entry, keyring)
    session.add(entry)
    session.flush()
    return entry
