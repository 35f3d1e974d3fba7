"""Caring contacts: short, non-demanding messages to a patient over the year after a crisis,
sent only with the patient's consent, only from templates an admin approved, never in the
patient's quiet hours, and exactly once each (marked sent in the transaction that queues the
outbound delivery).  "STOP" (or "PARAR" / "ALTO") from the patient, or a clinician, opts out at
once and cancels what is scheduled."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis_triage.care._common import require_patient
from crisis_triage.care._errors import CareInputError
from crisis_triage.care._schedule import caring_contact_times
from crisis_triage.governance import AuditActor, record_audit
from crisis_triage.storage import (
    CaringContact,
    CaringContactEnrolment,
    CaringContactTemplate,
    Message,
    WebhookDelivery,
    utcnow,
)
from crisis_triage.triage import TriagePolicy, check_timezone

CARING_LANGUAGES = ("en", "es")
OPT_OUT_WORDS = frozenset({"stop", "parar", "alto"})
CARING_CONTACT_EVENT = "patient.caring_contact"
_PUNCTUATION = re.compile(r"[\s.!¡?¿,;:'\"]+")


class ContactStatus:
    SCHEDULED = "scheduled"
    SENT = "sent"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class CaringContactsStatus:
    patient_id: str
    opted_in: bool
    language: str | None
    timezone: str | None
    scheduled: int
    sent: int
    next_due_at: datetime | None
    opted_in_at: datetime | None
    opted_in_by: str | None
    opted_out_at: datetime | None
    opted_out_by: str | None
    opt_out_reason: str | None


def is_opt_out(text: str) -> bool:
    """Whether a message is an opt-out word on its own ("STOP", "stop.", "¡Parar!")."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _PUNCTUATION.sub("", folded) in OPT_OUT_WORDS


def caring_contacts_status(session: Session, patient_id: str) -> CaringContactsStatus:
    enrolment = _enrolment(session, patient_id)
    counts = dict(
        session.execute(
            select(CaringContact.status, func.count())
            .where(CaringContact.patient_id == patient_id)
            .group_by(CaringContact.status)
        ).all()
    )
    next_due = session.scalar(
        select(func.min(CaringContact.due_at)).where(
            CaringContact.patient_id == patient_id,
            CaringContact.status == ContactStatus.SCHEDULED,
        )
    )
    return CaringContactsStatus(
        patient_id=patient_id,
        opted_in=bool(enrolment and enrolment.opted_in),
        language=enrolment.language if enrolment else None,
        timezone=enrolment.timezone if enrolment else None,
        scheduled=int(counts.get(ContactStatus.SCHEDULED, 0)),
        sent=int(counts.get(ContactStatus.SENT, 0)),
        next_due_at=next_due,
        opted_in_at=enrolment.opted_in_at if enrolment else None,
        opted_in_by=enrolment.opted_in_by if enrolment else None,
        opted_out_at=enrolment.opted_out_at if enrolment else None,
        opted_out_by=enrolment.opted_out_by if enrolment else None,
        opt_out_reason=enrolment.opt_out_reason if enrolment else None,
    )


def set_caring_contacts(
    session: Session,
    policy: TriagePolicy,
    patient_id: str,
    *,
    opt_in: bool,
    actor: AuditActor,
    language: str = "en",
    timezone: str | None = None,
    now: datetime | None = None,
) -> CaringContactsStatus:
    """Record the patient's opt-in (scheduling the year's contacts from now) or a clinician's
    opt-out (cancelling what is scheduled); commits.  Who and when are kept."""
    now = now or utcnow()
    if language not in CARING_LANGUAGES:
        raise CareInputError(f"language is one of {', '.join(CARING_LANGUAGES)}")
    zone = check_timezone(timezone or policy.site_timezone, label="timezone")
    require_patient(session, patient_id)
    enrolment = _enrolment(session, patient_id)
    cancelled = _cancel_scheduled(session, patient_id, now)
    channel = _latest_channel(session, patient_id)
    if enrolment is None:
        enrolment = CaringContactEnrolment(patient_id=patient_id, opted_in=False)
        session.add(enrolment)
    enrolment.language, enrolment.timezone, enrolment.updated_at = language, zone, now
    enrolment.channel = channel
    scheduled = 0
    if opt_in:
        enrolment.opted_in, enrolment.opted_in_at, enrolment.opted_in_by = True, now, actor.name
        enrolment.opted_out_at = enrolment.opted_out_by = enrolment.opt_out_reason = None
        times = caring_contact_times(now, zone)
        session.add_all(
            CaringContact(
                patient_id=patient_id,
                sequence=number,
                due_at=due,
                status=ContactStatus.SCHEDULED,
                created_at=now,
            )
            for number, due in enumerate(times, start=1)
        )
        scheduled = len(times)
    else:
        _opt_out(enrolment, now, by=actor.name, reason="clinician")
    session.flush()
    record_audit(
        session,
        "caring_contacts.opt_in" if opt_in else "caring_contacts.opt_out",
        actor=actor,
        patient_id=patient_id,
        details={"scheduled": scheduled, "cancelled": cancelled, "language": language},
        at=now,
    )
    session.commit()
    return caring_contacts_status(session, patient_id)


def opt_out_by_message(
    session: Session, patient_id: str, *, message_id: int, now: datetime | None = None
) -> int:
    """The patient wrote an opt-out word: opt out and cancel what is scheduled; flushes.
    Returns how many contacts were cancelled (0 as well when the patient was not opted in)."""
    now = now or utcnow()
    enrolment = _enrolment(session, patient_id)
    if enrolment is None or not enrolment.opted_in:
        return 0
    cancelled = _cancel_scheduled(session, patient_id, now)
    _opt_out(enrolment, now, by="patient", reason="patient_message")
    session.flush()
    record_audit(
        session,
        "caring_contacts.opt_out",
        actor=AuditActor.system(),
        patient_id=patient_id,
        message_id=message_id,
        details={"cancelled": cancelled, "reason": "patient_message"},
        at=now,
    )
    return cancelled


def send_due_caring_contacts(
    session: Session, policy: TriagePolicy, *, now: datetime | None = None, limit: int = 100
) -> int:
    """Queue the due contacts of opted-in patients for delivery on the outbound webhooks.

    A contact whose language has no approved template, or with no webhook configured, waits
    (scheduled) until there is one.  Marked sent in the transaction that adds its deliveries:
    sent exactly once, however often this runs.  Commits; returns how many were queued.
    """
    now = now or utcnow()
    if not policy.webhook_urls:
        return 0
    due = list(
        session.execute(
            select(CaringContact, CaringContactEnrolment)
            .join(
                CaringContactEnrolment,
                CaringContactEnrolment.patient_id == CaringContact.patient_id,
            )
            .where(
                CaringContact.status == ContactStatus.SCHEDULED,
                CaringContact.due_at <= now,
                CaringContactEnrolment.opted_in.is_(True),
            )
            .order_by(CaringContact.due_at, CaringContact.id)
            .limit(limit)
            .with_for_update(of=CaringContact, skip_locked=True)
        )
    )
    queued = 0
    for contact, enrolment in due:
        template = approved_template(session, enrolment.language, contact.sequence)
        if template is None:
            continue
        contact.status, contact.sent_at = ContactStatus.SENT, now
        contact.template_id, contact.text = template.id, template.text
        session.flush()
        for url in policy.webhook_urls:
            session.add(
                WebhookDelivery(
                    event=CARING_CONTACT_EVENT,
                    url=url,
                    payload={
                        "caring_contact_id": contact.id,
                        "patient_id": contact.patient_id,
                        "channel": enrolment.channel,
                        "language": enrolment.language,
                        "text": template.text,
                    },
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        record_audit(
            session,
            "caring_contacts.send",
            actor=AuditActor.system(),
            patient_id=contact.patient_id,
            details={"caring_contact_id": contact.id, "template_id": template.id},
            at=now,
        )
        queued += 1
    session.commit()
    return queued


def approved_template(
    session: Session, language: str, sequence: int
) -> CaringContactTemplate | None:
    """The approved templates of ``language`` take turns, so that messages vary."""
    templates = list(
        session.scalars(
            select(CaringContactTemplate)
            .where(
                CaringContactTemplate.language == language,
                CaringContactTemplate.approved_at.is_not(None),
                CaringContactTemplate.retired_at.is_(None),
            )
            .order_by(CaringContactTemplate.id)
        )
    )
    return templates[(sequence - 1) % len(templates)] if templates else None


def _enrolment(session: Session, patient_id: str) -> CaringContactEnrolment | None:
    return session.scalar(
        select(CaringContactEnrolment).where(CaringContactEnrolment.patient_id == patient_id)
    )


def _latest_channel(session: Session, patient_id: str) -> str:
    channel = session.scalar(
        select(Message.channel)
        .where(Message.patient_id == patient_id)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
    )
    return channel or "unknown"


def _cancel_scheduled(session: Session, patient_id: str, now: datetime) -> int:
    rows = list(
        session.scalars(
            select(CaringContact).where(
                CaringContact.patient_id == patient_id,
                CaringContact.status == ContactStatus.SCHEDULED,
            )
        )
    )
    for row in rows:
        row.status, row.cancelled_at = ContactStatus.CANCELLED, now
    return len(rows)


def _opt_out(enrolment: CaringContactEnrolment, now: datetime, *, by: str, reason: str) -> None:
    enrolment.opted_in, enrolment.updated_at = False, now
    enrolment.opted_out_at, enrolment.opted_out_by, enrolment.opt_out_reason = now, by, reason
