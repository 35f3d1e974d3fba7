"""FHIR R4 out: a RiskAssessment per scored message, a Flag per flagged one, found by search.

Both are built on read from what is stored (a message's score, its case's state), so they can
never disagree with the queue: a Flag is ``active`` until its case is resolved.  They carry ids,
scores, codes and categories, never message text nor the reasons (which quote it).  Every read
is audited (``fhir.read`` / ``fhir.search``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.domainresource import DomainResource
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.riskassessment import RiskAssessment
from sqlalchemy import Executable, select
from sqlalchemy.orm import Session

from crisis_triage.governance import AuditActor, record_audit
from crisis_triage.storage import Case, Message
from crisis_triage.triage import SCORED, CaseStatus, NotFoundError

MODEL_SYSTEM = "urn:crisis-triage:model"
FLAG_SYSTEM = "urn:crisis-triage:flag"
FLAG_CODE = "crisis-review"
FLAG_CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/flag-category"
RISK_PROBABILITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/risk-probability"
FlagStatus = Literal["active", "inactive"]

_COLUMNS = (
    Message.id,
    Message.patient_id,
    Message.received_at,
    Message.final_scored_at,
    Message.probability,
    Message.window_probability,
    Message.flagged,
    Message.threshold,
    Message.categories,
    Message.model_version,
    Message.score_tier,
    Case.id.label("case_id"),
    Case.status,
    Case.resolved_at,
)
_SCORED = (
    select(*_COLUMNS)
    .join(Case, Case.message_id == Message.id)
    .where(Message.score_status == SCORED)
    .order_by(Message.id)
)


@dataclass(frozen=True)
class _Scored:
    """A scored message's row (no text)."""

    id: int
    patient_id: str
    received_at: datetime
    final_scored_at: datetime | None
    probability: float | None
    window_probability: float | None
    flagged: bool | None
    threshold: float | None
    categories: list[str]
    model_version: str | None
    score_tier: str | None
    case_id: int
    status: str
    resolved_at: datetime | None


def _rows(session: Session, stmt: Executable) -> list[_Scored]:
    return [_Scored(*row) for row in session.execute(stmt)]


def _qualitative(row: _Scored) -> tuple[str, str]:
    """The HL7 risk-probability code: high when flagged, moderate from half the threshold."""
    if row.flagged:
        return "high", "High likelihood"
    if row.threshold is not None and (row.probability or 0.0) >= row.threshold / 2:
        return "moderate", "Moderate likelihood"
    return "low", "Low likelihood"


def _explanation(row: _Scored) -> str:
    """What the score rests on, in ids, numbers and category codes only (no message text)."""
    parts = [
        "Flagged for review by a crisis specialist."
        if row.flagged
        else "Not flagged (below the model's threshold)."
    ]
    if row.threshold is not None:
        parts.append(f"Threshold {row.threshold:.2f}.")
    if row.categories:
        parts.append("Categories: " + ", ".join(sorted(row.categories)) + ".")
    if row.window_probability is not None:
        parts.append(
            f"Read with the patient's earlier messages: probability {row.window_probability:.2f}."
        )
    if row.score_tier == "fast":
        parts.append("Preliminary (fast tier): the final score is pending.")
    return " ".join(parts)


def risk_assessment(row: _Scored) -> RiskAssessment:
    code, display = _qualitative(row)
    version = row.model_version or "unknown"
    return RiskAssessment.model_validate(
        {
            "resourceType": "RiskAssessment",
            "id": str(row.id),
            "status": "preliminary" if row.score_tier == "fast" else "final",
            "subject": {"reference": f"Patient/{row.patient_id}"},
            "occurrenceDateTime": (row.final_scored_at or row.received_at).isoformat(),
            "basis": [{"reference": f"Communication/{row.id}"}],
            "method": {
                "coding": [{"system": MODEL_SYSTEM, "code": version}],
                "text": f"crisis-triage detector {version}",
            },
            "prediction": [
                {
                    "outcome": {"text": "mental-health crisis"},
                    "probabilityDecimal": row.probability,
                    "qualitativeRisk": {
                        "coding": [
                            {"system": RISK_PROBABILITY_SYSTEM, "code": code, "display": display}
                        ]
                    },
                }
            ],
            "note": [{"text": _explanation(row)}],
        }
    )


def flag(row: _Scored) -> Flag:
    period: dict[str, str] = {"start": row.received_at.isoformat()}
    if row.resolved_at is not None:
        period["end"] = row.resolved_at.isoformat()
    return Flag.model_validate(
        {
            "resourceType": "Flag",
            "id": str(row.case_id),
            "status": "inactive" if row.status == CaseStatus.RESOLVED else "active",
            "category": [
                {
                    "coding": [
                        {
                            "system": FLAG_CATEGORY_SYSTEM,
                            "code": "behavioral",
                            "display": "Behavioral",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [
                    {
                        "system": FLAG_SYSTEM,
                        "code": FLAG_CODE,
                        "display": "Possible mental-health crisis",
                    }
                ],
                "text": "Possible mental-health crisis: a crisis specialist reviews it",
            },
            "subject": {"reference": f"Patient/{row.patient_id}"},
            "period": period,
        }
    )


def _audit(
    session: Session,
    action: str,
    actor: AuditActor,
    resource: str,
    *,
    patient_id: str | None,
    found: int,
    message_id: int | None = None,
    case_id: int | None = None,
) -> None:
    record_audit(
        session,
        action,
        actor=actor,
        patient_id=patient_id,
        message_id=message_id,
        case_id=case_id,
        details={"resource": resource, "results": found},
    )
    session.commit()


def search_risk_assessments(
    session: Session, patient_id: str, *, actor: AuditActor
) -> list[RiskAssessment]:
    """The RiskAssessments of ``patient_id``'s scored messages, oldest first (audited)."""
    rows = _rows(session, _SCORED.where(Message.patient_id == patient_id))
    _audit(session, "fhir.search", actor, "RiskAssessment", patient_id=patient_id, found=len(rows))
    return [risk_assessment(row) for row in rows]


def search_flags(
    session: Session, patient_id: str, status: FlagStatus | None, *, actor: AuditActor
) -> list[Flag]:
    """The Flags of ``patient_id``'s flagged messages, optionally by status (audited)."""
    stmt = _SCORED.where(Message.patient_id == patient_id, Message.flagged.is_(True))
    if status == "active":
        stmt = stmt.where(Case.status != CaseStatus.RESOLVED)
    elif status == "inactive":
        stmt = stmt.where(Case.status == CaseStatus.RESOLVED)
    rows = _rows(session, stmt)
    _audit(session, "fhir.search", actor, "Flag", patient_id=patient_id, found=len(rows))
    return [flag(row) for row in rows]


def read_risk_assessment(session: Session, message_id: int, *, actor: AuditActor) -> RiskAssessment:
    """One RiskAssessment by id (the message id); NotFoundError if that message is unscored."""
    rows = _rows(session, _SCORED.where(Message.id == message_id))
    if not rows:
        raise NotFoundError(f"no RiskAssessment {message_id}")
    _audit(
        session,
        "fhir.read",
        actor,
        "RiskAssessment",
        patient_id=rows[0].patient_id,
        found=1,
        message_id=message_id,
    )
    return risk_assessment(rows[0])


def read_flag(session: Session, case_id: int, *, actor: AuditActor) -> Flag:
    """One Flag by id (the case id); NotFoundError unless that case's message was flagged."""
    rows = _rows(session, _SCORED.where(Case.id == case_id, Message.flagged.is_(True)))
    if not rows:
        raise NotFoundError(f"no Flag {case_id}")
    row = rows[0]
    _audit(session, "fhir.read", actor, "Flag", patient_id=row.patient_id, found=1, case_id=case_id)
    return flag(row)


def searchset(resources: Sequence[DomainResource], base_url: str, self_url: str) -> Bundle:
    """A searchset Bundle of ``resources`` (all matches: no paging)."""
    entries = [
        {
            "fullUrl": f"{base_url}/{resource.get_resource_type()}/{resource.id}",
            "resource": resource,
            "search": {"mode": "match"},
        }
        for resource in resources
    ]
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(entries),
            "link": [{"relation": "self", "url": self_url}],
            "entry": entries,
        }
    )


def response_bundle(
    kind: Literal["batch-response", "transaction-response"], entries: list[dict[str, Any]]
) -> Bundle:
    """The answer to a batch or transaction: one entry per entry sent, in order."""
    return Bundle.model_validate({"resourceType": "Bundle", "type": kind, "entry": entries})
