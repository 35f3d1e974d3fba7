"""Risk formulations on a case: ``POST`` / ``GET /v1/cases/{case_id}/risk-formulations``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from crisis_triage.care import (
    RiskFormulationView,
    add_risk_formulation,
    risk_formulations,
)
from crisis_triage.service._deps import SessionDep, StateDep
from crisis_triage.service._errors import documented_errors
from crisis_triage.service._routes_care import CareReader, CareWriter
from crisis_triage.service._schemas import RiskFormulationIn

router = APIRouter(prefix="/v1/cases", tags=["care"])
CaseId = Annotated[int, Path(ge=1, le=2**62)]
_ERRORS = documented_errors(
    {
        400: "the body is not valid UTF-8 JSON",
        401: "not logged in",
        403: "needs a specialist, or an API key with care:read / care:write",
        404: "no such case",
        409: "the case is resolved (formulate risk when resolving, or on an open case)",
        413: "the body is larger than the limit",
        415: "the body is not application/json",
        422: "invalid input (code invalid_care_input: a factor not on the site's checklist)",
    }
)


@router.post(
    "/{case_id}/risk-formulations",
    status_code=201,
    response_model=RiskFormulationView,
    responses=_ERRORS,
    summary="Record a risk formulation on an open case",
)
def post_risk_formulation(
    case_id: CaseId,
    body: RiskFormulationIn,
    state: StateDep,
    session: SessionDep,
    caller: CareWriter,
) -> RiskFormulationView:
    """The plan is encrypted at rest; audited as ``risk_formulation.add``."""
    view = add_risk_formulation(
        session,
        state.policy,
        case_id,
        level=body.level,
        factors=body.factors,
        plan=body.plan,
        actor=caller.audit_actor(),
    )
    session.commit()
    return view


@router.get(
    "/{case_id}/risk-formulations",
    response_model=list[RiskFormulationView],
    responses=_ERRORS,
    summary="A case's risk formulations, oldest first (plans included; audited)",
)
def get_risk_formulations(
    case_id: CaseId, session: SessionDep, caller: CareReader
) -> list[RiskFormulationView]:
    return risk_formulations(session, case_id, actor=caller.audit_actor())
