"""After the crisis over HTTP (issue 18's contract), on SQLite and PostgreSQL: follow-ups
scheduled by a resolution, overdue with an alert, completed; safety plans versioned and
encrypted; caring contacts opted in and out (by STOP)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_fakes import message
from service_helpers import Factory
from sqlalchemy import make_url

from crisis_triage.triage import Role

PLAN = {
    "warning_signs": ["can't sleep", "stop answering friends"],
    "internal_coping_strategies": ["walk the dog"],
    "people_and_places_that_distract": ["the library"],
    "people_to_ask_for_help": ["my sister Ana"],
    "professionals_and_crisis_lines": ["988"],
    "making_the_environment_safe": ["medication locked away"],
    "reasons_for_living": ["my kids"],
}


def _send(client: TestClient, platform: dict[str, str], text: str, patient: str) -> int:
    reply = client.post(
        "/v1/messages", json=message(text=text, patient_id=patient), headers=platform
    )
    assert reply.status_code == 201, reply.text
    case_id: int = reply.json()["case_id"]
    return case_id


def _resolve(client: TestClient, me: dict[str, str], case_id: int, disposition: str) -> None:
    assert client.post(f"/v1/cases/{case_id}/claim", headers=me).status_code == 200
    body: dict[str, Any] = {"disposition": disposition}
    if disposition in ("confirmed_crisis", "missed_crisis"):
        body["crisis_types"] = ["SI"]
    reply = client.post(f"/v1/cases/{case_id}/resolve", headers=me, json=body)
    assert reply.status_code == 200, reply.text


def test_resolving_a_crisis_schedules_follow_ups_the_first_within_24_hours(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    case_id = _send(client, platform, "I want to hurt myself", "p-crisis")
    other = _send(client, platform, "Can I move my appointment?", "p-routine")
    me = factory.headers()
    _resolve(client, me, case_id, "confirmed_crisis")
    _resolve(client, me, other, "not_crisis")
    reply = client.get("/v1/follow-ups?patient_id=p-crisis&status=scheduled", headers=me)
    assert reply.status_code == 200, reply.text
    items = reply.json()
    assert [i["step"] for i in items] == ["24h", "72h", "7d", "30d"]
    assert {i["case_id"] for i in items} == {case_id}
    assert {i["patient_id"] for i in items} == {"p-crisis"}
    assert all(i["status"] == "scheduled" and i["outcome"] is None for i in items)
    first_due = datetime.fromisoformat(items[0]["due_at"])
    assert datetime.now(UTC) < first_due <= datetime.now(UTC) + timedelta(hours=24)
    # not_crisis schedules nothing
    assert client.get("/v1/follow-ups?patient_id=p-routine", headers=me).json() == []


def test_a_past_follow_up_is_overdue_with_an_alert_and_completing_it_makes_it_done(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    case_id = _send(client, platform, "Can I move my appointment?", "p-late")
    supervisor = factory.headers(Role.SUPERVISOR)
    due = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    body = {"patient_id": "p-late", "case_id": case_id, "due_at": due, "kind": "call"}
    created = client.post("/v1/follow-ups", json=body, headers=supervisor)
    assert created.status_code == 201, created.text
    follow_up = created.json()
    assert follow_up["status"] == "overdue"
    listed = client.get("/v1/follow-ups?status=overdue&patient_id=p-late", headers=supervisor)
    assert [i["id"] for i in listed.json()] == [follow_up["id"]]
    alerts = client.get("/v1/alerts", headers=supervisor).json()
    about_it = [a for a in alerts if a["payload"].get("follow_up_id") == follow_up["id"]]
    assert [a["kind"] for a in about_it] == ["follow_up"]
    assert about_it[0]["case_id"] == case_id
    assert client.get("/v1/alerts?kind=follow_up", headers=supervisor).json() == about_it

    note = f"spoke with them {secrets.token_hex(4)}"
    done = client.post(
        f"/v1/follow-ups/{follow_up['id']}/complete",
        json={"outcome": "reached", "note": note},
        headers=factory.headers(),
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done" and done.json()["outcome"] == "reached"
    assert note not in done.text  # notes are not listed
    again = client.post(
        f"/v1/follow-ups/{follow_up['id']}/complete",
        json={"outcome": "reached"},
        headers=supervisor,
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"
    assert client.get("/v1/follow-ups?status=overdue", headers=supervisor).json() == []


def test_no_answer_schedules_a_retry(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    _send(client, platform, "hello", "p-retry")
    me = factory.headers()
    due = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = client.post(
        "/v1/follow-ups", json={"patient_id": "p-retry", "due_at": due, "kind": "call"}, headers=me
    ).json()
    assert created["status"] == "scheduled"
    client.post(
        f"/v1/follow-ups/{created['id']}/complete", json={"outcome": "no_answer"}, headers=me
    )
    open_ones = client.get("/v1/follow-ups?patient_id=p-retry&status=scheduled", headers=me).json()
    assert [(i["step"], i["kind"]) for i in open_ones] == [("retry", "call")]


def test_a_safety_plan_saved_twice_reads_back_as_version_2_and_is_encrypted(
    client: TestClient, factory: Factory, platform: dict[str, str], database_url: str
) -> None:
    _send(client, platform, "hello", "p-plan")
    me = factory.headers()
    marker = f"reason-{secrets.token_hex(6)}"
    first = client.put("/v1/patients/p-plan/safety-plan", json=PLAN, headers=me)
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    second_plan = PLAN | {"reasons_for_living": ["my kids", marker], "language": "es"}
    second = client.put("/v1/patients/p-plan/safety-plan", json=second_plan, headers=me)
    assert second.json()["version"] == 2
    latest = client.get("/v1/patients/p-plan/safety-plan", headers=me).json()
    assert latest["version"] == 2 and latest["versions"] == [1, 2]
    assert latest["sections"]["reasons_for_living"] == ["my kids", marker]
    assert latest["language"] == "es"
    old = client.get("/v1/patients/p-plan/safety-plan?version=1", headers=me).json()
    assert old["sections"]["reasons_for_living"] == ["my kids"]
    if database_url.startswith("sqlite"):
        path = Path(make_url(database_url).database or "")
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert b"p-plan" in raw  # the search works: a plain column is found
        assert marker.encode() not in raw


def test_safety_plan_errors_use_the_one_envelope(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    me = factory.headers()
    missing = client.get("/v1/patients/nobody/safety-plan", headers=me)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    unknown = client.put("/v1/patients/nobody/safety-plan", json=PLAN, headers=me)
    assert unknown.status_code == 404
    _send(client, platform, "hello", "p-bad")
    bad = client.put("/v1/patients/p-bad/safety-plan", json={"warning_signs": "x"}, headers=me)
    assert bad.status_code == 422 and "error" in bad.json()
    wrong_language = client.put(
        "/v1/patients/p-bad/safety-plan", json={"language": "fr"}, headers=me
    )
    assert wrong_language.status_code == 422
    assert wrong_language.json()["error"]["code"] == "invalid_care_input"


def test_a_patient_who_opted_in_and_sends_stop_is_opted_out_with_nothing_scheduled(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    _send(client, platform, "thank you for calling", "p-stop")
    me = factory.headers()
    opted = client.put(
        "/v1/patients/p-stop/caring-contacts", json={"opt_in": True, "language": "es"}, headers=me
    )
    assert opted.status_code == 200, opted.text
    assert opted.json()["opted_in"] is True and opted.json()["scheduled"] == 15
    assert opted.json()["opted_in_by"].startswith("specialist")
    _send(client, platform, "STOP", "p-stop")
    status = client.get("/v1/patients/p-stop/caring-contacts", headers=me).json()
    assert status["opted_in"] is False and status["scheduled"] == 0
    assert status["opt_out_reason"] == "patient_message"


@pytest.mark.parametrize("word", ["PARAR", "alto!"])
def test_spanish_opt_out_words_and_a_clinicians_click_opt_out(
    client: TestClient, factory: Factory, platform: dict[str, str], word: str
) -> None:
    _send(client, platform, "gracias", "p-es")
    me = factory.headers()
    client.put("/v1/patients/p-es/caring-contacts", json={"opt_in": True}, headers=me)
    _send(client, platform, word, "p-es")
    assert client.get("/v1/patients/p-es/caring-contacts", headers=me).json()["scheduled"] == 0
    client.put("/v1/patients/p-es/caring-contacts", json={"opt_in": True}, headers=me)
    off = client.put("/v1/patients/p-es/caring-contacts", json={"opt_in": False}, headers=me)
    assert off.json()["opted_in"] is False and off.json()["scheduled"] == 0
    assert off.json()["opt_out_reason"] == "clinician"


def test_api_keys_need_the_care_scopes(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    _send(client, platform, "hello", "p-key")
    reader = factory.api_key("care:read")
    writer = factory.api_key("care:write")
    due = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = {"patient_id": "p-key", "due_at": due, "kind": "call"}
    assert client.get("/v1/follow-ups", headers=platform).status_code == 403
    assert client.post("/v1/follow-ups", json=body, headers=reader).status_code == 403
    assert client.post("/v1/follow-ups", json=body, headers=writer).status_code == 201
    assert len(client.get("/v1/follow-ups?patient_id=p-key", headers=reader).json()) == 1
    assert (
        client.put("/v1/patients/p-key/safety-plan", json=PLAN, headers=writer).status_code == 200
    )
    assert client.get("/v1/patients/p-key/safety-plan", headers=reader).status_code == 200
    assert client.get("/v1/follow-ups").status_code == 401


def test_bad_follow_up_input_is_a_clear_error(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    me = factory.headers()
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    naive = {"patient_id": "p", "due_at": "2026-12-07T09:00:00", "kind": "call"}
    assert client.post("/v1/follow-ups", json=naive, headers=me).status_code == 422
    far = {"patient_id": "p", "due_at": "9999-01-01T00:00:00Z", "kind": "call"}
    assert client.post("/v1/follow-ups", json=far, headers=me).status_code == 422
    nobody = {"patient_id": "nobody", "due_at": soon, "kind": "call"}
    assert client.post("/v1/follow-ups", json=nobody, headers=me).status_code == 404
    case_id = _send(client, platform, "hello", "p-a")
    _send(client, platform, "hello", "p-b")
    theirs = {"patient_id": "p-b", "case_id": case_id, "due_at": soon, "kind": "call"}
    wrong = client.post("/v1/follow-ups", json=theirs, headers=me)
    assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "invalid_care_input"
    assert (
        client.post(
            "/v1/follow-ups/999999/complete", json={"outcome": "reached"}, headers=me
        ).status_code
        == 404
    )
    bad_outcome = client.post("/v1/follow-ups/1/complete", json={"outcome": "maybe"}, headers=me)
    assert bad_outcome.status_code == 422


def test_a_patients_export_holds_their_care_records_and_erasure_removes_them(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    case_id = _send(client, platform, "I want to hurt myself", "p-erase")
    me, admin = factory.headers(), factory.headers(Role.ADMIN)
    _resolve(client, me, case_id, "confirmed_crisis")
    marker = f"my dog {secrets.token_hex(4)}"
    client.put(
        "/v1/patients/p-erase/safety-plan", json={"reasons_for_living": [marker]}, headers=me
    )
    client.put("/v1/patients/p-erase/caring-contacts", json={"opt_in": True}, headers=me)
    exported = client.get("/v1/patients/p-erase/export", headers=admin).json()
    assert exported["care"]["safety_plans"][0]["sections"]["reasons_for_living"] == [marker]
    assert len(exported["care"]["follow_ups"]) == 4
    assert len(exported["care"]["caring_contacts"]["contacts"]) == 15
    erased = client.delete("/v1/patients/p-erase", headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json()["care_records"] >= 4 + 15 + 1
    assert client.get("/v1/follow-ups?patient_id=p-erase", headers=me).json() == []
    assert client.get("/v1/patients/p-erase/safety-plan", headers=me).status_code == 404
    status = client.get("/v1/patients/p-erase/caring-contacts", headers=me).json()
    assert status["opted_in"] is False and status["scheduled"] == 0
    cancelled = client.get("/v1/follow-ups?status=cancelled", headers=me).json()
    assert len(cancelled) == 4 and not any(i["patient_id"] == "p-erase" for i in cancelled)


def test_care_measures_in_the_analytics_api(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    _send(client, platform, "hello", "p-measure")
    me = factory.headers()
    due = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    client.post(
        "/v1/follow-ups",
        json={"patient_id": "p-measure", "due_at": due, "kind": "call"},
        headers=me,
    )
    supervisor = client.get("/v1/metrics/care?days=7", headers=factory.headers(Role.SUPERVISOR))
    assert supervisor.status_code == 200, supervisor.text
    body = supervisor.json()
    assert body["overdue_now"] == 1 and body["follow_ups_due"] == 1
    assert body["completion_within_target"] == 0.0
    assert client.get("/v1/metrics/care", headers=me).status_code == 403
    assert (
        client.get("/v1/metrics/care", headers=factory.api_key("metrics:read")).status_code == 200
    )


def test_the_safety_plan_is_a_fhir_care_plan(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    from fhir.resources.R4B.bundle import Bundle

    _send(client, platform, "hello", "p-fhir")
    me = factory.headers()
    search = "/fhir/r4/CarePlan?subject=Patient/p-fhir"
    assert client.get(search, headers=me).json()["total"] == 0
    client.put("/v1/patients/p-fhir/safety-plan", json=PLAN, headers=me)
    client.put(
        "/v1/patients/p-fhir/safety-plan",
        json=PLAN | {"lethal_means_counselling_done": True, "language": "es"},
        headers=me,
    )
    reply = client.get(search, headers=factory.api_key("care:read"))
    assert reply.status_code == 200, reply.text
    bundle = Bundle.model_validate(reply.json())
    [entry] = bundle.entry or []
    plan = entry.resource.model_dump(mode="json", exclude_none=True)
    assert plan["resourceType"] == "CarePlan" and plan["status"] == "active"
    assert plan["meta"]["versionId"] == "2" and plan["language"] == "es"
    assert plan["subject"]["reference"] == "Patient/p-fhir"
    items = [
        (a["detail"]["code"]["coding"][0]["code"], a["detail"]["description"])
        for a in plan["activity"]
    ]
    assert ("reasons_for_living", "my kids") in items and len(items) == 8
    assert plan["note"] == [{"text": "Lethal-means counselling done."}]
    assert client.get(search, headers=factory.api_key("queue:read")).status_code == 403
