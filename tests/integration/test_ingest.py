"""Ingest over HTTP on SQLite and PostgreSQL: stored before the reply, idempotent, nothing lost."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from service_fakes import FakeScorer, RaisingScorer, message
from service_helpers import settings_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis_triage.service import create_app
from crisis_triage.storage import Alert, Case, Message


def _count(session: Session, model: type) -> int:
    session.expire_all()
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_message_is_stored_scored_and_queued(
    client: TestClient, platform: dict[str, str], session: Session
) -> None:
    reply = client.post("/v1/messages", json=message(text="I took an overdose"), headers=platform)
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["score_status"] == "scored"
    assert body["flagged"] is True
    assert body["score"] == pytest.approx(0.97)
    assert body["categories"] == ["OD"]
    assert body["priority"] == "crisis"
    assert any("overdose" in reason for reason in body["reasons"])
    stored = session.get(Message, body["id"])
    assert stored is not None and stored.text == "I took an overdose"
    assert session.scalar(select(Case.status).where(Case.message_id == body["id"])) == "open"
    assert session.scalar(select(Alert.kind).where(Alert.message_id == body["id"])) == "crisis"


def test_a_repeated_idempotency_key_returns_the_original_and_stores_nothing_twice(
    client: TestClient, platform: dict[str, str], session: Session, scorer: FakeScorer
) -> None:
    payload = message(text="I want to hurt myself")
    first = client.post("/v1/messages", json=payload, headers=platform)
    scorer.RULES = ()  # a repeat is answered from what was stored, whatever the model says now
    again = client.post("/v1/messages", json=payload, headers=platform)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["flagged"] is True
    assert again.json() == first.json() | {"duplicate": True}
    assert _count(session, Message) == 1
    assert _count(session, Case) == 1
    assert _count(session, Alert) == 1


def test_a_key_reused_for_a_different_message_is_a_conflict(
    client: TestClient, platform: dict[str, str], session: Session
) -> None:
    payload = message()
    client.post("/v1/messages", json=payload, headers=platform)
    reply = client.post("/v1/messages", json=payload | {"text": "other"}, headers=platform)
    assert reply.status_code == 409
    assert reply.json()["error"]["code"] == "idempotency_conflict"
    assert _count(session, Message) == 1


def test_a_batch_is_stored_in_order_and_repeats_inside_it_are_duplicates(
    client: TestClient, platform: dict[str, str], session: Session
) -> None:
    same = message(text="I will end it tonight")
    batch = [message(), same, message(text="overdose"), same]
    reply = client.post("/v1/messages:batch", json={"messages": batch}, headers=platform)
    assert reply.status_code == 201, reply.text
    results = reply.json()["results"]
    assert [r["duplicate"] for r in results] == [False, False, False, True]
    assert results[1]["id"] == results[3]["id"]
    assert [r["priority"] for r in results] == ["routine", "crisis", "crisis", "crisis"]
    assert _count(session, Message) == 3
    again = client.post("/v1/messages:batch", json={"messages": batch}, headers=platform)
    assert again.status_code == 200
    assert all(r["duplicate"] for r in again.json()["results"])
    assert _count(session, Message) == 3


def test_a_batch_mixing_a_stored_key_and_new_ones_stores_only_the_new(
    client: TestClient, platform: dict[str, str], session: Session
) -> None:
    stored = message(text="I will end it tonight")
    original = client.post("/v1/messages", json=stored, headers=platform).json()
    batch = [message(text="overdose"), stored, message()]
    reply = client.post("/v1/messages:batch", json={"messages": batch}, headers=platform)
    assert reply.status_code == 201, reply.text
    results = reply.json()["results"]
    assert [r["duplicate"] for r in results] == [False, True, False]
    assert results[1] == original | {"duplicate": True}
    assert [r["priority"] for r in results] == ["crisis", "crisis", "routine"]
    assert _count(session, Message) == 3
    assert _count(session, Alert) == 2


def test_a_batch_with_one_conflicting_key_stores_nothing(
    client: TestClient, platform: dict[str, str], session: Session
) -> None:
    taken = message()
    client.post("/v1/messages", json=taken, headers=platform)
    batch = [message(), taken | {"text": "changed"}]
    reply = client.post("/v1/messages:batch", json={"messages": batch}, headers=platform)
    assert reply.status_code == 409
    assert reply.json()["error"]["details"][0]["loc"] == ["body", 1, "idempotency_key"]
    assert _count(session, Message) == 1


@pytest.mark.parametrize("failure", ["raises", "no model"])
def test_nothing_is_lost_when_scoring_fails(
    database_url: str,
    factory: object,
    session: Session,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    """Scoring raises (with the text in its error) or no model: the message is stored, queued
    unscored as "review now", an operator alert is raised, and no log line carries the text."""
    scorer = RaisingScorer() if failure == "raises" else None
    app = create_app(settings_for(database_url), scorer=scorer)
    secret_text = "my private words about overdose that must never reach a log"
    with caplog.at_level(logging.DEBUG), TestClient(app) as client:
        reply = client.post(
            "/v1/messages",
            json=message(text=secret_text),
            headers=factory.api_key("messages:write"),  # type: ignore[attr-defined]
        )
    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["score_status"] == "unscored"
    assert body["priority"] == "review_now"
    assert body["flagged"] is None and body["score"] is None
    assert body["reasons"][0].startswith("unscored: review now")
    stored = session.get(Message, body["id"])
    assert stored is not None and stored.text == secret_text
    assert stored.reason_items == [{"kind": "note", "text": body["reasons"][0]}]
    alert = session.scalar(select(Alert).where(Alert.kind == "operator"))
    assert alert is not None and body["id"] in alert.payload["message_ids"]
    queue_headers = factory.headers()  # type: ignore[attr-defined]
    queue = TestClient(create_app(settings_for(database_url), scorer=None))
    with queue:
        items = queue.get("/v1/queue", headers=queue_headers).json()["items"]
    assert [(i["message_id"], i["priority"]) for i in items] == [(body["id"], "review_now")]
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert "never reach a log" not in logged
    assert "private words" not in logged
    if failure == "raises":
        assert "scoring failed" in logged


def test_the_service_starts_without_a_model_and_says_so_in_readyz(database_url: str) -> None:
    settings = settings_for(database_url, load_model=True, model_path="/nonexistent/model.skops")
    with TestClient(create_app(settings)) as client:
        health = client.get("/healthz").json()
        reply = client.get("/readyz")
    assert (health["status"], health["checks"]) == ("ok", {})
    assert health["semantic"]["mode"] == "no_model" and health["semantic"]["available"] is False
    assert "could not be loaded" in health["semantic"]["detail"]
    assert reply.status_code == 503
    error = reply.json()["error"]
    assert error["code"] == "not_ready"
    assert [d["loc"] for d in error["details"]] == [["checks", "model"]]


def test_readyz_is_ready_with_a_model_and_a_migrated_database(client: TestClient) -> None:
    reply = client.get("/readyz")
    assert reply.status_code == 200
    assert reply.json()["checks"] == {"database": "ok", "model": "ok"}
