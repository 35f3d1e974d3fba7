"""Follow-ups that cannot be forgotten: scheduled when a crisis is resolved, listed as due or
overdue, completed with an outcome, and alerted (then escalated) when late.

A follow-up's stored status is ``scheduled``, ``overdue`` (the scheduler found it late and
raised its alert in the same transaction), ``done`` or ``cancelled``; a scheduled one whose
time has passed is shown as ``overdue`` before the scheduler's next round reaches it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from crisis_triage.care._common import case_patient, require_patient, user_id_of
from crisis_triage.care._errors import CareInputError
from crisis_triage.care._schedule import follow_up_times
from crisis_triage.governance import AuditActor, record_audit, sensitive
from crisis_triage.storage import FollowUp, utcnow
from crisis_triage.triage import (
    AlertKind,
    Disposition,
    InvalidTransitionError,
    NotFoundError,
    TriagePolicy,
    raise_alert,
)

log = logging.getLogger(__name__)

# Resolving a case with one of these schedules the site's follow-ups.
FOLLOW_UP_DISPOSITIONS = frozenset(
    {Disposition.CONFIRMED_CRISIS, Disposition.MISSED_CRISIS, Disposition.NEEDS_FOLLOW_UP}
)
AFTER_RESOLUTION = "post_crisis"
NO_ANSWER_RETRY = timedelta(hours=4)
MAX_NOTE_LENGTH = 4000
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")


class FollowUpStatus(StrEnum):
    SCHEDULED = "scheduled"
    OVERDUE = "overdue"
    DONE = "done"
    CANCELLED = "cancelled"


class FollowUpOutcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"  # a retry is scheduled
    DECLINED = "declined"
    REACHED_SOMEONE_ELSE = "reached_someone_else"
    REFERRED = "referred"


@dataclass(frozen=True)
class FollowUpView:
    """A follow-up as listed: ids, codes and times (its note is not listed)."""

    id: int
    patient_id: str
    case_id: int | None
    kind: str
    step: str | None
    due_at: datetime
    status: FollowUpStatus
    outcome: str | None
    created_at: datetime
    overdue_at: datetime | None
    escalated_at: datetime | None
    completed_at: datetime | None
    completed_by: int | None
    reply_case_id: int | None
    has_note: bool


def shown_status(row: FollowUp, now: datetime) -> FollowUpStatus:
    if row.status == FollowUpStatus.SCHEDULED and row.due_at <= now:
        return FollowUpStatus.OVERDUE
    return FollowUpStatus(row.status)


def view(row: FollowUp, now: datetime) -> FollowUpView:
    return FollowUpView(
        id=row.id,
        patient_id=row.patient_id,
        case_id=row.case_id,
        kind=row.kind,
        step=row.step,
        due_at=row.due_at,
        status=shown_status(row, now),
        outcome=row.outcome,
        created_at=row.created_at,
        overdue_at=row.overdue_at,
        escalated_at=row.escalated_at,
        completed_at=row.completed_at,
        completed_by=row.completed_by,
        reply_case_id=row.reply_case_id,
        has_note=row.note is not None,
    )


def schedule_follow_ups(
    session: Session,
    policy: TriagePolicy,
    *,
    patient_id: str,
    case_id: int,
    actor: AuditActor,
    now: datetime,
) -> list[FollowUp]:
    """The site's follow-up schedule after a case's resolution at ``now``; flushes, audited."""
    rows = [
        FollowUp(
            patient_id=patient_id,
            case_id=case_id,
            kind=AFTER_RESOLUTION,
            step=step,
            due_at=due,
            status=FollowUpStatus.SCHEDULED.value,
            created_at=now,
            created_by=user_id_of(actor),
        )
        for step, due in follow_up_times(now, policy.follow_up_schedule, policy.site_timezone)
    ]
    session.add_all(rows)
    session.flush()
    record_audit(
        session,
        "follow_up.schedule",
        actor=actor,
        patient_id=patient_id,
        case_id=case_id,
        details={"count": len(rows), "schedule": ",".join(policy.follow_up_schedule)},
        at=now,
    )
    return rows


def create_follow_up(
    session: Session,
    policy: TriagePolicy,
    *,
    patient_id: str,
    due_at: datetime,
    kind: str,
    actor: AuditActor,
    case_id: int | None = None,
    now: datetime | None = None,
) -> FollowUpView:
    """One follow-up by hand; commits.  One already due is overdue at once, with its alert."""
    now = now or utcnow()
    if due_at.tzinfo is None:
        raise CareInputError("due_at needs a time zone (e.g. 2026-12-07T09:00:00Z)")
    if _KIND.fullmatch(kind) is None:
        raise CareInputError("kind is a lower-case code of up to 32 letters, digits or _")
    require_patient(session, patient_id)
    if case_id is not None and case_patient(session, case_id) != patient_id:
        raise CareInputError("the case is not this patient's")
    row = FollowUp(
        patient_id=patient_id,
        case_id=case_id,
        kind=kind,
        due_at=due_at,
        status=FollowUpStatus.SCHEDULED.value,
        created_at=now,
        created_by=user_id_of(actor),
    )
    session.add(row)
    session.flush()
    record_audit(
        session,
        "follow_up.create",
        actor=actor,
        patient_id=patient_id,
        case_id=case_id,
        details={"follow_up_id": row.id, "kind": kind},
        at=now,
    )
    if row.due_at <= now:
        _mark_overdue(session, policy, row, now)
    session.commit()
    return view(row, now)


def list_follow_ups(
    session: Session,
    *,
    patient_id: str | None = None,
    status: FollowUpStatus | None = None,
    now: datetime | None = None,
    limit: int = 200,
) -> list[FollowUpView]:
    """Follow-ups, soonest due first (done and cancelled ones latest first)."""
    now = now or utcnow()
    stmt = select(FollowUp)
    if patient_id is not None:
        stmt = stmt.where(FollowUp.patient_id == patient_id)
    scheduled = FollowUp.status == FollowUpStatus.SCHEDULED.value
    if status is FollowUpStatus.SCHEDULED:
        stmt = stmt.where(scheduled, FollowUp.due_at > now)
    elif status is FollowUpStatus.OVERDUE:
        stmt = stmt.where(
            or_(
                FollowUp.status == FollowUpStatus.OVERDUE.value,
                scheduled & (FollowUp.due_at <= now),
            )
        )
    elif status is not None:
        stmt = stmt.where(FollowUp.status == status.value)
    closed = status in (FollowUpStatus.DONE, FollowUpStatus.CANCELLED)
    order = FollowUp.due_at.desc() if closed else FollowUp.due_at
    rows = session.scalars(stmt.order_by(order, FollowUp.id).limit(limit))
    return [view(row, now) for row in rows]


def complete_follow_up(
    session: Session,
    policy: TriagePolicy,
    follow_up_id: int,
    *,
    outcome: FollowUpOutcome,
    note: str | None,
    actor: AuditActor,
    now: datetime | None = None,
) -> FollowUpView:
    """Record the outcome (and a note, encrypted); commits.  "No answer" schedules a retry."""
    now = now or utcnow()
    note = note.strip() if note else None
    if note and len(note) > MAX_NOTE_LENGTH:
        raise CareInputError(f"a note has at most {MAX_NOTE_LENGTH} characters")
    with sensitive(note):
        row = session.scalar(select(FollowUp).where(FollowUp.id == follow_up_id).with_for_update())
        if row is None:
            raise NotFoundError(f"follow-up {follow_up_id} does not exist")
        if row.status in (FollowUpStatus.DONE.value, FollowUpStatus.CANCELLED.value):
            raise InvalidTransitionError(f"follow-up {follow_up_id} is already {row.status}")
        row.status, row.outcome, row.note = FollowUpStatus.DONE.value, outcome.value, note
        row.completed_at, row.completed_by = now, user_id_of(actor)
        details: dict[str, str | int | None] = {"follow_up_id": row.id, "outcome": outcome.value}
        if note:
            details["note_length"] = len(note)
        if outcome is FollowUpOutcome.NO_ANSWER:
            retry = FollowUp(
                patient_id=row.patient_id,
                case_id=row.case_id,
                kind=row.kind,
                step="retry",
                due_at=now + NO_ANSWER_RETRY,
                status=FollowUpStatus.SCHEDULED.value,
                created_at=now,
                created_by=user_id_of(actor),
            )
            session.add(retry)
            session.flush()
            details["retry_id"] = retry.id
        session.flush()
        record_audit(
            session,
            "follow_up.complete",
            actor=actor,
            patient_id=row.patient_id,
            case_id=row.case_id,
            details=details,
            at=now,
        )
        session.commit()
    return view(row, now)


def link_reply(session: Session, patient_id: str, case_id: int) -> int:
    """The patient wrote again: their open follow-ups point at the new message's case."""
    open_statuses = [FollowUpStatus.SCHEDULED.value, FollowUpStatus.OVERDUE.value]
    rows = list(
        session.scalars(
            select(FollowUp).where(
                FollowUp.patient_id == patient_id, FollowUp.status.in_(open_statuses)
            )
        )
    )
    for row in rows:
        row.reply_case_id = case_id
    session.flush()
    return len(rows)


def _mark_overdue(session: Session, policy: TriagePolicy, row: FollowUp, now: datetime) -> None:
    row.status, row.overdue_at = FollowUpStatus.OVERDUE.value, now
    session.flush()
    raise_alert(
        session,
        policy,
        AlertKind.FOLLOW_UP,
        f"follow-up {row.id} overdue (due {row.due_at:%Y-%m-%d %H:%M} UTC)",
        now=now,
        case_id=row.case_id,
        payload={
            "event": "follow_up.overdue",
            "follow_up_id": row.id,
            "patient_id": row.patient_id,
            "kind": row.kind,
            "step": row.step,
            "due_at": row.due_at.isoformat(),
        },
    )


@dataclass
class FollowUpSweep:
    """What one scheduler round did: follow-ups found overdue, and those escalated."""

    overdue: list[int]
    escalated: list[int]


def sweep_follow_ups(
    session: Session, policy: TriagePolicy, *, now: datetime | None = None, limit: int = 100
) -> FollowUpSweep:
    """The scheduler's step: alert each follow-up that has become overdue, and escalate those
    still not done ``policy.escalation_minutes`` after their alert, as an unacknowledged crisis
    is.  Each row changes state in the transaction that raises its alert, so running it again
    (or in another process, or after a restart) alerts nothing twice and loses nothing.
    Commits."""
    now = now or utcnow()
    late = list(
        session.scalars(
            select(FollowUp)
            .where(FollowUp.status == FollowUpStatus.SCHEDULED.value, FollowUp.due_at <= now)
            .order_by(FollowUp.due_at, FollowUp.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    overdue_ids = [row.id for row in late]
    for row in late:
        _mark_overdue(session, policy, row, now)
    session.commit()
    cutoff = now - timedelta(minutes=policy.escalation_minutes)
    waiting = list(
        session.scalars(
            select(FollowUp)
            .where(
                FollowUp.status == FollowUpStatus.OVERDUE.value,
                FollowUp.escalated_at.is_(None),
                FollowUp.overdue_at <= cutoff,
            )
            .order_by(FollowUp.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    escalated_ids = [row.id for row in waiting]
    for row in waiting:
        row.escalated_at = now
        session.flush()
        raise_alert(
            session,
            policy,
            AlertKind.ESCALATION,
            f"follow-up {row.id} still not done {policy.escalation_minutes:g} min after it "
            "became overdue",
            now=now,
            case_id=row.case_id,
            payload={
                "event": "follow_up.escalated",
                "follow_up_id": row.id,
                "patient_id": row.patient_id,
                "minutes": policy.escalation_minutes,
            },
        )
    session.commit()
    for row_id in overdue_ids:
        log.warning("follow-up %d overdue: alert raised", row_id)
    return FollowUpSweep(overdue=overdue_ids, escalated=escalated_ids)
