"""Ingest: store each message with its score and open its case, idempotently, losing nothing.

Scoring happens before the write, outside any lock.  If the scorer is missing, raises, or returns
something unusable, the messages are stored anyway as ``unscored`` (tier "review now"), an
operator alert is raised, and the failure is logged by exception type only: never its text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisis_triage.detector import Explanation, Scorer
from crisis_triage.storage import Case, CaseEvent, Message, utcnow
from crisis_triage.triage._alerts import AlertKind, TriagePolicy, queue_auto_reply, raise_alert
from crisis_triage.triage._errors import IdempotencyConflictError
from crisis_triage.triage._redaction import sensitive
from crisis_triage.triage._states import Action, CaseStatus, Tier, tier_for

log = logging.getLogger(__name__)

SCORED = "scored"
UNSCORED = "unscored"
_RETRIES = 3


@dataclass(frozen=True)
class IncomingMessage:
    idempotency_key: str
    patient_id: str
    sender: str
    channel: str
    sent_at: datetime
    text: str
    demographics: dict[str, str] | None = None

    def request_sha256(self) -> str:
        """A fingerprint of everything the sender sent, to tell a retry from a reused key."""
        canonical = {
            "idempotency_key": self.idempotency_key,
            "patient_id": self.patient_id,
            "sender": self.sender,
            "channel": self.channel,
            "sent_at": self.sent_at.isoformat(),
            "text": self.text,
            "demographics": self.demographics or None,
        }
        encoded = json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode("utf-8")
        return hashlib.sha256(encoded).hexdigest()


@dataclass(frozen=True)
class IngestResult:
    message_id: int
    case_id: int
    score_status: str
    probability: float | None
    flagged: bool | None
    threshold: float | None
    categories: tuple[str, ...]
    reasons: tuple[str, ...]
    tier: Tier
    model_version: str | None
    received_at: datetime
    duplicate: bool = False


@dataclass(frozen=True)
class _Score:
    status: str
    probability: float | None = None
    flagged: bool | None = None
    threshold: float | None = None
    categories: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    error: str | None = None


def model_version(scorer: Scorer) -> str:
    card: dict[str, Any] = getattr(scorer, "card_", None) or {}
    for key in ("version", "model_version", "model_sha256", "sha256", "name"):
        if card.get(key):
            return str(card[key])[:64]
    return "unknown"


def _score_all(scorer: Scorer | None, texts: list[str]) -> list[_Score]:
    if scorer is None:
        reason = "unscored: review now (no model is loaded)"
        return [_Score(UNSCORED, reasons=(reason,), error="ModelNotLoaded") for _ in texts]
    try:
        explanations: list[Explanation] = list(scorer.explain(texts))
        if len(explanations) != len(texts):
            raise ValueError("the scorer returned the wrong number of explanations")
    except Exception as exc:
        error = type(exc).__name__
        log.error("scoring failed for %d message(s): %s", len(texts), error)
        reason = f"unscored: review now (scoring failed: {error})"
        return [_Score(UNSCORED, reasons=(reason,), error=error) for _ in texts]
    scores = []
    for explanation in explanations:
        probability = float(explanation.probability)
        if not math.isfinite(probability) or not 0.0 <= probability <= 1.0:
            reason = "unscored: review now (the model gave no valid probability)"
            scores.append(_Score(UNSCORED, reasons=(reason,), error="InvalidProbability"))
            continue
        scores.append(
            _Score(
                SCORED,
                probability=probability,
                flagged=bool(explanation.flagged),
                threshold=float(explanation.threshold),
                categories=tuple(explanation.categories),
                reasons=tuple(explanation.reasons()),
            )
        )
    return scores


def _result(message: Message, case: Case, *, duplicate: bool) -> IngestResult:
    return IngestResult(
        message_id=message.id,
        case_id=case.id,
        score_status=message.score_status,
        probability=message.probability,
        flagged=message.flagged,
        threshold=message.threshold,
        categories=tuple(message.categories),
        reasons=tuple(message.reasons),
        tier=Tier(case.tier),
        model_version=message.model_version,
        received_at=message.received_at,
        duplicate=duplicate,
    )


def _plan(items: Sequence[IncomingMessage]) -> tuple[list[str], dict[str, int]]:
    """Fingerprints per item, and the first index of each key (a key twice in one batch must
    carry the same message)."""
    hashes = [item.request_sha256() for item in items]
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        seen = first.setdefault(item.idempotency_key, index)
        if hashes[seen] != hashes[index]:
            raise IdempotencyConflictError(
                f"idempotency key of item {index} was used for a different message in this batch",
                index=index,
            )
    return hashes, first


def ingest(
    session: Session,
    scorer: Scorer | None,
    items: Sequence[IncomingMessage],
    policy: TriagePolicy,
    *,
    api_key_id: int | None = None,
    now: datetime | None = None,
) -> list[IngestResult]:
    """Store ``items`` (all or none), score them, open their cases and raise their alerts.

    Commits before returning.  A repeated idempotency key returns the stored result with
    ``duplicate=True`` and stores nothing; a key reused for a different message raises
    IdempotencyConflictError and stores nothing.
    """
    hashes, first = _plan(items)
    with sensitive(*(item.text for item in items)):
        for attempt in range(_RETRIES):
            try:
                results = _ingest_once(
                    session, scorer, items, hashes, first, policy, api_key_id, now
                )
            except IntegrityError:
                # Another request stored one of these keys between our check and our insert:
                # start again, and this time find it as a duplicate.
                session.rollback()
                if attempt == _RETRIES - 1:
                    raise
                continue
            return results
    raise AssertionError("unreachable")  # pragma: no cover


def _ingest_once(
    session: Session,
    scorer: Scorer | None,
    items: Sequence[IncomingMessage],
    hashes: list[str],
    first: dict[str, int],
    policy: TriagePolicy,
    api_key_id: int | None,
    now: datetime | None,
) -> list[IngestResult]:
    keys = list(first)
    existing = {
        message.idempotency_key: (message, case)
        for message, case in session.execute(
            select(Message, Case)
            .join(Case, Case.message_id == Message.id)
            .where(Message.idempotency_key.in_(keys))
        )
    }
    for key, (message, _case) in existing.items():
        if message.request_sha256 != hashes[first[key]]:
            raise IdempotencyConflictError(
                f"idempotency key of item {first[key]} was already used for a different message",
                index=first[key],
            )
    fresh = [i for i in first.values() if items[i].idempotency_key not in existing]
    scores = _score_all(scorer, [items[i].text for i in fresh]) if fresh else []
    when = now or utcnow()
    version = model_version(scorer) if scorer is not None else None
    created: dict[str, tuple[Message, Case]] = {}
    unscored: list[Message] = []
    for index, score in zip(fresh, scores, strict=True):
        item = items[index]
        message, case = _store(session, item, hashes[index], score, version, api_key_id, when)
        created[item.idempotency_key] = (message, case)
        if score.status == UNSCORED:
            unscored.append(message)
        elif score.flagged:
            _crisis_alert(session, policy, message, case, when)
    if unscored:
        ids = [m.id for m in unscored]
        raise_alert(
            session,
            policy,
            AlertKind.OPERATOR,
            f"{len(ids)} message(s) queued unscored: {unscored[0].score_error}",
            now=when,
            message_id=ids[0],
            payload={
                "reason": unscored[0].score_error,
                "message_ids": ids[:100],
                "count": len(ids),
            },
        )
    session.commit()
    for message, case in created.values():
        log.debug(
            "stored message id=%d case=%d len=%d sha256=%s status=%s tier=%d",
            message.id,
            case.id,
            message.text_length,
            message.text_sha256[:12],
            message.score_status,
            case.tier,
        )
    results = []
    for index, item in enumerate(items):
        key = item.idempotency_key
        if key in created:
            message, case = created[key]
            duplicate = first[key] != index
        else:
            message, case = existing[key]
            duplicate = True
        results.append(_result(message, case, duplicate=duplicate))
    return results


def _store(
    session: Session,
    item: IncomingMessage,
    request_sha256: str,
    score: _Score,
    version: str | None,
    api_key_id: int | None,
    now: datetime,
) -> tuple[Message, Case]:
    message = Message(
        idempotency_key=item.idempotency_key,
        request_sha256=request_sha256,
        patient_id=item.patient_id,
        sender=item.sender,
        channel=item.channel,
        sent_at=item.sent_at,
        received_at=now,
        text=item.text,
        text_sha256=hashlib.sha256(item.text.encode("utf-8")).hexdigest(),
        text_length=len(item.text),
        demographics=item.demographics or None,
        api_key_id=api_key_id,
        score_status=score.status,
        probability=score.probability,
        flagged=score.flagged,
        threshold=score.threshold,
        categories=list(score.categories),
        reasons=list(score.reasons),
        model_version=version if score.status == SCORED else None,
        score_error=score.error,
    )
    session.add(message)
    session.flush()
    tier = tier_for(scored=score.status == SCORED, flagged=score.flagged)
    case = Case(
        message_id=message.id,
        status=CaseStatus.OPEN.value,
        tier=int(tier),
        risk=score.probability if tier is Tier.CRISIS and score.probability is not None else 0.0,
        sent_at=item.sent_at,
        created_at=now,
    )
    session.add(case)
    session.flush()
    session.add(
        CaseEvent(case_id=case.id, action=Action.CREATE.value, to_status=case.status, at=now)
    )
    return message, case


def _crisis_alert(
    session: Session, policy: TriagePolicy, message: Message, case: Case, now: datetime
) -> None:
    raise_alert(
        session,
        policy,
        AlertKind.CRISIS,
        f"possible crisis ({'/'.join(message.categories) or 'uncategorised'}), "
        f"risk {message.probability or 0:.2f}",
        now=now,
        case_id=case.id,
        message_id=message.id,
        payload={
            "patient_id": message.patient_id,
            "channel": message.channel,
            "probability": message.probability,
            "categories": list(message.categories),
            "sent_at": message.sent_at.isoformat(),
        },
    )
    queue_auto_reply(
        session,
        policy,
        message_id=message.id,
        patient_id=message.patient_id,
        channel=message.channel,
        now=now,
    )
