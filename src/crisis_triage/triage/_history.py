"""What a specialist needs around one case: the patient's other messages and cases, and the
stored reasons of a score as items for display (matched terms, phrases, the risk sentence).

These read message text: whoever shows it to a person records ``message.read`` in the audit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.detector import ReasonItem
from crisis_triage.storage import Case, Message
from crisis_triage.triage._states import CaseStatus, Tier


@dataclass(frozen=True)
class HistoryItem:
    """One earlier (or later) message of the same patient and its case."""

    case_id: int
    message_id: int
    sent_at: datetime
    text: str
    channel: str
    tier: Tier
    status: CaseStatus
    disposition: str | None
    crisis_type: str | None


# Shown in place of a message whose text the retention policy purged (metadata stays).
PURGED_TEXT = "[text purged under the retention policy]"


def shown_text(message: Message) -> str:
    """The message text as a reader sees it: the text, or a notice once it was purged."""
    return PURGED_TEXT if message.text_purged_at is not None else message.text


def patient_history(
    session: Session, patient_id: str, *, exclude_case_id: int | None = None, limit: int = 10
) -> list[HistoryItem]:
    """The patient's most recent messages with their cases, newest first."""
    stmt = (
        select(Case, Message)
        .join(Message, Message.id == Case.message_id)
        .where(Message.patient_id == patient_id)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(limit)
    )
    if exclude_case_id is not None:
        stmt = stmt.where(Case.id != exclude_case_id)
    return [
        HistoryItem(
            case_id=case.id,
            message_id=message.id,
            sent_at=message.sent_at,
            text=shown_text(message),
            channel=message.channel,
            tier=Tier(case.tier),
            status=CaseStatus(case.status),
            disposition=case.disposition,
            crisis_type=case.crisis_type,
        )
        for case, message in session.execute(stmt)
    ]


@dataclass(frozen=True)
class Reason:
    """One stored reason for display: a lexicon hit, a phrase (n-gram) with its weight, the risk
    sentence, the evidence, or a plain note.

    ``counts`` is False for a lexicon hit that a context rule explained away (negation etc.);
    ``context`` is what the context rules said about the hit, as the detector wrote it.
    """

    kind: str  # "lexicon" | "phrase" | "ngram" | "sentence" | "evidence" | "note"
    text: str
    term: str | None = None
    category: str | None = None
    weight: float | None = None
    counts: bool = True
    context: str | None = None
    span: tuple[int, int] | None = None  # "sentence": the risk sentence's characters


def reason_from_item(item: ReasonItem) -> Reason:
    return Reason(
        item.kind,
        item.render(),
        term=item.term,
        category=item.category,
        weight=item.weight,
        counts=item.counts,
        context=item.context_text().strip() or None,
        span=item.span,
    )


def stored_reasons(message: Message) -> list[Reason]:
    """The message's reasons for display: from the items stored at scoring time, or (a message
    stored before they were, or whose items cannot be read) from its reason strings."""
    stored = message.reason_items
    if isinstance(stored, list):
        try:
            return [reason_from_item(ReasonItem.from_dict(entry)) for entry in stored]
        except (AttributeError, ValueError):
            pass  # not items (the page shows what it can): the strings follow
    return parse_reasons(list(message.reasons))


# Rows stored before migration 0014 have only the strings, taken apart here.
# LexiconHit.describe(): "CAT:entry 'term'", then " (effect: rule)" when a context rule explained
# the hit away and " [effect: rule, ...]" for annotations.  The matched term may hold apostrophes
# ("can't go on"): the tail is anchored at the end, so the term runs to the last quote before it.
_LEXICON = re.compile(
    r"^lexicon (?P<cat>[A-Z]+):(?P<entry>\S+) '(?P<term>.*)'"
    r"(?P<rest>(?: \([^()']*\))?(?: \[[^\[\]']*\])?)$"
)
# Greedy: a phrase may hold apostrophes ("i'm"); the weight is always last.
_NGRAM = re.compile(r"^(?:ngram|phrase) '(?P<gram>.*)' (?P<weight>[+-]\d+(?:\.\d+)?)$")
_SENTENCE = re.compile(r"^risk sentence: characters (?P<start>\d+)-(?P<end>\d+)$")


def parse_reasons(reasons: list[str]) -> list[Reason]:
    """The detector's reason strings (``Explanation.reasons``) as structured items."""
    parsed = []
    for reason in reasons:
        if match := _LEXICON.match(reason):
            parsed.append(
                Reason(
                    "lexicon",
                    reason,
                    term=match["term"],
                    category=match["cat"],
                    counts=not match["rest"].strip().startswith("("),
                    context=match["rest"].strip() or None,
                )
            )
        elif match := _NGRAM.match(reason):
            parsed.append(
                Reason("ngram", reason, term=match["gram"], weight=float(match["weight"]))
            )
        elif match := _SENTENCE.match(reason):
            span = (int(match["start"]), int(match["end"]))
            parsed.append(Reason("sentence", reason, span=span))
        else:
            parsed.append(Reason("note", reason))
    return parsed


def highlight_spans(text: str, terms: list[str]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, matched) pairs, marking whole-word, case-insensitive matches
    of ``terms`` (the detector matches normalised text, so spacing may differ: any run of
    whitespace or punctuation between words matches)."""
    words = [re.findall(r"\w+", t) for t in terms if t.strip()]
    patterns = [r"\W+".join(map(re.escape, w)) for w in words if w]
    if not patterns:
        return [(text, False)] if text else []
    longest_first = sorted(set(patterns), key=len, reverse=True)
    regex = re.compile(r"\b(?:" + "|".join(longest_first) + r")\b", re.IGNORECASE)
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in regex.finditer(text):
        if match.start() > position:
            pieces.append((text[position : match.start()], False))
        pieces.append((match.group(0), True))
        position = match.end()
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def message_previews(
    session: Session, message_ids: list[int], *, length: int = 160
) -> dict[int, str]:
    """The first ``length`` characters of each message, on one line (for the queue)."""
    if not message_ids:
        return {}
    # The text is encrypted at rest, so it is read whole and cut here, not in SQL.
    rows = session.execute(
        select(Message.id, Message.text, Message.text_purged_at).where(Message.id.in_(message_ids))
    )
    previews = {}
    for message_id, text, purged_at in rows:
        line = PURGED_TEXT if purged_at is not None else " ".join(str(text).split())
        if len(line) > length:
            line = line[: length - 1].rstrip() + "…"
        previews[message_id] = line
    return previews
