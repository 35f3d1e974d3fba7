"""The semantic tier: re-score fast-scored (and unscored) messages with the full model, off the
request path, and re-order the queue.

Any number of service processes can run it: a batch of due messages is leased (``SELECT ... FOR
UPDATE SKIP LOCKED`` on PostgreSQL, then ``semantic_due_at`` is pushed past the lease), and a
result is stored only while that lease still holds, so each message is re-scored once.  Reading
the text is one audited system read per batch.  When the model fails the message keeps its fast
score (or stays unscored, "review now"), is retried with backoff and, after the policy's number
of attempts, marked so that the case page says the final scoring failed.  Nothing leaves the
queue: a message that falls below the threshold just moves down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from crisis_triage.detector import Scorer
from crisis_triage.storage import Case, Message, lock_for_write, utcnow
from crisis_triage.triage._alerts import CrisisFacts, TriagePolicy, raise_crisis_alert
from crisis_triage.triage._audit import AuditActor, record_audit
from crisis_triage.triage._redaction import sensitive
from crisis_triage.triage._scoring import SCORED, Score, model_version, score_texts
from crisis_triage.triage._states import Tier, tier_for
from crisis_triage.triage._tiers import FAST, FINAL

log = logging.getLogger(__name__)

_MESSAGES = cast(Table, Message.__table__)
_CASES = cast(Table, Case.__table__)
# Audit details hold strings of at most 128 characters: longer id lists take several entries.
_AUDIT_IDS_CHARS = 120

FinalScoring = Literal["pending", "done", "failed"]


@dataclass(frozen=True)
class RescoreJob:
    """One leased message: its id, which attempt this is, and the lease that guards it."""

    message_id: int
    attempt: int
    leased_until: datetime


@dataclass
class RescoreReport:
    leased: int = 0
    finalised: int = 0
    newly_flagged: list[int] = field(default_factory=list)  # message ids
    retrying: int = 0
    failed: list[int] = field(default_factory=list)  # message ids that gave up for good
    lost_lease: int = 0


@dataclass(frozen=True)
class SemanticBacklog:
    pending: int
    oldest_pending_seconds: float | None


def final_scoring(
    score_tier: str | None, semantic_due_at: datetime | None, semantic_error: str | None
) -> FinalScoring:
    """Where a message's final score stands, for the case page and the API."""
    if semantic_due_at is not None:
        return "pending"
    if score_tier == FAST or (score_tier is None and semantic_error is not None):
        return "failed"
    return "done"


def backoff_delay(attempt: int, policy: TriagePolicy) -> timedelta:
    """Wait before the next try: base * 2^(attempt-1), capped."""
    seconds = policy.semantic_backoff_seconds * 2 ** max(0, attempt - 1)
    return timedelta(seconds=min(seconds, policy.semantic_backoff_max_seconds))


def lease_pending(
    session: Session,
    *,
    now: datetime | None = None,
    limit: int = 32,
    lease: timedelta = timedelta(seconds=120),
) -> list[RescoreJob]:
    """Take up to ``limit`` due messages, oldest first, for this worker (commits)."""
    now = now or utcnow()
    lock_for_write(session)
    rows = session.execute(
        select(Message.id, Message.semantic_due_at, Message.semantic_attempts)
        .where(Message.semantic_due_at.is_not(None), Message.semantic_due_at <= now)
        .order_by(Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    until = now + lease
    jobs = []
    for row in rows:
        # Conditional on the row being as we read it: on SQLite, which has no row locks, a
        # worker that lost the race updates nothing and skips the row.
        taken = session.execute(
            update(_MESSAGES)
            .where(_MESSAGES.c.id == row.id, _MESSAGES.c.semantic_due_at == row.semantic_due_at)
            .values(semantic_attempts=_MESSAGES.c.semantic_attempts + 1, semantic_due_at=until)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            jobs.append(RescoreJob(row.id, row.semantic_attempts + 1, until))
    session.commit()
    return jobs


def _id_chunks(ids: list[int]) -> list[str]:
    chunks, current = [], ""
    for message_id in ids:
        part = f"{current},{message_id}" if current else str(message_id)
        if len(part) > _AUDIT_IDS_CHARS:
            chunks.append(current)
            part = str(message_id)
        current = part
    return [*chunks, current] if current else chunks


def read_texts(session: Session, jobs: list[RescoreJob], *, now: datetime) -> dict[int, str]:
    """The texts of the leased messages, decrypted in memory; one audited system read per
    batch (ids only).  Purged texts are missing from the result.  Commits."""
    ids = [job.message_id for job in jobs]
    rows = session.execute(
        select(Message.id, Message.text).where(
            Message.id.in_(ids), Message.text_purged_at.is_(None)
        )
    ).all()
    texts = {row.id: row.text for row in rows}
    for chunk in _id_chunks(sorted(texts)):
        record_audit(
            session,
            "message.read",
            actor=AuditActor.system(),
            details={"purpose": "semantic_rescore", "count": len(texts), "message_ids": chunk},
            at=now,
        )
    session.commit()
    return texts


def _finalise(
    session: Session,
    policy: TriagePolicy,
    job: RescoreJob,
    score: Score,
    before: Any,
    version: str,
    now: datetime,
) -> str:
    """Store a final score and re-order its case: "stored", "flagged" (newly crossed the
    threshold: alerted) or "lost" (another worker holds the lease now)."""
    stored = session.execute(
        update(_MESSAGES)
        .where(_MESSAGES.c.id == job.message_id, _MESSAGES.c.semantic_due_at == job.leased_until)
        .values(
            score_status=SCORED,
            probability=score.probability,
            flagged=score.flagged,
            threshold=score.threshold,
            categories=list(score.categories),
            reasons=list(score.reasons),
            model_version=version,
            score_tier=FINAL,
            final_scored_at=now,
            semantic_due_at=None,
            semantic_error=None,
        )
    )
    if stored.rowcount != 1:  # type: ignore[attr-defined]
        return "lost"
    tier = tier_for(scored=True, flagged=score.flagged)
    # The case's version is left alone: tier and risk belong to the system, and a specialist
    # acting on the case at this moment must not get a conflict because the queue re-ordered.
    session.execute(
        update(_CASES)
        .where(_CASES.c.message_id == job.message_id)
        .values(tier=int(tier), risk=score.probability if tier is Tier.CRISIS else 0.0)
    )
    was_flagged = before.score_status == SCORED and bool(before.flagged)
    if not score.flagged or was_flagged:
        return "stored"
    raise_crisis_alert(
        session,
        policy,
        CrisisFacts(
            case_id=before.case_id,
            message_id=job.message_id,
            patient_id=before.patient_id,
            channel=before.channel,
            sent_at=before.sent_at,
            probability=score.probability,
            categories=score.categories,
        ),
        now=now,
    )
    return "flagged"


def _retry_or_give_up(
    session: Session, policy: TriagePolicy, job: RescoreJob, error: str, now: datetime
) -> bool:
    """Schedule the next try, or keep the fast score for good; True when it gave up."""
    give_up = job.attempt >= policy.semantic_max_attempts or error == "TextPurged"
    session.execute(
        update(_MESSAGES)
        .where(_MESSAGES.c.id == job.message_id, _MESSAGES.c.semantic_due_at == job.leased_until)
        .values(
            semantic_due_at=None if give_up else now + backoff_delay(job.attempt, policy),
            semantic_error=error[:64],
        )
    )
    return give_up


def store_results(
    session: Session,
    policy: TriagePolicy,
    jobs: list[RescoreJob],
    scores: dict[int, Score],
    version: str,
    *,
    now: datetime,
) -> RescoreReport:
    """Write the final scores (or the failures) of a leased batch, with its alerts.  Commits."""
    report = RescoreReport(leased=len(jobs))
    lock_for_write(session)
    before = {
        row.id: row
        for row in session.execute(
            select(
                Message.id,
                Message.score_status,
                Message.flagged,
                Message.patient_id,
                Message.channel,
                Message.sent_at,
                Case.id.label("case_id"),
            )
            .join(Case, Case.message_id == Message.id)
            .where(Message.id.in_([job.message_id for job in jobs]))
        )
    }
    for job in jobs:
        score = scores.get(job.message_id)
        if score is not None and score.status == SCORED:
            outcome = _finalise(session, policy, job, score, before[job.message_id], version, now)
            if outcome == "lost":
                report.lost_lease += 1
                continue
            report.finalised += 1
            if outcome == "flagged":
                report.newly_flagged.append(job.message_id)
            continue
        error = "TextPurged" if score is None else (score.error or "ScoringFailed")
        if _retry_or_give_up(session, policy, job, error, now):
            report.failed.append(job.message_id)
            log.error(
                "final scoring failed for message id=%d after %d attempt(s): %s; "
                "its fast-tier score stays",
                job.message_id,
                job.attempt,
                error,
            )
        else:
            report.retrying += 1
    session.commit()
    return report


def rescore_pending(
    sessions: Callable[[], Session],
    scorer: Scorer,
    policy: TriagePolicy,
    *,
    now: datetime | None = None,
    limit: int = 32,
    lease: timedelta = timedelta(seconds=120),
) -> RescoreReport:
    """One round of the semantic tier: lease a batch, score it with ``explain``, store it."""
    with sessions() as session:
        jobs = lease_pending(session, now=now or utcnow(), limit=limit, lease=lease)
    if not jobs:
        return RescoreReport()
    with sessions() as session:
        texts = read_texts(session, jobs, now=now or utcnow())
    ids = [job.message_id for job in jobs if job.message_id in texts]
    scores: dict[int, Score] = {}
    if ids:
        batch = [texts[i] for i in ids]
        with sensitive(*batch):
            scores = dict(zip(ids, score_texts(scorer.explain, batch, FINAL), strict=True))
        del batch, texts
    with sessions() as session:
        return store_results(
            session, policy, jobs, scores, model_version(scorer), now=now or utcnow()
        )


def semantic_backlog(session: Session, *, now: datetime | None = None) -> SemanticBacklog:
    """How many messages wait for a final score (or a retry), and how long the oldest has."""
    now = now or utcnow()
    pending, oldest = session.execute(
        select(func.count(Message.id), func.min(Message.received_at)).where(
            Message.semantic_due_at.is_not(None)
        )
    ).one()
    age = None if oldest is None else max(0.0, (now - oldest).total_seconds())
    return SemanticBacklog(pending=int(pending or 0), oldest_pending_seconds=age)
