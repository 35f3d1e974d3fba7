"""Retention: remove message text and notes a set time after their case was resolved.

What goes: ``messages.text`` (emptied), ``messages.reasons`` and ``messages.reason_items`` (they
quote the text), the case's note and its events' notes, and the replies' text.  What stays: ids,
hashes, lengths, scores, categories, dispositions, timestamps and demographics, so response-time
and PPV reports and subgroup metrics keep working.  A purged message has ``text_purged_at`` set,
so a reader can say why its text is missing; the labels export skips it (no text to learn from).
An open case is never purged, however old.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from crisis_triage.governance import AuditActor, record_audit
from crisis_triage.storage import (
    Case,
    CaseEvent,
    Message,
    PatientReply,
    lock_for_write,
    release_old_pages,
    utcnow,
)
from crisis_triage.triage._states import CaseStatus, Disposition

CRISIS_DISPOSITIONS = (Disposition.CONFIRMED_CRISIS.value, Disposition.MISSED_CRISIS.value)


@dataclass(frozen=True)
class RetentionReport:
    cutoff: datetime
    dry_run: bool
    messages: int
    case_notes: int
    event_notes: int
    replies: int

    def to_dict(self) -> dict[str, str | int | bool]:
        values = asdict(self)
        values["cutoff"] = self.cutoff.isoformat()
        return values


def purge_expired_text(
    session: Session,
    *,
    days: int,
    crisis_days: int | None = None,
    now: datetime | None = None,
    dry_run: bool = False,
    actor: AuditActor | None = None,
    batch_size: int = 500,
) -> RetentionReport:
    """Purge text of messages whose case was resolved more than ``days`` days ago
    (``crisis_days`` for cases resolved as a confirmed or missed crisis, if given).

    Works in batches, each its own short transaction, so the service keeps running; a run that
    stops half-way is finished by the next one.  ``dry_run`` counts and changes nothing.
    """
    crisis_days = crisis_days or days
    if min(days, crisis_days) < 1:
        raise ValueError("the retention period must be at least one day")
    now = now or utcnow()
    cutoff, crisis_cutoff = now - timedelta(days=days), now - timedelta(days=crisis_days)
    is_crisis = Case.disposition.in_(CRISIS_DISPOSITIONS)
    not_crisis = or_(Case.disposition.is_(None), Case.disposition.not_in(CRISIS_DISPOSITIONS))
    due = (
        select(Message.id)
        .join(Case, Case.message_id == Message.id)
        .where(
            Message.text_purged_at.is_(None),
            Case.status == CaseStatus.RESOLVED.value,
            or_(
                and_(is_crisis, Case.resolved_at <= crisis_cutoff),
                and_(not_crisis, Case.resolved_at <= cutoff),
            ),
        )
        .order_by(Message.id)
    )
    totals = {"messages": 0, "case_notes": 0, "event_notes": 0, "replies": 0}
    last_id = 0
    while True:
        ids = list(session.scalars(due.where(Message.id > last_id).limit(batch_size)))
        session.rollback()  # end the read; each batch writes in its own transaction
        if not ids:
            break
        last_id = ids[-1]
        counts = _count(session, ids) if dry_run else _purge(session, ids, now)
        for name, count in counts.items():
            totals[name] += count
    report = RetentionReport(cutoff=cutoff, dry_run=dry_run, **totals)
    if not dry_run:
        details: dict[str, str | int | None] = {"days": days, "crisis_days": crisis_days}
        details.update(totals)
        record_audit(session, "retention.purge", actor=actor or AuditActor.cli(), details=details)
        release_old_pages(session)
    return report


def purge_message_text(session: Session, message_ids: list[int], now: datetime) -> dict[str, int]:
    """Empty the text, reasons (text and data) and notes of ``message_ids`` (in the caller's
    transaction)."""
    case_ids = select(Case.id).where(Case.message_id.in_(message_ids)).scalar_subquery()
    changed = {
        "messages": session.execute(
            update(Message)
            .where(Message.id.in_(message_ids), Message.text_purged_at.is_(None))
            .values(text="", reasons=[], reason_items=[], text_purged_at=now)
        ),
        "case_notes": session.execute(
            update(Case)
            .where(Case.message_id.in_(message_ids), Case.note.is_not(None))
            .values(note=None)
            .execution_options(synchronize_session=False)
        ),
        "event_notes": session.execute(
            update(CaseEvent)
            .where(CaseEvent.case_id.in_(case_ids), CaseEvent.note.is_not(None))
            .values(note=None)
        ),
        "replies": session.execute(
            update(PatientReply).where(PatientReply.message_id.in_(message_ids)).values(text="")
        ),
    }
    return {name: int(result.rowcount) for name, result in changed.items()}  # type: ignore[attr-defined]


def _purge(session: Session, ids: list[int], now: datetime) -> dict[str, int]:
    lock_for_write(session)
    # Checked again under the lock: a case reopened meanwhile is no longer due.
    still_due = list(
        session.scalars(
            select(Message.id)
            .join(Case, Case.message_id == Message.id)
            .where(
                Message.id.in_(ids),
                Message.text_purged_at.is_(None),
                Case.status == CaseStatus.RESOLVED.value,
            )
        )
    )
    counts = purge_message_text(session, still_due, now) if still_due else {}
    session.commit()
    return counts


def _count(session: Session, ids: list[int]) -> dict[str, int]:
    case_ids = select(Case.id).where(Case.message_id.in_(ids)).scalar_subquery()
    queries = {
        "case_notes": select(func.count(Case.id)).where(
            Case.message_id.in_(ids), Case.note.is_not(None)
        ),
        "event_notes": select(func.count(CaseEvent.id)).where(
            CaseEvent.case_id.in_(case_ids), CaseEvent.note.is_not(None)
        ),
        "replies": select(func.count(PatientReply.id)).where(PatientReply.message_id.in_(ids)),
    }
    counts = {"messages": len(ids)}
    counts.update({name: int(session.scalar(query) or 0) for name, query in queries.items()})
    session.rollback()
    return counts
