"""A patient's requests: a copy of everything stored about them, and erasure.

Erasure keeps the de-identified rows that the service's reports and the audit of clinical work
depend on (scores, dispositions, timestamps, who acted and when) and removes what identifies the
patient or says what they wrote: message text, reasons, demographics, notes and replies are
emptied, the SMS sender mappings (keyed hashes of phone numbers) removed, the text and
request hashes cleared (a hash of a short message can be confirmed by
guessing), and the patient id, which also sits in idempotency keys and alert payloads, is
replaced everywhere by one random pseudonym that nothing links back to the patient (pending
webhook deliveries included: a reply still queued then reaches the platform under the pseudonym).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from crisis_triage.governance import AuditActor, record_audit
from crisis_triage.storage import (
    Alert,
    Case,
    CaseEvent,
    Message,
    PatientReply,
    SmsSender,
    WebhookDelivery,
    lock_for_write,
    release_old_pages,
    utcnow,
)
from crisis_triage.triage._care_records import erase_care_records, export_care_records
from crisis_triage.triage._errors import ConflictError, NotFoundError
from crisis_triage.triage._retention import purge_message_text
from crisis_triage.triage._states import UNRESOLVED

ERASED_PREFIX = "erased-"
_ERASED_HASH = "0" * 64


@dataclass(frozen=True)
class ErasureReport:
    pseudonym: str
    messages: int
    cases: int
    open_cases: int
    replies: int
    alerts: int
    deliveries: int
    care_records: int = 0  # follow-ups, plans, formulations and caring contacts touched
    sms_senders: int = 0  # phone-number mappings removed (their hashes identify the patient)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _messages(session: Session, patient_id: str) -> list[Message]:
    stmt = select(Message).where(Message.patient_id == patient_id).order_by(Message.id)
    return list(session.scalars(stmt))


def export_patient(
    session: Session, patient_id: str, *, actor: AuditActor | None
) -> dict[str, Any]:
    """Everything stored about ``patient_id`` (decrypted) as JSON-ready data; audited."""
    messages = _messages(session, patient_id)
    if not messages:
        raise NotFoundError("no messages are stored for this patient")
    ids = [m.id for m in messages]
    cases = {c.message_id: c for c in session.scalars(select(Case).where(Case.message_id.in_(ids)))}
    events: dict[int, list[CaseEvent]] = {}
    case_ids = [c.id for c in cases.values()]
    for event in session.scalars(
        select(CaseEvent).where(CaseEvent.case_id.in_(case_ids)).order_by(CaseEvent.id)
    ):
        events.setdefault(event.case_id, []).append(event)
    replies = list(
        session.scalars(
            select(PatientReply).where(PatientReply.message_id.in_(ids)).order_by(PatientReply.id)
        )
    )
    exported = {
        "patient_id": patient_id,
        "exported_at": utcnow().isoformat(),
        "messages": [
            _message_dict(
                m, cases.get(m.id), events.get(cases[m.id].id, []) if m.id in cases else []
            )
            for m in messages
        ],
        "replies": [
            {
                "id": r.id,
                "message_id": r.message_id,
                "channel": r.channel,
                "text": r.text,
                "created_at": _iso(r.created_at),
            }
            for r in replies
        ],
        "care": export_care_records(session, patient_id),
    }
    record_audit(
        session,
        "patient.export",
        actor=actor,
        patient_id=patient_id,
        details={"messages": len(messages), "replies": len(replies)},
    )
    session.commit()
    return exported


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _message_dict(message: Message, case: Case | None, events: list[CaseEvent]) -> dict[str, Any]:
    return {
        "id": message.id,
        "sender": message.sender,
        "channel": message.channel,
        "sent_at": _iso(message.sent_at),
        "received_at": _iso(message.received_at),
        "text": message.text,
        "text_purged_at": _iso(message.text_purged_at),
        "demographics": message.demographics,
        "score_status": message.score_status,
        "probability": message.probability,
        "flagged": message.flagged,
        "model_version": message.model_version,
        "categories": list(message.categories),
        "reasons": list(message.reasons),
        "reason_items": message.reason_items,
        "case": None
        if case is None
        else {
            "id": case.id,
            "status": case.status,
            "disposition": case.disposition,
            "crisis_type": case.crisis_type,
            "note": case.note,
            "created_at": _iso(case.created_at),
            "resolved_at": _iso(case.resolved_at),
            "events": [
                {
                    "action": e.action,
                    "from_status": e.from_status,
                    "to_status": e.to_status,
                    "at": _iso(e.at),
                    "disposition": e.disposition,
                    "note": e.note,
                }
                for e in events
            ],
        },
    }


def erase_patient(
    session: Session,
    patient_id: str,
    *,
    actor: AuditActor | None,
    force: bool = False,
    now: datetime | None = None,
) -> ErasureReport:
    """Erase ``patient_id``'s text and identity (one transaction); see the module docstring.

    Refuses (ConflictError) while any of their cases is unresolved, unless ``force``: a case
    still in the queue then stays there, without its text.
    """
    now = now or utcnow()
    lock_for_write(session)
    messages = _messages(session, patient_id)
    if not messages:
        session.rollback()
        raise NotFoundError("no messages are stored for this patient")
    ids = [m.id for m in messages]
    unresolved = [status.value for status in UNRESOLVED]
    open_cases = int(
        session.scalar(
            select(func.count(Case.id)).where(Case.message_id.in_(ids), Case.status.in_(unresolved))
        )
        or 0
    )
    if open_cases and not force:
        session.rollback()
        raise ConflictError(
            f"{open_cases} case(s) of this patient are still open: resolve them, or force"
        )
    pseudonym = f"{ERASED_PREFIX}{secrets.token_hex(8)}"
    purge_message_text(session, ids, now)
    for message in messages:
        message.patient_id = pseudonym
        message.idempotency_key = f"{pseudonym}-{message.id}"
        message.request_sha256 = _ERASED_HASH
        message.text_sha256 = _ERASED_HASH
        message.demographics = None
    replies = session.execute(
        update(PatientReply).where(PatientReply.message_id.in_(ids)).values(patient_id=pseudonym)
    ).rowcount  # type: ignore[attr-defined]
    senders = session.execute(delete(SmsSender).where(SmsSender.patient_id == patient_id)).rowcount  # type: ignore[attr-defined]
    care_rows = erase_care_records(session, patient_id, pseudonym, now)
    # Follow-up alerts (and their escalations) name the patient in the payload, not a message.
    alert_ids = list(
        session.scalars(
            select(Alert.id).where(
                or_(Alert.message_id.in_(ids), Alert.kind.in_(["follow_up", "escalation"]))
            )
        )
    )
    alerts = _rewrite_payloads(session, Alert, Alert.id.in_(alert_ids), patient_id, pseudonym)
    patient_events = ["patient.auto_reply", "patient.caring_contact"]
    deliveries = _rewrite_payloads(
        session,
        WebhookDelivery,
        or_(WebhookDelivery.alert_id.in_(alert_ids), WebhookDelivery.event.in_(patient_events)),
        patient_id,
        pseudonym,
    )
    report = ErasureReport(
        pseudonym=pseudonym,
        messages=len(ids),
        cases=len(ids),
        open_cases=open_cases,
        replies=int(replies),
        alerts=alerts,
        deliveries=deliveries,
        care_records=care_rows,
        sms_senders=int(senders),
    )
    # The audit keeps the original id (proof the request was honoured), never the pseudonym.
    details = {k: v for k, v in report.to_dict().items() if k != "pseudonym"}
    record_audit(session, "patient.erase", actor=actor, patient_id=patient_id, details=details)
    release_old_pages(session)
    return report


def _rewrite_payloads(
    session: Session, model: type[Alert | WebhookDelivery], where: Any, old: str, new: str
) -> int:
    """Replace the patient id in JSON payloads (alerts and webhook deliveries carry it)."""
    changed = 0
    rows: list[Alert | WebhookDelivery] = list(session.scalars(select(model).where(where)))
    for row in rows:
        if row.payload.get("patient_id") == old:
            row.payload = {**row.payload, "patient_id": new}
            changed += 1
    return changed
