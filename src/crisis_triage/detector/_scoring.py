"""Scoring policy for batches of raw message values (what the CLI and service score).

Nothing is dropped:

- a missing text (None, NaN) is scored as an empty message, with a reason saying so;
- an empty or blank text is scored as it is (the model gives it its base score);
- a text longer than ``max_chars`` is *not* scored: it comes back flagged, with no
  probability and a reason, so that a person reads it (a human reviews everything);
- any other value (a number, say) is scored as its string form.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from crisis_triage.detector._explanation import Scorer

MAX_CHARS = 100_000
MISSING_NOTE = "missing text: scored as an empty message"
EMPTY_NOTE = "empty message"


@dataclass(frozen=True)
class ScoredMessage:
    """One row of scoring output. ``probability`` is None when the message was not scored."""

    probability: float | None
    flagged: bool
    categories: tuple[str, ...]
    reasons: tuple[str, ...]
    status: str  # "scored", "empty", "missing" or "too_long"

    @property
    def category_text(self) -> str:
        return "/".join(self.categories)

    @property
    def reason_text(self) -> str:
        return "; ".join(self.reasons)


def score_messages(
    model: Scorer, values: Sequence[Any], *, max_chars: int = MAX_CHARS
) -> list[ScoredMessage]:
    """Score raw values from a table column, applying the policy above."""
    texts: list[str] = []
    status: list[str] = []
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            texts.append("")
            status.append("missing")
            continue
        text = value if isinstance(value, str) else str(value)
        texts.append(text)
        if len(text) > max_chars:
            status.append("too_long")
        elif not text.strip():
            status.append("empty")
        else:
            status.append("scored")
    scorable = [i for i, s in enumerate(status) if s != "too_long"]
    explanations = model.explain([texts[i] for i in scorable]) if scorable else []
    explained = dict(zip(scorable, explanations, strict=True))
    out: list[ScoredMessage] = []
    for i, state in enumerate(status):
        if state == "too_long":
            out.append(
                ScoredMessage(
                    None,
                    True,
                    (),
                    (
                        f"not scored: the message has {len(texts[i]):,} characters, over the "
                        f"limit of {max_chars:,}; flagged for human review",
                    ),
                    state,
                )
            )
            continue
        e = explained[i]
        notes = {"missing": (MISSING_NOTE,), "empty": (EMPTY_NOTE,)}.get(state, ())
        out.append(
            ScoredMessage(
                e.probability,
                e.flagged,
                e.categories,
                (*notes, *e.reasons(), f"threshold {e.threshold:.4g}"),
                state,
            )
        )
    return out
