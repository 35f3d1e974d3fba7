"""Alerts and their outbound webhooks: written in the same transaction as what caused them.

An alert row feeds the server-sent-events stream; each configured webhook URL gets a delivery
row (an outbox) that the background worker sends, retries and records.  Payloads carry ids,
codes and scores, never message text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.storage import Alert, IntegrityFailure, PatientReply, WebhookDelivery
from crisis_triage.triage._paging import queue_pages


class AlertKind(StrEnum):
    CRISIS = "crisis"
    ESCALATION = "escalation"
    OPERATOR = "operator"
    FOLLOW_UP = "follow_up"  # a post-crisis follow-up is overdue (the care domain)


@dataclass(frozen=True)
class TriagePolicy:
    """The knobs of the triage workflow (the service builds this from its settings)."""

    escalation_minutes: float = 15.0
    auto_reply_text: str | None = None
    webhook_urls: tuple[str, ...] = ()
    webhook_max_attempts: int = 8
    webhook_backoff_seconds: float = 5.0
    webhook_backoff_max_seconds: float = 3600.0
    # The semantic re-scoring worker: tries per message before the fast score stays for good.
    semantic_max_attempts: int = 5
    semantic_backoff_seconds: float = 2.0
    semantic_backoff_max_seconds: float = 300.0
    # Patient-level risk: earlier messages sent this many hours before a new one (0: off), at
    # most this many of them, are scored together with it.
    patient_window_hours: float = 72.0
    patient_window_messages: int = 10
    # After a crisis (the care domain): follow-ups due this long after the resolution ("24h":
    # elapsed hours; "7d": calendar days at the same wall-clock time in the site's time zone).
    follow_up_schedule: tuple[str, ...] = ("24h", "72h", "7d", "30d")
    site_timezone: str = "UTC"
    # The checklist of a risk formulation (the care domain): the factors a specialist weighs.
    risk_factors: tuple[str, ...] = (
        "plan",
        "intent",
        "means_at_hand",
        "prior_attempt",
        "recent_loss_or_crisis",
        "substance_use",
        "hopelessness",
        "isolation",
        "protective_factors",
    )


def raise_alert(
    session: Session,
    policy: TriagePolicy,
    kind: AlertKind,
    summary: str,
    *,
    now: datetime,
    case_id: int | None = None,
    message_id: int | None = None,
    payload: dict[str, Any] | None = None,
    topic: str | None = None,
) -> Alert:
    """Add an alert (and one webhook delivery per configured URL) to the session, and page
    the channels subscribed to its ``topic`` (a ``PagingTopic``; default: its kind)."""
    body = dict(payload or {})
    body.update(case_id=case_id, message_id=message_id)
    alert = Alert(
        kind=kind.value,
        created_at=now,
        case_id=case_id,
        message_id=message_id,
        summary=summary[:200],
        payload=body,
    )
    session.add(alert)
    session.flush()
    event = f"alert.{kind.value}"
    for url in policy.webhook_urls:
        session.add(
            WebhookDelivery(
                alert_id=alert.id,
                event=event,
                url=url,
                payload={"alert_id": alert.id, "kind": kind.value, "summary": alert.summary} | body,
                next_attempt_at=now,
                created_at=now,
            )
        )
    queue_pages(session, alert, topic or kind.value, now=now)
    return alert


@dataclass(frozen=True)
class CrisisFacts:
    """What a crisis alert says about a flagged message: ids, codes and the score, no text."""

    case_id: int
    message_id: int
    patient_id: str
    channel: str
    sent_at: datetime
    probability: float | None
    categories: tuple[str, ...]
    # The patient window's probability when the message was also scored with earlier ones.
    window_probability: float | None = None

    @property
    def risk(self) -> float:
        """What the queue orders on: the larger of the message's own and its window's."""
        own = self.probability or 0.0
        return own if self.window_probability is None else max(own, self.window_probability)


def raise_crisis_alert(
    session: Session, policy: TriagePolicy, facts: CrisisFacts, *, now: datetime
) -> Alert:
    """The one way a flagged message is announced: a crisis alert and the patient's automatic
    reply (at ingest, its own score or its patient window over the threshold, or when the
    semantic tier newly flags a message)."""
    alert = raise_alert(
        session,
        policy,
        AlertKind.CRISIS,
        f"possible crisis ({'/'.join(facts.categories) or 'uncategorised'}), risk {facts.risk:.2f}",
        now=now,
        case_id=facts.case_id,
        message_id=facts.message_id,
        payload={
            "patient_id": facts.patient_id,
            "channel": facts.channel,
            "probability": facts.probability,
            "window_probability": facts.window_probability,
            "categories": list(facts.categories),
            "sent_at": facts.sent_at.isoformat(),
        },
    )
    queue_auto_reply(
        session,
        policy,
        message_id=facts.message_id,
        patient_id=facts.patient_id,
        channel=facts.channel,
        now=now,
    )
    return alert


def alert_integrity_failure(
    session: Session, policy: TriagePolicy, failure: IntegrityFailure, *, now: datetime
) -> Alert:
    """An operator alert: a stored value failed its integrity check (moved from another row,
    tampered, or plaintext put in behind the application's back).  Ids only, never text."""
    message_id = failure.row if failure.column.startswith("messages.") else None
    case_id = failure.row if failure.column.startswith("cases.") else None
    return raise_alert(
        session,
        policy,
        AlertKind.OPERATOR,
        f"integrity error: {failure.column} of row {failure.row} was not written for it "
        "(shown as withheld)",
        now=now,
        message_id=message_id,
        case_id=case_id,
        payload={"reason": "integrity_error", "column": failure.column, "row": failure.row},
    )


def queue_auto_reply(
    session: Session,
    policy: TriagePolicy,
    *,
    message_id: int,
    patient_id: str,
    channel: str,
    now: datetime,
) -> PatientReply | None:
    """Record the automatic crisis-resources reply to a patient and queue its delivery."""
    if not policy.auto_reply_text:
        return None
    reply = PatientReply(
        message_id=message_id,
        patient_id=patient_id,
        channel=channel,
        text=policy.auto_reply_text,
        created_at=now,
    )
    session.add(reply)
    session.flush()
    for url in policy.webhook_urls:
        session.add(
            WebhookDelivery(
                event="patient.auto_reply",
                url=url,
                payload={
                    "reply_id": reply.id,
                    "message_id": message_id,
                    "patient_id": patient_id,
                    "channel": channel,
                    "text": reply.text,
                },
                next_attempt_at=now,
                created_at=now,
            )
        )
    return reply


def alerts_after(
    session: Session, after_id: int, *, limit: int = 100, kinds: Sequence[str] = ()
) -> list[Alert]:
    """Alerts with an id above ``after_id``, oldest first (the SSE stream's cursor)."""
    stmt = select(Alert).where(Alert.id > after_id).order_by(Alert.id).limit(limit)
    if kinds:
        stmt = stmt.where(Alert.kind.in_(list(kinds)))
    return list(session.scalars(stmt))


def latest_alert_id(session: Session) -> int:
    last = session.scalar(select(Alert.id).order_by(Alert.id.desc()).limit(1))
    return int(last or 0)
