"""The queue as a monitoring system sees it at one moment: counts and ages, no text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis_triage.storage import Case, Message, utcnow
from crisis_triage.triage._scoring import SCORED, UNSCORED
from crisis_triage.triage._states import CaseStatus, Tier


@dataclass(frozen=True)
class QueueSnapshot:
    open_by_tier: dict[Tier, int]  # unresolved cases per priority (every tier present)
    oldest_waiting_crisis_seconds: float  # a crisis not yet acknowledged or resolved; 0: none
    unscored_waiting: int  # unresolved cases whose message has no score
    scored_last_day: int  # messages scored among those received in the last 24 hours
    flagged_last_day: int

    @property
    def flag_rate_last_day(self) -> float:
        return self.flagged_last_day / self.scored_last_day if self.scored_last_day else 0.0


def queue_snapshot(session: Session, *, now: datetime | None = None) -> QueueSnapshot:
    now = now or utcnow()
    unresolved = Case.status != CaseStatus.RESOLVED.value
    by_tier = dict.fromkeys(Tier, 0)
    for tier, count in session.execute(
        select(Case.tier, func.count()).where(unresolved).group_by(Case.tier)
    ):
        by_tier[Tier(tier)] = int(count)
    oldest = session.scalar(
        select(func.min(Case.sent_at)).where(
            unresolved, Case.tier == int(Tier.CRISIS), Case.triaged_at.is_(None)
        )
    )
    unscored = session.scalar(
        select(func.count())
        .select_from(Case)
        .join(Message, Message.id == Case.message_id)
        .where(unresolved, Message.score_status == UNSCORED)
    )
    day = session.execute(
        select(func.count(), func.count().filter(Message.flagged.is_(True))).where(
            Message.received_at >= now - timedelta(days=1), Message.score_status == SCORED
        )
    ).one()
    return QueueSnapshot(
        open_by_tier=by_tier,
        oldest_waiting_crisis_seconds=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        unscored_waiting=int(unscored or 0),
        scored_last_day=int(day[0]),
        flagged_last_day=int(day[1]),
    )
