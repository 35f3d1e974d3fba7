"""What ingest raises once messages are stored: a crisis alert (and the automatic reply) per
flagged message, through the shared ``raise_crisis_alert``, and one operator alert for the
messages that could not be scored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crisis_triage.triage._alerts import (
    AlertKind,
    CrisisFacts,
    TriagePolicy,
    raise_alert,
    raise_crisis_alert,
)
from crisis_triage.triage._paging import PagingTopic
from crisis_triage.triage._scoring import SCORED, UNSCORED


@dataclass(frozen=True)
class StoredMessage:
    """A message just written, in the shape of a result row."""

    id: int
    case_id: int
    tier: int
    idempotency_key: str
    score_status: str
    probability: float | None
    flagged: bool | None
    threshold: float | None
    categories: list[str]
    reasons: list[str]
    model_version: str | None
    received_at: datetime
    score_tier: str | None
    language: str | None
    window_probability: float | None


def priority(message: dict[str, Any]) -> float:
    """The larger of the message's own and its patient window's probability."""
    own, window = message["probability"] or 0.0, message["window_probability"]
    return max(own, window) if window is not None else own


def raise_ingest_alerts(
    session: Session,
    policy: TriagePolicy,
    stored: list[StoredMessage],
    rows: list[dict[str, Any]],
    now: datetime,
) -> None:
    """A crisis alert (and auto-reply) per flagged message; one operator alert for the
    messages that could not be scored."""
    failed = [(s, r) for s, r in zip(stored, rows, strict=True) if s.score_status == UNSCORED]
    for message, row in zip(stored, rows, strict=True):
        if message.score_status == SCORED and message.flagged:
            raise_crisis_alert(
                session,
                policy,
                CrisisFacts(
                    case_id=message.case_id,
                    message_id=message.id,
                    patient_id=row["patient_id"],
                    channel=row["channel"],
                    sent_at=row["sent_at"],
                    probability=message.probability,
                    categories=tuple(message.categories),
                    window_probability=message.window_probability,
                ),
                now=now,
            )
    if failed:
        ids = [s.id for s, _row in failed]
        reason = failed[0][1]["score_error"]
        raise_alert(
            session,
            policy,
            AlertKind.OPERATOR,
            f"{len(ids)} message(s) queued unscored: {reason}",
            now=now,
            message_id=ids[0],
            payload={"reason": reason, "message_ids": ids[:100], "count": len(ids)},
            topic=PagingTopic.UNSCORED,
        )
