"""The semantic tier: re-score fast-scored (and unscored) messages with the full model, off the
request path, and re-order the queue.

Any number of service processes can run it: a batch of due messages is leased (``SELECT ... FOR
UPDATE SKIP LOCKED`` on PostgreSQL, then ``semantic_due_at`` is pushed past the lease), and a
result is stored only while that lease still holds, so each message is re-scored once.  Reading
the text is one audited system read per batch.  When the model fails the message keeps its fast
score (or stays unscored, "review now"), is retried with backoff and, after the policy's number
of attempts, marked so that the case page says the final scoring failed.  Nothing leaves the
queue: a message that falls below the threshold just moves down.

The language rule applies here as at ingest: a message (left unscored at ingest) reliably in a
language the model does not cover becomes ``unsupported`` rather than scored; such messages are
never due.  A patient window found at ingest still counts: the case is ordered on the larger
of the final and the window probability, and a window over the threshold keeps it flagged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from crisis_triage.detector import ReasonItem, Scorer
from crisis_triage.governance import AuditActor, record_audit, sensitive
from crisis_triage.storage import Case, Message, RowBound, lock_for_write, utcnow
from crisis_triage.triage._alerts import CrisisFacts, TriagePolicy, raise_crisis_alert
from crisis_triage.triage._ingest_scoring import score_supported
from crisis_triage.triage._scoring import (
    SCORED,
    UNSUPPORTED,
    Score,
    model_version,
    partly_scored,
)
from crisis_triage.triage._states import Tier, tier_for
from crisis_triage.triage._tiers import FAST, FINAL, fast_explainer

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
    pending: int  # messages due for a final score or a retry
    oldest_received_at: datetime | None  # when the oldest of them arrived

    def oldest_pending_seconds(self, now: datetime | None = None) -> float | None:
        if self.oldest_received_at is None:
            return None
        return max(0.0, ((now or utcnow()) - self.oldest_received_at).total_seconds())


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
    fast_too: bool = True,
) -> list[RescoreJob]:
    """Take up to ``limit`` due messages, oldest first, for this worker (commits).

    ``fast_too=False`` takes only the messages left unscored at ingest: a worker whose model
    has no working semantic tier must not pass off its fast score as another's final one.
    """
    now = now or utcnow()
    due: tuple[Any, ...] = (
        _MESSAGES.c.semantic_due_at.is_not(None),
        _MESSAGES.c.semantic_due_at <= now,
    )
    if not fast_too:
        due = (*due, _MESSAGES.c.score_tier.is_(None))
    # A plain read first: an idle worker polls often, and on SQLite the lock below would make
    # every poll a write that ingest has to wait for.
    if session.scalar(select(_MESSAGES.c.id).where(*due).limit(1)) is None:
        session.rollback()
        return []
    lock_for_write(session)  # SQLite: the select and the update below are one write
    ids = list(
        session.scalars(
            select(_MESSAGES.c.id)
            .where(*due)
            .order_by(_MESSAGES.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        session.rollback()
        return []
    until = now + lease
    # One statement for the batch; still conditional on being due, so a row another worker
    # leased meanwhile is not taken twice whatever the database's locking.
    taken = session.execute(
        update(_MESSAGES)
        .where(_MESSAGES.c.id.in_(ids), *due)
        .values(semantic_attempts=_MESSAGES.c.semantic_attempts + 1, semantic_due_at=until)
        .returning(_MESSAGES.c.id, _MESSAGES.c.semantic_attempts)
    ).all()
    session.commit()
    return [RescoreJob(row.id, row.semantic_attempts, until) for row in sorted(taken)]


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
    return read_message_texts(session, ids, purpose="semantic_rescore", now=now)


def read_message_texts(
    session: Session, ids: list[int], *, purpose: str, now: datetime
) -> dict[int, str]:
    """The texts of messages ``ids``, decrypted in memory, for the system's own use (``purpose``
    names it in the audit log: ``semantic_rescore``, ``shadow_score``).  One audited system
    read per batch, ids only; purged texts are missing from the result.  Commits."""
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
            details={"purpose": purpose, "count": len(texts), "message_ids": chunk},
            at=now,
        )
    session.commit()
    return texts


def _owned(session: Session, jobs: list[RescoreJob]) -> dict[int, Any]:
    """The leased messages whose lease this worker still holds (row-locked on PostgreSQL),
    with what the case and the alert need."""
    leases = {job.message_id: job.leased_until for job in jobs}
    rows = session.execute(
        select(
            _MESSAGES.c.id,
            _MESSAGES.c.semantic_due_at,
            _MESSAGES.c.score_status,
            _MESSAGES.c.flagged,
            _MESSAGES.c.patient_id,
            _MESSAGES.c.channel,
            _MESSAGES.c.sent_at,
            _MESSAGES.c.threshold,
            _MESSAGES.c.reasons,
            _MESSAGES.c.window_probability,
            _MESSAGES.c.text_length,
            _CASES.c.id.label("case_id"),
        )
        .join(_CASES, _CASES.c.message_id == _MESSAGES.c.id)
        .where(_MESSAGES.c.id.in_(list(leases)))
        .with_for_update(of=_MESSAGES)
    ).all()
    return {row.id: row for row in rows if row.semantic_due_at == leases[row.id]}


_WINDOW_REASON = "patient window:"


def _window_flagged(before: Any) -> bool:
    """Whether the patient window found at ingest reached the threshold it was judged by (the
    window and the message's stored score come from the same tier)."""
    window, threshold = before.window_probability, before.threshold
    return window is not None and threshold is not None and window >= threshold


def _reason_values(items: list[ReasonItem], message_id: int) -> dict[str, RowBound]:
    """Both reason columns (text and data), bound to the message's row."""
    return {
        "reasons": RowBound([item.render() for item in items], message_id),
        "reason_items": RowBound([item.to_dict() for item in items], message_id),
    }


def _final_values(
    before: Any, score: Score, version: str, now: datetime
) -> tuple[dict[str, Any], Tier, float]:
    """The message's final values, with its case's tier and risk (the window's when larger)."""
    items = list(score.items)
    window = before.window_probability
    if window is not None and window > (score.probability or 0.0):
        # The window's reason was a note at ingest: its text is all it has.
        items += [ReasonItem.note(r) for r in before.reasons if r.startswith(_WINDOW_REASON)]
    flagged = bool(score.flagged) or _window_flagged(before)
    tier = tier_for(scored=True, flagged=flagged, partly=partly_scored(before.text_length))
    risk = max(score.probability or 0.0, window or 0.0) if tier is Tier.CRISIS else 0.0
    values = {
        "id": before.id,
        "score_status": SCORED,
        "probability": score.probability,
        "flagged": flagged,
        "threshold": score.threshold,
        "categories": list(score.categories),
        # Bound to its row, as every encrypted value is (a bulk update fires no ORM events).
        **_reason_values(items, before.id),
        "model_version": version,
        "score_tier": FINAL,
        "final_scored_at": now,
        "semantic_due_at": None,
        "semantic_error": None,
        "language": score.language,
    }
    return values, tier, risk


def _unsupported_values(
    message_id: int, score: Score, version: str, now: datetime
) -> dict[str, Any]:
    """Not scored for its language: a person reads it, as at ingest, and it is never due."""
    return {
        "id": message_id,
        "score_status": UNSUPPORTED,
        "probability": None,
        "flagged": None,
        "threshold": None,
        "categories": [],
        **_reason_values(list(score.items), message_id),
        "model_version": version,  # the model that declined it
        "score_tier": None,
        "final_scored_at": now,
        "semantic_due_at": None,
        "semantic_error": None,
        "language": score.language,
    }


# The case's version is left alone: tier and risk belong to the system, and a specialist acting
# on the case at this moment must not get a conflict because the queue re-ordered.
_REORDER = (
    update(_CASES)
    .where(_CASES.c.id == bindparam("b_case_id"))
    .values(tier=bindparam("b_tier"), risk=bindparam("b_risk"))
)


def _alert_if_newly_flagged(
    session: Session, policy: TriagePolicy, before: Any, score: Score, flagged: bool, now: datetime
) -> bool:
    """Raise the crisis alert (the one shared path) when the final score newly flags it."""
    if not flagged or (before.score_status == SCORED and before.flagged):
        return False
    raise_crisis_alert(
        session,
        policy,
        CrisisFacts(
            case_id=before.case_id,
            message_id=before.id,
            patient_id=before.patient_id,
            channel=before.channel,
            sent_at=before.sent_at,
            probability=score.probability,
            categories=score.categories,
            window_probability=before.window_probability,
        ),
        now=now,
    )
    return True


def _failure_values(
    policy: TriagePolicy, job: RescoreJob, error: str, now: datetime
) -> dict[str, Any]:
    """The next try after a backoff, or (retries spent, or no text left) none: the fast score
    stays and the case page says the final scoring failed."""
    give_up = job.attempt >= policy.semantic_max_attempts or error == "TextPurged"
    return {
        "id": job.message_id,
        "semantic_due_at": None if give_up else now + backoff_delay(job.attempt, policy),
        "semantic_error": error[:64],
    }


def store_results(
    session: Session,
    policy: TriagePolicy,
    jobs: list[RescoreJob],
    scores: dict[int, Score],
    version: str,
    *,
    now: datetime,
) -> RescoreReport:
    """Write the final scores (or the failures) of a leased batch, re-order its cases and raise
    its alerts, in a few statements for the whole batch.  Commits."""
    report = RescoreReport(leased=len(jobs))
    lock_for_write(session)
    owned = _owned(session, jobs)
    finals, failures, reorders = [], [], []
    for job in jobs:
        before = owned.get(job.message_id)
        if before is None:
            report.lost_lease += 1
            continue
        score = scores.get(job.message_id)
        if score is not None and score.status == SCORED:
            final, tier, risk = _final_values(before, score, version, now)
            finals.append(final)
            reorders.append({"b_case_id": before.case_id, "b_tier": int(tier), "b_risk": risk})
            report.finalised += 1
            if _alert_if_newly_flagged(session, policy, before, score, final["flagged"], now):
                report.newly_flagged.append(job.message_id)
            continue
        if score is not None and score.status == UNSUPPORTED:
            finals.append(_unsupported_values(job.message_id, score, version, now))
            report.finalised += 1
            continue
        error = "TextPurged" if score is None else (score.error or "ScoringFailed")
        failures.append(_failure_values(policy, job, error, now))
        if failures[-1]["semantic_due_at"] is not None:
            report.retrying += 1
            continue
        report.failed.append(job.message_id)
        log.error(
            "final scoring failed for message id=%d after %d attempt(s): %s; "
            "its fast-tier score stays",
            job.message_id,
            job.attempt,
            error,
        )
    # Bulk updates by primary key (one executemany each): column types, and so encryption of
    # the reasons (both columns), apply as in any ORM write.
    for values in (finals, failures):
        if values:
            session.execute(update(Message), values)
    if reorders:
        session.execute(_REORDER, reorders)
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
    """One round of the semantic tier: lease a batch, score it with ``explain`` (after the
    language rule), store it.

    Fast-tier scores are taken only while ``scorer`` has a working semantic tier; without one
    (an older model, or a missing encoder) only unscored messages are retried.
    """
    fast_too = fast_explainer(scorer) is not None
    with sessions() as session:
        jobs = lease_pending(
            session, now=now or utcnow(), limit=limit, lease=lease, fast_too=fast_too
        )
    if not jobs:
        return RescoreReport()
    with sessions() as session:
        texts = read_texts(session, jobs, now=now or utcnow())
    ids = [job.message_id for job in jobs if job.message_id in texts]
    scores: dict[int, Score] = {}
    if ids:
        batch = [texts[i] for i in ids]
        with sensitive(*batch):
            final = score_supported(scorer, scorer.explain, batch, FINAL)
            scores = dict(zip(ids, final, strict=True))
        del batch, texts
    with sessions() as session:
        return store_results(
            session, policy, jobs, scores, model_version(scorer), now=now or utcnow()
        )


def semantic_backlog(session: Session) -> SemanticBacklog:
    """How many messages wait for a final score (or a retry), and when the oldest arrived."""
    pending, oldest = session.execute(
        select(func.count(Message.id), func.min(Message.received_at)).where(
            Message.semantic_due_at.is_not(None)
        )
    ).one()
    return SemanticBacklog(pending=int(pending or 0), oldest_received_at=oldest)
