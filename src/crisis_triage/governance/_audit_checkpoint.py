"""Signed checkpoints of the audit chain, kept off the database so that a cut tail shows.

A keyed chain cannot be rewritten without the key, but its newest entries can still be deleted:
what is left is a shorter chain that verifies.  A checkpoint records the head (entry id, hash,
length) at a moment, MAC'd with the audit key (``storage.Checkpoint``); appended as a JSON line
to a file the database's administrators cannot write (or sent to a webhook, a log shipper...),
it is checked later: the entry it names must still be there with the same hash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis_triage.storage import AuditEntry, Checkpoint, WebhookDelivery, engine_keyring, utcnow


def make_checkpoint(session: Session) -> Checkpoint | None:
    """A signed checkpoint of the chain's head now, or None while the log is empty."""
    head = session.execute(
        select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    if head is None:
        return None
    entries = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    keyring = engine_keyring(session.get_bind())
    checkpoint = Checkpoint(
        entry_id=head.id,
        entry_hash=head.entry_hash,
        entries=entries,
        at=utcnow().isoformat(timespec="seconds"),
        key_id=keyring.active_id,
    )
    return checkpoint.signed(keyring)


def append_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Add one line to the checkpoint file (created, readable by its owner only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(checkpoint.to_json() + "\n")


def publish_checkpoint(
    session: Session,
    *,
    file: Path | None,
    webhook_urls: Sequence[str],
    now: datetime | None = None,
) -> Checkpoint | None:
    """Checkpoint the head now: appended to ``file`` and queued as an ``audit.checkpoint``
    webhook to each URL (commits).  None while the log is empty."""
    checkpoint = make_checkpoint(session)
    if checkpoint is None:
        return None
    if file is not None:
        append_checkpoint(file, checkpoint)
    now = now or utcnow()
    for url in webhook_urls:
        session.add(
            WebhookDelivery(
                event="audit.checkpoint",
                url=url,
                payload=asdict(checkpoint),
                next_attempt_at=now,
                created_at=now,
            )
        )
    session.commit()
    return checkpoint


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Every checkpoint in the file, oldest first (ValueError names a bad line)."""
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                found.append(Checkpoint.from_json(line))
            except ValueError as exc:
                raise ValueError(f"{path.name} line {number}: {exc}") from None
    return found


def check_checkpoints(session: Session, checkpoints: Iterable[Checkpoint]) -> list[str]:
    """What no longer holds: forged checkpoints, and entries they name that are gone or
    changed (the tail was cut, or the chain rewritten).  Empty when every one holds."""
    keyring = engine_keyring(session.get_bind())
    problems = []
    for checkpoint in checkpoints:
        where = f"checkpoint of entry {checkpoint.entry_id} ({checkpoint.at})"
        if not checkpoint.signature_holds(keyring):
            problems.append(f"{where}: its signature does not hold (forged, or key retired)")
            continue
        stored = session.scalar(
            select(AuditEntry.entry_hash).where(AuditEntry.id == checkpoint.entry_id)
        )
        if stored is None:
            problems.append(f"{where}: the entry is gone (the log was cut short)")
        elif stored != checkpoint.entry_hash:
            problems.append(f"{where}: the entry has another hash (the log was rewritten)")
    return problems
