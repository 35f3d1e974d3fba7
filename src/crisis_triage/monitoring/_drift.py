"""Drift statistics: live scores against a reference score distribution.

The reference is a model card's ``reference_scores`` (quantiles of the model's out-of-fold
scores, see ``detector.score_reference``) or, for a card without one, the site's own first
days.  Two measures: the population stability index (PSI) on the reference's deciles, and the
Kolmogorov-Smirnov statistic of the live scores against the reference's distribution function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import ks_1samp

# Bins of the stored daily score histogram (the chart and the fallback reference): fine where
# scores crowd near zero, as a calibrated crisis probability at low prevalence does.
SCORE_BIN_EDGES = (
    0.0, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.0,
)  # fmt: skip
PSI_BINS = 10
# A bin with no reference or live share gets this much (PSI takes a log of the ratio).
PSI_FLOOR = 1e-4


@dataclass(frozen=True)
class ReferenceScores:
    """Quantiles (at evenly spaced levels from 0 to 1) of the reference scores, and its share
    of scores at or above the threshold."""

    quantiles: tuple[float, ...]
    flag_rate: float
    n: int
    source: str

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> ReferenceScores | None:
        entry = card.get("reference_scores")
        if not isinstance(entry, Mapping):
            return None
        quantiles = entry.get("quantiles")
        if not isinstance(quantiles, list) or len(quantiles) < 2:
            return None
        return cls(
            tuple(float(q) for q in quantiles),
            float(entry.get("flag_rate", 0.0)),
            int(entry.get("n", 0)),
            f"model card: {entry.get('source', 'reference_scores')}"[:200],
        )

    @classmethod
    def from_scores(cls, scores: Sequence[float], threshold: float, source: str) -> ReferenceScores:
        values = np.asarray(scores, dtype=float)
        levels = np.linspace(0.0, 1.0, 201)
        return cls(
            tuple(float(q) for q in np.quantile(values, levels)),
            float(np.mean(values >= threshold)),
            int(values.size),
            source[:200],
        )

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The reference distribution function, linear between its quantiles."""
        levels = np.linspace(0.0, 1.0, len(self.quantiles))
        q = np.asarray(self.quantiles)
        # Ties (many scores equal) make flat stretches of q: take the highest level at a value.
        unique, last = np.unique(q[::-1], return_index=True)
        top = levels[::-1][last]
        return np.asarray(np.interp(x, unique, top, left=0.0, right=1.0))

    def decile_edges(self) -> np.ndarray:
        levels = np.linspace(0.0, 1.0, len(self.quantiles))
        inner = np.interp(np.linspace(0, 1, PSI_BINS + 1)[1:-1], levels, self.quantiles)
        return np.unique(inner)


@dataclass(frozen=True)
class DriftBounds:
    """When a day's scores count as shifted (each configurable in the service settings)."""

    psi: float = 0.25
    ks_statistic: float = 0.2
    flag_rate_ratio: float = 2.0  # live flag rate above ratio x, or below 1/ratio x, reference
    min_messages: int = 200  # fewer scored messages in a day: not judged


@dataclass(frozen=True)
class DriftCheck:
    n: int
    psi: float | None
    ks_statistic: float | None
    ks_pvalue: float | None
    flag_rate: float | None
    reference_flag_rate: float
    reasons: tuple[str, ...]

    @property
    def shifted(self) -> bool:
        return bool(self.reasons)


def population_stability_index(reference: ReferenceScores, scores: np.ndarray) -> float:
    """PSI = sum (live - ref) * ln(live / ref) over the reference's deciles."""
    edges = reference.decile_edges()
    ref_share = np.diff(np.concatenate([[0.0], reference.cdf(edges), [1.0]]))
    # Right-closed bins (a score equal to an edge belongs below it), as the cdf counts it.
    live_counts = np.bincount(np.searchsorted(edges, scores, side="left"), minlength=edges.size + 1)
    live_share = live_counts / max(1, scores.size)
    ref_share = np.maximum(ref_share, PSI_FLOOR)
    live_share = np.maximum(live_share, PSI_FLOOR)
    return float(np.sum((live_share - ref_share) * np.log(live_share / ref_share)))


def check_drift(
    reference: ReferenceScores,
    scores: Sequence[float] | np.ndarray,
    flagged: int,
    bounds: DriftBounds,
) -> DriftCheck:
    """The day's drift statistics and, when beyond ``bounds``, why it counts as shifted."""
    values = np.asarray(scores, dtype=float)
    if values.size < bounds.min_messages:
        return DriftCheck(values.size, None, None, None, None, reference.flag_rate, ())
    psi = population_stability_index(reference, values)
    ks = ks_1samp(values, reference.cdf)
    flag_rate = flagged / values.size
    reasons: list[str] = []
    if psi > bounds.psi:
        reasons.append(f"score distribution PSI {psi:.3f} > {bounds.psi:g}")
    if float(ks.statistic) > bounds.ks_statistic:
        reasons.append(f"KS statistic {float(ks.statistic):.3f} > {bounds.ks_statistic:g}")
    ref = reference.flag_rate
    low, high = ref / bounds.flag_rate_ratio, ref * bounds.flag_rate_ratio
    if ref > 0 and not low <= flag_rate <= high:
        reasons.append(
            f"flag rate {1000 * flag_rate:.1f}/1,000 outside {1000 * low:.1f}-{1000 * high:.1f} "
            f"(reference {1000 * ref:.1f})"
        )
    return DriftCheck(
        n=int(values.size),
        psi=round(psi, 4),
        ks_statistic=round(float(ks.statistic), 4),
        ks_pvalue=float(ks.pvalue),
        flag_rate=round(flag_rate, 6),
        reference_flag_rate=ref,
        reasons=tuple(reasons),
    )
