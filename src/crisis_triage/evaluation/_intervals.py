"""Point estimates with confidence intervals, and the rule that picks the interval method.

Proportions (sensitivity, specificity, PPV, NPV, flag rate) get a Wilson score interval when
their denominator is small (fewer than ``wilson_below`` cases) or when successes or failures are
fewer than five — there a bootstrap percentile interval is too narrow or collapses to a point.
Everything else gets the stratified bootstrap percentile interval.  Each estimate records which
method it used.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import binomtest

WILSON = "wilson"
BOOTSTRAP = "bootstrap"
NO_INTERVAL = "none"
MIN_FINITE_SHARE = 0.9  # below this share of defined resamples, the bootstrap gives no interval


@dataclass(frozen=True)
class Estimate:
    """A metric value with its interval; ``None`` where undefined."""

    value: float | None
    low: float | None = None
    high: float | None = None
    method: str = NO_INTERVAL
    numerator: int | None = None
    denominator: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Estimate:
        return cls(**raw)


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (scipy's implementation)."""
    if trials <= 0:
        return math.nan, math.nan
    ci = binomtest(int(successes), int(trials)).proportion_ci(
        confidence_level=level, method="wilson"
    )
    return float(ci.low), float(ci.high)


def percentile_interval(
    replicates: NDArray[np.float64], level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval over the defined replicates (``nan`` if too few)."""
    finite = replicates[np.isfinite(replicates)]
    if replicates.size == 0 or finite.size < MIN_FINITE_SHARE * replicates.size:
        return math.nan, math.nan
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high)


def uses_wilson(successes: int, trials: int, wilson_below: int) -> bool:
    return trials < wilson_below or min(successes, trials - successes) < 5


def estimate(
    value: float,
    replicates: NDArray[np.float64] | None,
    *,
    level: float = 0.95,
    counts: tuple[int, int] | None = None,
    scale: float = 1.0,
    wilson_below: int = 100,
) -> Estimate:
    """The value and its interval: Wilson for small proportions, else bootstrap percentile.

    ``counts`` = (successes, trials) marks the metric as a proportion; ``scale`` multiplies a
    Wilson interval (1000 for flags per 1,000).
    """
    point = _finite(value)
    numerator, denominator = counts if counts is not None else (None, None)
    if point is None:
        return Estimate(None, numerator=numerator, denominator=denominator)
    if counts is not None and (replicates is None or uses_wilson(*counts, wilson_below)):
        low, high = wilson_interval(counts[0], counts[1], level)
        return Estimate(point, _finite(low * scale), _finite(high * scale), WILSON, *counts)
    if replicates is None:
        return Estimate(point, numerator=numerator, denominator=denominator)
    low, high = percentile_interval(replicates, level)
    method = BOOTSTRAP if math.isfinite(low) else NO_INTERVAL
    return Estimate(point, _finite(low), _finite(high), method, numerator, denominator)
