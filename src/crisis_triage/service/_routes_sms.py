"""Inbound SMS: Twilio's webhook ``POST /v1/channels/sms/twilio``, and the admins' sender table
``/v1/channels/sms/senders`` (a phone number to a patient id).

The webhook has no bearer credentials: Twilio signs each request with the account's auth token
(``X-Twilio-Signature``), checked with the ``twilio`` library before anything is read or
stored.  A phone number never reaches a log, a URL or an error body.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy.orm import Session

from crisis_triage.integrations import (
    InboundSms,
    SmsSenderRow,
    add_sms_sender,
    list_sms_senders,
    remove_sms_sender,
    sms_message,
    twiml_reply,
    valid_twilio_signature,
)
from crisis_triage.service._deps import AdminUser, ServiceState, SessionDep, StateDep
from crisis_triage.service._errors import ApiError, documented_errors
from crisis_triage.service._prometheus import counted_ingest
from crisis_triage.service._schemas import RequestModel, Text
from crisis_triage.storage import utcnow
from crisis_triage.triage import SCORED

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/channels/sms", tags=["sms"])
SIGNATURE_HEADER = "X-Twilio-Signature"
TWIML = "application/xml"
# Twilio's message ids are "SM"/"MM" and 32 hex digits; this is looser, and safe in a key.
_MESSAGE_SID = re.compile(r"[A-Za-z0-9]{2,64}")

_WEBHOOK_ERRORS = documented_errors(
    {
        403: "the X-Twilio-Signature header is missing or wrong (nothing is stored)",
        415: "the body is not application/x-www-form-urlencoded",
        422: "MessageSid or From is missing",
        503: "the SMS channel is not configured (CRISIS_TRIAGE_TWILIO_AUTH_TOKEN)",
    }
)
_ADMIN_ERRORS = documented_errors(
    {
        400: "the body is not valid UTF-8 JSON",
        401: "no or bad credentials",
        403: "not an admin",
        404: "no such sender mapping",
        409: "this phone number is already mapped",
        422: "the phone number is not in international (E.164) form",
    }
)


def _auth_token(state: ServiceState) -> str:
    token: SecretStr | None = state.settings.twilio_auth_token
    if token is None or not token.get_secret_value():
        raise ApiError(503, "the SMS channel is not configured", code="not_configured")
    return token.get_secret_value()


def _receive(state: ServiceState, session: Session, sms: InboundSms) -> str:
    """Store, score and queue the SMS; the TwiML reply (the auto-reply when it was flagged)."""
    message = sms_message(session, sms, now=utcnow())
    [result] = counted_ingest(session, state.scorer, [message], state.policy)
    flagged = result.score_status == SCORED and bool(result.flagged)
    return twiml_reply(state.policy.auto_reply_text if flagged else None)


@router.post(
    "/twilio",
    responses=_WEBHOOK_ERRORS
    | {200: {"content": {TWIML: {}}, "description": "TwiML: the auto-reply, or nothing"}},
    summary="Twilio's inbound SMS webhook (form-encoded, signed by Twilio)",
)
async def twilio_inbound(request: Request, state: StateDep, session: SessionDep) -> Response:
    """The message is stored and queued whoever sent it: a number an admin mapped becomes
    that patient, any other number a pseudonymous patient (``sms-unknown-...``).  When the
    message is flagged and an auto-reply is configured, the TwiML reply carries it."""
    auth_token = _auth_token(state)
    form = await request.form()
    params = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    url = state.settings.twilio_webhook_url or str(request.url)
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not valid_twilio_signature(auth_token, url, params, signature):
        log.warning("refused an SMS webhook call: bad or missing %s", SIGNATURE_HEADER)
        raise ApiError(403, "the Twilio signature is missing or wrong", code="bad_signature")
    missing = [name for name in ("MessageSid", "From") if not params.get(name)]
    if missing:
        raise ApiError(422, f"missing form field(s): {', '.join(missing)}")
    if not _MESSAGE_SID.fullmatch(params["MessageSid"]):
        raise ApiError(422, "MessageSid must be 2 to 64 letters and digits")
    media = params.get("NumMedia", "0")
    sms = InboundSms(
        message_sid=params["MessageSid"],
        sender_phone=params["From"],
        body=params.get("Body", ""),
        media_count=int(media) if media.isdigit() else 0,
    )
    twiml = await anyio.to_thread.run_sync(_receive, state, session, sms)
    return Response(twiml, media_type=TWIML)


class SmsSenderIn(RequestModel):
    phone: Text = Field(
        min_length=1,
        max_length=32,
        description="in international form (E.164), e.g. +15551234567; stored only as a keyed hash",
    )
    patient_id: Text = Field(min_length=1, max_length=128)


class SmsSenderOut(BaseModel):
    """A mapping (the number is not stored, so it is not shown)."""

    id: int
    patient_id: str
    created_at: datetime
    created_by: str


def _out(row: SmsSenderRow) -> SmsSenderOut:
    return SmsSenderOut(
        id=row.id, patient_id=row.patient_id, created_at=row.created_at, created_by=row.created_by
    )


@router.post(
    "/senders",
    status_code=201,
    response_model=SmsSenderOut,
    responses=_ADMIN_ERRORS,
    summary="Map a sender's phone number to a patient id (admins; audited)",
)
def add_sender(body: SmsSenderIn, session: SessionDep, caller: AdminUser) -> SmsSenderOut:
    try:
        row = add_sms_sender(session, body.phone, body.patient_id, actor=caller.audit_actor())
    except ValueError as exc:  # PhoneNumberError: the message never repeats the number
        raise ApiError(422, str(exc), code="invalid_phone") from None
    return _out(row)


@router.get(
    "/senders",
    response_model=list[SmsSenderOut],
    responses=_ADMIN_ERRORS,
    summary="The sender mappings, optionally of one patient (admins)",
)
def list_senders(
    session: SessionDep,
    _caller: AdminUser,
    patient_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
) -> list[SmsSenderOut]:
    return [_out(row) for row in list_sms_senders(session, patient_id)]


@router.delete(
    "/senders/{sender_id}",
    status_code=204,
    responses=_ADMIN_ERRORS,
    summary="Remove a sender mapping (admins; audited)",
)
def remove_sender(
    sender_id: Annotated[int, Path(ge=1, le=2**62)], session: SessionDep, caller: AdminUser
) -> Response:
    remove_sms_sender(session, sender_id, actor=caller.audit_actor())
    return Response(status_code=204)
