"""The schema of what happens after a crisis (the ``care`` domain): follow-ups, safety plans,
risk formulations and caring contacts.

Clinical free text (a follow-up's note, a safety plan's sections, a formulation's plan, the
text of a caring contact as sent) is encrypted at rest like message text; every other column
holds ids, codes and times, so alerts and metrics built from these rows carry no text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crisis_triage.storage._encrypted import EncryptedJSON, EncryptedText, listen_for_binding
from crisis_triage.storage._models import Base
from crisis_triage.storage._types import utcnow


class FollowUp(Base):
    """A task to contact a patient by ``due_at`` (UTC): scheduled, overdue, done or cancelled.

    ``overdue_at`` is when the scheduler found it late and raised its alert; ``escalated_at``
    when it was still not done ``escalation_minutes`` later.  ``reply_case_id`` is the case of a
    message the patient sent while it was open.
    """

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(128), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(16))
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    overdue_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(EncryptedText("follow_ups.note"))
    cancelled_at: Mapped[datetime | None]
    reply_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))

    __table_args__ = (Index("ix_follow_ups_due", "status", "due_at"),)


class SafetyPlan(Base):
    """One version of a patient's Stanley-Brown safety plan; every version is kept."""

    __tablename__ = "safety_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    sections: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON("safety_plans.sections"))
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_name: Mapped[str] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("patient_id", "version"),)


class RiskFormulation(Base):
    """A specialist's risk formulation on a case: level, the factors weighed, and the plan."""

    __tablename__ = "risk_formulations"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    patient_id: Mapped[str] = mapped_column(String(128), index=True)
    level: Mapped[str] = mapped_column(String(16))
    factors: Mapped[list[str]] = mapped_column(default=list)
    plan: Mapped[str | None] = mapped_column(EncryptedText("risk_formulations.plan"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CaringContactEnrolment(Base):
    """A patient's consent to caring contacts: who recorded the opt-in or opt-out, and when."""

    __tablename__ = "caring_contact_enrolments"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(128), unique=True)
    opted_in: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    opted_in_at: Mapped[datetime | None]
    opted_in_by: Mapped[str | None] = mapped_column(String(100))
    opted_out_at: Mapped[datetime | None]
    opted_out_by: Mapped[str | None] = mapped_column(String(100))
    # "patient_message" (STOP / PARAR / ALTO) or "clinician"
    opt_out_reason: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaringContactTemplate(Base):
    """A short caring message in one language; sent only once an admin has approved it.

    The text is written for every patient alike (no patient's data), so it is stored plain."""

    __tablename__ = "caring_contact_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    language: Mapped[str] = mapped_column(String(8), index=True)
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    retired_at: Mapped[datetime | None]


class CaringContact(Base):
    """One scheduled caring message to a patient: scheduled, sent, cancelled or failed.

    Marked sent in the same transaction that queues its outbound delivery, so it goes out
    exactly once; ``text`` is what was sent (encrypted, like an automatic reply)."""

    __tablename__ = "caring_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[str] = mapped_column(String(128), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    template_id: Mapped[int | None] = mapped_column(ForeignKey("caring_contact_templates.id"))
    text: Mapped[str | None] = mapped_column(EncryptedText("caring_contacts.text"))

    __table_args__ = (Index("ix_caring_contacts_due", "status", "due_at"),)


for _model in (FollowUp, SafetyPlan, RiskFormulation, CaringContact):
    listen_for_binding(_model)
