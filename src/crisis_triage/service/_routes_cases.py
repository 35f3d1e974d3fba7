"""The queue and case actions: ``GET /v1/queue``, ``POST /v1/queue:claim``, ``/v1/cases/...``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from crisis_triage.care import RiskInput, resolve_case
from crisis_triage.governance import record_audit
from crisis_triage.service._deps import CurrentUser, QueueReader, SessionDep, StateDep
from crisis_triage.service._errors import ApiError, documented_errors
from crisis_triage.service._schemas import (
    PRIORITY_NAMES,
    CaseEventOut,
    CaseOut,
    MessageOut,
    NoteIn,
    QueueItemOut,
    QueueOut,
    ResolveIn,
    score_tier_name,
)
from crisis_triage.storage import Case, Message
from crisis_triage.triage import (
    Action,
    CaseStatus,
    Tier,
    apply_action,
    case_events,
    claim_next,
    final_scoring,
    get_case,
    list_queue,
)

router = APIRouter(prefix="/v1", tags=["queue"])

_ERRORS = documented_errors(
    {
        400: "the body is not valid UTF-8 JSON",
        401: "not logged in",
        403: "the role may not do this (or the case is another specialist's)",
        404: "no such case (or, for queue:claim, nothing is waiting: code queue_empty)",
        409: "the case is not in a state that allows this, or someone else changed it first",
        413: "the body is larger than the limit",
        415: "the body is not application/json",
        422: "invalid input (code note_required: a note or an escalation reason is missing)",
    }
)
CaseId = Annotated[int, Path(ge=1, le=2**62)]


def _case_out(case: Case, message: Message | None = None, events: bool = False) -> CaseOut:
    out = CaseOut(
        id=case.id,
        status=CaseStatus(case.status),
        priority=PRIORITY_NAMES[Tier(case.tier)],
        risk=case.risk,
        claimed_by=case.claimed_by,
        claimed_at=case.claimed_at,
        acknowledged_at=case.acknowledged_at,
        escalated_at=case.escalated_at,
        triaged_at=case.triaged_at,
        resolved_at=case.resolved_at,
        resolved_by=case.resolved_by,
        disposition=case.disposition,
        crisis_type=case.crisis_type,
        note=case.note,
    )
    if message is not None:
        out.message = MessageOut(
            id=message.id,
            patient_id=message.patient_id,
            sender=message.sender,
            channel=message.channel,
            sent_at=message.sent_at,
            received_at=message.received_at,
            text=message.text,
            text_purged_at=message.text_purged_at,
            score_status=message.score_status,
            score=message.probability,
            flagged=message.flagged,
            threshold=message.threshold,
            categories=list(message.categories),
            reasons=list(message.reasons),
            model_version=message.model_version,
            score_tier=score_tier_name(message.score_tier),
            final_scoring=final_scoring(
                message.score_tier, message.semantic_due_at, message.semantic_error
            ),
            final_scored_at=message.final_scored_at,
            demographics=message.demographics,
            language=message.language,
            window_score=message.window_probability,
            window_contributors=list(message.window_contributors or []),
        )
    return out


@router.get(
    "/queue",
    response_model=QueueOut,
    responses=_ERRORS,
    summary="Open cases in the order specialists should take them",
)
def get_queue(
    session: SessionDep,
    _caller: QueueReader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    status: Annotated[list[CaseStatus] | None, Query()] = None,
) -> QueueOut:
    """Flagged crises first (highest risk, then longest waiting), then unscored messages
    ("review now", oldest first), then everything else oldest first."""
    if status and CaseStatus.RESOLVED in status:
        raise ApiError(422, "the queue holds unresolved cases only", code="validation_error")
    items, total = list_queue(session, limit=limit, offset=offset, statuses=status)
    return QueueOut(
        items=[QueueItemOut.model_validate(item) for item in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post(
    "/queue:claim",
    response_model=CaseOut,
    responses=_ERRORS,
    summary="Claim the case at the top of the queue",
)
def claim_top(session: SessionDep, caller: CurrentUser) -> CaseOut:
    case = claim_next(session, caller.actor())
    if case is None:
        raise ApiError(404, "nothing is waiting in the queue", code="queue_empty")
    return _case_out(case)


@router.get(
    "/cases/{case_id}",
    response_model=CaseOut,
    responses=_ERRORS,
    summary="One case with its message, score, reasons and history",
)
def read_case(case_id: CaseId, session: SessionDep, caller: CurrentUser) -> CaseOut:
    """Audited as ``message.read``: the reply shows the message text and notes."""
    case, message = get_case(session, case_id)
    out = _case_out(case, message)
    out.events = [
        CaseEventOut(
            action=e.action,
            from_status=e.from_status,
            to_status=e.to_status,
            actor_user_id=e.actor_user_id,
            at=e.at,
            disposition=e.disposition,
            crisis_type=e.crisis_type,
            note=e.note,
        )
        for e in case_events(session, case_id)
    ]
    record_audit(
        session,
        "message.read",
        actor=caller.audit_actor(),
        patient_id=message.patient_id,
        case_id=case.id,
        message_id=message.id,
    )
    session.commit()
    return out


def _act(
    session: SessionDep, caller: CurrentUser, case_id: int, action: Action, note: str | None
) -> CaseOut:
    case = apply_action(session, case_id, action, caller.actor(), note=note)
    session.commit()
    return _case_out(case)


@router.post("/cases/{case_id}/claim", response_model=CaseOut, responses=_ERRORS)
def claim(case_id: CaseId, session: SessionDep, caller: CurrentUser) -> CaseOut:
    """Take the case: nobody else can act on it until it is released, escalated or resolved."""
    return _act(session, caller, case_id, Action.CLAIM, None)


@router.post("/cases/{case_id}/release", response_model=CaseOut, responses=_ERRORS)
def release(
    case_id: CaseId, session: SessionDep, caller: CurrentUser, body: NoteIn | None = None
) -> CaseOut:
    """Give a claimed case back to the queue."""
    return _act(session, caller, case_id, Action.RELEASE, body.note if body else None)


@router.post("/cases/{case_id}/acknowledge", response_model=CaseOut, responses=_ERRORS)
def acknowledge(
    case_id: CaseId, session: SessionDep, caller: CurrentUser, body: NoteIn | None = None
) -> CaseOut:
    """A specialist has read the message (this is the moment of triage for the metrics)."""
    return _act(session, caller, case_id, Action.ACKNOWLEDGE, body.note if body else None)


@router.post("/cases/{case_id}/escalate", response_model=CaseOut, responses=_ERRORS)
def escalate(
    case_id: CaseId, session: SessionDep, caller: CurrentUser, body: NoteIn | None = None
) -> CaseOut:
    """Hand the case to a supervisor; ``note`` is the reason, required (the supervisor sees
    it on top of their view)."""
    return _act(session, caller, case_id, Action.ESCALATE, body.note if body else None)


@router.post("/cases/{case_id}/notes", response_model=CaseOut, responses=_ERRORS, status_code=201)
def add_note(case_id: CaseId, body: NoteIn, session: SessionDep, caller: CurrentUser) -> CaseOut:
    """Add a timestamped note to an unresolved case ("called, no answer, retry 15:00"); it
    shows in the case's events, encrypted at rest and audited as ``case.note``."""
    return _act(session, caller, case_id, Action.NOTE, body.note)


@router.post("/cases/{case_id}/resolve", response_model=CaseOut, responses=_ERRORS)
def resolve(
    case_id: CaseId, body: ResolveIn, state: StateDep, session: SessionDep, caller: CurrentUser
) -> CaseOut:
    """Close the case with a disposition: ``confirmed_crisis`` (flagged, with crisis types),
    ``missed_crisis`` (not flagged, with crisis types), ``not_crisis`` or ``needs_follow_up``.
    All but ``not_crisis`` schedule the site's follow-ups (``GET /v1/follow-ups``)."""
    case = resolve_case(
        session,
        state.policy,
        case_id,
        caller.actor(),
        note=body.note,
        disposition=body.disposition,
        crisis_types=tuple(body.crisis_types),
        risk=_risk(body),
    )
    return _case_out(case)


def _risk(body: ResolveIn) -> RiskInput | None:
    risk = body.risk_formulation
    if risk is None:
        return None
    return RiskInput(level=risk.level, factors=tuple(risk.factors), plan=risk.plan)
