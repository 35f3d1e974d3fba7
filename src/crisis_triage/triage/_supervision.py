"""The numbers a supervisor watches: open crises and their ages, workload per specialist,
alert fatigue, unscored messages and failed webhook deliveries.  Ids, times and counts only.
(Response times and clinician PPV come from ``response_times``.)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis_triage.storage import Alert, Case, CaseEvent, Message, User, WebhookDelivery, utcnow
from crisis_triage.triage._alerts import AlertKind
from crisis_triage.triage._states import UNRESOLVED, CaseStatus, Tier


@dataclass(frozen=True)
class OpenCrisis:
    case_id: int
    status: CaseStatus
    risk: float
    categories: tuple[str, ...]
    patient_id: str
    age_minutes: float
    claimed_by: str | None
    escalated: bool


@dataclass(frozen=True)
class Workload:
    """One user's cases: held now (claimed or acknowledged) and resolved today (UTC)."""

    user_id: int
    username: str
    role: str
    holding: int
    resolved_today: int


@dataclass(frozen=True)
class AlertLoad:
    """Alerts (crisis and escalation) raised on one UTC day per specialist who worked that day."""

    day: date
    alerts: int
    active_users: int

    @property
    def per_user(self) -> float | None:
        return round(self.alerts / self.active_users, 1) if self.active_users else None


@dataclass(frozen=True)
class FailedDelivery:
    id: int
    event: str
    url: str
    attempts: int
    last_error: str | None
    last_attempt_at: datetime | None


@dataclass(frozen=True)
class Oversight:
    open_crises: list[OpenCrisis]
    workload: list[Workload]
    alert_load: list[AlertLoad]
    unscored_open: int
    unscored_today: int
    failed_deliveries: int
    retrying_deliveries: int
    recent_failures: list[FailedDelivery]


def _day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def open_crises(session: Session, *, now: datetime, limit: int = 50) -> list[OpenCrisis]:
    """Unresolved flagged crises, oldest first."""
    rows = session.execute(
        select(Case, Message.categories, Message.patient_id, User.username)
        .join(Message, Message.id == Case.message_id)
        .outerjoin(User, User.id == Case.claimed_by)
        .where(Case.tier == int(Tier.CRISIS), Case.status.in_([s.value for s in UNRESOLVED]))
        .order_by(Case.sent_at, Case.id)
        .limit(limit)
    ).all()
    return [
        OpenCrisis(
            case_id=case.id,
            status=CaseStatus(case.status),
            risk=case.risk,
            categories=tuple(categories),
            patient_id=patient_id,
            age_minutes=max(0.0, (now - case.sent_at).total_seconds() / 60),
            claimed_by=username,
            escalated=case.escalated_at is not None,
        )
        for case, categories, patient_id, username in rows
    ]


def workload(session: Session, *, now: datetime) -> list[Workload]:
    """Every active user with what they hold now and resolved today, busiest first."""
    held = dict(
        session.execute(
            select(Case.claimed_by, func.count())
            .where(
                Case.claimed_by.is_not(None),
                Case.status.in_([CaseStatus.CLAIMED.value, CaseStatus.ACKNOWLEDGED.value]),
            )
            .group_by(Case.claimed_by)
        ).all()
    )
    resolved = dict(
        session.execute(
            select(Case.resolved_by, func.count())
            .where(Case.resolved_by.is_not(None), Case.resolved_at >= _day_start(now))
            .group_by(Case.resolved_by)
        ).all()
    )
    users = session.scalars(select(User).where(User.is_active.is_(True)))
    rows = [
        Workload(u.id, u.username, u.role, int(held.get(u.id, 0)), int(resolved.get(u.id, 0)))
        for u in users
    ]
    return sorted(rows, key=lambda w: (-w.holding, -w.resolved_today, w.username))


def alert_load(session: Session, *, now: datetime, days: int = 7) -> list[AlertLoad]:
    """Per UTC day, oldest first: crisis and escalation alerts, and how many users acted on
    cases that day (the people those alerts landed on)."""
    start = _day_start(now) - timedelta(days=days - 1)
    alerts: dict[date, int] = defaultdict(int)
    for (created_at,) in session.execute(
        select(Alert.created_at).where(
            Alert.created_at >= start,
            Alert.kind.in_([AlertKind.CRISIS.value, AlertKind.ESCALATION.value]),
        )
    ):
        alerts[created_at.date()] += 1
    actors: dict[date, set[int]] = defaultdict(set)
    for at, user_id in session.execute(
        select(CaseEvent.at, CaseEvent.actor_user_id).where(
            CaseEvent.at >= start, CaseEvent.actor_user_id.is_not(None)
        )
    ):
        if user_id is not None:
            actors[at.date()].add(user_id)
    first = start.date()
    return [
        AlertLoad(day, alerts[day], len(actors[day]))
        for day in (first + timedelta(days=i) for i in range(days))
    ]


def oversight(session: Session, *, now: datetime | None = None, days: int = 7) -> Oversight:
    """Everything on the supervisor page except response times."""
    now = now or utcnow()
    unscored_open = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.tier == int(Tier.REVIEW_NOW), Case.status.in_([s.value for s in UNRESOLVED]))
    )
    unscored_today = session.scalar(
        select(func.count())
        .select_from(Case)
        .where(Case.tier == int(Tier.REVIEW_NOW), Case.created_at >= _day_start(now))
    )
    by_status = dict(
        session.execute(
            select(WebhookDelivery.status, func.count())
            .where(
                (WebhookDelivery.status == "failed")
                | ((WebhookDelivery.status == "pending") & (WebhookDelivery.attempts > 0))
            )
            .group_by(WebhookDelivery.status)
        ).all()
    )
    failures = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.status == "failed")
        .order_by(WebhookDelivery.last_attempt_at.desc(), WebhookDelivery.id.desc())
        .limit(10)
    )
    return Oversight(
        open_crises=open_crises(session, now=now),
        workload=workload(session, now=now),
        alert_load=alert_load(session, now=now, days=days),
        unscored_open=int(unscored_open or 0),
        unscored_today=int(unscored_today or 0),
        failed_deliveries=int(by_status.get("failed", 0)),
        retrying_deliveries=int(by_status.get("pending", 0)),
        recent_failures=[
            FailedDelivery(d.id, d.event, d.url, d.attempts, d.last_error, d.last_attempt_at)
            for d in failures
        ],
    )
