"""Risk formulations: a specialist's risk level, the factors weighed (a checklist the site
configures) and the plan, on a case; the plan is encrypted, and every read is audited.  The
latest formulation's level and factors go out with the dispositions (``export labels``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.care._common import case_patient, user_id_of
from crisis_triage.care._errors import CareInputError
from crisis_triage.governance import AuditActor, record_audit, sensitive
from crisis_triage.storage import Case, RiskFormulation, utcnow
from crisis_triage.triage import InvalidTransitionError, TriagePolicy

MAX_PLAN_LENGTH = 4000


class RiskLevel(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    IMMINENT = "imminent"


@dataclass(frozen=True)
class RiskFormulationView:
    id: int
    case_id: int
    patient_id: str
    level: RiskLevel
    factors: list[str]
    plan: str | None
    created_at: datetime
    created_by: int | None


def check_formulation(
    policy: TriagePolicy, factors: list[str] | tuple[str, ...], plan: str | None
) -> tuple[list[str], str | None]:
    """Factors from the site's checklist (deduplicated, in its order) and the plan, stripped."""
    unknown = sorted(set(factors) - set(policy.risk_factors))
    if unknown:
        raise CareInputError(
            f"unknown risk factors {unknown}; the checklist: {', '.join(policy.risk_factors)}"
        )
    plan = plan.strip() if plan else None
    if plan and len(plan) > MAX_PLAN_LENGTH:
        raise CareInputError(f"a plan has at most {MAX_PLAN_LENGTH} characters")
    return [f for f in policy.risk_factors if f in set(factors)], plan


def add_risk_formulation(
    session: Session,
    policy: TriagePolicy,
    case_id: int,
    *,
    level: RiskLevel,
    factors: list[str] | tuple[str, ...],
    plan: str | None,
    actor: AuditActor,
    allow_resolved: bool = False,
    now: datetime | None = None,
) -> RiskFormulationView:
    """Record a formulation on an open case (or on the case being resolved); flushes, audited
    as ``risk_formulation.add``; the caller commits."""
    now = now or utcnow()
    checked, plan = check_formulation(policy, factors, plan)
    with sensitive(plan):
        patient_id = case_patient(session, case_id)
        status = session.scalar(select(Case.status).where(Case.id == case_id))
        if status == "resolved" and not allow_resolved:
            raise InvalidTransitionError("the case is resolved: formulate risk on an open case")
        row = RiskFormulation(
            case_id=case_id,
            patient_id=patient_id,
            level=level.value,
            factors=checked,
            plan=plan,
            created_at=now,
            created_by=user_id_of(actor),
        )
        session.add(row)
        session.flush()
        record_audit(
            session,
            "risk_formulation.add",
            actor=actor,
            patient_id=patient_id,
            case_id=case_id,
            details={
                "level": level.value,
                "factors": len(checked),
                "plan_length": len(plan or ""),
            },
            at=now,
        )
    return _view(row)


def risk_formulations(
    session: Session, case_id: int, *, actor: AuditActor
) -> list[RiskFormulationView]:
    """The case's formulations, oldest first, plans included: audited as
    ``risk_formulation.read``; commits."""
    patient_id = case_patient(session, case_id)
    rows = list(
        session.scalars(
            select(RiskFormulation)
            .where(RiskFormulation.case_id == case_id)
            .order_by(RiskFormulation.id)
        )
    )
    record_audit(
        session,
        "risk_formulation.read",
        actor=actor,
        patient_id=patient_id,
        case_id=case_id,
        details={"count": len(rows)},
    )
    session.commit()
    return [_view(r) for r in rows]


def _view(row: RiskFormulation) -> RiskFormulationView:
    return RiskFormulationView(
        id=row.id,
        case_id=row.case_id,
        patient_id=row.patient_id,
        level=RiskLevel(row.level),
        factors=list(row.factors),
        plan=row.plan,
        created_at=row.created_at,
        created_by=row.created_by,
    )
