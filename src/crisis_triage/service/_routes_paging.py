"""Paging channels over HTTP (admins only): list, add, remove, send a test page.

The target (webhook URL, routing key, addresses) goes in once and never comes back out: replies
show a hint of it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from crisis_triage.integrations.paging import (
    ChannelView,
    add_channel,
    list_channels,
    queue_test_page,
    remove_channel,
)
from crisis_triage.service._deps import AdminUser, SessionDep
from crisis_triage.service._errors import documented_errors

router = APIRouter(prefix="/v1/paging/channels", tags=["paging"])

_ERRORS = documented_errors(
    {
        400: "the body is not valid UTF-8 JSON",
        401: "no or bad credentials",
        403: "not an admin",
        404: "no such paging channel",
        413: "the body is larger than the limit",
        415: "the body is not application/json",
        422: "an invalid name, kind, target or topic (the target is never quoted back)",
    }
)
Topic = Literal["crisis", "escalation", "unscored", "operator"]
ChannelId = Annotated[int, Path(ge=1, le=2**62)]


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, examples=["on-call slack"])
    kind: Literal["slack", "teams", "pagerduty", "email"]
    target: SecretStr = Field(
        description="Slack/Teams: the incoming webhook URL; PagerDuty: the integration's "
        "routing key; e-mail: addresses separated by commas.  Stored encrypted, never shown.",
        max_length=2000,
    )
    topics: list[Topic] = Field(min_length=1, examples=[["crisis", "escalation"]])


class ChannelOut(BaseModel):
    id: int
    name: str
    kind: str
    topics: list[str]
    target_hint: str
    created_at: datetime
    removed_at: datetime | None


class TestPageOut(BaseModel):
    delivery_id: int


def _out(view: ChannelView) -> ChannelOut:
    return ChannelOut(
        id=view.id,
        name=view.name,
        kind=view.kind,
        topics=list(view.topics),
        target_hint=view.target_hint,
        created_at=view.created_at,
        removed_at=view.removed_at,
    )


@router.get("", response_model=list[ChannelOut], responses=_ERRORS, summary="Paging channels")
def get_channels(session: SessionDep, _admin: AdminUser) -> list[ChannelOut]:
    return [_out(v) for v in list_channels(session)]


@router.post(
    "", status_code=201, response_model=ChannelOut, responses=_ERRORS, summary="Add a channel"
)
def post_channel(body: ChannelIn, session: SessionDep, admin: AdminUser) -> ChannelOut:
    view = add_channel(
        session,
        name=body.name,
        kind=body.kind,
        target=body.target.get_secret_value(),
        topics=body.topics,
        actor=admin.audit_actor(),
    )
    session.commit()
    return _out(view)


@router.delete(
    "/{channel_id}", response_model=ChannelOut, responses=_ERRORS, summary="Stop paging a channel"
)
def delete_channel(channel_id: ChannelId, session: SessionDep, admin: AdminUser) -> ChannelOut:
    view = remove_channel(session, channel_id, actor=admin.audit_actor())
    session.commit()
    return _out(view)


@router.post(
    "/{channel_id}/test",
    status_code=202,
    response_model=TestPageOut,
    responses=_ERRORS,
    summary="Queue a test page to the channel (sent by the outbox worker)",
)
def post_test_page(channel_id: ChannelId, session: SessionDep, admin: AdminUser) -> TestPageOut:
    delivery_id = queue_test_page(session, channel_id, actor=admin.audit_actor())
    session.commit()
    return TestPageOut(delivery_id=delivery_id)
