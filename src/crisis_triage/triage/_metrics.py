"""Response-time analytics: time from message sent to triage, per day, crises versus the rest,
and the clinician-confirmed positive predictive value of flags over time.

"Triage" is the first moment a specialist acknowledged or resolved the case.  Days are UTC days
of the time the message was sent.  Only ids and times are read: no message text.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from scipy.stats import binomtest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.storage import Case, utcnow
from crisis_triage.triage._states import Disposition, Tier

GROUPS = ("crisis", "rest")
_PPV_DENOMINATOR = {
    Disposition.CONFIRMED_CRISIS.value,
    Disposition.NOT_CRISIS.value,
    Disposition.NEEDS_FOLLOW_UP.value,
}


@dataclass(frozen=True)
class TimeStats:
    """Minutes from sent to triage for one group (and day)."""

    group: str
    messages: int
    triaged: int
    waiting: int
    median_minutes: float | None
    p90_minutes: float | None
    p95_minutes: float | None
    max_minutes: float | None


@dataclass(frozen=True)
class PpvStats:
    """Of flagged messages that clinicians resolved, how many were confirmed crises."""

    resolved: int
    confirmed: int
    ppv: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class DayReport:
    day: date
    crisis: TimeStats
    rest: TimeStats
    ppv: PpvStats
    missed_crises: int


@dataclass(frozen=True)
class ResponseTimeReport:
    since: date
    until: date
    overall: dict[str, TimeStats]
    ppv: PpvStats
    missed_crises: int
    days: list[DayReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _minutes(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if values else None


def _time_stats(group: str, rows: list[tuple[datetime, datetime | None]]) -> TimeStats:
    waits = [(t - s).total_seconds() / 60 for s, t in rows if t is not None]
    return TimeStats(
        group=group,
        messages=len(rows),
        triaged=len(waits),
        waiting=len(rows) - len(waits),
        median_minutes=_minutes(waits, 50),
        p90_minutes=_minutes(waits, 90),
        p95_minutes=_minutes(waits, 95),
        max_minutes=round(max(waits), 2) if waits else None,
    )


def _ppv(dispositions: list[str | None]) -> PpvStats:
    resolved = [d for d in dispositions if d in _PPV_DENOMINATOR]
    confirmed = sum(d == Disposition.CONFIRMED_CRISIS.value for d in resolved)
    if not resolved:
        return PpvStats(0, 0, None, None, None)
    interval = binomtest(confirmed, len(resolved)).proportion_ci(method="wilson")
    return PpvStats(
        resolved=len(resolved),
        confirmed=confirmed,
        ppv=round(confirmed / len(resolved), 4),
        ci_low=round(float(interval.low), 4),
        ci_high=round(float(interval.high), 4),
    )


def response_times(
    session: Session, *, days: int = 30, now: datetime | None = None
) -> ResponseTimeReport:
    """The report for messages sent in the last ``days`` UTC days (today included)."""
    now = now or utcnow()
    until = now.date()
    since = until - timedelta(days=days - 1)
    start = datetime(since.year, since.month, since.day, tzinfo=now.tzinfo)
    rows = session.execute(
        select(Case.sent_at, Case.triaged_at, Case.tier, Case.disposition).where(
            Case.sent_at >= start, Case.sent_at <= now
        )
    ).all()
    by_day: dict[date, dict[str, list[tuple[datetime, datetime | None]]]] = defaultdict(
        lambda: {"crisis": [], "rest": []}
    )
    flagged_dispositions: dict[date, list[str | None]] = defaultdict(list)
    missed: dict[date, int] = defaultdict(int)
    for sent_at, triaged_at, tier, disposition in rows:
        day = sent_at.date()
        group = "crisis" if tier == Tier.CRISIS else "rest"
        by_day[day][group].append((sent_at, triaged_at))
        if tier == Tier.CRISIS:
            flagged_dispositions[day].append(disposition)
        elif disposition == Disposition.MISSED_CRISIS.value:
            missed[day] += 1
    reports = [
        DayReport(
            day=day,
            crisis=_time_stats("crisis", groups["crisis"]),
            rest=_time_stats("rest", groups["rest"]),
            ppv=_ppv(flagged_dispositions[day]),
            missed_crises=missed[day],
        )
        for day, groups in sorted(by_day.items())
    ]
    overall = {
        group: _time_stats(group, [r for g in by_day.values() for r in g[group]])
        for group in GROUPS
    }
    return ResponseTimeReport(
        since=since,
        until=until,
        overall=overall,
        ppv=_ppv([d for ds in flagged_dispositions.values() for d in ds]),
        missed_crises=sum(missed.values()),
        days=reports,
    )
