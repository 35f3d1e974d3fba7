"""Working the queue over HTTP: order, claims, the state machine, dispositions, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_fakes import message
from service_helpers import Factory
from sqlalchemy.orm import Session

from crisis_triage.triage import Role


def _send(client: TestClient, platform: dict[str, str], minutes_ago: float, text: str) -> int:
    sent = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()
    reply = client.post("/v1/messages", json=message(text=text, sent_at=sent), headers=platform)
    assert reply.status_code == 201, reply.text
    case_id: int = reply.json()["case_id"]
    return case_id


def test_the_queue_puts_crises_first_by_risk_then_waiting_then_the_rest_oldest_first(
    database_url: str, factory: Factory, platform: dict[str, str], client: TestClient
) -> None:
    routine_old = _send(client, platform, 50, "my prescription please")
    crisis_low_old = _send(client, platform, 40, "I will end it")  # 0.7
    routine_new = _send(client, platform, 30, "thanks for the call")
    crisis_high = _send(client, platform, 10, "I took an overdose")  # 0.97
    crisis_low_new = _send(client, platform, 5, "maybe I should end it")  # 0.7
    reply = client.get("/v1/queue", headers=factory.headers())
    body = reply.json()
    assert [item["case_id"] for item in body["items"]] == [
        crisis_high,
        crisis_low_old,
        crisis_low_new,
        routine_old,
        routine_new,
    ]
    assert body["total"] == 5
    assert body["items"][0]["priority"] == "crisis"
    assert body["items"][0]["waiting_seconds"] >= 600
    page = client.get("/v1/queue?limit=2&offset=1", headers=factory.headers()).json()
    assert [i["case_id"] for i in page["items"]] == [crisis_low_old, crisis_low_new]


def test_claim_acknowledge_resolve_records_every_transition(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    case_id = _send(client, platform, 3, "I want to hurt myself")
    me = factory.headers()
    claimed = client.post("/v1/queue:claim", headers=me).json()
    assert claimed["id"] == case_id and claimed["status"] == "claimed"
    acked = client.post(f"/v1/cases/{case_id}/acknowledge", headers=me, json={"note": "called"})
    assert acked.json()["status"] == "acknowledged" and acked.json()["triaged_at"]
    resolution = {"disposition": "confirmed_crisis", "crisis_types": ["NSSI"], "note": "safe"}
    done = client.post(f"/v1/cases/{case_id}/resolve", headers=me, json=resolution)
    assert done.status_code == 200, done.text
    case = client.get(f"/v1/cases/{case_id}", headers=me).json()
    assert case["status"] == "resolved" and case["crisis_type"] == "NSSI"
    assert case["message"]["text"] == "I want to hurt myself"
    steps = [(e["action"], e["from_status"], e["to_status"]) for e in case["events"]]
    assert steps == [
        ("create", None, "open"),
        ("claim", "open", "claimed"),
        ("acknowledge", "claimed", "acknowledged"),
        ("resolve", "acknowledged", "resolved"),
    ]
    times = [e["at"] for e in case["events"]]
    assert times == sorted(times)
    assert client.get("/v1/queue", headers=me).json()["total"] == 0


def test_two_specialists_cannot_hold_the_same_case(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    case_id = _send(client, platform, 1, "overdose")
    first, second = factory.headers(), factory.headers()
    assert client.post(f"/v1/cases/{case_id}/claim", headers=first).status_code == 200
    taken = client.post(f"/v1/cases/{case_id}/claim", headers=second)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "invalid_transition"
    other = client.post(f"/v1/cases/{case_id}/acknowledge", headers=second)
    assert other.status_code == 403
    assert client.post("/v1/queue:claim", headers=second).json()["error"]["code"] == "queue_empty"
    supervisor = factory.headers(Role.SUPERVISOR)
    assert client.post(f"/v1/cases/{case_id}/release", headers=supervisor).status_code == 200
    assert client.post(f"/v1/cases/{case_id}/claim", headers=second).status_code == 200


def test_an_escalated_case_waits_for_a_supervisor(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    case_id = _send(client, platform, 1, "overdose")
    specialist, supervisor = factory.headers(), factory.headers(Role.SUPERVISOR)
    client.post(f"/v1/cases/{case_id}/claim", headers=specialist)
    escalated = client.post(
        f"/v1/cases/{case_id}/escalate", headers=specialist, json={"note": "needs a supervisor"}
    )
    assert escalated.json()["status"] == "escalated" and escalated.json()["claimed_by"] is None
    assert client.post(f"/v1/cases/{case_id}/claim", headers=specialist).status_code == 403
    assert client.post("/v1/queue:claim", headers=specialist).status_code == 404
    assert client.post("/v1/queue:claim", headers=supervisor).json()["id"] == case_id


@pytest.mark.parametrize(
    ("text", "resolution", "status"),
    [
        ("overdose", {"disposition": "confirmed_crisis", "crisis_types": ["OD"]}, 200),
        ("overdose", {"disposition": "confirmed_crisis"}, 422),
        ("overdose", {"disposition": "missed_crisis", "crisis_types": ["OD"]}, 422),
        ("overdose", {"disposition": "not_crisis"}, 200),
        ("hello", {"disposition": "missed_crisis", "crisis_types": ["SI", "DV"]}, 200),
        ("hello", {"disposition": "confirmed_crisis", "crisis_types": ["SI"]}, 422),
        ("hello", {"disposition": "needs_follow_up", "note": "call back"}, 200),
        ("hello", {"disposition": "not_crisis", "crisis_types": ["SI"]}, 422),
        ("hello", {"disposition": "not_crisis", "crisis_types": ["XX"]}, 422),
    ],
)
def test_dispositions_must_fit_the_case(
    client: TestClient,
    factory: Factory,
    platform: dict[str, str],
    text: str,
    resolution: dict[str, Any],
    status: int,
) -> None:
    case_id = _send(client, platform, 1, text)
    me = factory.headers()
    client.post(f"/v1/cases/{case_id}/claim", headers=me)
    reply = client.post(f"/v1/cases/{case_id}/resolve", headers=me, json=resolution)
    assert reply.status_code == status, reply.text
    if status == 422:
        assert reply.json()["error"]["code"] in {"invalid_disposition", "validation_error"}


def test_state_machine_violations_are_409(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    case_id = _send(client, platform, 1, "hello")
    me = factory.headers()
    open_resolve = client.post(
        f"/v1/cases/{case_id}/resolve", headers=me, json={"disposition": "not_crisis"}
    )
    assert open_resolve.status_code == 409
    assert client.post(f"/v1/cases/{case_id}/acknowledge", headers=me).status_code == 409
    client.post(f"/v1/cases/{case_id}/claim", headers=me)
    client.post(f"/v1/cases/{case_id}/resolve", headers=me, json={"disposition": "not_crisis"})
    for action in ("claim", "release", "acknowledge", "escalate"):
        assert client.post(f"/v1/cases/{case_id}/{action}", headers=me).status_code == 409


def test_api_keys_cannot_act_on_cases(
    client: TestClient, factory: Factory, platform: dict[str, str], session: Session
) -> None:
    case_id = _send(client, platform, 1, "hello")
    reader = factory.api_key("queue:read")
    assert client.get("/v1/queue", headers=reader).status_code == 200
    assert client.post(f"/v1/cases/{case_id}/claim", headers=reader).status_code == 403
