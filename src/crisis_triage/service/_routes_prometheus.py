"""``GET /metrics``: Prometheus's text format (scope ``metrics:read``, or a supervisor)."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Response

from crisis_triage.service._deps import MetricsReader, StateDep
from crisis_triage.service._errors import ErrorBody
from crisis_triage.service._prometheus import exposition

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text format 0.0.4"},
        401: {"model": ErrorBody, "description": "not logged in"},
        403: {"model": ErrorBody, "description": "needs a supervisor, or metrics:read"},
    },
    summary="Prometheus metrics: ingest, scoring latency, queue, alerts, escalations",
)
async def get_prometheus_metrics(state: StateDep, _caller: MetricsReader) -> Response:
    body, content_type = await anyio.to_thread.run_sync(exposition, state.sessions)
    return Response(content=body, media_type=content_type)
