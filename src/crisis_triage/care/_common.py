"""Small pieces the care modules share: who acts, and checks on the patient and case."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.governance import AuditActor
from crisis_triage.storage import Case, Message
from crisis_triage.triage import NotFoundError


def user_id_of(actor: AuditActor) -> int | None:
    """The user behind ``actor`` (None for an API key, the command line or the system)."""
    return actor.id if actor.kind == "user" else None


def require_patient(session: Session, patient_id: str) -> None:
    """NotFoundError unless a message from ``patient_id`` is stored (a mistyped id would
    otherwise start a plan or a schedule for nobody)."""
    known = session.scalar(select(Message.id).where(Message.patient_id == patient_id).limit(1))
    if known is None:
        raise NotFoundError("no messages are stored for this patient")


def case_patient(session: Session, case_id: int) -> str:
    """The patient whose message opened case ``case_id``; NotFoundError if no such case."""
    patient_id = session.scalar(
        select(Message.patient_id)
        .join(Case, Case.message_id == Message.id)
        .where(Case.id == case_id)
    )
    if patient_id is None:
        raise NotFoundError(f"case {case_id} does not exist")
    return patient_id
