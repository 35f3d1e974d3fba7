"""Patient-level risk: a message scored together with the same patient's earlier ones.

"I've been saving my pills" on Monday and "tonight is the night" on Wednesday may each score
low; read together they are a crisis.  For each new scored message, the patient's earlier
scored messages sent within ``policy.patient_window_hours`` before it (the latest
``policy.patient_window_messages`` of them, stored ones and ones earlier in the same batch) are
joined with it, oldest first, and scored as one text.  The case is ordered on the larger of the
message's own and this window probability; a window at or over the threshold flags the message.

Which messages mattered is measured by leaving each out in turn: its contribution is how much
the window probability drops without it (kept when over ``MIN_CONTRIBUTION``).  The window
counts only when the new message itself contributes: otherwise every later message of a patient
with one crisis would be a new crisis (and a new alert) for the next three days, though the
earlier message already has its own case.  The
scorer's ``explain_fast`` is used when it has one (the synchronous tier), else ``explain``.

Reading the earlier messages' text is a system read of message text: the caller audits it
(``read_message_ids``).  Nothing here may fail an ingest: the caller falls back to the message's
own score when this raises.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from crisis_triage.detector import Explanation, Scorer
from crisis_triage.governance import MAX_DETAIL_LENGTH, AuditActor, record_audit
from crisis_triage.storage import UNREADABLE_TEXT, Case, Message
from crisis_triage.triage._scoring import scored_part

SCORED = "scored"
MIN_CONTRIBUTION = 0.01
SEPARATOR = "\n"

_MESSAGES = cast(Table, Message.__table__)
_CASES = cast(Table, Case.__table__)
# A patient's latest scored, readable messages sent in [start, end): text is decrypted by the
# column type, so only these (at most ``limit``) texts are read.
_EARLIER = (
    select(_MESSAGES.c.id, _MESSAGES.c.sent_at, _MESSAGES.c.text, _CASES.c.id.label("case_id"))
    .join(_CASES, _CASES.c.message_id == _MESSAGES.c.id)
    .where(
        _MESSAGES.c.patient_id == bindparam("patient_id"),
        _MESSAGES.c.score_status == SCORED,
        _MESSAGES.c.text_purged_at.is_(None),
        _MESSAGES.c.sent_at >= bindparam("start"),
        _MESSAGES.c.sent_at < bindparam("end"),
    )
    .order_by(_MESSAGES.c.sent_at.desc(), _MESSAGES.c.id.desc())
    .limit(bindparam("limit"))
)


class WindowItem(Protocol):
    """What the window needs of an incoming message."""

    @property
    def patient_id(self) -> str: ...
    @property
    def sent_at(self) -> datetime: ...
    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class EarlierRef:
    """An earlier message: stored (``message_id``/``case_id``) or earlier in this batch
    (``batch_index``, its ids are known only once it is written)."""

    sent_at: datetime
    message_id: int | None = None
    case_id: int | None = None
    batch_index: int | None = None


@dataclass(frozen=True)
class WindowScore:
    probability: float
    flagged: bool
    threshold: float
    size: int  # earlier messages scored with this one
    contributors: tuple[tuple[EarlierRef, float], ...]  # (earlier message, drop), largest first

    def reason(self) -> str:
        return (
            f"patient window: risk {self.probability:.0%} read with {self.size} earlier "
            f"message(s) of this patient (threshold {self.threshold:.0%})"
        )


@dataclass(frozen=True)
class WindowPolicy:
    hours: float
    max_messages: int

    @property
    def enabled(self) -> bool:
        return self.hours > 0 and self.max_messages > 0


def _earlier(
    session: Session,
    items: Sequence[WindowItem],
    index: int,
    candidates: Sequence[int],
    policy: WindowPolicy,
) -> list[tuple[EarlierRef, str]]:
    """The earlier messages of item ``index``'s patient in the window, oldest first."""
    item = items[index]
    start = item.sent_at - timedelta(hours=policy.hours)
    rows = session.execute(
        _EARLIER,
        {
            "patient_id": item.patient_id,
            "start": start,
            "end": item.sent_at,
            "limit": policy.max_messages,
        },
    )
    found = [
        (EarlierRef(row.sent_at, message_id=row.id, case_id=row.case_id), row.text)
        for row in rows
        if row.text != UNREADABLE_TEXT
    ]
    for other in candidates:
        mate = items[other]
        same_patient = other != index and mate.patient_id == item.patient_id
        if same_patient and start <= mate.sent_at < item.sent_at:
            found.append((EarlierRef(mate.sent_at, batch_index=other), mate.text))
    found.sort(key=lambda pair: (pair[0].sent_at, pair[0].batch_index or -1))
    return found[-policy.max_messages :]


def _explainer(scorer: Scorer) -> Callable[[Sequence[str]], list[Explanation]]:
    fast: Any = getattr(scorer, "explain_fast", None)
    if callable(fast):
        return cast(Callable[[Sequence[str]], list[Explanation]], fast)
    return scorer.explain


def _probability(explanation: Explanation) -> float:
    probability = float(explanation.probability)
    if not math.isfinite(probability) or not 0.0 <= probability <= 1.0:
        raise ValueError("the scorer gave no valid probability for a patient window")
    return probability


def _parts(
    items: Sequence[WindowItem],
    index: int,
    earlier: list[tuple[EarlierRef, str]],
    left_out: int | None,
) -> list[str]:
    # Each message as the model reads it on its own: a long one counts by its scored part.
    parts = [scored_part(text) for text in [*(text for _ref, text in earlier), items[index].text]]
    return parts if left_out is None else parts[:left_out] + parts[left_out + 1 :]


def _joined(
    items: Sequence[WindowItem], index: int, earlier: list[tuple[EarlierRef, str]]
) -> tuple[str, str]:
    """The window, and the window without the new message."""
    parts = _parts(items, index, earlier, None)
    return SEPARATOR.join(parts), SEPARATOR.join(parts[:-1])


def _scored(
    explain: Callable[[Sequence[str]], list[Explanation]], pairs: list[tuple[str, str]]
) -> list[tuple[Explanation, Explanation]]:
    texts = [text for pair in pairs for text in pair]
    explained = explain(texts) if texts else []
    if len(explained) != len(texts):
        raise ValueError("the scorer returned the wrong number of window explanations")
    return list(zip(explained[0::2], explained[1::2], strict=True))


def patient_windows(
    session: Session,
    scorer: Scorer,
    items: Sequence[WindowItem],
    own: Mapping[int, float],
    policy: WindowPolicy,
) -> tuple[dict[int, WindowScore], dict[str, list[int]]]:
    """Window scores for the items whose own probabilities are ``own`` (by index), where the
    new message adds to the window's risk, and the ids of the stored messages whose text was
    read, by patient (to audit).  Contributors are measured only for a window that raises the
    priority (above the message's own probability): the common case costs two texts."""
    indices = list(own)
    if not policy.enabled or not indices:
        return {}, {}
    windows: dict[int, list[tuple[EarlierRef, str]]] = {}
    read: dict[str, dict[int, None]] = {}
    for index in indices:
        earlier = _earlier(session, items, index, indices, policy)
        for ref, _text in earlier:
            if ref.message_id is not None:
                read.setdefault(items[index].patient_id, {})[ref.message_id] = None
        if earlier:
            windows[index] = earlier
    explain = _explainer(scorer)
    # First the window and the window without the new message, for every item: most windows
    # stop here (the new message adds nothing, or the window is below its own score).
    first = _scored(explain, [_joined(items, i, earlier) for i, earlier in windows.items()])
    counted: dict[int, tuple[Explanation, float]] = {}
    for index, (whole, without_new) in zip(windows, first, strict=True):
        probability = _probability(whole)
        if probability - _probability(without_new) > MIN_CONTRIBUTION:
            counted[index] = (whole, probability)
    # Then, where the window raises the priority, which earlier messages did it.
    raising = [i for i, (_w, p) in counted.items() if p > own.get(i, 0.0)]
    loo = [
        SEPARATOR.join(_parts(items, i, windows[i], left_out))
        for i in raising
        for left_out in range(len(windows[i]))
    ]
    loo_explained = explain(loo) if loo else []
    if len(loo_explained) != len(loo):
        raise ValueError("the scorer returned the wrong number of window explanations")
    without_each = iter([_probability(e) for e in loo_explained])
    scores: dict[int, WindowScore] = {}
    for index, (whole, probability) in counted.items():
        earlier = windows[index]
        drops: list[tuple[EarlierRef, float]] = []
        if index in raising:
            for ref, _text in earlier:
                drop = probability - next(without_each)
                if drop > MIN_CONTRIBUTION:
                    drops.append((ref, round(drop, 4)))
        drops.sort(key=lambda pair: -pair[1])
        threshold = float(whole.threshold)
        scores[index] = WindowScore(
            probability=probability,
            flagged=probability >= threshold,
            threshold=threshold,
            size=len(earlier),
            contributors=tuple(drops),
        )
    return scores, {patient: list(ids) for patient, ids in read.items()}


def contributor_rows(
    window: WindowScore, ids: dict[int, tuple[int, int]]
) -> list[dict[str, Any]] | None:
    """The earlier messages that raised the window, as stored ids; None while one of them
    (earlier in this batch) has no id yet."""
    out = []
    for ref, drop in window.contributors:
        message_id, case_id = ref.message_id, ref.case_id
        if ref.batch_index is not None:
            if ref.batch_index not in ids:
                return None
            message_id, case_id = ids[ref.batch_index]
        out.append({"message_id": message_id, "case_id": case_id, "drop": drop})
    return out


def audit_window_reads(session: Session, reads: dict[str, list[int]], now: datetime) -> None:
    """One system read per patient whose earlier messages a window read (ids, never text)."""
    for patient_id, message_ids in reads.items():
        details: dict[str, str | int] = {"purpose": "patient_window", "count": len(message_ids)}
        chunk: list[str] = []
        part = 1
        for message_id in [*message_ids, None]:
            if (
                message_id is not None
                and len(",".join([*chunk, str(message_id)])) <= MAX_DETAIL_LENGTH
            ):
                chunk.append(str(message_id))
                continue
            details["message_ids" if part == 1 else f"message_ids_{part}"] = ",".join(chunk)
            chunk, part = ([str(message_id)] if message_id is not None else []), part + 1
        record_audit(
            session,
            "message.read",
            actor=AuditActor.system(),
            patient_id=patient_id,
            details=details,
            at=now,
        )
