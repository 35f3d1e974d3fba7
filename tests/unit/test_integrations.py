"""crisis_triage.integrations without a database: its public API, phone numbers, TwiML, and
the FHIR resources it builds."""

from __future__ import annotations

import types
from xml.etree import ElementTree

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

import crisis_triage.integrations as integrations
from crisis_triage.integrations import (
    Issue,
    PhoneNumberError,
    capability_statement,
    normalise_phone,
    operation_outcome,
    twiml_reply,
)


def test_all_is_complete_and_sorted() -> None:
    public = {
        name
        for name, value in vars(integrations).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(integrations.__all__) == public
    assert integrations.__all__ == sorted(integrations.__all__, key=lambda n: (not n.isupper(), n))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+15550100001", "+15550100001"),
        ("+1 (555) 010-0001", "+15550100001"),
        ("0044 20 7946 0000", "+442079460000"),
        ("+44.20.7946.0000", "+442079460000"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["5550100001", "+0123456789", "+1555", "+1 555 CALL NOW", ""])
def test_what_is_not_an_international_number_is_refused_without_repeating_it(raw: str) -> None:
    with pytest.raises(PhoneNumberError) as refused:
        normalise_phone(raw)
    assert not raw or raw not in str(refused.value)


def test_twiml_carries_the_reply_escaped_or_nothing() -> None:
    reply = "Call 988 & text <HOME> to 741741"
    document = ElementTree.fromstring(twiml_reply(reply))  # noqa: S314 (our own output)
    assert document.tag == "Response"
    assert [m.text for m in document.iter("Message")] == [reply]
    assert list(ElementTree.fromstring(twiml_reply(None))) == []  # noqa: S314


def test_the_capability_statement_and_outcomes_read_back_from_their_json() -> None:
    """What a client parses (the JSON, validated again as R4B) says what was meant."""
    base = "https://triage.example.org/fhir/r4"
    statement = capability_statement("1.2.3", base)
    parsed_statement = CapabilityStatement.model_validate_json(statement.model_dump_json())
    assert parsed_statement.software.version == "1.2.3"
    assert parsed_statement.implementation.url == base
    outcome = operation_outcome([Issue("invalid", "Communication.sent: bad", "Communication.sent")])
    parsed = OperationOutcome.model_validate_json(outcome.model_dump_json())
    [issue] = parsed.issue
    assert (issue.severity, issue.code) == ("error", "invalid")
    assert issue.expression == ["Communication.sent"]
