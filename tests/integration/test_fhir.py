"""The FHIR R4 endpoint: Communication in (alone and in Bundles), RiskAssessment and Flag out,
OperationOutcome for errors, the CapabilityStatement; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.riskassessment import RiskAssessment
from fhir_helpers import FHIR, bundle, communication, outcome
from service_helpers import Factory
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis_triage.storage import AuditEntry, Message
from crisis_triage.triage import Role

CRISIS_TEXT = "I am going to take an overdose tonight"
ROUTINE_TEXT = "Can I move my appointment to Friday?"


def _searchset(reply: Any) -> Bundle:
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/fhir+json")
    found = Bundle.model_validate_json(reply.content)
    assert found.type == "searchset"
    assert found.total == len(found.entry or [])
    return found


def _count(session: Session) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(Message)) or 0)


def test_metadata_lists_exactly_what_is_supported(client: TestClient) -> None:
    reply = client.get("/fhir/r4/metadata")  # no credentials: it holds no data
    assert reply.status_code == 200
    statement = CapabilityStatement.model_validate_json(reply.content)
    assert statement.fhirVersion == "4.0.1" and statement.kind == "instance"
    [rest] = statement.rest
    supported = {r.type: sorted(i.code for i in r.interaction) for r in rest.resource}
    assert supported == {
        "Communication": ["create"],
        "RiskAssessment": ["read", "search-type"],
        "Flag": ["read", "search-type"],
        "CarePlan": ["search-type"],
    }
    params = {r.type: sorted(p.name for p in r.searchParam or []) for r in rest.resource}
    assert params["RiskAssessment"] == ["subject"] and params["Flag"] == ["status", "subject"]
    assert params["CarePlan"] == ["subject"]
    assert sorted(i.code for i in rest.interaction) == ["batch", "transaction"]


def test_a_flagged_communication_is_queued_assessed_and_flagged_until_resolved(
    client: TestClient, factory: Factory, session: Session
) -> None:
    platform = factory.api_key("messages:write", "queue:read")
    sent = communication(CRISIS_TEXT, "p-crisis")
    reply = client.post("/fhir/r4/Communication", headers=platform | FHIR, json=sent)
    assert reply.status_code == 201, reply.text
    created = Communication.model_validate_json(reply.content)
    message_id = int(created.id)
    assert reply.headers["location"].endswith(f"/fhir/r4/Communication/{message_id}/_history/1")

    specialist = factory.headers(Role.SPECIALIST)
    queue = client.get("/v1/queue", headers=specialist).json()["items"]
    [item] = [i for i in queue if i["message_id"] == message_id]
    assert item["priority"] == "crisis" and item["patient_id"] == "p-crisis"
    assert item["channel"] == "fhir"

    searched = client.get("/fhir/r4/RiskAssessment?subject=Patient/p-crisis", headers=platform)
    risks = _searchset(searched)
    [entry] = risks.entry
    risk = RiskAssessment.model_validate(entry.resource.model_dump())
    assert risk.subject.reference == "Patient/p-crisis"
    assert [b.reference for b in risk.basis] == [f"Communication/{message_id}"]
    assert risk.method.coding[0].code == "fake-1"
    [prediction] = risk.prediction
    assert float(prediction.probabilityDecimal) == 0.97
    assert prediction.qualitativeRisk.coding[0].code == "high"
    assert risk.occurrenceDateTime is not None
    assert "OD" in risk.note[0].text and "overdose" not in searched.text
    bare_id = client.get("/fhir/r4/RiskAssessment?subject=p-crisis", headers=platform)
    assert _searchset(bare_id).total == 1

    flags = _searchset(
        client.get("/fhir/r4/Flag?subject=Patient/p-crisis&status=active", headers=platform)
    )
    [flag_entry] = flags.entry
    flag = Flag.model_validate(flag_entry.resource.model_dump())
    assert flag.status == "active" and flag.subject.reference == "Patient/p-crisis"
    assert flag.category[0].coding[0].code == "behavioral" and flag.code.coding[0].code
    assert "overdose" not in flag.model_dump_json()
    case_id = int(flag.id)
    assert case_id == item["case_id"]

    assert client.post(f"/v1/cases/{case_id}/claim", headers=specialist).status_code == 200
    resolution = {"disposition": "confirmed_crisis", "crisis_types": ["OD"]}
    done = client.post(f"/v1/cases/{case_id}/resolve", headers=specialist, json=resolution)
    assert done.status_code == 200, done.text
    active = client.get("/fhir/r4/Flag?subject=Patient/p-crisis&status=active", headers=platform)
    assert _searchset(active).total == 0
    inactive = client.get(
        "/fhir/r4/Flag?subject=Patient/p-crisis&status=inactive", headers=platform
    )
    [closed] = _searchset(inactive).entry
    assert closed.resource.status == "inactive" and closed.resource.period.end is not None

    read = client.get(f"/fhir/r4/Flag/{case_id}", headers=platform)
    assert Flag.model_validate_json(read.content).status == "inactive"
    read_risk = client.get(f"/fhir/r4/RiskAssessment/{message_id}", headers=platform)
    assert RiskAssessment.model_validate_json(read_risk.content).id == str(message_id)

    session.expire_all()
    audited = session.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(["fhir.search", "fhir.read"]))
    ).all()
    assert len(audited) == 7  # every search and read above
    assert {a.patient_id for a in audited} == {"p-crisis"}
    assert {a.actor_kind for a in audited} == {"api_key"}


def test_a_routine_message_gets_a_risk_assessment_and_no_flag(
    client: TestClient, factory: Factory
) -> None:
    platform = factory.api_key("messages:write", "queue:read")
    reply = client.post(
        "/fhir/r4/Communication", headers=platform | FHIR, json=communication(ROUTINE_TEXT, "p-ok")
    )
    assert reply.status_code == 201
    [entry] = _searchset(
        client.get("/fhir/r4/RiskAssessment?subject=Patient/p-ok", headers=platform)
    ).entry
    assert entry.resource.prediction[0].qualitativeRisk.coding[0].code == "low"
    assert _searchset(client.get("/fhir/r4/Flag?subject=Patient/p-ok", headers=platform)).total == 0


def test_the_identifier_is_the_idempotency_key(
    client: TestClient, platform: dict[str, str], session: Session
) -> None:
    sent = communication(CRISIS_TEXT, identifier="same-1")
    first = client.post("/fhir/r4/Communication", headers=platform | FHIR, json=sent)
    again = client.post("/fhir/r4/Communication", headers=platform | FHIR, json=sent)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    changed = communication(ROUTINE_TEXT, identifier="same-1")
    conflict = client.post("/fhir/r4/Communication", headers=platform | FHIR, json=changed)
    assert conflict.status_code == 409
    assert outcome(conflict).issue[0].code == "duplicate"
    assert _count(session) == 1


def _bad_inputs() -> list[tuple[str, Any, int]]:
    no_subject = communication(CRISIS_TEXT)
    del no_subject["subject"]
    no_identifier = communication(CRISIS_TEXT)
    del no_identifier["identifier"]
    naive_sent = communication(CRISIS_TEXT, sent="2026-01-01")
    wrong_type = communication(CRISIS_TEXT)
    wrong_type["payload"] = [{"contentString": 5}]
    unknown_field = communication(CRISIS_TEXT, secretField=CRISIS_TEXT)
    attachment = communication(CRISIS_TEXT)
    attachment["payload"].append({"contentAttachment": {"url": "http://example.org/a"}})
    unknown_contained = communication(CRISIS_TEXT, contained=[{"resourceType": CRISIS_TEXT}])
    group_subject = communication(CRISIS_TEXT)
    group_subject["subject"] = {"reference": "Group/g1"}
    return [
        ("not json", b"{not json", 400),
        ("a list", b"[]", 400),
        ("a patient", {"resourceType": "Patient", "id": "p1"}, 422),
        ("no subject", no_subject, 422),
        ("no identifier", no_identifier, 422),
        ("a date without time", naive_sent, 422),
        ("a number as text", wrong_type, 422),
        ("an unknown element", unknown_field, 422),
        ("an attachment", attachment, 422),
        ("a group subject", group_subject, 422),
        ("an unknown contained resource", unknown_contained, 422),
        ("a search-set bundle", {"resourceType": "Bundle", "type": "searchset"}, 422),
    ]


def test_bad_resources_get_an_operation_outcome_and_store_nothing(
    client: TestClient, platform: dict[str, str], session: Session
) -> None:
    for name, body, status in _bad_inputs():
        if isinstance(body, bytes):
            reply = client.post("/fhir/r4/Communication", headers=platform | FHIR, content=body)
        else:
            reply = client.post("/fhir/r4/Communication", headers=platform | FHIR, json=body)
        assert reply.status_code == status, (name, reply.text)
        parsed = outcome(reply)
        assert parsed.issue[0].severity == "error", name
        assert "overdose" not in reply.text, name  # never echoes what was sent
    assert _count(session) == 0


def test_transport_and_auth_errors_are_operation_outcomes_too(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    body = communication(ROUTINE_TEXT)
    no_key = client.post("/fhir/r4/Communication", headers=FHIR, json=body)
    assert no_key.status_code == 401 and outcome(no_key).issue[0].code == "login"
    plain = client.post(
        "/fhir/r4/Communication",
        headers=platform | {"Content-Type": "text/plain"},
        content=b"hello",
    )
    assert plain.status_code == 415 and outcome(plain).issue[0].code == "not-supported"
    # A key that may send may not read (queue:read), and a reader may not send.
    denied = client.get("/fhir/r4/RiskAssessment?subject=Patient/x", headers=platform)
    assert denied.status_code == 403 and outcome(denied).issue[0].code == "forbidden"
    reader = factory.api_key("queue:read")
    assert (
        client.post("/fhir/r4/Communication", headers=reader | FHIR, json=body).status_code == 403
    )
    missing = client.get("/fhir/r4/RiskAssessment", headers=reader)
    assert missing.status_code == 400 and outcome(missing).issue[0].expression == ["subject"]
    unknown = client.get("/fhir/r4/Flag?subject=Patient/x&code=abc", headers=reader)
    assert unknown.status_code == 400 and "code" in outcome(unknown).issue[0].diagnostics
    bad_status = client.get("/fhir/r4/Flag?subject=Patient/x&status=maybe", headers=reader)
    assert bad_status.status_code == 400
    assert client.get("/fhir/r4/Flag/999", headers=reader).status_code == 404
    assert outcome(client.get("/fhir/r4/Patient/1", headers=reader)).issue[0].code == "not-found"
    # The JSON API keeps its own envelope.
    assert "error" in client.post("/v1/messages", headers=FHIR, json={}).json()


def test_a_batch_answers_each_entry_and_stores_the_good_ones(
    client: TestClient, platform: dict[str, str], session: Session
) -> None:
    bad = communication(CRISIS_TEXT)
    del bad["subject"]
    sent = bundle("batch", communication(CRISIS_TEXT), bad, communication(ROUTINE_TEXT))
    reply = client.post("/fhir/r4/Communication", headers=platform | FHIR, json=sent)
    assert reply.status_code == 200, reply.text
    answer = Bundle.model_validate_json(reply.content)
    assert answer.type == "batch-response"
    statuses = [e.response.status for e in answer.entry]
    assert statuses == ["201 Created", "422", "201 Created"]
    assert answer.entry[1].response.outcome.issue[0].expression == [
        "Bundle.entry[1].resource.subject"
    ]
    assert answer.entry[0].response.location.startswith("Communication/")
    assert _count(session) == 2


def test_a_transaction_is_all_or_nothing(
    client: TestClient, platform: dict[str, str], session: Session
) -> None:
    bad = communication(CRISIS_TEXT)
    del bad["identifier"]
    refused = client.post(
        "/fhir/r4", headers=platform | FHIR, json=bundle("transaction", communication("hi"), bad)
    )
    assert refused.status_code == 422
    assert outcome(refused).issue[0].expression == ["Bundle.entry[1].resource.identifier"]
    assert _count(session) == 0
    good = bundle("transaction", communication(CRISIS_TEXT), communication(ROUTINE_TEXT))
    reply = client.post("/fhir/r4", headers=platform | FHIR, json=good)
    assert reply.status_code == 200, reply.text
    answer = Bundle.model_validate_json(reply.content)
    assert answer.type == "transaction-response"
    assert [e.response.status for e in answer.entry] == ["201 Created", "201 Created"]
    assert _count(session) == 2
