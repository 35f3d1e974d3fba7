"""How well the team follows up after a crisis: follow-ups done by their due time, hours from
a crisis's resolution to the first completed follow-up, how many are overdue now, and caring
contacts' delivery and opt-out rates.  Counts, rates and times only."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from crisis_triage.care._caring_contacts import CARING_CONTACT_EVENT, ContactStatus
from crisis_triage.care._follow_ups import AFTER_RESOLUTION, FollowUpStatus
from crisis_triage.storage import (
    CaringContact,
    CaringContactEnrolment,
    Case,
    FollowUp,
    WebhookDelivery,
    utcnow,
)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _p90(values: list[float]) -> float | None:
    if len(values) < 2:
        return round(values[0], 2) if values else None
    return round(statistics.quantiles(values, n=10, method="inclusive")[-1], 2)


@dataclass(frozen=True)
class CareMeasures:
    since: datetime
    until: datetime
    # Follow-ups due in the window (not cancelled), and those done by their due time.
    follow_ups_due: int
    follow_ups_done_in_time: int
    follow_ups_done_late: int
    completion_within_target: float | None
    overdue_now: int
    # Cases resolved in the window with post-crisis follow-ups, and the hours from resolution
    # to their first completed follow-up (median and 90th percentile of those completed).
    resolutions_followed: int
    resolutions_with_completed_follow_up: int
    median_hours_to_first_follow_up: float | None
    p90_hours_to_first_follow_up: float | None
    # Caring contacts: queued in the window; their deliveries delivered / failed for good.
    caring_contacts_sent: int
    caring_deliveries_delivered: int
    caring_deliveries_failed: int
    caring_delivery_rate: float | None
    caring_opted_in: int
    caring_opted_out: int
    caring_opt_out_rate: float | None


def care_measures(session: Session, *, days: int = 30, now: datetime | None = None) -> CareMeasures:
    now = now or utcnow()
    since = now - timedelta(days=days)
    due = list(
        session.execute(
            select(FollowUp.status, FollowUp.due_at, FollowUp.completed_at).where(
                FollowUp.due_at >= since,
                FollowUp.due_at <= now,
                FollowUp.status != FollowUpStatus.CANCELLED.value,
            )
        )
    )
    done = [(d, c) for status, d, c in due if status == FollowUpStatus.DONE.value and c]
    in_time = sum(1 for d, c in done if c <= d)
    overdue_now = session.scalar(
        select(func.count(FollowUp.id)).where(
            or_(
                FollowUp.status == FollowUpStatus.OVERDUE.value,
                (FollowUp.status == FollowUpStatus.SCHEDULED.value) & (FollowUp.due_at <= now),
            )
        )
    )
    firsts = list(
        session.execute(
            select(
                Case.id,
                Case.resolved_at,
                func.min(FollowUp.completed_at),
            )
            .join(FollowUp, FollowUp.case_id == Case.id)
            .where(
                Case.resolved_at >= since,
                Case.resolved_at <= now,
                FollowUp.kind == AFTER_RESOLUTION,
            )
            .group_by(Case.id, Case.resolved_at)
        )
    )
    hours = sorted(
        (first - resolved).total_seconds() / 3600
        for _case, resolved, first in firsts
        if first is not None and resolved is not None
    )
    sent = session.scalar(
        select(func.count(CaringContact.id)).where(
            CaringContact.status == ContactStatus.SENT, CaringContact.sent_at >= since
        )
    )
    deliveries = dict(
        session.execute(
            select(WebhookDelivery.status, func.count(WebhookDelivery.id))
            .where(
                WebhookDelivery.event == CARING_CONTACT_EVENT,
                WebhookDelivery.created_at >= since,
            )
            .group_by(WebhookDelivery.status)
        ).all()
    )
    delivered, failed = int(deliveries.get("delivered", 0)), int(deliveries.get("failed", 0))
    opted_in = session.scalar(
        select(func.count(CaringContactEnrolment.id)).where(
            CaringContactEnrolment.opted_in_at >= since
        )
    )
    opted_out = session.scalar(
        select(func.count(CaringContactEnrolment.id)).where(
            CaringContactEnrolment.opted_out_at >= since
        )
    )
    return CareMeasures(
        since=since,
        until=now,
        follow_ups_due=len(due),
        follow_ups_done_in_time=in_time,
        follow_ups_done_late=len(done) - in_time,
        completion_within_target=_rate(in_time, len(due)),
        overdue_now=int(overdue_now or 0),
        resolutions_followed=len(firsts),
        resolutions_with_completed_follow_up=len(hours),
        median_hours_to_first_follow_up=round(statistics.median(hours), 2) if hours else None,
        p90_hours_to_first_follow_up=_p90(hours),
        caring_contacts_sent=int(sent or 0),
        caring_deliveries_delivered=delivered,
        caring_deliveries_failed=failed,
        caring_delivery_rate=_rate(delivered, delivered + failed),
        caring_opted_in=int(opted_in or 0),
        caring_opted_out=int(opted_out or 0),
        caring_opt_out_rate=_rate(int(opted_out or 0), int(opted_in or 0)),
    )
