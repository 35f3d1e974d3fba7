"""Sensitivity per crisis category (SI, NSSI, DV, HI, OD) and for third-party reports.

A crisis row counts towards every category in its ``crisis_type`` (``SI/NSSI`` counts for
both); a message about someone else at risk (in the shared data, a ``label_note`` starting
with ``3P``) counts towards ``third_party`` as well.  Only crisis rows (label 1) count, so a
category's sensitivity is the share of its crises flagged, with a Wilson 95% interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from crisis_triage.evaluation._intervals import wilson_interval
from crisis_triage.lexicon import CATEGORIES

THIRD_PARTY = "third_party"
THIRD_PARTY_NOTE = "3P"


def third_party_flags(notes: Sequence[Any]) -> np.ndarray:
    """True for rows whose label note marks a third-party report (``3P ...``)."""
    return np.array(
        [isinstance(n, str) and n.strip().startswith(THIRD_PARTY_NOTE) for n in notes], dtype=bool
    )


def category_sensitivity(
    y_true: Sequence[int] | np.ndarray,
    flagged: Sequence[bool] | np.ndarray,
    crisis_types: Sequence[Any],
    third_party: Sequence[bool] | np.ndarray | None = None,
) -> dict[str, dict[str, Any]]:
    """``{category: {"k", "n", "value", "ci95"}}`` for categories with at least one crisis."""
    y = np.asarray(y_true) == 1
    hit = np.asarray(flagged, dtype=bool)
    if not len(y) == len(hit) == len(crisis_types):
        raise ValueError("labels, flags and crisis types must have the same length")
    members: dict[str, np.ndarray] = {}
    parts = [
        {p.strip().upper() for p in t.split("/")} if isinstance(t, str) else set()
        for t in crisis_types
    ]
    for category in CATEGORIES:
        members[category] = np.array([category in p for p in parts], dtype=bool)
    if third_party is not None:
        members[THIRD_PARTY] = np.asarray(third_party, dtype=bool)
    out: dict[str, dict[str, Any]] = {}
    for name, rows in members.items():
        crises = rows & y
        n = int(crises.sum())
        if not n:
            continue
        k = int((crises & hit).sum())
        low, high = wilson_interval(k, n)
        out[name] = {
            "k": k,
            "n": n,
            "value": round(k / n, 4),
            "ci95": [round(low, 4), round(high, 4)],
        }
    return out
