"""Which scoring tiers a model offers: a two-tier model scores fast at ingest and finally later.

A two-tier detector offers ``explain_fast`` (lexicon evidence, n-grams, a static embedding: a
few milliseconds a message) and ``semantic_available()`` besides ``explain`` (both tiers, with a
full transformer encoder).  Older models only have ``explain``: their score is final at ingest.
These are optional capabilities, so they are looked up on the object rather than demanded by
the ``Scorer`` protocol.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from crisis_triage.detector import Explanation, Scorer

log = logging.getLogger(__name__)

FAST = "fast"
FINAL = "final"

Explain = Callable[[Sequence[str]], list[Explanation]]


class TierMode(StrEnum):
    TWO_TIER = "two_tier"  # fast at ingest, final from the semantic worker
    SEMANTIC_UNAVAILABLE = "semantic_unavailable"  # a two-tier model without its encoder
    SINGLE_TIER = "single_tier"  # an older model: its score is final at ingest
    NO_MODEL = "no_model"


@dataclass(frozen=True)
class TierStatus:
    """What the service says about its tiers (healthz, start-up log)."""

    mode: TierMode
    detail: str

    @property
    def semantic_available(self) -> bool:
        return self.mode is TierMode.TWO_TIER


def _semantic_available(scorer: Scorer) -> bool | None:
    """True/False from a two-tier model; None when the model has no such capability."""
    check = getattr(scorer, "semantic_available", None)
    if not callable(check) or not callable(getattr(scorer, "explain_fast", None)):
        return None
    try:
        return bool(check())
    except Exception as exc:  # a broken check means no encoder: never a failed ingest
        log.error("semantic_available() failed: %s", type(exc).__name__)
        return False


def fast_explainer(scorer: Scorer | None) -> Explain | None:
    """The model's fast tier when its semantic tier can give a final score later, else None
    (then ingest scores with ``explain`` and the score is final)."""
    if scorer is None or not _semantic_available(scorer):
        return None
    explain_fast: Explain = getattr(scorer, "explain_fast")  # noqa: B009 (optional capability)
    return explain_fast


def tier_status(scorer: Scorer | None, problem: str | None = None) -> TierStatus:
    if scorer is None:
        return TierStatus(TierMode.NO_MODEL, problem or "no model is loaded")
    available = _semantic_available(scorer)
    if available is None:
        return TierStatus(TierMode.SINGLE_TIER, "a one-tier model: scores are final at ingest")
    if available:
        return TierStatus(
            TierMode.TWO_TIER,
            "fast tier at ingest; the semantic tier re-scores every message in the background",
        )
    reason = getattr(scorer, "semantic_problem", None)
    why = str(reason() if callable(reason) else reason or "")[:200]
    return TierStatus(
        TierMode.SEMANTIC_UNAVAILABLE,
        "SEMANTIC TIER UNAVAILABLE"
        + (f" ({why})" if why else " (the encoder's package or files are missing)")
        + ": final scores come from the fast tier alone (lexicon, n-grams, static embedding), "
        "which misses crises that need meaning rather than words",
    )


def log_tier_status(status: TierStatus) -> None:
    """Say at start-up which tier is active; loudly when the semantic tier is missing."""
    if status.mode is TierMode.SEMANTIC_UNAVAILABLE:
        log.error("scoring tiers: %s", status.detail)
    elif status.mode is TierMode.NO_MODEL:
        log.error("scoring tiers: none (%s); messages queue unscored", status.detail)
    else:
        log.info("scoring tiers: %s (%s)", status.mode.value, status.detail)
