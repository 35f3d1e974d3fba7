"""A patient's records of the care domain (follow-ups, safety plans, risk formulations, caring
contacts) in their export and their erasure.  Here, beside the messages' part of both, so that
one request covers everything stored about the patient; the tables are storage's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from crisis_triage.storage import (
    CaringContact,
    CaringContactEnrolment,
    FollowUp,
    RiskFormulation,
    SafetyPlan,
)

_OPEN_FOLLOW_UPS = ("scheduled", "overdue")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def export_care_records(session: Session, patient_id: str) -> dict[str, Any]:
    """Everything of the care domain about ``patient_id``, decrypted (notes and plans too)."""
    follow_ups = session.scalars(
        select(FollowUp).where(FollowUp.patient_id == patient_id).order_by(FollowUp.id)
    )
    plans = session.scalars(
        select(SafetyPlan).where(SafetyPlan.patient_id == patient_id).order_by(SafetyPlan.version)
    )
    risks = session.scalars(
        select(RiskFormulation)
        .where(RiskFormulation.patient_id == patient_id)
        .order_by(RiskFormulation.id)
    )
    contacts = session.scalars(
        select(CaringContact)
        .where(CaringContact.patient_id == patient_id)
        .order_by(CaringContact.id)
    )
    enrolment = session.scalar(
        select(CaringContactEnrolment).where(CaringContactEnrolment.patient_id == patient_id)
    )
    return {
        "follow_ups": [
            {
                "id": f.id,
                "case_id": f.case_id,
                "kind": f.kind,
                "due_at": _iso(f.due_at),
                "status": f.status,
                "outcome": f.outcome,
                "note": f.note,
                "completed_at": _iso(f.completed_at),
            }
            for f in follow_ups
        ],
        "safety_plans": [
            {
                "version": p.version,
                "sections": p.sections,
                "language": p.language,
                "created_at": _iso(p.created_at),
            }
            for p in plans
        ],
        "risk_formulations": [
            {
                "case_id": r.case_id,
                "level": r.level,
                "factors": list(r.factors),
                "plan": r.plan,
                "created_at": _iso(r.created_at),
            }
            for r in risks
        ],
        "caring_contacts": {
            "opted_in": bool(enrolment and enrolment.opted_in),
            "opted_in_at": _iso(enrolment.opted_in_at) if enrolment else None,
            "opted_out_at": _iso(enrolment.opted_out_at) if enrolment else None,
            "contacts": [
                {
                    "due_at": _iso(c.due_at),
                    "status": c.status,
                    "sent_at": _iso(c.sent_at),
                    "text": c.text,
                }
                for c in contacts
            ],
        },
    }


def erase_care_records(session: Session, patient_id: str, pseudonym: str, now: datetime) -> int:
    """Remove the patient's plans, notes and texts and their identity from the care tables
    (open follow-ups and scheduled contacts are cancelled); returns the rows touched."""
    touched = 0
    touched += _count(
        session.execute(
            update(FollowUp)
            .where(FollowUp.patient_id == patient_id, FollowUp.status.in_(_OPEN_FOLLOW_UPS))
            .values(status="cancelled", cancelled_at=now)
        )
    )
    session.execute(
        update(FollowUp)
        .where(FollowUp.patient_id == patient_id)
        .values(patient_id=pseudonym, note=None)
    )
    session.execute(
        update(CaringContact)
        .where(CaringContact.patient_id == patient_id, CaringContact.status == "scheduled")
        .values(status="cancelled", cancelled_at=now)
    )
    touched += _count(
        session.execute(
            update(CaringContact)
            .where(CaringContact.patient_id == patient_id)
            .values(patient_id=pseudonym, text=None)
        )
    )
    touched += _count(
        session.execute(
            update(RiskFormulation)
            .where(RiskFormulation.patient_id == patient_id)
            .values(patient_id=pseudonym, plan=None)
        )
    )
    touched += _count(
        session.execute(delete(SafetyPlan).where(SafetyPlan.patient_id == patient_id))
    )
    touched += _count(
        session.execute(
            delete(CaringContactEnrolment).where(CaringContactEnrolment.patient_id == patient_id)
        )
    )
    return touched


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
