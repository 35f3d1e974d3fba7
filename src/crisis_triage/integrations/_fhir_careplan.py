"""FHIR R4 out: a patient's safety plan as a ``CarePlan``.

The latest version of the Stanley-Brown safety plan (``care``), one activity per item with the
section as its code; the plan is read through ``care.read_safety_plan``, so the read is audited
as ``safety_plan.read`` like any other.  Older versions stay on the API
(``GET /v1/patients/{id}/safety-plan?version=N``)."""

from __future__ import annotations

from fhir.resources.R4B.careplan import CarePlan
from sqlalchemy.orm import Session

from crisis_triage.care import SECTIONS, SafetyPlanVersion, read_safety_plan
from crisis_triage.governance import AuditActor
from crisis_triage.triage import NotFoundError

SECTION_SYSTEM = "urn:crisis-triage:safety-plan-section"
PLAN_TITLE = "Safety plan (Stanley-Brown Safety Planning Intervention)"


def care_plan(plan: SafetyPlanVersion) -> CarePlan:
    """The plan version as an active CarePlan (intent ``plan``), id ``safety-plan-<row id>``."""
    activities = [
        {
            "detail": {
                "code": {
                    "coding": [{"system": SECTION_SYSTEM, "code": section}],
                    "text": section.replace("_", " "),
                },
                "status": "in-progress",
                "description": item,
            }
        }
        for section in SECTIONS
        for item in plan.sections[section]
    ]
    notes = []
    if plan.lethal_means_counselling_done is not None:
        done = "done" if plan.lethal_means_counselling_done else "not done"
        notes.append({"text": f"Lethal-means counselling {done}."})
    return CarePlan.model_validate(
        {
            "resourceType": "CarePlan",
            "id": f"safety-plan-{plan.id}",
            "meta": {"versionId": str(plan.version)},
            "language": plan.language,
            "status": "active",
            "intent": "plan",
            "title": PLAN_TITLE,
            "subject": {"reference": f"Patient/{plan.patient_id}"},
            "created": plan.created_at.isoformat(),
            "author": {"display": plan.created_by_name},
            "activity": activities or None,
            "note": notes or None,
        }
    )


def search_care_plans(session: Session, patient_id: str, *, actor: AuditActor) -> list[CarePlan]:
    """The patient's current safety plan as a CarePlan (none: an empty list); audited."""
    try:
        plan = read_safety_plan(session, patient_id, actor=actor)
    except NotFoundError:
        return []
    return [care_plan(plan)]
