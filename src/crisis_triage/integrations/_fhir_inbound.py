"""FHIR R4 in: a Communication, or a batch/transaction Bundle of them, read as ``IncomingMessage``s.

Every resource is validated with the ``fhir.resources`` R4B models (R4B has the same
Communication and Bundle as R4).  What we need beyond that is checked here and refused with a
``FhirInputError`` whose diagnostics name fields and reasons, never what was sent.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.communication import Communication
from pydantic import ValidationError

from crisis_triage.triage import IncomingMessage, sent_at_in_utc, storable_text

log = logging.getLogger(__name__)

FHIR_CHANNEL = "fhir"
# Idempotency keys are at most this long (messages.idempotency_key).
MAX_KEY_LENGTH = 200
MAX_PATIENT_ID_LENGTH = 128
MAX_SENDER_LENGTH = 64
_BUNDLE_TYPES = ("batch", "transaction")


@dataclass(frozen=True)
class Issue:
    """One problem with the input: an OperationOutcome issue (FHIRPath ``expression``)."""

    code: str  # the FHIR issue-type: "invalid", "required", "structure", "not-supported"...
    diagnostics: str
    expression: str | None = None


class FhirInputError(ValueError):
    """The input is not what the FHIR endpoint accepts; ``status`` is 400 or 422."""

    def __init__(self, status: int, issues: list[Issue]) -> None:
        super().__init__("; ".join(issue.diagnostics for issue in issues))
        self.status = status
        self.issues = issues


@dataclass(frozen=True)
class CommunicationIn:
    """A validated Communication and what it becomes."""

    resource: Communication
    message: IncomingMessage


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _validation_issues(prefix: str, error: ValidationError) -> list[Issue]:
    """Field locations and reasons only: the inputs themselves stay out (they may be text)."""
    issues = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        code = "required" if "missing" in item["type"] else "invalid"
        if item["type"] == "extra_forbidden":
            code = "structure"
        where = _path(prefix, tuple(item["loc"]))
        issues.append(Issue(code, f"{where}: {item['msg']}", where))
    return issues


def _unreadable(where: str, exc: Exception) -> FhirInputError:
    log.info("unreadable FHIR resource at %s: %s", where, type(exc).__name__)
    return FhirInputError(422, [Issue("structure", f"{where}: not a readable R4 resource", where)])


def parse_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or a 400."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FhirInputError(400, [Issue("structure", "the body is not valid JSON")]) from None
    if not isinstance(document, dict):
        raise FhirInputError(400, [Issue("structure", "the body must be a JSON object")])
    return document


def _reference_id(reference: str | None, resource_type: str) -> str | None:
    if reference is None:
        return None
    kind, sep, ident = reference.partition("/")
    if not sep or kind != resource_type or not ident or "/" in ident:
        return None
    return ident


def _one_text(resource: Communication, where: str) -> str:
    texts = []
    for index, payload in enumerate(resource.payload or ()):
        if payload.contentString is None:
            raise FhirInputError(
                422,
                [
                    Issue(
                        "not-supported",
                        f"{where}.payload[{index}]: only contentString payloads are accepted",
                        f"{where}.payload[{index}]",
                    )
                ],
            )
        texts.append(payload.contentString)
    text = "\n\n".join(t for t in texts if t)
    if not text:
        raise FhirInputError(
            422, [Issue("required", f"{where}.payload: a contentString is required", where)]
        )
    return text


def _idempotency_key(resource: Communication, where: str) -> str:
    found = [i for i in resource.identifier or () if i.value]
    if not found:
        raise FhirInputError(
            422,
            [
                Issue(
                    "required",
                    f"{where}.identifier: an identifier with a value is required (it is the "
                    "idempotency key)",
                    f"{where}.identifier",
                )
            ],
        )
    first = found[0]
    key = f"{first.system}|{first.value}" if first.system else str(first.value)
    if len(key) > MAX_KEY_LENGTH:
        raise FhirInputError(
            422,
            [
                Issue(
                    "invalid",
                    f"{where}.identifier[0]: system and value together must be at most "
                    f"{MAX_KEY_LENGTH} characters",
                    f"{where}.identifier[0]",
                )
            ],
        )
    return key


def _sent_at(resource: Communication, where: str) -> datetime:
    sent = resource.sent
    if not isinstance(sent, datetime) or sent.tzinfo is None:
        raise FhirInputError(
            422,
            [
                Issue(
                    "required",
                    f"{where}.sent: a date and time with a time zone is required",
                    f"{where}.sent",
                )
            ],
        )
    try:
        return sent_at_in_utc(sent)
    except ValueError as exc:
        issue = Issue("invalid", f"{where}.sent: {exc}", f"{where}.sent")
        raise FhirInputError(422, [issue]) from None


def _sender(resource: Communication) -> str:
    """Who wrote it, as the queue shows it: the sender's resource type (default patient)."""
    reference = resource.sender.reference if resource.sender is not None else None
    if reference and "/" in reference:
        kind = reference.split("/", 1)[0]
        if kind.isalpha():
            return kind.lower()[:MAX_SENDER_LENGTH]
    return "patient"


def _incoming(resource: Communication, where: str) -> IncomingMessage:
    subject = resource.subject.reference if resource.subject is not None else None
    patient_id = _reference_id(subject, "Patient")
    if patient_id is None or len(patient_id) > MAX_PATIENT_ID_LENGTH:
        raise FhirInputError(
            422,
            [
                Issue(
                    "required",
                    f"{where}.subject: a reference Patient/<id> (id of at most "
                    f"{MAX_PATIENT_ID_LENGTH} characters) is required",
                    f"{where}.subject",
                )
            ],
        )
    key = _idempotency_key(resource, where)
    text = _one_text(resource, where)
    for name, value in (("payload", text), ("identifier", key), ("subject", patient_id)):
        try:
            storable_text(value)
        except ValueError as exc:
            raise FhirInputError(
                422, [Issue("invalid", f"{where}.{name}: {exc}", f"{where}.{name}")]
            ) from None
    return IncomingMessage(
        idempotency_key=key,
        patient_id=patient_id,
        sender=_sender(resource),
        channel=FHIR_CHANNEL,
        sent_at=_sent_at(resource, where),
        text=text,
    )


def read_communication(document: dict[str, Any], where: str = "Communication") -> CommunicationIn:
    """A Communication resource (already parsed JSON), validated, or a FhirInputError (422)."""
    if document.get("resourceType") != "Communication":
        raise FhirInputError(
            422,
            [Issue("invalid", f"{where}: the resourceType must be Communication", where)],
        )
    try:
        resource = Communication.model_validate(document)
    except ValidationError as exc:
        raise FhirInputError(422, _validation_issues(where, exc)) from None
    except Exception as exc:  # fhir.resources fails so on some input (e.g. KeyError for an
        # unknown contained resource type), with the input in the message: never pass it on
        raise _unreadable(where, exc) from None
    return CommunicationIn(resource, _incoming(resource, where))


@dataclass(frozen=True)
class BundleEntryIn:
    """One entry of a batch/transaction: its Communication, or why it was refused."""

    index: int
    communication: CommunicationIn | None
    error: FhirInputError | None


@dataclass(frozen=True)
class BundleIn:
    type: str  # "batch" or "transaction"
    entries: list[BundleEntryIn]


def _entry(index: int, entry: BundleEntry, resource: Any) -> CommunicationIn:
    where = f"Bundle.entry[{index}]"
    request = entry.request
    if request is None or request.method != "POST" or request.url != "Communication":
        raise FhirInputError(
            422,
            [
                Issue(
                    "not-supported",
                    f"{where}.request: only POST Communication is supported",
                    f"{where}.request",
                )
            ],
        )
    if not isinstance(resource, dict):
        raise FhirInputError(
            422, [Issue("required", f"{where}.resource is required", f"{where}.resource")]
        )
    return read_communication(resource, f"{where}.resource")


def read_bundle(document: dict[str, Any], max_entries: int) -> BundleIn:
    """A batch or transaction Bundle of Communications.

    A transaction is all or nothing: one bad entry refuses the whole Bundle.  In a batch each
    entry stands alone: a bad one is reported in its own response entry.
    """
    # The entries' resources are validated one by one, so that a batch can answer per entry.
    raw_entries = document.get("entry")
    resources: list[Any] = []
    shell = dict(document)
    if isinstance(raw_entries, list):
        shell["entry"] = []
        for raw in raw_entries:
            if isinstance(raw, dict):
                resources.append(raw.get("resource"))
                shell["entry"].append({k: v for k, v in raw.items() if k != "resource"})
            else:
                resources.append(None)
                shell["entry"].append(raw)
    try:
        bundle = Bundle.model_validate(shell)
    except ValidationError as exc:
        raise FhirInputError(422, _validation_issues("Bundle", exc)) from None
    except Exception as exc:  # as in read_communication
        raise _unreadable("Bundle", exc) from None
    if bundle.type not in _BUNDLE_TYPES:
        raise FhirInputError(
            422,
            [Issue("not-supported", "Bundle.type must be batch or transaction", "Bundle.type")],
        )
    entries = bundle.entry or []
    if not entries:
        raise FhirInputError(422, [Issue("required", "Bundle.entry: at least one entry")])
    if len(entries) > max_entries:
        raise FhirInputError(
            422, [Issue("too-costly", f"Bundle.entry: at most {max_entries} entries")]
        )
    read: list[BundleEntryIn] = []
    for index, entry in enumerate(entries):
        try:
            read.append(BundleEntryIn(index, _entry(index, entry, resources[index]), None))
        except FhirInputError as exc:
            if bundle.type == "transaction":
                raise
            read.append(BundleEntryIn(index, None, exc))
    return BundleIn(str(bundle.type), read)
