"""Paging channels (issue 13 item 3): Slack, Teams and PagerDuty pages reach a local HTTP
receiver in each service's documented shape, e-mail reaches a local SMTP server; once per case
per channel, through the outbox; no message text or patient identifier; targets kept secret."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient
from paging_helpers import (
    PAGERDUTY_EVENT,
    SLACK_WEBHOOK,
    TEAMS_WEBHOOK,
    LocalReceiver,
    local_receiver,
    local_smtp,
)
from service_fakes import FakeScorer, RaisingScorer, message
from service_helpers import Factory, settings_for
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from crisis_triage.service import create_app
from crisis_triage.service._worker import Worker
from crisis_triage.storage import Alert, WebhookDelivery, utcnow
from crisis_triage.triage import AlertKind, Role, queue_pages, raise_alert

DASHBOARD = "https://triage.example.org"
ROUTING_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"  # 32 characters, as PagerDuty issues them
CRISIS_TEXT = "I took an overdose last night"
PATIENT = "patient-7731"


@dataclass
class Paged:
    client: TestClient
    receiver: LocalReceiver
    admin: dict[str, str]

    @property
    def worker(self) -> Worker:
        worker: Worker = self.client.app.state.worker  # type: ignore[attr-defined]
        return worker

    def add(self, kind: str, target: str, topics: list[str], name: str | None = None) -> int:
        body = {"name": name or kind, "kind": kind, "target": target, "topics": topics}
        reply = self.client.post("/v1/paging/channels", json=body, headers=self.admin)
        assert reply.status_code == 201, reply.text
        channel_id: int = reply.json()["id"]
        return channel_id


def _paged(database_url: str, factory: Factory, scorer: Any, **settings: Any) -> Iterator[Paged]:
    with local_receiver({"/teams": [202], "/pagerduty": [202]}) as receiver:
        app = create_app(
            settings_for(
                database_url,
                dashboard_url=DASHBOARD,
                pagerduty_events_url=receiver.url("/pagerduty"),
                webhook_max_attempts=3,
                webhook_backoff_seconds=10,
                **settings,
            ),
            scorer=scorer,
        )
        with TestClient(app) as client:
            yield Paged(client, receiver, factory.headers(Role.ADMIN))


@pytest.fixture
def paged(database_url: str, factory: Factory) -> Iterator[Paged]:
    yield from _paged(database_url, factory, FakeScorer())


def _chat_channels(paged: Paged) -> None:
    topics = ["crisis", "escalation"]
    paged.add("slack", paged.receiver.url("/slack"), topics)
    paged.add("teams", paged.receiver.url("/teams"), topics)
    paged.add("pagerduty", ROUTING_KEY, topics)


def _no_patient_data(raw: bytes | str) -> None:
    body = raw.decode() if isinstance(raw, bytes) else raw
    assert "overdose last night" not in body and PATIENT not in body


def test_a_crisis_pages_slack_teams_and_pagerduty_in_their_documented_shapes(
    paged: Paged, platform: dict[str, str], factory: Factory
) -> None:
    _chat_channels(paged)
    case_id = paged.client.post(
        "/v1/messages", json=message(text=CRISIS_TEXT, patient_id=PATIENT), headers=platform
    ).json()["case_id"]
    assert paged.worker.run_once().delivered == 3

    [slack], [teams], [pager] = (paged.receiver.at(p) for p in ("/slack", "/teams", "/pagerduty"))
    jsonschema.validate(slack.body, SLACK_WEBHOOK)
    jsonschema.validate(teams.body, TEAMS_WEBHOOK)
    jsonschema.validate(pager.body, PAGERDUTY_EVENT, format_checker=jsonschema.FormatChecker())
    link = f"{DASHBOARD}/cases/{case_id}"
    assert link in json.dumps(slack.body) and link in json.dumps(teams.body)
    assert pager.body["event_action"] == "trigger"
    assert pager.body["dedup_key"] == f"crisis-triage-case-{case_id}"
    assert pager.body["payload"]["severity"] == "critical"
    assert pager.body["payload"]["custom_details"] == {
        "Topic": "crisis",
        "Case": str(case_id),
        "Risk": "0.97",
        "Categories": "OD",
    }
    assert pager.body["links"] == [{"href": link, "text": "Open the case"}]
    for got in (slack, teams, pager):
        _no_patient_data(got.raw)

    # Resolving the case resolves the PagerDuty incident (same dedup key); chat gets nothing.
    me = factory.headers(Role.SUPERVISOR)
    resolution = {"disposition": "confirmed_crisis", "crisis_types": ["OD"], "note": "safe now"}
    assert paged.client.post("/v1/queue:claim", headers=me).json()["id"] == case_id
    done = paged.client.post(f"/v1/cases/{case_id}/resolve", headers=me, json=resolution)
    assert done.status_code == 200, done.text
    assert paged.worker.run_once().delivered == 1
    resolve = paged.receiver.at("/pagerduty")[-1]
    jsonschema.validate(resolve.body, PAGERDUTY_EVENT)
    assert resolve.body == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": f"crisis-triage-case-{case_id}",
    }
    assert paged.worker.run_once().delivered == 0  # each page went once
    assert len(paged.receiver.received) == 4


def test_an_escalation_pages_again_and_a_routine_message_pages_nobody(
    paged: Paged, platform: dict[str, str], session: Session
) -> None:
    _chat_channels(paged)
    paged.client.post("/v1/messages", json=message(), headers=platform)
    case_id = paged.client.post(
        "/v1/messages", json=message(text=CRISIS_TEXT), headers=platform
    ).json()["case_id"]
    paged.worker.run_once()
    assert len(paged.receiver.received) == 3  # the crisis only
    later = utcnow() + timedelta(minutes=20)
    report = paged.worker.run_once(now=later)
    assert report.escalated == [case_id] and report.delivered == 3
    escalation = paged.receiver.at("/pagerduty")[-1].body
    assert escalation["payload"]["class"] == "escalation"
    assert escalation["payload"]["custom_details"]["Risk"] == "0.97"
    assert escalation["dedup_key"] == f"crisis-triage-case-{case_id}"  # the same incident
    assert "unacknowledged" in paged.receiver.at("/slack")[-1].body["text"]


def test_a_page_is_queued_once_per_case_per_channel_and_sent_once_by_several_workers(
    paged: Paged, platform: dict[str, str], session: Session
) -> None:
    paged.receiver.statuses["/slack"] = [200]
    for n in range(3):
        paged.add("slack", paged.receiver.url(f"/slack{n}"), ["crisis"], name=f"slack {n}")
    case_ids = [
        paged.client.post(
            "/v1/messages", json=message(text=f"{CRISIS_TEXT} {n}"), headers=platform
        ).json()["case_id"]
        for n in range(4)
    ]
    # The same alert announced again (e.g. a second worker raising it) queues nothing more.
    alert = session.scalars(select(Alert).where(Alert.case_id == case_ids[0])).one()
    queue_pages(session, alert, "crisis", now=utcnow())
    session.commit()
    pages = session.scalar(
        select(func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.channel_id.is_not(None))
    )
    assert pages == 3 * 4
    workers = [paged.worker] + [Worker(paged.worker.state) for _ in range(2)]
    with ThreadPoolExecutor(len(workers)) as pool:
        list(pool.map(lambda w: w.run_once(), workers))
    got = sorted((r.path, r.body["text"].split("/cases/")[-1]) for r in paged.receiver.received)
    assert len(got) == len(set(got)) == 12


def test_unscored_messages_page_once_an_hour_during_an_outage(
    paged: Paged, session: Session
) -> None:
    paged.add("email", "oncall@clinic.example", ["unscored"])
    policy = paged.worker.state.policy
    start = datetime(2026, 12, 1, 9, 5, tzinfo=UTC)
    for minutes in (0, 30, 54, 60):
        raise_alert(
            session,
            policy,
            AlertKind.OPERATOR,
            "1 message(s) queued unscored: model_error",
            now=start + timedelta(minutes=minutes),
            topic="unscored",
        )
    session.commit()
    keys = session.scalars(select(WebhookDelivery.dedup_key).order_by(WebhookDelivery.id)).all()
    assert keys == ["unscored:2026-12-01T09", "unscored:2026-12-01T10"]


def test_a_resolve_waits_for_its_trigger_to_get_through(
    paged: Paged, platform: dict[str, str], factory: Factory
) -> None:
    paged.receiver.statuses["/pagerduty"] = [500, 202]
    paged.add("pagerduty", ROUTING_KEY, ["crisis"])
    case_id = paged.client.post(
        "/v1/messages", json=message(text=CRISIS_TEXT), headers=platform
    ).json()["case_id"]
    assert paged.worker.run_once().retrying == 1
    me = factory.headers(Role.SUPERVISOR)
    paged.client.post("/v1/queue:claim", headers=me)
    resolution = {"disposition": "not_crisis", "note": "a quote from a book"}
    assert paged.client.post(f"/v1/cases/{case_id}/resolve", headers=me, json=resolution).is_success
    later = utcnow() + timedelta(minutes=1)
    assert paged.worker.run_once(now=later).delivered == 1  # the trigger; the resolve waited
    assert paged.worker.run_once(now=later).delivered == 1
    actions = [r.body["event_action"] for r in paged.receiver.at("/pagerduty")]
    assert actions == ["trigger", "trigger", "resolve"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_unscored_messages_page_by_email_over_smtp(
    database_url: str, factory: Factory, platform: dict[str, str]
) -> None:
    with local_smtp() as (port, mails):
        settings = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none"}
        settings["smtp_from"] = "triage@clinic.example"
        for paged in _paged(database_url, factory, RaisingScorer(), **settings):
            paged.add("email", "oncall@clinic.example, lead@clinic.example", ["unscored"])
            paged.client.post(
                "/v1/messages", json=message(text=CRISIS_TEXT, patient_id=PATIENT), headers=platform
            )
            assert paged.worker.run_once().delivered == 1
            assert paged.worker.run_once().delivered == 0
    [(recipients, mail)] = mails
    assert recipients == ["oncall@clinic.example", "lead@clinic.example"]
    assert mail["From"] == "triage@clinic.example"
    assert mail["Subject"].startswith("[crisis-triage] Messages queued unscored")
    assert mail["Message-ID"].endswith("@clinic.example>")
    _no_patient_data(mail.as_string())


def test_targets_are_secrets_encrypted_at_rest_never_shown_or_logged(
    paged: Paged, platform: dict[str, str], session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    paged.receiver.statuses["/slack/T0/B0/s3cret"] = [500]
    url = paged.receiver.url("/slack/T0/B0/s3cret")
    paged.add("slack", url, ["crisis"])
    paged.add("pagerduty", ROUTING_KEY, ["crisis"])
    stored = session.execute(text("SELECT target FROM paging_channels")).scalars().all()
    assert all("s3cret" not in value and ROUTING_KEY not in value for value in stored)
    listed = paged.client.get("/v1/paging/channels", headers=paged.admin)
    assert [c["target_hint"] for c in listed.json()] == ["127.0.0.1/…", "…EY12"]
    assert "s3cret" not in listed.text and ROUTING_KEY not in listed.text
    with caplog.at_level(logging.DEBUG):
        paged.client.post("/v1/messages", json=message(text=CRISIS_TEXT), headers=platform)
        paged.worker.run_once()
    row = session.scalars(select(WebhookDelivery).where(WebhookDelivery.url == "paging:1")).one()
    assert (row.last_status_code, row.last_error) == (500, "HTTP 500")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "s3cret" not in logged and ROUTING_KEY not in logged


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no database logic
@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"kind": "slack", "target": "http://hooks.example.org/x"}, "must use https"),
        ({"kind": "pagerduty", "target": "short"}, "routing key"),
        ({"kind": "email", "target": "not an address"}, "e-mail addresses"),
        ({"kind": "sms", "target": "x"}, "invalid request: body.kind"),
        ({"kind": "slack", "target": "https://h.example.org", "topics": []}, "body.topics"),
        ({"kind": "slack", "target": "https://h.example.org", "topics": ["x"]}, "body.topics"),
    ],
)
def test_a_bad_channel_gets_a_clear_error_that_never_quotes_the_target(
    paged: Paged, body: dict[str, Any], complaint: str
) -> None:
    reply = paged.client.post(
        "/v1/paging/channels",
        json={"name": "n", "topics": ["crisis"]} | body,
        headers=paged.admin,
    )
    assert reply.status_code == 422
    error = reply.json()["error"]
    assert complaint in error["message"]
    assert body["target"] not in reply.text or len(body["target"]) < 3


def test_only_admins_manage_channels_and_a_removed_channel_is_not_paged(
    paged: Paged, factory: Factory, platform: dict[str, str]
) -> None:
    supervisor = factory.headers(Role.SUPERVISOR)
    assert paged.client.get("/v1/paging/channels", headers=supervisor).status_code == 403
    channel_id = paged.add("slack", paged.receiver.url("/slack"), ["crisis"])
    tested = paged.client.post(f"/v1/paging/channels/{channel_id}/test", headers=paged.admin)
    assert tested.status_code == 202
    assert paged.worker.run_once().delivered == 1
    assert paged.receiver.at("/slack")[0].body["text"].startswith("Test page")
    gone = paged.client.delete(f"/v1/paging/channels/{channel_id}", headers=paged.admin)
    assert gone.status_code == 200 and gone.json()["removed_at"]
    assert paged.client.get("/v1/paging/channels", headers=paged.admin).json() == []
    paged.client.post("/v1/messages", json=message(text=CRISIS_TEXT), headers=platform)
    assert paged.worker.run_once().delivered == 0
    missing = paged.client.delete(f"/v1/paging/channels/{channel_id}", headers=paged.admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
