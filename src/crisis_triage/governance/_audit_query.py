"""Reading the audit log: checking its keyed chain, and selecting entries for an export."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from crisis_triage.storage import (
    GENESIS_HASH,
    AuditEntry,
    KeyRing,
    canonical_form,
    engine_keyring,
)

# Entries fetched per round trip when walking the whole log.
_BATCH = 1000


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found: how many entries held, under which keys, and the first
    that did not."""

    entries: int
    head_id: int | None
    head_hash: str
    broken_id: int | None = None
    problem: str | None = None
    key_ids: tuple[str, ...] = ()  # the keys that made the entries that held, oldest first

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def _problem(entry: AuditEntry, previous: str, keyring: KeyRing) -> str | None:
    if entry.prev_hash != previous:
        return "prev_hash does not match the entry before it (removed or reordered)"
    if entry.key_id is None:
        return "the entry names no key (not written by this system)"
    if entry.key_id not in keyring.key_ids:
        return f"its key {entry.key_id!r} is not in the key ring: it cannot be checked"
    if not keyring.check_mac(canonical_form(entry), entry.key_id, entry.entry_hash):
        return (
            f"entry_hash is not the MAC of the entry's contents under key {entry.key_id!r} "
            "(changed, or re-chained without the key)"
        )
    return None


def verify_chain(session: Session) -> ChainReport:
    """Walk the log in id order and check every MAC; stop at the first broken entry.

    ``entries`` counts the entries that held before it.  A broken ``prev_hash`` means an entry
    was removed or reordered before this one; a broken ``entry_hash``, that this one was changed
    (or the chain recomputed by someone without the key).  Removing the newest entries leaves a
    shorter valid chain: ``check_checkpoints`` with a checkpoint kept elsewhere finds that.
    """
    keyring = engine_keyring(session.get_bind())
    previous, previous_id, count = GENESIS_HASH, None, 0
    key_ids: dict[str, None] = {}
    rows = session.scalars(
        select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=_BATCH)
    )
    for entry in rows:
        problem = _problem(entry, previous, keyring)
        if problem is not None:
            rows.close()
            return ChainReport(
                count, previous_id, previous, entry.id, problem, key_ids=tuple(key_ids)
            )
        key_ids[entry.key_id or ""] = None
        previous, previous_id, count = entry.entry_hash, entry.id, count + 1
        session.expunge(entry)  # keep memory flat on a long log
    return ChainReport(count, previous_id, previous, key_ids=tuple(key_ids))


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to export; every criterion given must hold."""

    user: str | None = None  # a username (entries by that user)
    patient_id: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    action: str | None = None  # exact, or a prefix ending in "*" ("case.*")

    def apply(self, query: Select[AuditEntry]) -> Select[AuditEntry]:
        if self.user is not None:
            query = query.where(AuditEntry.actor_kind == "user", AuditEntry.actor_name == self.user)
        if self.patient_id is not None:
            query = query.where(AuditEntry.patient_id == self.patient_id)
        if self.since is not None:
            query = query.where(AuditEntry.at >= self.since)
        if self.until is not None:
            query = query.where(AuditEntry.at < self.until)
        if self.action is not None:
            if self.action.endswith("*"):
                prefix = self.action[:-1]
                query = query.where(AuditEntry.action.startswith(prefix, autoescape=True))
            else:
                query = query.where(AuditEntry.action == self.action)
        return query

    def describe(self) -> dict[str, str]:
        """The criteria as ids and codes, for the ``audit.export`` entry's details."""
        found: dict[str, str] = {}
        for name in ("user", "patient_id", "action"):
            value = getattr(self, name)
            if value is not None:
                found[name] = value
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None:
                found[name] = value.astimezone(UTC).isoformat()
        return found


def audit_entries(session: Session, where: AuditFilter | None = None) -> Iterator[AuditEntry]:
    """Entries matching ``where``, oldest first, fetched in batches."""
    query = (where or AuditFilter()).apply(select(AuditEntry)).order_by(AuditEntry.id)
    for entry in session.scalars(query.execution_options(yield_per=_BATCH)):
        yield entry
        session.expunge(entry)


EXPORT_FIELDS = (
    "id",
    "at",
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
    "entry_hash",
)


def entry_record(entry: AuditEntry) -> dict[str, Any]:
    """One entry as a plain dict (times in ISO 8601 UTC) for JSON lines or CSV."""
    record: dict[str, Any] = {name: getattr(entry, name) for name in EXPORT_FIELDS}
    record["at"] = entry.at.astimezone(UTC).isoformat(timespec="microseconds")
    return record
