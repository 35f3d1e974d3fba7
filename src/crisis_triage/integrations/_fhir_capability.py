"""The FHIR server's own resources: its CapabilityStatement and OperationOutcome for errors."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from crisis_triage.integrations._fhir_inbound import Issue

# The FHIR version declared to clients.  The resources are validated with fhir.resources' R4B
# models; Communication, RiskAssessment, Flag, Bundle, OperationOutcome and CapabilityStatement
# have the same elements in R4 (4.0.1) and R4B.
FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"

_PATIENT_REFERENCE = "a reference Patient/<id> (or the bare id)"


def operation_outcome(issues: Sequence[Issue], severity: str = "error") -> OperationOutcome:
    """An OperationOutcome with one issue per problem (diagnostics name fields, never values)."""
    return OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": severity,
                    "code": issue.code,
                    "diagnostics": issue.diagnostics,
                    **({"expression": [issue.expression]} if issue.expression else {}),
                }
                for issue in issues
            ],
        }
    )


def capability_statement(software_version: str, base_url: str) -> CapabilityStatement:
    """Exactly what this server supports: create Communication (alone or in a batch or
    transaction Bundle), read and search RiskAssessment and Flag."""
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": datetime.now(UTC).date().isoformat(),
            "kind": "instance",
            "software": {"name": "crisis-triage", "version": software_version},
            "implementation": {
                "description": "crisis-triage FHIR R4 endpoint",
                "url": base_url,
            },
            "fhirVersion": FHIR_VERSION,
            "format": [FHIR_JSON, "json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "description": "Authorization: Bearer <API key or user token>. "
                        "Communication create needs the messages:write scope; reads need "
                        "queue:read (or a specialist's login). Every read is audited."
                    },
                    "resource": [
                        {
                            "type": "Communication",
                            "interaction": [{"code": "create"}],
                            "documentation": "payload.contentString, subject (Patient), sent "
                            "and identifier (the idempotency key) are required",
                        },
                        {
                            "type": "RiskAssessment",
                            "interaction": [{"code": "read"}, {"code": "search-type"}],
                            "searchParam": [
                                {
                                    "name": "subject",
                                    "type": "reference",
                                    "documentation": f"required: {_PATIENT_REFERENCE}",
                                }
                            ],
                        },
                        {
                            "type": "CarePlan",
                            "interaction": [{"code": "search-type"}],
                            "documentation": "the patient's current safety plan; reads need "
                            "care:read (or a specialist's login)",
                            "searchParam": [
                                {
                                    "name": "subject",
                                    "type": "reference",
                                    "documentation": f"required: {_PATIENT_REFERENCE}",
                                }
                            ],
                        },
                        {
                            "type": "Flag",
                            "interaction": [{"code": "read"}, {"code": "search-type"}],
                            "searchParam": [
                                {
                                    "name": "subject",
                                    "type": "reference",
                                    "documentation": f"required: {_PATIENT_REFERENCE}",
                                },
                                {
                                    "name": "status",
                                    "type": "token",
                                    "documentation": "active or inactive",
                                },
                            ],
                        },
                    ],
                    "interaction": [{"code": "batch"}, {"code": "transaction"}],
                }
            ],
        }
    )
