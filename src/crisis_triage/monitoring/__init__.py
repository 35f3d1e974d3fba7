"""Drift and flag-rate monitoring: daily aggregates of the live score stream, drift statistics
(PSI, Kolmogorov-Smirnov) against the model card's reference score distribution, and an
operator alert when the scores shift (docs/monitoring.md)."""

from crisis_triage.monitoring._daily import (
    MonitoringPolicy,
    aggregate_day,
    baseline_reference,
    recent_days,
    run_monitoring,
)
from crisis_triage.monitoring._drift import (
    SCORE_BIN_EDGES,
    DriftBounds,
    DriftCheck,
    ReferenceScores,
    check_drift,
    population_stability_index,
)

__all__ = [
    "SCORE_BIN_EDGES",
    "DriftBounds",
    "DriftCheck",
    "MonitoringPolicy",
    "ReferenceScores",
    "aggregate_day",
    "baseline_reference",
    "check_drift",
    "population_stability_index",
    "recent_days",
    "run_monitoring",
]
