"""Acting on one case: claim, release, acknowledge, escalate, resolve, add a note; every step
timestamped.  Notes (and escalation reasons) live in ``case_events.note``, encrypted at rest."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from crisis_triage.governance import AuditActor, record_audit, sensitive
from crisis_triage.storage import Case, CaseEvent, Message, User, utcnow
from crisis_triage.triage._alerts import AlertKind, TriagePolicy, raise_alert
from crisis_triage.triage._errors import (
    ConflictError,
    InvalidTransitionError,
    NoteRequiredError,
    NotFoundError,
)
from crisis_triage.triage._paging import queue_resolve_pages
from crisis_triage.triage._states import (
    Action,
    CaseStatus,
    Disposition,
    Role,
    Tier,
    check_disposition,
    check_permission,
    next_status,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who acts: a logged-in user (``user_id``) with a role; ``None`` id is the system."""

    user_id: int | None
    role: Role

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, role=Role.ADMIN)


def get_case(session: Session, case_id: int) -> tuple[Case, Message]:
    row = session.execute(
        select(Case, Message).join(Message, Message.id == Case.message_id).where(Case.id == case_id)
    ).first()
    if row is None:
        raise NotFoundError(f"case {case_id} does not exist")
    return row[0], row[1]


def case_events(session: Session, case_id: int) -> list[CaseEvent]:
    """The case's history, oldest first, starting with its creation (the case row's own
    ``created_at``: no separate row is written for it, to keep ingest to two inserts)."""
    created_at = session.scalar(select(Case.created_at).where(Case.id == case_id))
    if created_at is None:
        raise NotFoundError(f"case {case_id} does not exist")
    created = CaseEvent(
        case_id=case_id, action=Action.CREATE.value, to_status=CaseStatus.OPEN.value, at=created_at
    )
    stored = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    )
    return [created, *stored]


def apply_action(
    session: Session,
    case_id: int,
    action: Action,
    actor: Actor,
    *,
    note: str | None = None,
    disposition: Disposition | None = None,
    crisis_types: tuple[str, ...] = (),
    now: datetime | None = None,
) -> Case:
    """Move the case through ``action`` for ``actor``; flushes, the caller commits.

    Audited as ``case.<action>`` in the same transaction.  A note action needs a ``note``, and so
    does a person's escalation (its reason, shown to the supervisor).  Raises NotFoundError,
    PermissionDeniedError, InvalidTransitionError, InvalidDispositionError, NoteRequiredError,
    or ConflictError when another transaction changed the case first.
    """
    now = now or utcnow()
    note = note.strip() if note else None
    with sensitive(note):
        row = session.execute(
            select(Case, Message.patient_id)
            .join(Message, Message.id == Case.message_id)
            .where(Case.id == case_id)
            .with_for_update(of=Case)
        ).first()
        if row is None:
            raise NotFoundError(f"case {case_id} does not exist")
        case, patient_id = row
        status = CaseStatus(case.status)
        target = next_status(status, action, escalated_before=case.escalated_at is not None)
        if actor.user_id is not None:
            check_permission(
                action, status, role=actor.role, user_id=actor.user_id, claimed_by=case.claimed_by
            )
        _check_note(action, actor, note)
        crisis_type = None
        if action is Action.RESOLVE:
            if disposition is None:
                raise ValueError("resolve needs a disposition")
            flagged = session.scalar(select(Message.flagged).where(Message.id == case.message_id))
            crisis_type = check_disposition(disposition, crisis_types, flagged=flagged)
        if action is not Action.NOTE:
            _apply(case, action, target, actor, now, disposition, crisis_type, note)
        session.add(
            CaseEvent(
                case_id=case.id,
                action=action.value,
                from_status=status.value,
                to_status=target.value,
                actor_user_id=actor.user_id,
                at=now,
                disposition=disposition.value if disposition else None,
                crisis_type=crisis_type,
                note=note,
            )
        )
        try:
            session.flush()
        except StaleDataError:
            session.rollback()
            raise ConflictError(f"case {case_id} was changed by someone else: reload it") from None
        if action is Action.RESOLVE:
            queue_resolve_pages(session, case.id, now=now)
        details: dict[str, str | int | None] = {"from": status.value, "to": target.value}
        if disposition is not None:
            details["disposition"] = disposition.value
        if crisis_type is not None:
            details["crisis_type"] = crisis_type
        if note:
            details["note_length"] = len(note)
        record_audit(
            session,
            f"case.{action.value}",
            actor=_audit_actor(session, actor),
            patient_id=patient_id,
            case_id=case.id,
            message_id=case.message_id,
            details=details,
        )
    log.info(
        "case %d %s -> %s by user %s",
        case.id,
        status.value,
        target.value,
        actor.user_id or "system",
    )
    return case


def _check_note(action: Action, actor: Actor, note: str | None) -> None:
    if note:
        return
    if action is Action.NOTE:
        raise NoteRequiredError("write the note first")
    if action is Action.ESCALATE and actor.user_id is not None:
        raise NoteRequiredError("say why the case needs a supervisor")


def _audit_actor(session: Session, actor: Actor) -> AuditActor:
    """The audit log's name for ``actor`` (the user is normally already in the session)."""
    if actor.user_id is None:
        return AuditActor.system()
    user = session.get(User, actor.user_id)
    name = user.username if user is not None else ""
    return AuditActor(kind="user", id=actor.user_id, name=name)


def _apply(
    case: Case,
    action: Action,
    target: CaseStatus,
    actor: Actor,
    now: datetime,
    disposition: Disposition | None,
    crisis_type: str | None,
    note: str | None,
) -> None:
    case.status = target.value
    if action is Action.CLAIM:
        case.claimed_by, case.claimed_at = actor.user_id, now
    elif action is Action.RELEASE:
        case.claimed_by, case.claimed_at = None, None
    elif action is Action.ACKNOWLEDGE:
        case.acknowledged_at = now
        case.triaged_at = case.triaged_at or now
    elif action is Action.ESCALATE:
        case.escalated_at = now
        case.claimed_by, case.claimed_at = None, None
    elif action is Action.RESOLVE:
        case.resolved_at, case.resolved_by = now, actor.user_id
        case.triaged_at = case.triaged_at or now
        case.disposition = disposition.value if disposition else None
        case.crisis_type = crisis_type
        case.note = note


def escalate_overdue(
    session: Session, policy: TriagePolicy, *, now: datetime | None = None, limit: int = 100
) -> list[int]:
    """Escalate flagged crises still unacknowledged after ``policy.escalation_minutes``.

    Safe to run from several processes at once (rows being escalated elsewhere are skipped).
    Commits; returns the escalated case ids.
    """
    now = now or utcnow()
    cutoff = now - timedelta(minutes=policy.escalation_minutes)
    overdue = list(
        session.scalars(
            select(Case.id)
            .where(
                Case.tier == int(Tier.CRISIS),
                Case.status.in_([CaseStatus.OPEN.value, CaseStatus.CLAIMED.value]),
                Case.escalated_at.is_(None),
                Case.created_at <= cutoff,
            )
            .order_by(Case.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    session.commit()
    escalated = []
    for case_id in overdue:
        try:
            case = apply_action(
                session,
                case_id,
                Action.ESCALATE,
                Actor.system(),
                note=f"crisis unacknowledged after {policy.escalation_minutes:g} min",
                now=now,
            )
        except (ConflictError, InvalidTransitionError):  # someone acted on it meanwhile
            session.rollback()
            continue
        raise_alert(
            session,
            policy,
            AlertKind.ESCALATION,
            f"crisis case {case_id} unacknowledged after {policy.escalation_minutes:g} min",
            now=now,
            case_id=case_id,
            message_id=case.message_id,
            payload={"minutes": policy.escalation_minutes, "risk": case.risk},
        )
        session.commit()
        escalated.append(case_id)
    return escalated
