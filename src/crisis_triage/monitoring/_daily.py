"""The daily aggregates job: one ``daily_monitoring`` row per UTC day of receipt, drift checked
against the reference, and one operator alert (through the alert path) for a shifted day.

Reads scores, flags, languages, statuses and dispositions: never message text.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisis_triage.monitoring._drift import (
    SCORE_BIN_EDGES,
    DriftBounds,
    DriftCheck,
    ReferenceScores,
    check_drift,
)
from crisis_triage.storage import Case, DailyMonitoring, Message
from crisis_triage.triage import AlertKind, Disposition, Tier, TriagePolicy, raise_alert

log = logging.getLogger(__name__)

_PPV_DENOMINATOR = {
    Disposition.CONFIRMED_CRISIS.value,
    Disposition.NOT_CRISIS.value,
    Disposition.NEEDS_FOLLOW_UP.value,
}


@dataclass(frozen=True)
class MonitoringPolicy:
    """The job's knobs (the service builds this from its settings)."""

    bounds: DriftBounds = field(default_factory=DriftBounds)
    days_back: int = 7  # complete days recomputed each run (dispositions arrive late)
    baseline_days: int = 14  # without a card reference: the site's first days are the reference


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _day_rows(session: Session, day: date) -> list[Any]:
    start = _day_start(day)
    return list(
        session.execute(
            select(
                Message.probability,
                Message.flagged,
                Message.language,
                Message.model_version,
                Case.tier,
                Case.disposition,
            )
            .outerjoin(Case, Case.message_id == Message.id)
            .where(Message.received_at >= start, Message.received_at < start + timedelta(days=1))
        )
    )


def baseline_reference(
    session: Session, policy: MonitoringPolicy, threshold: float, *, now: datetime
) -> ReferenceScores | None:
    """The fallback reference: scores of the first ``baseline_days`` complete days stored
    (None until there are that many days and enough scores)."""
    first = session.scalar(select(Message.received_at).order_by(Message.received_at).limit(1))
    if first is None:
        return None
    start = _day_start(first.date())
    end = start + timedelta(days=policy.baseline_days)
    if end > now:
        return None
    scores = session.scalars(
        select(Message.probability).where(
            Message.received_at >= start,
            Message.received_at < end,
            Message.probability.is_not(None),
        )
    ).all()
    if len(scores) < policy.bounds.min_messages:
        return None
    return ReferenceScores.from_scores(
        [float(s) for s in scores if s is not None],
        threshold,
        f"this site's first {policy.baseline_days} days ({start.date()} on)",
    )


def aggregate_day(
    session: Session,
    day: date,
    reference: ReferenceScores | None,
    bounds: DriftBounds,
    *,
    now: datetime,
) -> tuple[DailyMonitoring, DriftCheck | None]:
    """Compute (or recompute) one day's row; the drift check is None without a reference."""
    rows = _day_rows(session, day)
    scores = np.array([r.probability for r in rows if r.probability is not None], dtype=float)
    flagged = sum(1 for r in rows if r.flagged)
    histogram = np.histogram(np.clip(scores, 0.0, 1.0), bins=np.asarray(SCORE_BIN_EDGES))[0]
    resolved = [r.disposition for r in rows if r.tier == Tier.CRISIS and r.disposition]
    resolved = [d for d in resolved if d in _PPV_DENOMINATOR]
    scored_by = (r.model_version for r in rows if r.probability is not None and r.model_version)
    versions = Counter(scored_by)  # the model that scored most of the day
    check = check_drift(reference, scores, flagged, bounds) if reference is not None else None
    row = session.get(DailyMonitoring, day)
    if row is None:
        row = DailyMonitoring(day=day, drift_alerted_at=None)
        session.add(row)
    row.computed_at = now
    row.complete = _day_start(day) + timedelta(days=1) <= now
    row.messages = len(rows)
    row.scored = int(scores.size)
    row.unscored = len(rows) - int(scores.size)
    row.flagged = flagged
    row.score_histogram = [int(c) for c in histogram]
    row.languages = dict(Counter(r.language or "unknown" for r in rows))
    row.ppv_resolved = len(resolved)
    row.ppv_confirmed = sum(d == Disposition.CONFIRMED_CRISIS.value for d in resolved)
    row.psi = check.psi if check else None
    row.ks_statistic = check.ks_statistic if check else None
    row.ks_pvalue = check.ks_pvalue if check else None
    row.reference_source = reference.source if reference else None
    row.model_version = versions.most_common(1)[0][0] if versions else None
    return row, check


def run_monitoring(
    session: Session,
    triage_policy: TriagePolicy,
    policy: MonitoringPolicy,
    *,
    card: dict[str, Any] | None,
    threshold: float | None,
    now: datetime,
) -> list[DailyMonitoring]:
    """Recompute the last ``days_back`` complete days and today; raise one operator alert for
    each complete day whose scores shifted beyond the bounds.  Commits."""
    reference = ReferenceScores.from_card(card or {})
    if reference is None and threshold is not None:
        reference = baseline_reference(session, policy, threshold, now=now)
    today = now.date()
    rows: list[DailyMonitoring] = []
    for back in range(policy.days_back, -1, -1):
        day = today - timedelta(days=back)
        row, check = aggregate_day(session, day, reference, policy.bounds, now=now)
        rows.append(row)
        if check is None or not (check.shifted and row.complete):
            continue
        if row.drift_alerted_at is None and _claim_alert(session, day, now=now):
            _raise_drift_alert(session, triage_policy, day, check, row, now=now)
    try:
        session.commit()
    except IntegrityError:  # another process wrote the same days first: theirs stand
        session.rollback()
        log.info("daily monitoring: another process computed these days")
        return []
    return rows


def _claim_alert(session: Session, day: date, *, now: datetime) -> bool:
    """Mark the day alerted unless another process already has: one alert per day."""
    session.flush()
    claimed = session.execute(
        update(DailyMonitoring)
        .where(DailyMonitoring.day == day, DailyMonitoring.drift_alerted_at.is_(None))
        .values(drift_alerted_at=now)
    )
    return bool(getattr(claimed, "rowcount", 0) == 1)


def _raise_drift_alert(
    session: Session,
    policy: TriagePolicy,
    day: date,
    check: DriftCheck,
    row: DailyMonitoring,
    *,
    now: datetime,
) -> None:
    log.warning("score drift on %s: %s", day, "; ".join(check.reasons))
    raise_alert(
        session,
        policy,
        AlertKind.OPERATOR,
        f"score drift on {day}: {'; '.join(check.reasons)}",
        now=now,
        payload={
            "reason": "score_drift",
            "day": day.isoformat(),
            "messages": row.messages,
            "scored": check.n,
            "psi": check.psi,
            "ks_statistic": check.ks_statistic,
            "flag_rate": check.flag_rate,
            "reference_flag_rate": check.reference_flag_rate,
            "reference": row.reference_source,
            "checks": list(check.reasons),
        },
    )


def recent_days(session: Session, days: int, *, now: datetime) -> list[dict[str, Any]]:
    """The stored daily rows of the last ``days`` UTC days (today included), oldest first,
    as plain data (flags per 1,000 and PPV worked out)."""
    since = now.date() - timedelta(days=days - 1)
    rows = session.scalars(
        select(DailyMonitoring).where(DailyMonitoring.day >= since).order_by(DailyMonitoring.day)
    ).all()
    return [
        {
            "day": row.day.isoformat(),
            "complete": row.complete,
            "messages": row.messages,
            "scored": row.scored,
            "unscored": row.unscored,
            "flagged": row.flagged,
            "flags_per_1000": round(1000 * row.flagged / row.scored, 2) if row.scored else None,
            "unscored_rate": round(row.unscored / row.messages, 4) if row.messages else None,
            "score_histogram": list(row.score_histogram),
            "languages": dict(row.languages),
            "ppv_resolved": row.ppv_resolved,
            "ppv_confirmed": row.ppv_confirmed,
            "ppv": round(row.ppv_confirmed / row.ppv_resolved, 4) if row.ppv_resolved else None,
            "psi": row.psi,
            "ks_statistic": row.ks_statistic,
            "ks_pvalue": row.ks_pvalue,
            "reference_source": row.reference_source,
            "model_version": row.model_version,
            "drift_alerted_at": row.drift_alerted_at.isoformat() if row.drift_alerted_at else None,
        }
        for row in rows
    ]
