"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

from crisis_triage.service._deps import StateDep
from crisis_triage.service._errors import ApiError, ErrorBody, ErrorDetail
from crisis_triage.service._schemas import HealthOut
from crisis_triage.storage import DatabaseError, check_database

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut, summary="The process is up")
def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=HealthOut,
    responses={503: {"model": ErrorBody, "description": "not ready; details say which check"}},
    summary="The database answers (schema migrated) and the model is loaded",
)
def readyz(state: StateDep) -> HealthOut:
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
    return HealthOut(status="ready", checks=checks)
