"""After the crisis: ``/v1/follow-ups`` and a patient's ``safety-plan`` and
``caring-contacts``.  Specialists, supervisors and admins may use all of these; an API key
needs ``care:read`` (reads) or ``care:write`` (writes), which an admin grants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from crisis_triage.care import (
    PLAN_LANGUAGES,
    CaringContactsStatus,
    FollowUpOutcome,
    FollowUpStatus,
    FollowUpView,
    SafetyPlanVersion,
    caring_contacts_status,
    complete_follow_up,
    create_follow_up,
    list_follow_ups,
    read_safety_plan,
    save_safety_plan,
    set_caring_contacts,
)
from crisis_triage.service._deps import Principal, SessionDep, StateDep, require
from crisis_triage.service._errors import documented_errors
from crisis_triage.service._schemas import RequestModel, Text
from crisis_triage.storage import utcnow
from crisis_triage.triage import Role

router = APIRouter(prefix="/v1", tags=["care"])

CareReader = Annotated[Principal, Depends(require(Role.SPECIALIST, "care:read"))]
CareWriter = Annotated[Principal, Depends(require(Role.SPECIALIST, "care:write"))]
PatientId = Annotated[str, Path(min_length=1, max_length=128)]
FollowUpId = Annotated[int, Path(ge=1, le=2**62)]
# Further out than this is most likely a typo (and some dates no database stores).
_FURTHEST = timedelta(days=2 * 366)

_ERRORS = documented_errors(
    {
        400: "the body is not valid UTF-8 JSON",
        401: "not logged in",
        403: "needs a specialist, or an API key with care:read / care:write",
        404: "no such follow-up, no messages from this patient, or no safety plan yet",
        409: "the follow-up is already done or cancelled, or someone saved at the same time",
        413: "the body is larger than the limit",
        415: "the body is not application/json",
        422: "invalid input",
    }
)


def _near(value: datetime) -> datetime:
    try:
        in_utc = value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None
    if abs(in_utc - datetime.now(UTC)) > _FURTHEST:
        raise ValueError("must be within two years of now")
    return in_utc


DueAt = Annotated[AwareDatetime, AfterValidator(_near)]


class FollowUpIn(RequestModel):
    patient_id: Text = Field(min_length=1, max_length=128)
    case_id: int | None = Field(default=None, ge=1, le=2**62)
    due_at: DueAt = Field(description="with a time zone; one already past is overdue at once")
    kind: Text = Field(
        default="check_in", max_length=32, pattern=r"^[a-z][a-z0-9_]*$", examples=["call"]
    )


class FollowUpCompleteIn(RequestModel):
    outcome: FollowUpOutcome
    note: Text | None = Field(default=None, max_length=4000)


class FollowUpOut(BaseModel):
    id: int
    case_id: int | None
    patient_id: str
    kind: str
    step: str | None = Field(description="the schedule step (24h, 7d...) or retry; null: by hand")
    due_at: datetime
    status: FollowUpStatus
    outcome: FollowUpOutcome | None
    created_at: datetime
    overdue_at: datetime | None = Field(description="when its overdue alert was raised")
    escalated_at: datetime | None
    completed_at: datetime | None
    completed_by: int | None
    reply_case_id: int | None = Field(description="a case the patient opened while it was open")
    has_note: bool


class SafetyPlanIn(RequestModel):
    """The Stanley-Brown sections, each a list of short strings (missing: empty)."""

    warning_signs: list[Text] = Field(default_factory=list)
    internal_coping_strategies: list[Text] = Field(default_factory=list)
    people_and_places_that_distract: list[Text] = Field(default_factory=list)
    people_to_ask_for_help: list[Text] = Field(default_factory=list)
    professionals_and_crisis_lines: list[Text] = Field(default_factory=list)
    making_the_environment_safe: list[Text] = Field(default_factory=list)
    reasons_for_living: list[Text] = Field(default_factory=list)
    lethal_means_counselling_done: bool | None = None
    language: str = Field(default="en", description=f"one of {', '.join(PLAN_LANGUAGES)}")


class SafetyPlanOut(BaseModel):
    patient_id: str
    version: int
    versions: list[int]
    sections: dict[str, list[str]]
    lethal_means_counselling_done: bool | None
    language: str
    created_at: datetime
    created_by: int | None
    created_by_name: str


class CaringContactsIn(RequestModel):
    opt_in: bool
    language: str = Field(default="en", max_length=8)
    timezone: Text | None = Field(
        default=None, max_length=64, description="the patient's IANA zone; default: the site's"
    )


class CaringContactsOut(BaseModel):
    patient_id: str
    opted_in: bool
    scheduled: int
    sent: int
    next_due_at: datetime | None
    language: str | None
    timezone: str | None
    opted_in_at: datetime | None
    opted_in_by: str | None
    opted_out_at: datetime | None
    opted_out_by: str | None
    opt_out_reason: str | None


def _follow_up_out(item: FollowUpView) -> FollowUpOut:
    return FollowUpOut.model_validate(item, from_attributes=True)


def _plan_out(plan: SafetyPlanVersion) -> SafetyPlanOut:
    return SafetyPlanOut.model_validate(plan, from_attributes=True)


def _contacts_out(status: CaringContactsStatus) -> CaringContactsOut:
    return CaringContactsOut.model_validate(status, from_attributes=True)


@router.get(
    "/follow-ups",
    response_model=list[FollowUpOut],
    responses=_ERRORS,
    summary="Follow-ups, soonest due first",
)
def get_follow_ups(
    session: SessionDep,
    _caller: CareReader,
    patient_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    status: FollowUpStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[FollowUpOut]:
    """``overdue`` includes scheduled ones whose time has passed (their alert follows within a
    worker round).  Notes are not listed."""
    items = list_follow_ups(session, patient_id=patient_id, status=status, limit=limit)
    return [_follow_up_out(i) for i in items]


@router.post(
    "/follow-ups",
    status_code=201,
    response_model=FollowUpOut,
    responses=_ERRORS,
    summary="Schedule a follow-up by hand",
)
def post_follow_up(
    body: FollowUpIn, state: StateDep, session: SessionDep, caller: CareWriter
) -> FollowUpOut:
    """One whose ``due_at`` has passed is ``overdue`` at once, and a ``follow_up`` alert is
    raised (``GET /v1/alerts``)."""
    item = create_follow_up(
        session,
        state.policy,
        patient_id=body.patient_id,
        case_id=body.case_id,
        due_at=body.due_at,
        kind=body.kind,
        actor=caller.audit_actor(),
    )
    return _follow_up_out(item)


@router.post(
    "/follow-ups/{follow_up_id}/complete",
    response_model=FollowUpOut,
    responses=_ERRORS,
    summary="Record a follow-up's outcome",
)
def post_complete(
    follow_up_id: FollowUpId,
    body: FollowUpCompleteIn,
    state: StateDep,
    session: SessionDep,
    caller: CareWriter,
) -> FollowUpOut:
    """``no_answer`` schedules a retry four hours later.  The note is encrypted at rest."""
    item = complete_follow_up(
        session,
        state.policy,
        follow_up_id,
        outcome=body.outcome,
        note=body.note,
        actor=caller.audit_actor(),
    )
    return _follow_up_out(item)


@router.put(
    "/patients/{patient_id}/safety-plan",
    response_model=SafetyPlanOut,
    responses=_ERRORS,
    summary="Save a new version of the patient's safety plan",
)
def put_safety_plan(
    patient_id: PatientId, body: SafetyPlanIn, session: SessionDep, caller: CareWriter
) -> SafetyPlanOut:
    sections: dict[str, Any] = body.model_dump(
        exclude={"language", "lethal_means_counselling_done"}
    )
    plan = save_safety_plan(
        session,
        patient_id,
        sections,
        actor=caller.audit_actor(),
        language=body.language,
        lethal_means_counselling_done=body.lethal_means_counselling_done,
    )
    return _plan_out(plan)


@router.get(
    "/patients/{patient_id}/safety-plan",
    response_model=SafetyPlanOut,
    responses=_ERRORS,
    summary="The patient's latest safety plan (or a given version); audited",
)
def get_safety_plan(
    patient_id: PatientId,
    session: SessionDep,
    caller: CareReader,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> SafetyPlanOut:
    plan = read_safety_plan(session, patient_id, actor=caller.audit_actor(), version=version)
    return _plan_out(plan)


@router.put(
    "/patients/{patient_id}/caring-contacts",
    response_model=CaringContactsOut,
    responses=_ERRORS,
    summary="Record the patient's opt-in to caring contacts, or opt them out",
)
def put_caring_contacts(
    patient_id: PatientId,
    body: CaringContactsIn,
    state: StateDep,
    session: SessionDep,
    caller: CareWriter,
) -> CaringContactsOut:
    """Opting in schedules the year's contacts from now (weekly for four weeks, then monthly
    to twelve months, outside quiet hours); opting out cancels what is scheduled."""
    status = set_caring_contacts(
        session,
        state.policy,
        patient_id,
        opt_in=body.opt_in,
        language=body.language,
        timezone=body.timezone,
        actor=caller.audit_actor(),
        now=utcnow(),
    )
    return _contacts_out(status)


@router.get(
    "/patients/{patient_id}/caring-contacts",
    response_model=CaringContactsOut,
    responses=_ERRORS,
    summary="Whether the patient is opted in, and how many contacts are scheduled",
)
def get_caring_contacts(
    patient_id: PatientId, session: SessionDep, _caller: CareReader
) -> CaringContactsOut:
    return _contacts_out(caring_contacts_status(session, patient_id))
