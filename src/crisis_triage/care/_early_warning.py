"""Early warning: patients whose risk is rising over recent days while none of their cases is
open, so that nobody is looking.  The rule is plain and stated where it is shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.storage import Case, Message, utcnow

WARNING_DAYS = 7
RISING_DAYS = 3
RULE = (
    f"a patient's daily highest risk rose on each of their last {RISING_DAYS} days with a "
    f"message within the last {WARNING_DAYS} days, and none of their cases is open"
)


@dataclass(frozen=True)
class RisingRisk:
    patient_id: str
    days: list[tuple[date, float]]  # the last RISING_DAYS days with a message, oldest first


def rising_risk(
    session: Session, *, now: datetime | None = None, limit: int = 50
) -> list[RisingRisk]:
    """Patients matching ``RULE``, the highest latest risk first."""
    now = now or utcnow()
    rows = session.execute(
        select(
            Message.patient_id,
            Message.sent_at,
            Message.probability,
            Message.window_probability,
            Case.status,
        )
        .join(Case, Case.message_id == Message.id)
        .where(Message.sent_at >= now - timedelta(days=WARNING_DAYS))
    ).all()
    open_patients: set[str] = set()
    peaks: dict[str, dict[date, float]] = {}
    for patient_id, sent_at, probability, window, status in rows:
        if status != "resolved":
            open_patients.add(patient_id)
        scores = [v for v in (probability, window) if v is not None]
        if scores:
            day = peaks.setdefault(patient_id, {})
            day[sent_at.date()] = max(max(scores), day.get(sent_at.date(), 0.0))
    found = []
    for patient_id, by_day in peaks.items():
        last = sorted(by_day.items())[-RISING_DAYS:]
        rising = len(last) == RISING_DAYS and all(
            later[1] > earlier[1] for earlier, later in pairwise(last)
        )
        if rising and patient_id not in open_patients:
            found.append(RisingRisk(patient_id, last))
    found.sort(key=lambda r: r.days[-1][1], reverse=True)
    return found[:limit]
