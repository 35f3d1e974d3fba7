"""``GET /v1/metrics/response-times``: the study's headline measure, and PPV from dispositions;
``GET /v1/metrics/monitoring``: the daily drift and flag-rate aggregates;
``GET /v1/metrics/care``: follow-ups and caring contacts after a crisis."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from crisis_triage.care import CareMeasures, care_measures
from crisis_triage.monitoring import SCORE_BIN_EDGES, recent_days
from crisis_triage.service._deps import MetricsReader, SessionDep
from crisis_triage.service._errors import ErrorBody
from crisis_triage.storage import utcnow
from crisis_triage.triage import response_times

router = APIRouter(prefix="/v1/metrics", tags=["metrics"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "not logged in"},
    403: {"model": ErrorBody, "description": "needs a supervisor, or metrics:read"},
    422: {"model": ErrorBody, "description": "invalid query"},
}


class TimeStatsOut(BaseModel):
    group: str
    messages: int
    triaged: int
    waiting: int
    median_minutes: float | None
    p90_minutes: float | None
    p95_minutes: float | None
    max_minutes: float | None


class PpvOut(BaseModel):
    resolved: int
    confirmed: int
    ppv: float | None
    ci_low: float | None
    ci_high: float | None


class DayOut(BaseModel):
    day: str
    crisis: TimeStatsOut
    rest: TimeStatsOut
    ppv: PpvOut
    missed_crises: int


class ResponseTimesOut(BaseModel):
    """Minutes from message sent to triage (first acknowledgement or resolution), per UTC day
    of sending, for flagged crises and for the rest; PPV = confirmed crises / flagged messages
    resolved by a clinician, with a 95% Wilson interval."""

    since: str
    until: str
    overall: dict[str, TimeStatsOut]
    ppv: PpvOut
    missed_crises: int
    days: list[DayOut]


@router.get(
    "/response-times",
    response_model=ResponseTimesOut,
    responses=_ERRORS,
    summary="Time to triage per day (median, p90, p95), crises vs the rest; PPV over time",
)
def get_response_times(
    session: SessionDep,
    _caller: MetricsReader,
    days: Annotated[int, Query(ge=1, le=366, description="how many UTC days back")] = 30,
) -> Any:
    report = response_times(session, days=days)
    body = report.to_dict()
    body["since"], body["until"] = str(report.since), str(report.until)
    for day in body["days"]:
        day["day"] = str(day["day"])
    return body


class MonitoringDayOut(BaseModel):
    day: str
    complete: bool
    messages: int
    scored: int
    unscored: int
    flagged: int
    flags_per_1000: float | None
    unscored_rate: float | None
    score_histogram: list[int]
    languages: dict[str, int]
    ppv_resolved: int
    ppv_confirmed: int
    ppv: float | None
    psi: float | None
    ks_statistic: float | None
    ks_pvalue: float | None
    reference_source: str | None
    model_version: str | None
    drift_alerted_at: str | None


class MonitoringOut(BaseModel):
    """Daily aggregates of the live score stream (UTC days of receipt), kept by the worker:
    flag rate, unscored rate, score histogram (bins at ``score_bin_edges``), language mix,
    clinician-confirmed PPV, and drift (PSI, KS) against the reference distribution."""

    score_bin_edges: list[float]
    days: list[MonitoringDayOut]


@router.get(
    "/monitoring",
    response_model=MonitoringOut,
    responses=_ERRORS,
    summary="Daily flag rate, score distribution, unscored rate, languages, PPV and drift",
)
def get_monitoring(
    session: SessionDep,
    _caller: MetricsReader,
    days: Annotated[int, Query(ge=1, le=366, description="how many UTC days back")] = 30,
) -> Any:
    return {
        "score_bin_edges": list(SCORE_BIN_EDGES),
        "days": recent_days(session, days, now=utcnow()),
    }


@router.get(
    "/care",
    response_model=CareMeasures,
    responses=_ERRORS,
    summary="After the crisis: follow-up completion, time to first follow-up, caring contacts",
)
def get_care_measures(
    session: SessionDep,
    _caller: MetricsReader,
    days: Annotated[int, Query(ge=1, le=366, description="how many days back")] = 30,
) -> CareMeasures:
    """Follow-ups due in the window done by their due time, hours from a crisis's resolution
    to its first completed follow-up, follow-ups overdue now, and caring contacts' delivery
    and opt-out rates (fractions; null when there is nothing to divide by)."""
    return care_measures(session, days=days)
