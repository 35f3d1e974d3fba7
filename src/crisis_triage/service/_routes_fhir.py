"""The FHIR R4 endpoint (``/fhir/r4``): Communication in, RiskAssessment and Flag out.

A thin layer over ``integrations`` (validation, resources) and ``triage.ingest`` (the one way
in).  Errors here are OperationOutcome resources, not the JSON envelope (``_errors``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

import crisis_triage
from crisis_triage.integrations import (
    FHIR_JSON,
    BundleIn,
    CommunicationIn,
    FhirInputError,
    FlagStatus,
    Issue,
    capability_statement,
    operation_outcome,
    parse_json,
    read_bundle,
    read_communication,
    read_flag,
    read_risk_assessment,
    response_bundle,
    search_care_plans,
    search_flags,
    search_risk_assessments,
    searchset,
)
from crisis_triage.service._deps import (
    Ingester,
    Principal,
    QueueReader,
    ServiceState,
    SessionDep,
    StateDep,
)
from crisis_triage.service._errors import FHIR_BASE_PATH, fhir_error_response
from crisis_triage.service._prometheus import counted_ingest
from crisis_triage.service._routes_care import CareReader
from crisis_triage.triage import IdempotencyConflictError, IngestResult


class FhirResponse(JSONResponse):
    """A FHIR resource as JSON (its own media type), given already serialised."""

    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return content.encode("utf-8") if isinstance(content, str) else super().render(content)


router = APIRouter(prefix=FHIR_BASE_PATH, tags=["fhir"], default_response_class=FhirResponse)
# What the OpenAPI document says of the body (the route reads it itself, to answer bad input
# with an OperationOutcome).
_FHIR_BODY = {
    "requestBody": {
        "required": True,
        "description": "a Communication, or a Bundle (batch or transaction) of Communications",
        "content": {FHIR_JSON: {"schema": {"type": "object"}}},
    }
}

ResourceId = Annotated[int, Path(ge=1, le=2**62, description="the resource's id")]


class FhirResource(BaseModel):
    """A FHIR resource (see the CapabilityStatement at /fhir/r4/metadata)."""

    resourceType: str  # noqa: N815 (FHIR's name)


_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": FhirResource, "description": f"an OperationOutcome: {text}"}
    for status, text in {
        400: "the body is not JSON, or a search parameter is missing or unknown",
        401: "no valid API key or token",
        403: "the key lacks the scope (messages:write to send, queue:read to read)",
        404: "no such resource",
        409: "the identifier was already used for a different message",
        415: "the body is not application/fhir+json",
        422: "not a valid Communication (or Bundle of them)",
    }.items()
}


def _fhir(resource: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return FhirResponse(resource.model_dump_json(), status_code=status, headers=headers)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + FHIR_BASE_PATH


def _location(result: IngestResult) -> str:
    return f"Communication/{result.message_id}/_history/1"


@router.get("/metadata", responses={200: {"model": FhirResource}}, summary="CapabilityStatement")
def metadata(request: Request) -> Response:
    """What this FHIR endpoint supports (no credentials needed: it holds no data)."""
    return _fhir(capability_statement(crisis_triage.__version__, _base_url(request)))


def _ingest(
    session: Session, state: ServiceState, items: list[CommunicationIn], caller: Principal
) -> list[IngestResult]:
    """The one way in, as ``POST /v1/messages`` takes it."""
    api_key_id = caller.api_key.id if caller.api_key else None
    messages = [i.message for i in items]
    return counted_ingest(session, state.scorer, messages, state.policy, api_key_id=api_key_id)


def _created(request: Request, item: CommunicationIn, result: IngestResult) -> Response:
    resource = item.resource.model_copy(update={"id": str(result.message_id)})
    location = f"{_base_url(request)}/{_location(result)}"
    return _fhir(resource, 200 if result.duplicate else 201, {"Location": location})


def _entry_response(result: IngestResult) -> dict[str, Any]:
    status = "200 OK" if result.duplicate else "201 Created"
    return {"response": {"status": status, "location": _location(result)}}


def _entry_error(status: int, issues: list[Issue]) -> dict[str, Any]:
    return {"response": {"status": str(status), "outcome": operation_outcome(issues)}}


def _batch(session: Session, state: ServiceState, bundle: BundleIn, caller: Principal) -> Response:
    """Each entry on its own: valid ones are stored, bad ones answered in their entry."""
    entries: dict[int, dict[str, Any]] = {}
    pending = []
    for entry in bundle.entries:
        if entry.error is not None:
            entries[entry.index] = _entry_error(entry.error.status, entry.error.issues)
        elif entry.communication is not None:
            pending.append((entry.index, entry.communication))
    while pending:
        try:
            results = _ingest(session, state, [c for _i, c in pending], caller)
        except IdempotencyConflictError as exc:  # that entry alone; the others again
            index, _item = pending.pop(exc.index)
            entries[index] = _entry_error(409, [Issue("duplicate", str(exc))])
            continue
        for (index, _item), result in zip(pending, results, strict=True):
            entries[index] = _entry_response(result)
        break
    return _bundle_response("batch-response", [entries[i] for i in sorted(entries)])


def _transaction(
    session: Session, state: ServiceState, bundle: BundleIn, caller: Principal
) -> Response:
    """All or nothing (``read_bundle`` refused a bad entry already)."""
    items = [e.communication for e in bundle.entries if e.communication is not None]
    results = _ingest(session, state, items, caller)
    return _bundle_response("transaction-response", [_entry_response(r) for r in results])


def _bundle_response(
    kind: Literal["batch-response", "transaction-response"], entries: list[dict[str, Any]]
) -> Response:
    return _fhir(response_bundle(kind, entries))


def _post(
    request: Request, body: bytes, state: ServiceState, session: Session, caller: Principal
) -> Response:
    """Read the body as a Communication or a Bundle and ingest it (in a worker thread)."""
    try:
        document = parse_json(body)
        if document.get("resourceType") == "Bundle":
            bundle = read_bundle(document, state.settings.max_batch_size)
            if bundle.type == "transaction":
                return _transaction(session, state, bundle, caller)
            return _batch(session, state, bundle, caller)
        item = read_communication(document)
    except FhirInputError as exc:
        return fhir_error_response(exc.status, exc.issues)
    [result] = _ingest(session, state, [item], caller)
    return _created(request, item, result)


_POST_SUMMARY = "Store, score and queue a Communication, or a batch/transaction Bundle of them"


@router.post(
    "/Communication",
    status_code=201,
    responses=_ERRORS | {200: {"model": FhirResource, "description": "a repeat, or a Bundle"}},
    summary=_POST_SUMMARY,
    openapi_extra=_FHIR_BODY,
)
async def post_communication(
    request: Request, state: StateDep, session: SessionDep, caller: Ingester
) -> Response:
    """``identifier`` is the idempotency key: a repeat answers 200 with the stored id.  The
    message is committed before this replies; if scoring fails it is queued unscored."""
    body = await request.body()
    return await anyio.to_thread.run_sync(_post, request, body, state, session, caller)


@router.post(
    "",
    responses=_ERRORS | {201: {"model": FhirResource, "description": "a single Communication"}},
    summary="A batch or transaction Bundle of Communications",
    openapi_extra=_FHIR_BODY,
)
async def post_bundle(
    request: Request, state: StateDep, session: SessionDep, caller: Ingester
) -> Response:
    body = await request.body()
    return await anyio.to_thread.run_sync(_post, request, body, state, session, caller)


def _check_params(request: Request, allowed: set[str]) -> None:
    """Refuse unknown and repeated search parameters (a search we cannot do must not look like
    one that found nothing)."""
    seen: set[str] = set()
    for name, _value in request.query_params.multi_items():
        if name == "_format":
            continue
        if name not in allowed:
            raise FhirInputError(400, [Issue("not-supported", f"unknown search parameter {name}")])
        if name in seen:
            raise FhirInputError(400, [Issue("not-supported", f"{name} may be given once")])
        seen.add(name)


def _patient_id(subject: str | None) -> str:
    patient_id = (subject or "").removeprefix("Patient/")
    if not patient_id or "/" in patient_id or len(patient_id) > 128:
        raise FhirInputError(
            400, [Issue("required", "subject=Patient/<id> is required", "subject")]
        )
    return patient_id


Subject = Annotated[
    str | None, Query(description="required: Patient/<id> (or the bare id)", max_length=200)
]
FlagStatusQuery = Annotated[str | None, Query(description="active or inactive", max_length=20)]


@router.get("/RiskAssessment", responses=_ERRORS, summary="Search RiskAssessments by subject")
def search_risk(
    request: Request, session: SessionDep, caller: QueueReader, subject: Subject = None
) -> Response:
    """A searchset Bundle: one RiskAssessment per scored message of the patient (audited)."""
    try:
        _check_params(request, {"subject"})
        patient_id = _patient_id(subject)
    except FhirInputError as exc:
        return fhir_error_response(exc.status, exc.issues)
    found = search_risk_assessments(session, patient_id, actor=caller.audit_actor())
    return _fhir(searchset(found, _base_url(request), str(request.url)))


@router.get("/Flag", responses=_ERRORS, summary="Search Flags by subject and status")
def search_flag(
    request: Request,
    session: SessionDep,
    caller: QueueReader,
    subject: Subject = None,
    status: FlagStatusQuery = None,
) -> Response:
    """A searchset Bundle: one Flag per flagged message of the patient, ``active`` until its
    case is resolved (audited)."""
    try:
        _check_params(request, {"subject", "status"})
        patient_id = _patient_id(subject)
        if status not in (None, "active", "inactive"):
            raise FhirInputError(400, [Issue("invalid", "status is active or inactive", "status")])
    except FhirInputError as exc:
        return fhir_error_response(exc.status, exc.issues)
    flag_status: FlagStatus | None = "active" if status == "active" else None
    if status == "inactive":
        flag_status = "inactive"
    found = search_flags(session, patient_id, flag_status, actor=caller.audit_actor())
    return _fhir(searchset(found, _base_url(request), str(request.url)))


@router.get("/CarePlan", responses=_ERRORS, summary="Search the patient's safety plan")
def search_care_plan(
    request: Request, session: SessionDep, caller: CareReader, subject: Subject = None
) -> Response:
    """A searchset Bundle with the patient's current safety plan as a CarePlan (empty when
    there is none); needs care:read or a specialist's login; audited as safety_plan.read."""
    try:
        _check_params(request, {"subject"})
        patient_id = _patient_id(subject)
    except FhirInputError as exc:
        return fhir_error_response(exc.status, exc.issues)
    found = search_care_plans(session, patient_id, actor=caller.audit_actor())
    return _fhir(searchset(found, _base_url(request), str(request.url)))


@router.get("/RiskAssessment/{resource_id}", responses=_ERRORS, summary="Read a RiskAssessment")
def get_risk(resource_id: ResourceId, session: SessionDep, caller: QueueReader) -> Response:
    return _fhir(read_risk_assessment(session, resource_id, actor=caller.audit_actor()))


@router.get("/Flag/{resource_id}", responses=_ERRORS, summary="Read a Flag")
def get_flag(resource_id: ResourceId, session: SessionDep, caller: QueueReader) -> Response:
    return _fhir(read_flag(session, resource_id, actor=caller.audit_actor()))
