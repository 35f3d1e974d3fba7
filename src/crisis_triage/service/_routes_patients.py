"""A patient's requests over HTTP (admins only): ``GET .../export`` and ``DELETE``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from crisis_triage.governance import AuditActor
from crisis_triage.service._deps import AdminUser, SessionDep
from crisis_triage.service._errors import ErrorBody
from crisis_triage.triage import erase_patient, export_patient

router = APIRouter(prefix="/v1/patients", tags=["patients"])

PatientId = Annotated[str, Path(min_length=1, max_length=128)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "no or bad credentials",
        403: "not an admin",
        404: "no messages are stored for this patient",
        409: "some of the patient's cases are still open (pass force=true to erase anyway)",
    }.items()
}


class ErasureOut(BaseModel):
    messages: int
    cases: int
    open_cases: int
    replies: int
    alerts: int
    deliveries: int
    care_records: int
    sms_senders: int


def _actor(caller: AdminUser) -> AuditActor:
    user = caller.user
    return AuditActor(kind="user", id=user.id if user else None, name=caller.name)


@router.get(
    "/{patient_id}/export",
    responses=_ERRORS,
    summary="Everything stored about a patient, decrypted (holds their messages; audited)",
)
def export(patient_id: PatientId, session: SessionDep, caller: AdminUser) -> dict[str, Any]:
    return export_patient(session, patient_id, actor=_actor(caller))


@router.delete(
    "/{patient_id}",
    response_model=ErasureOut,
    responses=_ERRORS,
    summary="Erase a patient's text, notes and identity; de-identified metrics rows stay",
)
def erase(
    patient_id: PatientId,
    session: SessionDep,
    caller: AdminUser,
    force: Annotated[bool, Query(description="erase even if cases are still open")] = False,
) -> ErasureOut:
    report = erase_patient(session, patient_id, actor=_actor(caller), force=force)
    return ErasureOut(**{k: v for k, v in report.to_dict().items() if k != "pseudonym"})
