"""Caring-contact templates: admins add, approve and retire them; specialists list them."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import Field

from crisis_triage.care import TemplateView, add_template, list_templates, review_template
from crisis_triage.service._deps import AdminUser, SessionDep
from crisis_triage.service._errors import documented_errors
from crisis_triage.service._routes_care import CareReader
from crisis_triage.service._schemas import RequestModel, Text

router = APIRouter(prefix="/v1/caring-contact-templates", tags=["care"])
TemplateId = Annotated[int, Path(ge=1, le=2**62)]
_ERRORS = documented_errors(
    {
        400: "the body is not valid UTF-8 JSON",
        401: "not logged in",
        403: "adding and reviewing needs an admin; listing a specialist or care:read",
        404: "no such template",
        413: "the body is larger than the limit",
        415: "the body is not application/json",
        422: "invalid input",
    }
)


class TemplateIn(RequestModel):
    language: Literal["en", "es"]
    text: Text = Field(min_length=1, max_length=320)


class TemplateReviewIn(RequestModel):
    approve: bool = Field(description="true: may be sent from now on; false: retired")


@router.get("", response_model=list[TemplateView], responses=_ERRORS, summary="All templates")
def get_templates(session: SessionDep, _caller: CareReader) -> list[TemplateView]:
    return list_templates(session)


@router.post(
    "",
    status_code=201,
    response_model=TemplateView,
    responses=_ERRORS,
    summary="Add a template (sent only once approved)",
)
def post_template(body: TemplateIn, session: SessionDep, caller: AdminUser) -> TemplateView:
    return add_template(session, body.language, body.text, actor=caller.audit_actor())


@router.post(
    "/{template_id}/review",
    response_model=TemplateView,
    responses=_ERRORS,
    summary="Approve or retire a template",
)
def post_review(
    template_id: TemplateId, body: TemplateReviewIn, session: SessionDep, caller: AdminUser
) -> TemplateView:
    return review_template(session, template_id, approve=body.approve, actor=caller.audit_actor())
