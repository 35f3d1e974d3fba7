"""The queue: open cases in the order specialists should take them, and claiming the next one.

Order: flagged crises first (highest risk, then longest waiting), then unscored messages ("review
now", oldest first), then everything else oldest first.  Claiming uses row locks (``SELECT ...
FOR UPDATE SKIP LOCKED`` on PostgreSQL) and a version check on every update, so two specialists
can never hold the same case, on one process or many.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from crisis_triage.storage import Case, Message, lock_for_write, utcnow
from crisis_triage.triage._cases import Actor, apply_action
from crisis_triage.triage._errors import ConflictError, InvalidTransitionError
from crisis_triage.triage._rescoring import FinalScoring, final_scoring
from crisis_triage.triage._states import UNRESOLVED, Action, CaseStatus, Role, Tier


@dataclass(frozen=True)
class QueueItem:
    case_id: int
    message_id: int
    status: CaseStatus
    tier: Tier
    risk: float
    probability: float | None
    flagged: bool | None
    score_status: str
    score_tier: str | None  # "fast": preliminary (see final_scoring)
    final_scoring: FinalScoring  # "pending": the semantic check is still to come
    categories: tuple[str, ...]
    patient_id: str
    channel: str
    sent_at: datetime
    waiting_seconds: float
    claimed_by: int | None
    escalated: bool


QUEUE_ORDER = (Case.tier.asc(), Case.risk.desc(), Case.sent_at.asc(), Case.id.asc())


def queue_sort_key(tier: int, risk: float, sent_at: datetime, case_id: int) -> tuple[object, ...]:
    """The queue order as a Python sort key (mirrors QUEUE_ORDER, used by tests and tools)."""
    return (tier, -risk, sent_at, case_id)


def _unresolved(statuses: Sequence[CaseStatus] | None) -> Select[int]:
    wanted = [s.value for s in (statuses or UNRESOLVED)]
    return select(func.count()).select_from(Case).where(Case.status.in_(wanted))


def list_queue(
    session: Session,
    *,
    limit: int = 50,
    offset: int = 0,
    statuses: Sequence[CaseStatus] | None = None,
    now: datetime | None = None,
) -> tuple[list[QueueItem], int]:
    """One page of the queue, in order, and the number of cases it holds in total."""
    now = now or utcnow()
    wanted = [s.value for s in (statuses or UNRESOLVED)]
    # Pick the page from the cases alone, then join its messages: joining first would read
    # every open case's message row (the wide table) before sorting.
    page = (
        select(Case.id)
        .where(Case.status.in_(wanted))
        .order_by(*QUEUE_ORDER)
        .limit(limit)
        .offset(offset)
        .subquery()
    )
    rows = session.execute(
        select(
            Case.id,
            Case.message_id,
            Case.status,
            Case.tier,
            Case.risk,
            Case.sent_at,
            Case.claimed_by,
            Case.escalated_at,
            Message.probability,
            Message.flagged,
            Message.score_status,
            Message.score_tier,
            Message.semantic_due_at,
            Message.semantic_error,
            Message.categories,
            Message.patient_id,
            Message.channel,
        )
        .join(page, page.c.id == Case.id)
        .join(Message, Message.id == Case.message_id)
        .order_by(*QUEUE_ORDER)
    ).all()
    total = int(session.scalar(_unresolved(statuses)) or 0)
    items = [
        QueueItem(
            case_id=row.id,
            message_id=row.message_id,
            status=CaseStatus(row.status),
            tier=Tier(row.tier),
            risk=row.risk,
            probability=row.probability,
            flagged=row.flagged,
            score_status=row.score_status,
            score_tier=row.score_tier,
            final_scoring=final_scoring(row.score_tier, row.semantic_due_at, row.semantic_error),
            categories=tuple(row.categories),
            patient_id=row.patient_id,
            channel=row.channel,
            sent_at=row.sent_at,
            waiting_seconds=max(0.0, (now - row.sent_at).total_seconds()),
            claimed_by=row.claimed_by,
            escalated=row.escalated_at is not None,
        )
        for row in rows
    ]
    return items, total


def claim_next(
    session: Session, actor: Actor, *, now: datetime | None = None, attempts: int = 5
) -> Case | None:
    """Claim the case at the top of the queue for ``actor``; None when nothing is waiting.

    On PostgreSQL, rows another transaction is claiming are skipped (SKIP LOCKED); on SQLite,
    which serialises writers, a lost race shows up as a version conflict and we try the next.
    Commits.
    """
    claimable = [CaseStatus.OPEN.value]
    if actor.role.at_least(Role.SUPERVISOR):
        claimable.append(CaseStatus.ESCALATED.value)
    for _ in range(attempts):
        lock_for_write(session)
        case_id = session.scalar(
            select(Case.id)
            .where(Case.status.in_(claimable))
            .order_by(*QUEUE_ORDER)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if case_id is None:
            session.rollback()
            return None
        try:
            case = apply_action(session, case_id, Action.CLAIM, actor, now=now)
        except (ConflictError, InvalidTransitionError):
            session.rollback()
            continue
        session.commit()
        return case
    raise ConflictError("the queue is busy: try again")
