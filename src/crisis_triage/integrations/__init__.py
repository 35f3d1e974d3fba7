"""Thin adapters between the platforms a clinic runs and the one way in (``triage.ingest``).

``fhir``: FHIR R4 Communication in, RiskAssessment and Flag out (validated with the
``fhir.resources`` R4B models), the CapabilityStatement, and OperationOutcome for errors.
``sms``: Twilio's inbound SMS webhook (signature check with the ``twilio`` library), the
admin-managed table from a sender's phone number (stored as a keyed hash) to a patient id, and
the TwiML reply.  ``paging`` (a subpackage): alerts to Slack, Microsoft Teams, PagerDuty and
e-mail.  The HTTP routes live in ``service``; nothing here knows about HTTP.
"""

from crisis_triage.integrations._fhir_capability import (
    FHIR_JSON,
    FHIR_VERSION,
    capability_statement,
    operation_outcome,
)
from crisis_triage.integrations._fhir_careplan import care_plan, search_care_plans
from crisis_triage.integrations._fhir_inbound import (
    FHIR_CHANNEL,
    BundleEntryIn,
    BundleIn,
    CommunicationIn,
    FhirInputError,
    Issue,
    parse_json,
    read_bundle,
    read_communication,
)
from crisis_triage.integrations._fhir_outbound import (
    FlagStatus,
    read_flag,
    read_risk_assessment,
    response_bundle,
    search_flags,
    search_risk_assessments,
    searchset,
)
from crisis_triage.integrations._sms import (
    SMS_CHANNEL,
    UNKNOWN_SENDER,
    UNKNOWN_SENDER_PREFIX,
    InboundSms,
    PhoneNumberError,
    SmsSenderRow,
    add_sms_sender,
    list_sms_senders,
    normalise_phone,
    patient_for_phone,
    remove_sms_sender,
    sms_message,
    twiml_reply,
    valid_twilio_signature,
)

__all__ = [
    "FHIR_CHANNEL",
    "FHIR_JSON",
    "FHIR_VERSION",
    "SMS_CHANNEL",
    "UNKNOWN_SENDER",
    "UNKNOWN_SENDER_PREFIX",
    "BundleEntryIn",
    "BundleIn",
    "CommunicationIn",
    "FhirInputError",
    "FlagStatus",
    "InboundSms",
    "Issue",
    "PhoneNumberError",
    "SmsSenderRow",
    "add_sms_sender",
    "capability_statement",
    "care_plan",
    "list_sms_senders",
    "normalise_phone",
    "operation_outcome",
    "parse_json",
    "patient_for_phone",
    "read_bundle",
    "read_communication",
    "read_flag",
    "read_risk_assessment",
    "remove_sms_sender",
    "response_bundle",
    "search_care_plans",
    "search_flags",
    "search_risk_assessments",
    "searchset",
    "sms_message",
    "twiml_reply",
    "valid_twilio_signature",
]
