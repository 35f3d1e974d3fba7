"""A patient's timeline: messages with their scores, cases with dispositions and risk
formulations, safety-plan versions, follow-ups and caring contacts, in time order; and the
patient's daily highest risk.  Ids, codes, scores and times only: no message text, note or plan
(those are read, and audited, on the case and in the plan)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.storage import (
    CaringContact,
    Case,
    FollowUp,
    Message,
    RiskFormulation,
    SafetyPlan,
    utcnow,
)

RISK_DAYS = 90


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # message | resolution | risk | safety_plan | follow_up | caring_contact
    title: str
    detail: str = ""
    case_id: int | None = None


@dataclass(frozen=True)
class PatientTimeline:
    patient_id: str
    entries: list[TimelineEntry]
    # (UTC day, the highest risk of the patient's messages sent that day, None: no message)
    daily_risk: list[tuple[date, float | None]]


def patient_timeline(
    session: Session, patient_id: str, *, now: datetime | None = None, days: int = RISK_DAYS
) -> PatientTimeline:
    """Everything about the patient in time order, newest first."""
    now = now or utcnow()
    entries: list[TimelineEntry] = []
    rows = session.execute(
        select(
            Message.id,
            Message.sent_at,
            Message.probability,
            Message.window_probability,
            Message.flagged,
            Message.categories,
            Message.channel,
            Case,
        )
        .join(Case, Case.message_id == Message.id)
        .where(Message.patient_id == patient_id)
        .order_by(Message.sent_at)
    ).all()
    peaks: dict[date, float] = {}
    since = (now - timedelta(days=days - 1)).date()
    for row in rows:
        message_id, sent_at, probability, window, flagged, categories, channel, case = row
        scores = [v for v in (probability, window) if v is not None]
        risk = max(scores) if scores else None
        if risk is not None and sent_at.date() >= since:
            peaks[sent_at.date()] = max(risk, peaks.get(sent_at.date(), 0.0))
        score = "unscored" if risk is None else f"risk {risk:.2f}"
        flag = " — flagged" if flagged else ""
        cats = f" ({'/'.join(categories)})" if categories else ""
        entries.append(
            TimelineEntry(
                sent_at,
                "message",
                f"Message {message_id} by {channel}",
                score + flag + cats,
                case.id,
            )
        )
        if case.resolved_at is not None and case.disposition:
            label = case.disposition.replace("_", " ")
            entries.append(
                TimelineEntry(
                    case.resolved_at, "resolution", f"Case {case.id} resolved", label, case.id
                )
            )
    for risk_row in session.scalars(
        select(RiskFormulation).where(RiskFormulation.patient_id == patient_id)
    ):
        factors = ", ".join(f.replace("_", " ") for f in risk_row.factors) or "no factors ticked"
        entries.append(
            TimelineEntry(
                risk_row.created_at,
                "risk",
                f"Risk formulated: {risk_row.level}",
                factors,
                risk_row.case_id,
            )
        )
    for version, created_at, name in session.execute(
        select(SafetyPlan.version, SafetyPlan.created_at, SafetyPlan.created_by_name).where(
            SafetyPlan.patient_id == patient_id
        )
    ):
        entries.append(
            TimelineEntry(created_at, "safety_plan", f"Safety plan version {version}", f"by {name}")
        )
    for follow_up in session.scalars(select(FollowUp).where(FollowUp.patient_id == patient_id)):
        at = follow_up.completed_at or follow_up.cancelled_at or follow_up.due_at
        state = follow_up.outcome.replace("_", " ") if follow_up.outcome else follow_up.status
        if follow_up.status == "scheduled" and follow_up.due_at <= now:
            state = "overdue"
        step = f" ({follow_up.step})" if follow_up.step else ""
        entries.append(
            TimelineEntry(at, "follow_up", f"Follow-up{step}: {state}", "", follow_up.case_id)
        )
    for contact in session.scalars(
        select(CaringContact).where(
            CaringContact.patient_id == patient_id, CaringContact.status == "sent"
        )
    ):
        entries.append(
            TimelineEntry(
                contact.sent_at or contact.due_at,
                "caring_contact",
                f"Caring contact {contact.sequence} sent",
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    daily = [(since + timedelta(days=i), peaks.get(since + timedelta(days=i))) for i in range(days)]
    return PatientTimeline(patient_id=patient_id, entries=entries, daily_risk=daily)
