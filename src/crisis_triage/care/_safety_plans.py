"""Safety plans in the Stanley-Brown sections: one version per save, every version kept,
encrypted at rest and audited on every read and write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crisis_triage.care._common import require_patient, user_id_of
from crisis_triage.care._errors import CareInputError
from crisis_triage.governance import AuditActor, record_audit
from crisis_triage.storage import SafetyPlan, utcnow
from crisis_triage.triage import ConflictError, NotFoundError

# The sections of the Stanley-Brown Safety Planning Intervention, in its order.
SECTIONS = (
    "warning_signs",
    "internal_coping_strategies",
    "people_and_places_that_distract",
    "people_to_ask_for_help",
    "professionals_and_crisis_lines",
    "making_the_environment_safe",
    "reasons_for_living",
)
PLAN_LANGUAGES = ("en", "es")
MAX_ITEMS = 20
MAX_ITEM_LENGTH = 500


@dataclass(frozen=True)
class SafetyPlanVersion:
    """One saved version: the sections (each a list of strings), who saved it and when."""

    id: int
    patient_id: str
    version: int
    sections: dict[str, list[str]]
    lethal_means_counselling_done: bool | None
    language: str
    created_at: datetime
    created_by: int | None
    created_by_name: str
    versions: list[int] = field(default_factory=list)


def check_sections(raw: dict[str, Any]) -> dict[str, list[str]]:
    """The sections as stored: every known section (empty when missing), items stripped."""
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise CareInputError(
            f"unknown safety-plan sections {unknown}; known: {', '.join(SECTIONS)}"
        )
    sections: dict[str, list[str]] = {}
    for name in SECTIONS:
        items = raw.get(name) or []
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise CareInputError(f"{name} is a list of strings")
        cleaned = [i.strip() for i in items if i.strip()]
        if len(cleaned) > MAX_ITEMS or any(len(i) > MAX_ITEM_LENGTH for i in cleaned):
            raise CareInputError(
                f"{name}: at most {MAX_ITEMS} items of at most {MAX_ITEM_LENGTH} characters"
            )
        sections[name] = cleaned
    return sections


def save_safety_plan(
    session: Session,
    patient_id: str,
    sections: dict[str, Any],
    *,
    actor: AuditActor,
    language: str = "en",
    lethal_means_counselling_done: bool | None = None,
    now: datetime | None = None,
) -> SafetyPlanVersion:
    """Store a new version of the patient's plan; commits.  Two saves at once: one of them
    gets ConflictError (the version is unique per patient)."""
    now = now or utcnow()
    if language not in PLAN_LANGUAGES:
        raise CareInputError(f"language is one of {', '.join(PLAN_LANGUAGES)}")
    checked = check_sections(sections)
    require_patient(session, patient_id)
    latest = session.scalar(
        select(func.max(SafetyPlan.version)).where(SafetyPlan.patient_id == patient_id)
    )
    stored: dict[str, Any] = {
        **checked,
        "lethal_means_counselling_done": lethal_means_counselling_done,
    }
    row = SafetyPlan(
        patient_id=patient_id,
        version=(latest or 0) + 1,
        sections=stored,
        language=language,
        created_at=now,
        created_by=user_id_of(actor),
        created_by_name=actor.name[:100],
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ConflictError(
            "the safety plan was saved by someone else just now: reload it"
        ) from None
    record_audit(
        session,
        "safety_plan.save",
        actor=actor,
        patient_id=patient_id,
        details={"version": row.version, "items": sum(len(v) for v in checked.values())},
        at=now,
    )
    session.commit()
    return _version(row, list(range(1, row.version + 1)))  # versions are 1, 2, ... per patient


def read_safety_plan(
    session: Session,
    patient_id: str,
    *,
    actor: AuditActor,
    version: int | None = None,
) -> SafetyPlanVersion:
    """The latest version (or ``version``), with the list of all versions; audited as
    ``safety_plan.read``; commits.  NotFoundError when there is none."""
    stmt = select(SafetyPlan).where(SafetyPlan.patient_id == patient_id)
    if version is not None:
        stmt = stmt.where(SafetyPlan.version == version)
    row = session.scalar(stmt.order_by(SafetyPlan.version.desc()).limit(1))
    if row is None:
        raise NotFoundError("no safety plan is stored for this patient")
    versions = list(
        session.scalars(
            select(SafetyPlan.version)
            .where(SafetyPlan.patient_id == patient_id)
            .order_by(SafetyPlan.version)
        )
    )
    plan = _version(row, versions)
    record_audit(
        session,
        "safety_plan.read",
        actor=actor,
        patient_id=patient_id,
        details={"version": row.version},
    )
    session.commit()
    return plan


def _version(row: SafetyPlan, versions: list[int]) -> SafetyPlanVersion:
    stored = dict(row.sections or {})
    done = stored.pop("lethal_means_counselling_done", None)
    return SafetyPlanVersion(
        id=row.id,
        patient_id=row.patient_id,
        version=row.version,
        sections={name: list(stored.get(name) or []) for name in SECTIONS},
        lethal_means_counselling_done=done if isinstance(done, bool) else None,
        language=row.language,
        created_at=row.created_at,
        created_by=row.created_by,
        created_by_name=row.created_by_name,
        versions=versions or [row.version],
    )
