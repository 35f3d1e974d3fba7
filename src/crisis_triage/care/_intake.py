"""What care does when a patient writes, and the scheduler's round.

A message is ingested and scored by ``triage.ingest`` like any other (a reply to a caring
contact too); afterwards ``note_new_messages`` opts the patient out on "STOP" / "PARAR" /
"ALTO" and links their open follow-ups to the new case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from crisis_triage.care._caring_contacts import (
    is_opt_out,
    opt_out_by_message,
    send_due_caring_contacts,
)
from crisis_triage.care._follow_ups import link_reply, sweep_follow_ups
from crisis_triage.storage import utcnow
from crisis_triage.triage import IncomingMessage, IngestResult, TriagePolicy


def note_new_messages(
    session: Session,
    messages: Sequence[IncomingMessage],
    results: Sequence[IngestResult],
    *,
    now: datetime | None = None,
) -> int:
    """After ingest (same order as ``results``); commits.  Returns how many opt-out words came.

    Repeats (``duplicate``) are handled again: if this failed after the message was stored, the
    platform's retry of the same message still opts the patient out (both steps are idempotent).
    """
    now = now or utcnow()
    opt_outs = 0
    for message, result in zip(messages, results, strict=True):
        if is_opt_out(message.text):
            opt_out_by_message(session, message.patient_id, message_id=result.message_id, now=now)
            opt_outs += 1
        link_reply(session, message.patient_id, result.case_id)
    session.commit()
    return opt_outs


@dataclass
class CareRound:
    """One round of the care scheduler."""

    overdue: list[int]
    escalated: list[int]
    caring_contacts_sent: int


def run_care_round(
    session: Session, policy: TriagePolicy, *, now: datetime | None = None
) -> CareRound:
    """Overdue follow-ups alerted (and escalated), due caring contacts queued.  Every step is
    claimed from the database with row locks and changes state in the transaction that writes
    its alert or delivery: safe to run in several processes, again, or after a crash."""
    now = now or utcnow()
    sweep = sweep_follow_ups(session, policy, now=now)
    sent = send_due_caring_contacts(session, policy, now=now)
    return CareRound(overdue=sweep.overdue, escalated=sweep.escalated, caring_contacts_sent=sent)
