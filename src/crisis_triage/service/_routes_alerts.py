"""Alerts: ``GET /v1/alerts`` (a page after a cursor) and ``GET /v1/alerts/stream`` (SSE)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.sse import EventSourceResponse, ServerSentEvent

from crisis_triage.service._deps import AlertReader, SessionDep, StateDep
from crisis_triage.service._errors import ErrorBody
from crisis_triage.service._schemas import AlertOut
from crisis_triage.storage import Alert
from crisis_triage.triage import AlertKind, alerts_after, latest_alert_id

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
# Ids are 64-bit in the database; a larger cursor is refused (422), not sent to it (500).
MAX_ALERT_ID = 2**62
_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "not logged in"},
    403: {"model": ErrorBody, "description": "needs a specialist, or an API key with alerts:read"},
    422: {"model": ErrorBody, "description": "invalid query"},
}


def _out(alert: Alert) -> AlertOut:
    return AlertOut(
        id=alert.id,
        kind=alert.kind,
        created_at=alert.created_at,
        case_id=alert.case_id,
        message_id=alert.message_id,
        summary=alert.summary,
        payload=alert.payload,
    )


@router.get("", response_model=list[AlertOut], responses=_ERRORS, summary="Alerts after a cursor")
def list_alerts(
    session: SessionDep,
    _caller: AlertReader,
    after: Annotated[
        int, Query(ge=0, le=MAX_ALERT_ID, description="return alerts with a larger id")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    kind: Annotated[list[AlertKind] | None, Query()] = None,
) -> list[AlertOut]:
    """Crisis, escalation and operator alerts, oldest first; payloads carry no message text."""
    kinds = [k.value for k in kind or ()]
    return [_out(a) for a in alerts_after(session, after, limit=limit, kinds=kinds)]


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    responses=_ERRORS,
    summary="Live alerts as server-sent events",
)
async def stream_alerts(
    request: Request,
    state: StateDep,
    session: SessionDep,
    _caller: AlertReader,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_ALERT_ID, description="start after this alert id (default: from now)"),
    ] = None,
    max_seconds: Annotated[
        int, Query(ge=1, le=86_400, description="close the stream after this long")
    ] = 3600,
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Each alert is one event (``event:`` its kind, ``id:`` its id, ``data:`` the alert as
    JSON).  A reconnecting EventSource sends ``Last-Event-ID`` and misses nothing.  The stream
    reads the database, so alerts raised by any service process arrive."""
    cursor = after
    if last_event_id is not None and last_event_id.isdigit():
        cursor = int(last_event_id)
    if cursor is None:
        cursor = await run_in_threadpool(latest_alert_id, session)
    await run_in_threadpool(session.close)  # the stream polls with short sessions of its own
    deadline = time.monotonic() + max_seconds
    poll = state.settings.sse_poll_seconds

    def fetch(after_id: int) -> list[AlertOut]:
        with state.sessions() as own:
            return [_out(a) for a in alerts_after(own, after_id, limit=100)]

    yield ServerSentEvent(comment="connected", retry=int(poll * 1000) + 1000)
    while time.monotonic() < deadline and not await request.is_disconnected():
        for alert in await run_in_threadpool(fetch, cursor):
            cursor = alert.id
            yield ServerSentEvent(data=alert, event=alert.kind, id=str(alert.id))
        await asyncio.sleep(poll)
