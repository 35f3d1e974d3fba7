"""FHIR test inputs: Communications and Bundles built as plain JSON, as a platform sends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from fhir.resources.R4B.operationoutcome import OperationOutcome

FHIR = {"Content-Type": "application/fhir+json"}
_ids = count(1)


def communication(
    text: str, patient: str = "p-fhir-1", *, identifier: str | None = None, **extra: Any
) -> dict[str, Any]:
    sent = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    return {
        "resourceType": "Communication",
        "status": "completed",
        "identifier": [{"system": "urn:example:portal", "value": identifier or f"c-{next(_ids)}"}],
        "subject": {"reference": f"Patient/{patient}"},
        "sender": {"reference": f"Patient/{patient}"},
        "sent": sent,
        "payload": [{"contentString": text}],
        **extra,
    }


def bundle(kind: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": "Communication"}}
            for r in resources
        ],
    }


def outcome(reply: Any) -> OperationOutcome:
    """The reply's OperationOutcome, validated by fhir.resources."""
    assert reply.headers["content-type"].startswith("application/fhir+json"), reply.text
    parsed = OperationOutcome.model_validate_json(reply.content)
    assert parsed.issue and all(i.diagnostics for i in parsed.issue)
    return parsed
