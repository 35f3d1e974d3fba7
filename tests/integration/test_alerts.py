"""Alerts: the SSE stream, signed webhooks with retries, escalation, automatic patient replies."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from service_fakes import FakeScorer, message
from service_helpers import Factory, settings_for
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crisis_triage.service import create_app
from crisis_triage.storage import (
    Case,
    PatientReply,
    WebhookDelivery,
    make_engine,
    make_session_factory,
    utcnow,
)
from crisis_triage.triage import SIGNATURE_HEADER, TriagePolicy, lease_due, raise_alert, verify
from crisis_triage.triage._alerts import AlertKind

HOOK = "http://hooks.example.test/crisis"
SECRET = "webhook-test-secret"
REPLY = "If you are in danger, call or text 988 (Suicide & Crisis Lifeline) now."


class Receiver:
    """A webhook receiver behind httpx.MockTransport; answers with the statuses it is given."""

    def __init__(self, *statuses: int | Exception) -> None:
        self.statuses = list(statuses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.statuses.pop(0) if self.statuses else 200
        if isinstance(outcome, Exception):
            raise outcome
        return httpx.Response(outcome)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def hooked(database_url: str, receiver: Receiver) -> Iterator[TestClient]:
    settings = settings_for(
        database_url,
        webhook_urls=[HOOK],
        webhook_secret=SECRET,
        webhook_max_attempts=3,
        webhook_backoff_seconds=10,
        auto_reply_text=REPLY,
        sse_poll_seconds=0.1,
    )
    app = create_app(settings, scorer=FakeScorer(), webhook_transport=httpx.MockTransport(receiver))
    with TestClient(app) as client:
        yield client


def test_a_crisis_raises_an_alert_without_the_message_text(
    hooked: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    hooked.post(
        "/v1/messages", json=message(text="I took an overdose last night"), headers=platform
    )
    hooked.post("/v1/messages", json=message(text="routine question"), headers=platform)
    alerts = hooked.get("/v1/alerts", headers=factory.headers()).json()
    assert [a["kind"] for a in alerts] == ["crisis"]
    assert alerts[0]["payload"]["categories"] == ["OD"]
    assert "overdose last night" not in json.dumps(alerts)


def test_webhooks_are_signed_and_recorded(
    hooked: TestClient, platform: dict[str, str], receiver: Receiver, session: Session
) -> None:
    case_id = hooked.post(
        "/v1/messages", json=message(text="I took an overdose"), headers=platform
    ).json()["case_id"]
    report = hooked.app.state.worker.run_once()  # type: ignore[attr-defined]
    assert report.delivered == 2  # the crisis alert and the automatic patient reply
    events = {r.headers["X-Crisis-Triage-Event"]: r for r in receiver.requests}
    assert set(events) == {"alert.crisis", "patient.auto_reply"}
    alert = events["alert.crisis"]
    assert verify(SECRET, alert.headers[SIGNATURE_HEADER], alert.content, now=int(time.time()))
    assert not verify("wrong", alert.headers[SIGNATURE_HEADER], alert.content, now=int(time.time()))
    body = json.loads(alert.content)
    assert body["data"]["case_id"] == case_id and "overdose" not in alert.content.decode()
    reply = json.loads(events["patient.auto_reply"].content)
    assert reply["data"]["text"] == REPLY
    rows = session.scalars(select(WebhookDelivery)).all()
    assert {(r.status, r.attempts, r.last_status_code) for r in rows} == {("delivered", 1, 200)}
    assert hooked.app.state.worker.run_once().delivered == 0  # type: ignore[attr-defined]


def test_failed_webhooks_retry_with_backoff_then_give_up(
    hooked: TestClient, platform: dict[str, str], receiver: Receiver, session: Session
) -> None:
    receiver.statuses = [500, httpx.ConnectError("refused"), 503]
    hooked.post("/v1/messages", json=message(text="hello"), headers=platform)  # no alert
    worker = hooked.app.state.worker  # type: ignore[attr-defined]
    with worker.state.sessions() as own:
        raise_alert(own, worker.state.policy, AlertKind.OPERATOR, "test", now=utcnow())
        own.commit()
    start = utcnow()
    assert worker.run_once(now=start).retrying == 1
    delivery = session.scalar(select(WebhookDelivery))
    assert delivery is not None
    assert (delivery.attempts, delivery.last_error) == (1, "HTTP 500")
    assert delivery.next_attempt_at == start + timedelta(seconds=10)
    assert worker.run_once(now=start + timedelta(seconds=5)).retrying == 0  # not due yet
    assert worker.run_once(now=start + timedelta(seconds=10)).retrying == 1
    session.refresh(delivery)
    assert (delivery.attempts, delivery.last_error) == (2, "ConnectError")
    assert delivery.next_attempt_at == start + timedelta(seconds=30)  # 10 s, then 20 s
    assert worker.run_once(now=start + timedelta(seconds=30)).failed == 1
    session.refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 3, 503)


def test_an_unacknowledged_crisis_escalates_once(
    hooked: TestClient, factory: Factory, platform: dict[str, str], session: Session
) -> None:
    overdue = hooked.post("/v1/messages", json=message(text="overdose"), headers=platform).json()
    handled = hooked.post("/v1/messages", json=message(text="overdose!"), headers=platform).json()
    routine = hooked.post("/v1/messages", json=message(text="hello"), headers=platform).json()
    me = factory.headers()
    hooked.post(f"/v1/cases/{handled['case_id']}/claim", headers=me)
    hooked.post(f"/v1/cases/{handled['case_id']}/acknowledge", headers=me)
    ids = [overdue["case_id"], handled["case_id"], routine["case_id"]]
    session.execute(
        update(Case).where(Case.id.in_(ids)).values(created_at=utcnow() - timedelta(minutes=16))
    )
    session.commit()
    worker = hooked.app.state.worker  # type: ignore[attr-defined]
    assert worker.run_once().escalated == [overdue["case_id"]]
    assert worker.run_once().escalated == []
    case = hooked.get(f"/v1/cases/{overdue['case_id']}", headers=me).json()
    assert case["status"] == "escalated"
    assert case["events"][-1]["actor_user_id"] is None  # the system did it
    kinds = [a["kind"] for a in hooked.get("/v1/alerts", headers=me).json()]
    assert kinds.count("escalation") == 1


def test_auto_reply_only_for_flagged_messages(
    hooked: TestClient, platform: dict[str, str], session: Session
) -> None:
    flagged = hooked.post("/v1/messages", json=message(text="overdose"), headers=platform).json()
    hooked.post("/v1/messages", json=message(text="hello"), headers=platform)
    replies = session.scalars(select(PatientReply)).all()
    assert [(r.message_id, r.text) for r in replies] == [(flagged["id"], REPLY)]


def _events(raw: str) -> list[dict[str, Any]]:
    events = []
    for block in raw.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append(fields)
    return events


def test_the_sse_stream_sends_alerts_and_resumes_after_the_last_event_id(
    hooked: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    for text in ("overdose", "hurt myself", "hello"):
        hooked.post("/v1/messages", json=message(text=text), headers=platform)
    me = factory.headers()
    reply = hooked.get("/v1/alerts/stream?after=0&max_seconds=1", headers=me)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = _events(reply.text)
    assert [e["event"] for e in events] == ["crisis", "crisis"]
    first = json.loads(events[0]["data"])
    assert first["payload"]["categories"] == ["OD"] and "overdose" not in events[0]["data"]
    resumed = hooked.get(
        "/v1/alerts/stream?max_seconds=1", headers=me | {"Last-Event-ID": events[0]["id"]}
    )
    assert [e["id"] for e in _events(resumed.text)] == [events[1]["id"]]
    assert hooked.get("/v1/alerts/stream?max_seconds=1").status_code == 401


def test_workers_in_parallel_never_lease_the_same_delivery(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    policy = TriagePolicy(webhook_urls=(HOOK,))
    with sessions() as session:
        for n in range(30):
            raise_alert(session, policy, AlertKind.OPERATOR, f"alert {n}", now=utcnow())
        session.commit()

    def lease(_: int) -> list[int]:
        taken = []
        with sessions() as session:
            while jobs := lease_due(session, limit=3):
                taken += [job.delivery_id for job in jobs]
        return taken

    with ThreadPoolExecutor(max_workers=3) as pool:
        leased = [i for batch in pool.map(lease, range(3)) for i in batch]
    engine.dispose()
    assert sorted(leased) == sorted(set(leased)) and len(leased) == 30
