"""Inbound SMS through Twilio: the signature check, the sender table, the message, the TwiML reply.

A phone number identifies a person, so it is never stored, logged or put in an error: the
sender table keeps the key ring's HMAC of the number (E.164), and a number nobody mapped becomes
a pseudonymous patient id made from that HMAC, so that its messages still reach the queue and
group together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from crisis_triage.governance import AuditActor, record_audit
from crisis_triage.storage import KeyRing, Message, SmsSender, engine_keyring, utcnow
from crisis_triage.triage import ConflictError, IncomingMessage, NotFoundError, storable_text

SMS_CHANNEL = "sms"
UNKNOWN_SENDER_PREFIX = "sms-unknown-"
KNOWN_SENDER = "patient"
UNKNOWN_SENDER = "unknown-sms-sender"
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_SEPARATORS = re.compile(r"[\s().-]")
_MAC_CONTEXT = b"sms-sender:"


class PhoneNumberError(ValueError):
    """Not a phone number in international (E.164) form; the message never repeats it."""


def normalise_phone(raw: str) -> str:
    """``raw`` in E.164 form (+ and 7 to 15 digits); spaces, dots, dashes, brackets dropped."""
    compact = _SEPARATORS.sub("", raw.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.fullmatch(compact):
        raise PhoneNumberError(
            "a phone number must be in international form: + then 7 to 15 digits"
        )
    return compact


def _phone_macs(keyring: KeyRing, phone: str) -> list[str]:
    """The number's HMAC under each key of the ring, the active key first."""
    return _macs(keyring, normalise_phone(phone))


def _macs(keyring: KeyRing, identity: str) -> list[str]:
    data = _MAC_CONTEXT + identity.encode("utf-8")
    return [keyring.mac(data, key_id) for key_id in keyring.key_ids]


def _sender_identity(raw: str) -> str:
    """What identifies a sender: the E.164 number (a ``whatsapp:`` prefix dropped), or for a
    short code or a name, the value as sent (nobody can map those, but they still arrive)."""
    try:
        return normalise_phone(raw.removeprefix("whatsapp:"))
    except PhoneNumberError:
        return raw.strip()


@dataclass(frozen=True)
class SmsSenderRow:
    """A mapping as an admin sees it (the number is not stored, so it is not shown)."""

    id: int
    patient_id: str
    created_at: datetime
    created_by: str


def _row(sender: SmsSender) -> SmsSenderRow:
    return SmsSenderRow(sender.id, sender.patient_id, sender.created_at, sender.created_by)


def _find(session: Session, phone: str) -> SmsSender | None:
    macs = _phone_macs(engine_keyring(session.get_bind()), phone)
    return session.scalars(select(SmsSender).where(SmsSender.phone_hash.in_(macs))).first()


def add_sms_sender(
    session: Session, phone: str, patient_id: str, *, actor: AuditActor
) -> SmsSenderRow:
    """Map ``phone`` to ``patient_id`` (commits; audited).  ConflictError if already mapped."""
    patient_id = storable_text(patient_id.strip())
    if not patient_id or len(patient_id) > 128:
        raise ValueError("a patient id has 1 to 128 characters")
    if _find(session, phone) is not None:
        raise ConflictError("this phone number is already mapped: remove that mapping first")
    keyring = engine_keyring(session.get_bind())
    sender = SmsSender(
        phone_hash=_phone_macs(keyring, phone)[0],
        patient_id=patient_id,
        created_at=utcnow(),
        created_by=actor.name[:100] or actor.kind,
    )
    session.add(sender)
    try:
        session.flush()
    except IntegrityError:  # added by someone else just now
        session.rollback()
        raise ConflictError("this phone number is already mapped") from None
    record_audit(
        session,
        "sms_sender.create",
        actor=actor,
        patient_id=patient_id,
        details={"sms_sender_id": sender.id},
    )
    session.commit()
    return _row(sender)


def list_sms_senders(session: Session, patient_id: str | None = None) -> list[SmsSenderRow]:
    """The mappings (optionally of one patient), oldest first."""
    stmt = select(SmsSender).order_by(SmsSender.id)
    if patient_id is not None:
        stmt = stmt.where(SmsSender.patient_id == patient_id)
    return [_row(sender) for sender in session.scalars(stmt)]


def remove_sms_sender(session: Session, sender_id: int, *, actor: AuditActor) -> SmsSenderRow:
    """Remove mapping ``sender_id`` (commits; audited); NotFoundError if there is none."""
    sender = session.get(SmsSender, sender_id)
    if sender is None:
        raise NotFoundError(f"no SMS sender {sender_id}")
    row = _row(sender)
    session.delete(sender)
    record_audit(
        session,
        "sms_sender.remove",
        actor=actor,
        patient_id=row.patient_id,
        details={"sms_sender_id": sender_id},
    )
    session.commit()
    return row


def patient_for_phone(session: Session, phone: str) -> str | None:
    """The patient id an admin mapped ``phone`` to, or None."""
    identity = _sender_identity(phone)
    macs = _macs(engine_keyring(session.get_bind()), identity)
    stmt = select(SmsSender.patient_id).where(SmsSender.phone_hash.in_(macs))
    return session.scalars(stmt).first()


def valid_twilio_signature(
    auth_token: str, url: str, params: Mapping[str, str], signature: str
) -> bool:
    """Whether ``signature`` (X-Twilio-Signature) is Twilio's for this URL and form."""
    if not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, dict(params), signature))


@dataclass(frozen=True)
class InboundSms:
    """The fields of Twilio's inbound message webhook that we use."""

    message_sid: str
    sender_phone: str
    body: str
    media_count: int = 0


def sms_message(session: Session, sms: InboundSms, *, now: datetime) -> IncomingMessage:
    """The message to ingest: a mapped number's patient, or a pseudonym for an unknown one.

    Twilio's webhook has no send time: the time of first receipt stands in (a retry of a
    stored MessageSid reuses it, so that it is recognised as the same message).  A message with
    no text (a picture only) is still queued, with a note in place of the text.
    """
    key = f"twilio:{sms.message_sid}"
    stored_at = session.scalar(select(Message.sent_at).where(Message.idempotency_key == key))
    patient_id = patient_for_phone(session, sms.sender_phone)
    sender = KNOWN_SENDER
    if patient_id is None:
        mac = _macs(engine_keyring(session.get_bind()), _sender_identity(sms.sender_phone))[0]
        patient_id, sender = UNKNOWN_SENDER_PREFIX + mac[:24], UNKNOWN_SENDER
    text = (
        sms.body if sms.body.strip() else f"(an SMS with no text, {sms.media_count} media item(s))"
    )
    text = text.replace("\x00", "\ufffd")  # refusing it would lose the message
    return IncomingMessage(
        idempotency_key=key,
        patient_id=patient_id,
        sender=sender,
        channel=SMS_CHANNEL,
        sent_at=stored_at or now,
        text=storable_text(text),
    )


def twiml_reply(text: str | None) -> str:
    """The TwiML document answering Twilio: one reply message, or none."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
