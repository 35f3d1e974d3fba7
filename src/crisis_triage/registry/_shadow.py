"""The challenger in shadow: it scores every message received since shadowing began, and its
scores are stored apart from the queue (ids and numbers, never text or reasons).

The service's background worker calls ``shadow_score_pending`` each round, after the message
was accepted and queued: ingest never waits for it and never sees it fail.  A batch that fails
is stored as ``unscored`` with the error type, so one bad batch is not retried forever; a model
that cannot be loaded scores nothing and is retried next round.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisis_triage.detector import Scorer
from crisis_triage.registry._registry import ModelEntry
from crisis_triage.storage import Message, ShadowScore, utcnow
from crisis_triage.triage import FINAL, read_message_texts, score_supported

log = logging.getLogger(__name__)

SHADOW_BATCH = 200


def pending_shadow_ids(session: Session, entry: ModelEntry, limit: int = SHADOW_BATCH) -> list[int]:
    """Messages received since ``entry`` began shadowing that it has not scored, oldest first."""
    if entry.shadow_since is None:
        return []
    done = exists().where(
        ShadowScore.message_id == Message.id, ShadowScore.model_id == entry.model_id
    )
    query = (
        select(Message.id)
        .where(Message.received_at >= entry.shadow_since, Message.text_purged_at.is_(None), ~done)
        .order_by(Message.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def shadow_score_pending(
    session: Session,
    scorer: Scorer,
    entry: ModelEntry,
    *,
    limit: int = SHADOW_BATCH,
    now: datetime | None = None,
) -> int:
    """Score one batch of pending messages with the challenger and store the scores; the
    number stored.  Never raises for a scoring failure (the batch is stored unscored)."""
    ids = pending_shadow_ids(session, entry, limit)
    if not ids:
        return 0
    now = now or utcnow()
    texts = read_message_texts(session, ids, purpose="shadow_score", now=now)
    order = sorted(texts)
    scores = score_supported(scorer, scorer.explain, [texts[i] for i in order], FINAL)
    for message_id, score in zip(order, scores, strict=True):
        session.add(
            ShadowScore(
                message_id=message_id,
                model_id=entry.model_id,
                status=score.status,
                probability=score.probability,
                flagged=score.flagged,
                threshold=score.threshold,
                error=score.error,
                scored_at=now,
            )
        )
    try:
        session.commit()
    except IntegrityError:  # another service process scored this batch first
        session.rollback()
        return 0
    return len(order)
