"""Scoring policy for batches of raw message values (what the CLI and service score).

Nothing is dropped:

- a missing text (None, NaN) is scored as an empty message, with a reason saying so;
- an empty or blank text is scored as it is (the model gives it its base score);
- a text longer than ``max_chars`` is *not* scored: it comes back flagged, with no
  probability and a reason, so that a person reads it (a human reviews everything);
- any other value (a number, say) is scored as its string form;
- a text reliably identified as a language the model does not cover (see ``_language``) is
  *not* scored either: flagged, no probability, "language not supported (detected: fr)".

Every row records the detected language (``und`` when undetermined).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from crisis_triage.detector._explanation import Scorer
from crisis_triage.detector._language import (
    check_language,
    model_languages,
    unsupported_language_reason,
)
from crisis_triage.text import UNDETERMINED

MAX_CHARS = 100_000
MISSING_NOTE = "missing text: scored as an empty message"
EMPTY_NOTE = "empty message"
UNSUPPORTED_LANGUAGE = "unsupported_language"


@dataclass(frozen=True)
class ScoredMessage:
    """One row of scoring output. ``probability`` is None when the message was not scored."""

    probability: float | None
    flagged: bool
    categories: tuple[str, ...]
    reasons: tuple[str, ...]
    status: str  # "scored", "empty", "missing", "too_long" or "unsupported_language"
    language: str = UNDETERMINED  # ISO 639-1 code, "und" when undetermined

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
    languages = model_languages(model)
    language = [UNDETERMINED] * len(texts)
    for i, state in enumerate(status):
        if state in ("scored", "empty"):
            check = check_language(texts[i], languages)
            language[i] = check.code
            if not check.supported:
                status[i] = UNSUPPORTED_LANGUAGE
    scorable = [i for i, s in enumerate(status) if s not in ("too_long", UNSUPPORTED_LANGUAGE)]
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
                    language[i],
                )
            )
            continue
        if state == UNSUPPORTED_LANGUAGE:
            reason = unsupported_language_reason(language[i])
            out.append(ScoredMessage(None, True, (), (reason,), state, language[i]))
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
                language[i],
            )
        )
    return out


# The columns the score command adds to a table (``status`` is kept apart: it feeds the summary).
SCORE_COLUMNS = ("probability", "flagged", "categories", "reasons", "language")


def score_frame(
    model: Scorer, values: Sequence[Any], *, max_chars: int = MAX_CHARS
) -> pd.DataFrame:
    """The score columns (and ``status``) for one chunk of raw text values, in their order.

    One scoring path: the local ``score`` command and the Spark UDF both call this, so the two
    engines give the same scores for the same file.
    """
    rows = score_messages(model, values, max_chars=max_chars)
    return pd.DataFrame(
        {
            "probability": pd.Series(
                [math.nan if r.probability is None else r.probability for r in rows],
                dtype="float64",
            ),
            "flagged": pd.Series([r.flagged for r in rows], dtype="bool"),
            "categories": pd.Series([r.category_text for r in rows], dtype="object"),
            "reasons": pd.Series([r.reason_text for r in rows], dtype="object"),
            "language": pd.Series([r.language for r in rows], dtype="object"),
            "status": pd.Series([r.status for r in rows], dtype="object"),
        }
    )
