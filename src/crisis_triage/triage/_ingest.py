"""Ingest: store each message with its score and open its case, idempotently, losing nothing.

Scoring happens before the write, outside any lock.  If the scorer is missing, raises, or returns
something unusable, the messages are stored anyway as ``unscored`` (tier "review now"), an
operator alert is raised, and the failure is logged by exception type only: never its text.
A model with a working semantic tier scores with its fast tier here (``score_tier="fast"``) and
the semantic worker (``_rescoring``) gives the final score later; unscored messages are retried
there too.  A message in a language the model does not cover is stored as ``unsupported`` (tier
"review now", no probability) and is never re-scored.  Each scored message is also scored with
the patient's earlier messages (``_window``); its case is ordered on the larger of the two
probabilities, and the read of the earlier messages' text is audited as a system read.  A
failure there falls back to the message's own score.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisis_triage.detector import ReasonItem, Scorer
from crisis_triage.governance import sensitive
from crisis_triage.storage import Case, Message, bind_rows, utcnow
from crisis_triage.triage._alerts import TriagePolicy
from crisis_triage.triage._errors import IdempotencyConflictError
from crisis_triage.triage._ingest_alerts import StoredMessage, priority, raise_ingest_alerts
from crisis_triage.triage._ingest_scoring import score_all
from crisis_triage.triage._scoring import (
    SCORED,
    UNSUPPORTED,
    Score,
    model_version,
    partly_scored,
)
from crisis_triage.triage._states import CaseStatus, Tier, tier_for
from crisis_triage.triage._tiers import FINAL
from crisis_triage.triage._window import (
    WindowPolicy,
    WindowScore,
    audit_window_reads,
    contributor_rows,
    patient_windows,
)

log = logging.getLogger(__name__)

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
    score_tier: str | None = None  # "fast": a final score is still to come
    language: str | None = None
    window_probability: float | None = None


# Statements built once: building one per request (and hashing it into a cache key) costs more
# CPU than the round trip it sends.  They are Core statements on the tables, which skip the ORM's
# unit of work and bulk-insert bookkeeping; column types (and their TypeDecorators) still apply.
_MESSAGES = cast(Table, Message.__table__)
_CASES = cast(Table, Case.__table__)
# What a reply needs, read without loading the message text.
_RESULT_COLUMNS = (
    _MESSAGES.c.id,
    _MESSAGES.c.idempotency_key,
    _MESSAGES.c.request_sha256,
    _MESSAGES.c.score_status,
    _MESSAGES.c.probability,
    _MESSAGES.c.flagged,
    _MESSAGES.c.threshold,
    _MESSAGES.c.categories,
    _MESSAGES.c.reasons,
    _MESSAGES.c.model_version,
    _MESSAGES.c.received_at,
    _MESSAGES.c.score_tier,
    _MESSAGES.c.language,
    _MESSAGES.c.window_probability,
    _CASES.c.id.label("case_id"),
    _CASES.c.tier,
)
_FIND = select(*_RESULT_COLUMNS).join(_CASES, _CASES.c.message_id == _MESSAGES.c.id)
_FIND_ONE = _FIND.where(_MESSAGES.c.idempotency_key == bindparam("key"))
_FIND_MANY = _FIND.where(_MESSAGES.c.idempotency_key.in_(bindparam("keys", expanding=True)))
_INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.id, sort_by_parameter_order=True)
_INSERT_CASES = insert(_CASES).returning(_CASES.c.id, sort_by_parameter_order=True)
_SET_CONTRIBUTORS = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("message_id"))
    .values(window_contributors=bindparam("contributors"))
)


def _result(row: Any, *, duplicate: bool) -> IngestResult:
    return IngestResult(
        message_id=row.id,
        case_id=row.case_id,
        score_status=row.score_status,
        probability=row.probability,
        flagged=row.flagged,
        threshold=row.threshold,
        categories=tuple(row.categories),
        reasons=tuple(row.reasons),
        tier=Tier(row.tier),
        model_version=row.model_version,
        received_at=row.received_at,
        duplicate=duplicate,
        score_tier=row.score_tier,
        language=row.language,
        window_probability=row.window_probability,
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
    scores: dict[int, Score] = {}
    with sensitive(*(item.text for item in items)):
        # The first attempt assumes the keys are new (nearly all are) and saves a round trip:
        # a key already stored fails the insert on its unique index, and the next attempt
        # looks the keys up first.  A retry reuses the scores of the first attempt.
        for attempt in range(_RETRIES + 1):
            try:
                return _ingest_once(
                    session,
                    scorer,
                    _Batch(items, hashes, first, scores),
                    policy,
                    api_key_id,
                    now,
                    look_up=attempt > 0,
                )
            except IntegrityError:
                # A key was stored before, or by another request between our lookup and our
                # insert: start again, and this time find it as a duplicate.
                session.rollback()
                if attempt == _RETRIES:
                    raise
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class _Batch:
    items: Sequence[IncomingMessage]
    hashes: list[str]
    first: dict[str, int]
    scores: dict[int, Score]  # by item index, filled on the first attempt that scores
    # Patient windows by item index, and the stored messages whose text they read (to audit):
    # computed once, on the first attempt, like the scores.
    windows: dict[int, WindowScore] = field(default_factory=dict)
    window_reads: dict[str, list[int]] = field(default_factory=dict)  # by patient id
    windowed: set[int] = field(default_factory=set)

    def score(self, scorer: Scorer | None, indices: list[int]) -> list[Score]:
        todo = [i for i in indices if i not in self.scores]
        if todo:
            fresh = score_all(scorer, [self.items[i].text for i in todo])
            self.scores.update(zip(todo, fresh, strict=True))
        return [self.scores[i] for i in indices]

    def window(
        self, session: Session, scorer: Scorer | None, indices: list[int], policy: TriagePolicy
    ) -> None:
        """Score the patient windows of the scored messages at ``indices`` (once each)."""
        todo = [i for i in indices if i not in self.windowed and self.scores[i].status == SCORED]
        self.windowed.update(todo)
        if scorer is None or not todo:
            return
        rule = WindowPolicy(policy.patient_window_hours, policy.patient_window_messages)
        try:
            own = {i: self.scores[i].probability or 0.0 for i in todo}
            windows, read = patient_windows(session, scorer, self.items, own, rule)
        except Exception as exc:  # the message's own score stands
            log.error("patient window failed for %d message(s): %s", len(todo), type(exc).__name__)
            return
        self.windows.update(windows)
        for patient_id, message_ids in read.items():
            self.window_reads.setdefault(patient_id, []).extend(message_ids)


def _existing(session: Session, batch: _Batch) -> dict[str, Any]:
    """The stored results for keys of this batch seen before; a conflict if one differs."""
    keys = list(batch.first)
    if len(keys) == 1:
        found = session.execute(_FIND_ONE, {"key": keys[0]})
    else:
        found = session.execute(_FIND_MANY, {"keys": keys})
    existing = {row.idempotency_key: row for row in found}
    for key, row in existing.items():
        index = batch.first[key]
        if row.request_sha256 != batch.hashes[index]:
            raise IdempotencyConflictError(
                f"idempotency key of item {index} was already used for a different message",
                index=index,
            )
    return existing


def _ingest_once(
    session: Session,
    scorer: Scorer | None,
    batch: _Batch,
    policy: TriagePolicy,
    api_key_id: int | None,
    now: datetime | None,
    *,
    look_up: bool,
) -> list[IngestResult]:
    items, hashes, first = batch.items, batch.hashes, batch.first
    existing = _existing(session, batch) if look_up else {}
    fresh = [i for i in first.values() if items[i].idempotency_key not in existing]
    scores = batch.score(scorer, fresh)
    batch.window(session, scorer, fresh, policy)
    when = now or utcnow()
    version = model_version(scorer) if scorer is not None else None
    rows = [
        _message_row(items[i], hashes[i], score, batch.windows.get(i), version, api_key_id, when)
        for i, score in zip(fresh, scores, strict=True)
    ]
    created: dict[str, StoredMessage] = {}
    if rows:
        # Two statements for any number of messages: the messages, then their cases.
        message_ids: list[int] = list(session.scalars(_INSERT_MESSAGES, rows))
        # Their ciphertexts bound to the ids they just got (storage.bind_rows).
        bind_rows(session.connection(), _MESSAGES, map(_with_id, rows, message_ids))
        case_rows = [
            _case_row(row, message_id, when)
            for row, message_id in zip(rows, message_ids, strict=True)
        ]
        case_ids: list[int] = list(session.scalars(_INSERT_CASES, case_rows))
        for row, case_row, case_id in zip(rows, case_rows, case_ids, strict=True):
            created[row["idempotency_key"]] = StoredMessage(
                id=case_row["message_id"],
                case_id=case_id,
                tier=case_row["tier"],
                **{name: row[name] for name in _STORED_FROM_MESSAGE},
            )
        _store_batch_contributors(session, batch, fresh, rows, created, existing)
    raise_ingest_alerts(session, policy, list(created.values()), rows, when)
    audit_window_reads(session, batch.window_reads, when)
    session.commit()
    for stored in created.values():
        log.debug(
            "stored message id=%d case=%d status=%s tier=%d",
            stored.id,
            stored.case_id,
            stored.score_status,
            stored.tier,
        )
    results = []
    for index, item in enumerate(items):
        key = item.idempotency_key
        if key in created:
            results.append(_result(created[key], duplicate=first[key] != index))
        else:
            results.append(_result(existing[key], duplicate=True))
    return results


_STORED_FROM_MESSAGE = (
    "idempotency_key",
    "score_status",
    "probability",
    "flagged",
    "threshold",
    "categories",
    "reasons",
    "model_version",
    "received_at",
    "score_tier",
    "language",
    "window_probability",
)


def _store_batch_contributors(
    session: Session,
    batch: _Batch,
    fresh: list[int],
    rows: list[dict[str, Any]],
    created: dict[str, StoredMessage],
    existing: dict[str, Any],
) -> None:
    """Contributors earlier in the same batch got their ids just now: write them."""
    pending = [
        (i, row)
        for i, row in zip(fresh, rows, strict=True)
        if row["window_probability"] is not None and row["window_contributors"] is None
    ]
    if not pending:
        return
    ids = {i: (created[k].id, created[k].case_id) for k, i in batch.first.items() if k in created}
    ids |= {
        i: (existing[k].id, existing[k].case_id) for k, i in batch.first.items() if k in existing
    }
    updates = [
        {"message_id": created[row["idempotency_key"]].id, "contributors": contributors}
        for i, row in pending
        if (contributors := contributor_rows(batch.windows[i], ids)) is not None
    ]
    if updates:
        session.execute(_SET_CONTRIBUTORS, updates)


def _message_row(
    item: IncomingMessage,
    request_sha256: str,
    score: Score,
    window: WindowScore | None,
    version: str | None,
    api_key_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    flagged, items = score.flagged, list(score.items)
    window_probability, contributors = None, None
    if window is not None:
        window_probability = window.probability
        contributors = contributor_rows(window, {})
        if window.probability > (score.probability or 0.0):
            items.append(ReasonItem.note(window.reason()))
        flagged = flagged or window.flagged
    return {
        "idempotency_key": item.idempotency_key,
        "request_sha256": request_sha256,
        "patient_id": item.patient_id,
        "sender": item.sender,
        "channel": item.channel,
        "sent_at": item.sent_at,
        "received_at": now,
        "text": item.text,
        "text_sha256": hashlib.sha256(item.text.encode("utf-8")).hexdigest(),
        "text_length": len(item.text),
        "demographics": item.demographics or None,
        "api_key_id": api_key_id,
        "score_status": score.status,
        "probability": score.probability,
        "flagged": flagged,
        "threshold": score.threshold,
        "categories": list(score.categories),
        # The reasons twice: as lines of text (the API's) and as data (the case page's).
        "reasons": [item.render() for item in items],
        "reason_items": [item.to_dict() for item in items],
        # The model that was asked, also when it gave no score (it failed, or the language is
        # one it does not cover): which model decided is always on record (None: none loaded).
        "model_version": version,
        "score_error": score.error,
        "score_tier": score.tier,
        "final_scored_at": now if score.tier == FINAL else None,
        # A fast score waits for its final one and an unscored message is retried; a message
        # in a language the model does not cover is not scored by either tier.
        "semantic_due_at": None if score.tier == FINAL or score.status == UNSUPPORTED else now,
        "semantic_attempts": 0,
        "language": score.language,
        "window_probability": window_probability,
        "window_contributors": contributors,
    }


def _with_id(row: dict[str, Any], message_id: int) -> dict[str, Any]:
    return {**row, "id": message_id}


def _case_row(message: dict[str, Any], message_id: int, now: datetime) -> dict[str, Any]:
    tier = tier_for(
        scored=message["score_status"] == SCORED,
        flagged=message["flagged"],
        partly=partly_scored(message["text_length"]),
    )
    return {
        "message_id": message_id,
        "status": CaseStatus.OPEN.value,
        "tier": int(tier),
        "risk": priority(message) if tier is Tier.CRISIS else 0.0,
        "sent_at": message["sent_at"],
        "created_at": now,
        "version": 1,
    }
