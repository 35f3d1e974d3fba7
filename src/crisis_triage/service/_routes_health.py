"""Liveness and readiness, and how the scoring tiers stand."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from crisis_triage.service._deps import ServiceState, StateDep
from crisis_triage.service._errors import ApiError, ErrorBody, ErrorDetail
from crisis_triage.service._schemas import HealthOut, SemanticTierOut
from crisis_triage.storage import DatabaseError, check_database
from crisis_triage.triage import TierMode, semantic_backlog

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


def _semantic(state: ServiceState) -> tuple[SemanticTierOut, list[str]]:
    """The tiers and the re-scoring backlog: as the running worker last read it, else read
    here; left out if the database fails (liveness must not depend on it)."""
    tiers = state.tiers
    backlog = state.backlog
    if backlog is None:
        try:
            with state.sessions() as session:
                backlog = semantic_backlog(session)
        except Exception as exc:
            log.warning("semantic backlog not read: %s", type(exc).__name__)
    oldest = None if backlog is None else backlog.oldest_pending_seconds()
    out = SemanticTierOut(
        mode=tiers.mode.value,
        available=tiers.semantic_available,
        detail=tiers.detail,
        backlog=None if backlog is None else backlog.pending,
        oldest_pending_seconds=None if oldest is None else round(oldest, 3),
    )
    warnings = []
    if tiers.mode is TierMode.SEMANTIC_UNAVAILABLE:
        warnings.append(tiers.detail)
    return out, warnings


@router.get("/healthz", response_model=HealthOut, summary="The process is up; the scoring tiers")
def healthz(state: StateDep) -> HealthOut:
    """Always 200 while the process runs.  ``semantic`` says whether final scores use the
    semantic encoder, how many messages wait for one and for how long; ``warnings`` says
    loudly when the encoder is missing."""
    semantic, warnings = _semantic(state)
    return HealthOut(status="ok", semantic=semantic, warnings=warnings)


@router.get(
    "/readyz",
    response_model=HealthOut,
    responses={503: {"model": ErrorBody, "description": "not ready; details say which check"}},
    summary="The database answers (schema migrated) and the model is loaded",
)
def readyz(state: StateDep) -> HealthOut:
    """A missing semantic tier does not make the service unready (ingest still works and
    every message is still queued); it shows in ``semantic`` and ``warnings``."""
    checks: dict[str, str] = {}
    try:
        check_database(state.engine)
        checks["database"] = "ok"
    except DatabaseError as exc:
        checks["database"] = str(exc)
    checks["model"] = "ok" if state.scorer is not None else (state.scorer_problem or "not loaded")
    failed = [
        ErrorDetail(loc=["checks", name], msg=value, type="check_failed")
        for name, value in checks.items()
        if value != "ok"
    ]
    if failed:
        raise ApiError(503, "not ready", code="not_ready", details=failed)
    semantic, warnings = _semantic(state)
    return HealthOut(status="ready", checks=checks, semantic=semantic, warnings=warnings)
