"""Ingest: ``POST /v1/messages`` and ``POST /v1/messages:batch``."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from crisis_triage.service._deps import Ingester, SessionDep, StateDep
from crisis_triage.service._errors import ApiError, documented_errors
from crisis_triage.service._prometheus import counted_ingest
from crisis_triage.service._schemas import (
    PRIORITY_NAMES,
    MessageBatchIn,
    MessageBatchResult,
    MessageIn,
    MessageResult,
)
from crisis_triage.triage import (
    FAST,
    SCORED,
    UNSUPPORTED,
    IncomingMessage,
    IngestResult,
)

router = APIRouter(prefix="/v1", tags=["messages"])

_ERRORS = documented_errors(
    {
        400: "the body is not valid UTF-8 JSON",
        401: "no valid API key",
        403: "the API key lacks the messages:write scope",
        409: "the idempotency key was already used for a different message",
        413: "the body is larger than the limit (1 MB by default)",
        415: "the body is not application/json",
        422: "a field is missing, of the wrong type, unknown, or a timestamp is in the future",
    }
)


def _incoming(message: MessageIn) -> IncomingMessage:
    demographics = None
    if message.demographics is not None:
        demographics = message.demographics.model_dump(exclude_none=True) or None
    return IncomingMessage(
        idempotency_key=message.idempotency_key,
        patient_id=message.patient_id,
        sender=message.sender,
        channel=message.channel,
        sent_at=message.sent_at,
        text=message.text,
        demographics=demographics,
    )


_STATUS: dict[str, Literal["scored", "unscored", "unsupported"]] = {
    SCORED: "scored",
    UNSUPPORTED: "unsupported",
}


def _out(result: IngestResult) -> MessageResult:
    return MessageResult(
        id=result.message_id,
        case_id=result.case_id,
        duplicate=result.duplicate,
        score_status=_STATUS.get(result.score_status, "unscored"),
        score=result.probability,
        flagged=result.flagged,
        threshold=result.threshold,
        categories=list(result.categories),
        reasons=list(result.reasons),
        priority=PRIORITY_NAMES[result.tier],
        model_version=result.model_version,
        received_at=result.received_at,
        score_tier="fast" if result.score_tier == FAST else "final" if result.score_tier else None,
        language=result.language,
        window_score=result.window_probability,
    )


@router.post(
    "/messages",
    status_code=201,
    response_model=MessageResult,
    responses=_ERRORS | {200: {"model": MessageResult, "description": "a repeat: the original"}},
    summary="Store, score and queue one message",
)
def post_message(
    body: MessageIn, response: Response, state: StateDep, session: SessionDep, caller: Ingester
) -> MessageResult:
    """The message is committed to the database before this replies.  If scoring fails it is
    still stored and queued as ``unscored`` ("review now"), and an operator alert is raised."""
    api_key_id = caller.api_key.id if caller.api_key else None
    items = [_incoming(body)]
    [result] = counted_ingest(session, state.scorer, items, state.policy, api_key_id=api_key_id)
    if result.duplicate:
        response.status_code = 200
    return _out(result)


@router.post(
    "/messages:batch",
    status_code=201,
    response_model=MessageBatchResult,
    responses=_ERRORS | {200: {"model": MessageBatchResult, "description": "all were repeats"}},
    summary="Store, score and queue several messages at once (all or none)",
)
def post_batch(
    body: MessageBatchIn,
    response: Response,
    state: StateDep,
    session: SessionDep,
    caller: Ingester,
) -> MessageBatchResult:
    """Results come back in the order sent.  The batch is stored as a whole or not at all."""
    if len(body.messages) > state.settings.max_batch_size:
        raise ApiError(
            422,
            f"a batch holds at most {state.settings.max_batch_size} messages",
            code="batch_too_large",
        )
    api_key_id = caller.api_key.id if caller.api_key else None
    items = [_incoming(m) for m in body.messages]
    results = counted_ingest(session, state.scorer, items, state.policy, api_key_id=api_key_id)
    if all(r.duplicate for r in results):
        response.status_code = 200
    return MessageBatchResult(results=[_out(r) for r in results])
