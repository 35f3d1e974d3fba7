"""Escalated cases waiting for a supervisor, each with why and by whom it was escalated.

The reason is the note of the case's latest ``escalate`` event (encrypted at rest like every
note): whoever shows it to a person records ``note.read`` in the audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis_triage.storage import Case, CaseEvent, Message, User, utcnow
from crisis_triage.triage._states import Action, CaseStatus, Tier


@dataclass(frozen=True)
class Escalation:
    """One escalated case: ``escalated_by`` is None when the system escalated it (too long
    unacknowledged); ``reason`` is None for cases escalated before reasons were asked for."""

    case_id: int
    message_id: int
    patient_id: str
    tier: Tier
    escalated_at: datetime
    escalated_by: str | None
    reason: str | None
    waiting_minutes: float


def waiting_escalations(
    session: Session,
    *,
    case_ids: list[int] | None = None,
    now: datetime | None = None,
    limit: int = 50,
) -> list[Escalation]:
    """Cases that are escalated now, most urgent tier first, then longest waiting; only
    ``case_ids`` when given."""
    now = now or utcnow()
    latest = (
        select(CaseEvent.case_id, func.max(CaseEvent.id).label("event_id"))
        .where(CaseEvent.action == Action.ESCALATE.value)
        .group_by(CaseEvent.case_id)
        .subquery()
    )
    stmt = (
        select(Case, Message.patient_id, CaseEvent, User.username)
        .join(Message, Message.id == Case.message_id)
        .outerjoin(latest, latest.c.case_id == Case.id)
        .outerjoin(CaseEvent, CaseEvent.id == latest.c.event_id)
        .outerjoin(User, User.id == CaseEvent.actor_user_id)
        .where(Case.status == CaseStatus.ESCALATED.value)
        .order_by(Case.tier, Case.escalated_at, Case.id)
        .limit(limit)
    )
    if case_ids is not None:
        stmt = stmt.where(Case.id.in_(case_ids))
    out = []
    for case, patient_id, event, username in session.execute(stmt):
        escalated_at = case.escalated_at or case.created_at
        out.append(
            Escalation(
                case_id=case.id,
                message_id=case.message_id,
                patient_id=patient_id,
                tier=Tier(case.tier),
                escalated_at=escalated_at,
                escalated_by=username if event is not None else None,
                reason=event.note if event is not None else None,
                waiting_minutes=max(0.0, (now - escalated_at).total_seconds() / 60),
            )
        )
    return out
