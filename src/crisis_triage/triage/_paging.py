"""Pages to on-call channels (Slack, Teams, PagerDuty, e-mail) as outbox rows.

An alert pages every channel subscribed to its topic; a resolved case sends PagerDuty its
``resolve``.  Each page is a ``webhook_deliveries`` row with the channel's id and a dedup key
(``crisis:<case>``, ``escalation:<case>``, ``resolve:<case>``, ``unscored:<hour>``,
``alert:<alert>``): a unique index on the pair makes it once per case per channel, whoever
queues it and however often.  The
worker sends them with the rest of the outbox (``integrations.paging`` renders each service's
payload).  A page carries ids, codes, the risk and the summary: never message text, and no
patient identifier (the case id is the link).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crisis_triage.storage import Alert, PagingChannel, WebhookDelivery


class PagingTopic(StrEnum):
    """What a paging channel can subscribe to."""

    CRISIS = "crisis"  # a message flagged as a possible crisis
    ESCALATION = "escalation"  # a crisis unacknowledged past the escalation time
    UNSCORED = "unscored"  # messages queued without a score (the model failed)
    OPERATOR = "operator"  # an operator problem (e.g. a stored value failed its integrity check)


class PagingKind(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"
    PAGERDUTY = "pagerduty"
    EMAIL = "email"


TRIGGER, RESOLVE = "trigger", "resolve"
_CASE_TOPICS = (PagingTopic.CRISIS, PagingTopic.ESCALATION)


def page_url(channel_id: int) -> str:
    """What the outbox row's ``url`` says: the channel, never its secret target."""
    return f"paging:{channel_id}"


def _insert_once(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert the pages whose (channel, dedup key) is new; a repeat is a no-op on both
    databases, even when another transaction inserts the same page at the same moment."""
    if not rows:
        return
    stmt: Insert
    if session.get_bind().dialect.name == "postgresql":
        stmt = postgresql.insert(WebhookDelivery).values(rows).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(WebhookDelivery).values(rows).on_conflict_do_nothing()
    session.execute(stmt)


def _subscribed(session: Session, topic: str) -> list[int]:
    """The ids of the channels paged about ``topic`` (their targets are not read here)."""
    channels = session.execute(
        select(PagingChannel.id, PagingChannel.topics)
        .where(PagingChannel.removed_at.is_(None))
        .order_by(PagingChannel.id)
    )
    return [channel_id for channel_id, topics in channels if topic in topics]


def dedup_key(topic: str, alert: Alert, now: datetime) -> str:
    """Once per case for crises and escalations; once per hour for unscored messages (an
    outage fails every request: one page says it); once per alert otherwise."""
    if topic in _CASE_TOPICS and alert.case_id is not None:
        return f"{topic}:{alert.case_id}"
    if topic == PagingTopic.UNSCORED:
        return f"unscored:{now:%Y-%m-%dT%H}"
    return f"alert:{alert.id}"


def _row(
    channel_id: int, dedup_key: str, payload: dict[str, Any], now: datetime, alert_id: int | None
) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "channel_id": channel_id,
        "dedup_key": dedup_key,
        "event": f"page.{payload['action']}",
        "url": page_url(channel_id),
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def queue_pages(session: Session, alert: Alert, topic: str, *, now: datetime) -> None:
    """Page every channel subscribed to ``topic`` about ``alert`` (in the caller's
    transaction)."""
    channels = _subscribed(session, topic)
    if not channels:
        return
    key = dedup_key(topic, alert, now)
    # What the queue orders on: the larger of the message's and its window's (or the case's).
    scores = [alert.payload.get(k) for k in ("probability", "window_probability", "risk")]
    payload = {
        "action": TRIGGER,
        "topic": topic,
        "alert_id": alert.id,
        "case_id": alert.case_id,
        "summary": alert.summary,
        "risk": max((float(v) for v in scores if v is not None), default=None),
        "categories": list(alert.payload.get("categories") or []),
        "created_at": now.isoformat(),
    }
    _insert_once(session, [_row(cid, key, payload, now, alert.id) for cid in channels])


def queue_resolve_pages(session: Session, case_id: int, *, now: datetime) -> None:
    """A resolved case: tell each PagerDuty channel that was paged about it (its incident,
    deduplicated on the case, closes).  Sent only once its trigger has settled."""
    triggers = [f"{topic}:{case_id}" for topic in _CASE_TOPICS]
    channel_ids = session.scalars(
        select(WebhookDelivery.channel_id)
        .join(PagingChannel, PagingChannel.id == WebhookDelivery.channel_id)
        .where(
            WebhookDelivery.dedup_key.in_(triggers),
            PagingChannel.kind == PagingKind.PAGERDUTY.value,
        )
        .distinct()
    )
    payload = {
        "action": RESOLVE,
        "topic": "resolved",
        "alert_id": None,
        "case_id": case_id,
        "summary": f"case {case_id} resolved",
        "created_at": now.isoformat(),
    }
    rows = [_row(cid, f"{RESOLVE}:{case_id}", payload, now, None) for cid in channel_ids if cid]
    _insert_once(session, rows)
