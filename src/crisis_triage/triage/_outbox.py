"""Outbound webhooks as an outbox: leased with row locks, signed, retried with backoff, recorded.

Any number of worker processes can share the table: a delivery is leased (``SELECT ... FOR
UPDATE SKIP LOCKED`` on PostgreSQL, then its next attempt time is pushed past the lease) before
it is sent, so two workers never send the same attempt.  A worker renews its lease on each
delivery just before sending it (``renew_lease``) and skips one whose lease another worker
took meanwhile: a long batch never outlives its lease into a second send.  Receivers verify
``X-Crisis-Triage-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`` and dedupe
on ``X-Crisis-Triage-Delivery`` (the delivery's id, the same on every retry): delivery is at
least once (a receiver that answers after the timeout is sent it again), so deduping on it
makes it exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from crisis_triage.storage import WebhookDelivery, lock_for_write, utcnow
from crisis_triage.triage._alerts import TriagePolicy

SIGNATURE_HEADER = "X-Crisis-Triage-Signature"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True)
class DeliveryJob:
    """One leased attempt: what to send where."""

    delivery_id: int
    url: str
    event: str
    attempt: int
    body: bytes
    channel_id: int | None = None  # a page to a paging channel (``url`` only names it)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: int, tolerance: int = 300) -> bool:
    """Check a signature header as a receiver would (also guards against replays)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def backoff(attempt: int, policy: TriagePolicy) -> timedelta:
    """Wait before the next attempt: base * 2^(attempt-1), capped."""
    seconds = policy.webhook_backoff_seconds * 2 ** max(0, attempt - 1)
    return timedelta(seconds=min(seconds, policy.webhook_backoff_max_seconds))


def _body(delivery: WebhookDelivery) -> bytes:
    envelope: dict[str, Any] = {
        "id": delivery.id,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _trigger_settled() -> Any:
    """A PagerDuty resolve waits while its case's trigger on that channel is still pending:
    sent first, the incident would open after it and stay open."""
    trigger = aliased(WebhookDelivery)
    key = WebhookDelivery.dedup_key
    pending_trigger = exists().where(
        trigger.channel_id == WebhookDelivery.channel_id,
        trigger.status == PENDING,
        trigger.dedup_key.in_(
            [func.replace(key, "resolve:", "crisis:"), func.replace(key, "resolve:", "escalation:")]
        ),
    )
    return or_(key.is_(None), ~key.startswith("resolve:"), ~pending_trigger)


def lease_due(
    session: Session,
    *,
    now: datetime | None = None,
    limit: int = 20,
    lease: timedelta = timedelta(seconds=60),
) -> list[DeliveryJob]:
    """Take up to ``limit`` due deliveries for this worker (commits)."""
    now = now or utcnow()
    lock_for_write(session)
    rows = list(
        session.scalars(
            select(WebhookDelivery)
            .where(
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at <= now,
                _trigger_settled(),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    jobs = []
    for row in rows:
        # Conditional on the row being as we read it: on SQLite, which has no row locks, a
        # worker that lost the race updates nothing and skips the row.
        taken = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == row.id,
                WebhookDelivery.status == PENDING,
                WebhookDelivery.next_attempt_at == row.next_attempt_at,
            )
            .values(
                attempts=WebhookDelivery.attempts + 1,
                last_attempt_at=now,
                next_attempt_at=now + lease,
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            jobs.append(
                DeliveryJob(
                    row.id, row.url, row.event, row.attempts + 1, _body(row), row.channel_id
                )
            )
    session.commit()
    session.expire_all()
    return jobs


def renew_lease(
    session: Session,
    job: DeliveryJob,
    *,
    lease: timedelta,
    now: datetime | None = None,
) -> bool:
    """Extend this worker's lease on ``job`` from now; False if it is no longer ours (another
    worker leased it after ours ran out, or it was settled): then it must not be sent."""
    now = now or utcnow()
    lock_for_write(session)
    renewed = session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == job.delivery_id,
            WebhookDelivery.status == PENDING,
            WebhookDelivery.attempts == job.attempt,
        )
        .values(next_attempt_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(renewed.rowcount == 1)  # type: ignore[attr-defined]


def record_attempt(
    session: Session,
    delivery_id: int,
    policy: TriagePolicy,
    *,
    status_code: int | None,
    error: str | None,
    now: datetime | None = None,
    attempt: int | None = None,
    succeeded: bool | None = None,
) -> str:
    """Store how an attempt went; schedules the retry or gives up.  Returns the new status.

    Success is a 2xx ``status_code`` unless ``succeeded`` says otherwise (an SMTP server
    accepts with 250).

    With ``attempt`` (the job's), a failure is not recorded over a later lease of another
    worker: that attempt's outcome decides.  A success is always recorded.
    """
    now = now or utcnow()
    lock_for_write(session)
    row = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if row is None:  # pragma: no cover - deliveries are never deleted
        return FAILED
    if succeeded is None:
        succeeded = status_code is not None and 200 <= status_code < 300
    if not succeeded and attempt is not None and row.attempts != attempt:
        session.commit()
        return row.status
    row.last_status_code = status_code
    row.last_error = error[:200] if error else None
    if succeeded:
        row.status = DELIVERED
        row.delivered_at = now
    elif row.attempts >= policy.webhook_max_attempts:
        row.status = FAILED
    else:
        row.next_attempt_at = now + backoff(row.attempts, policy)
    session.commit()
    return row.status
