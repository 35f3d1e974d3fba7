"""The supervisor page: escalated cases waiting (with their reasons) on top, then open crises,
workload, response times, PPV, alert fatigue, failures."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crisis_triage.care import EARLY_WARNING_RULE, care_measures, rising_risk
from crisis_triage.governance import record_audit
from crisis_triage.monitoring import recent_days
from crisis_triage.service import SessionDep
from crisis_triage.storage import utcnow
from crisis_triage.triage import oversight, response_times, waiting_escalations
from crisis_triage.web._charts import line_chart
from crisis_triage.web._render import render
from crisis_triage.web._security import SupervisorPage

router = APIRouter(include_in_schema=False)

CHART_DAYS = 14
CARE_DAYS = 30


def _per_1000(per_day: dict[str, dict[str, Any]], day: date, field: str) -> float | None:
    found = per_day.get(day.isoformat())
    if not found or not found["messages"]:
        return None
    return round(1000 * float(found[field]) / float(found["messages"]), 1)


@router.get("/supervisor")
def supervisor_page(request: Request, session: SessionDep, user: SupervisorPage) -> Response:
    now = utcnow()
    report = response_times(session, days=CHART_DAYS, now=now)
    by_day = {d.day: d for d in report.days}
    days = [report.since + timedelta(days=i) for i in range(CHART_DAYS)]
    crisis = [by_day[d].crisis.median_minutes if d in by_day else None for d in days]
    rest = [by_day[d].rest.median_minutes if d in by_day else None for d in days]
    chart = line_chart(
        [d.strftime("%d %b") for d in days],
        [("Crises", "line-crisis", crisis), ("Other messages", "line-rest", rest)],
    )
    drift_days = recent_days(session, CHART_DAYS, now=now)
    per_day = {d["day"]: d for d in drift_days}
    drift_chart = line_chart(
        [d.strftime("%d %b") for d in days],
        [
            ("Flagged", "line-crisis", [_per_1000(per_day, d, "flagged") for d in days]),
            ("Unscored", "line-rest", [_per_1000(per_day, d, "unscored") for d in days]),
        ],
        unit="/1,000",
    )
    today = by_day.get(now.date())
    escalations = waiting_escalations(session, now=now)
    for shown in escalations:  # the reasons are notes: reading them is audited
        if shown.reason:
            record_audit(
                session,
                "note.read",
                actor=user.audit_actor(),
                patient_id=shown.patient_id,
                case_id=shown.case_id,
                message_id=shown.message_id,
                details={"view": "supervisor", "notes": 1},
            )
    session.commit()
    return render(
        request,
        "supervisor.html.j2",
        {
            "now": now,
            "report": report,
            "today": today,
            "chart": chart,
            "chart_days": list(zip(days, crisis, rest, strict=True)),
            "oversight": oversight(session, now=now),
            "escalations": escalations,
            "care": care_measures(session, days=CARE_DAYS, now=now),
            "rising": rising_risk(session, now=now),
            "rising_rule": EARLY_WARNING_RULE,
            "drift_chart": drift_chart,
            "drift_days": drift_days,
            "drift_reference": next(
                (d["reference_source"] for d in reversed(drift_days) if d["reference_source"]),
                None,
            ),
        },
        user=user,
        title="Supervisor",
    )
