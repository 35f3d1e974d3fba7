"""``GET /metrics`` (issue 13 item 4): Prometheus text that ``prometheus_client.parser``
reads, with the ingest counter incremented by an ingest; queue gauges from the database;
alert and escalation counters from the worker; several processes added up in multiprocess
mode; nothing about a patient in any label."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from fhir_helpers import FHIR, communication
from prometheus_client.parser import text_string_to_metric_families
from service_fakes import FakeScorer, message
from service_helpers import Factory, settings_for

from crisis_triage.service import create_app
from crisis_triage.storage import utcnow
from crisis_triage.triage import Role

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient, headers: dict[str, str]) -> Samples:
    reply = client.get("/metrics", headers=headers)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def test_metrics_parse_and_count_an_ingest_and_read_the_queue(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    reader = factory.api_key("metrics:read")
    flagged = (
        "crisis_triage_messages_ingested_total",
        (("channel", "sms"), ("outcome", "flagged")),
    )
    requests = ("crisis_triage_scoring_seconds_count", ())
    before = scrape(client, reader)
    sent = client.post(
        "/v1/messages", json=message(text="I took an overdose", channel="SMS"), headers=platform
    )
    assert sent.status_code == 201
    after = scrape(client, reader)
    assert after[flagged] == before.get(flagged, 0) + 1
    assert after[requests] == before[requests] + 1
    assert after[("crisis_triage_queue_depth", (("priority", "crisis"),))] == 1
    assert after[("crisis_triage_queue_depth", (("priority", "routine"),))] == 0
    assert 200 < after[("crisis_triage_oldest_waiting_crisis_seconds", ())] < 3600
    assert after[("crisis_triage_flag_rate_24h", ())] == 1.0
    assert after[("crisis_triage_queue_snapshot_up", ())] == 1


def test_free_text_channels_never_become_labels(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    odd = "Jane Doe 555-0100"
    client.post("/v1/messages", json=message(channel=odd, patient_id="pt-991"), headers=platform)
    reply = client.get("/metrics", headers=factory.api_key("metrics:read"))
    assert "Jane" not in reply.text and "555-0100" not in reply.text and "pt-991" not in reply.text
    labels = {
        sample.labels.get("channel")
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }
    assert "other" in labels


def test_metrics_need_metrics_read_or_a_supervisor(client: TestClient, factory: Factory) -> None:
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.json()["error"]["status"] == 401
    assert client.get("/metrics", headers=factory.api_key("messages:write")).status_code == 403
    assert client.get("/metrics", headers=factory.headers(Role.SPECIALIST)).status_code == 403
    assert client.get("/metrics", headers=factory.headers(Role.SUPERVISOR)).status_code == 200
    # The JSON analytics under /v1/metrics stay as they were.
    kept = client.get("/v1/metrics/response-times", headers=factory.api_key("metrics:read"))
    assert kept.status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_alert_deliveries_and_escalations_are_counted(
    database_url: str, factory: Factory, platform: dict[str, str]
) -> None:
    statuses = iter([200, 500])  # the crisis alert's webhook, then the escalation's
    transport = httpx.MockTransport(lambda _request: httpx.Response(next(statuses, 500)))
    settings = settings_for(
        database_url, webhook_urls=["http://hooks.example.test/x"], webhook_max_attempts=1
    )
    app = create_app(settings, scorer=FakeScorer(), webhook_transport=transport)
    with TestClient(app) as client:
        reader = factory.api_key("metrics:read")
        sent = ("crisis_triage_alerts_sent_total", (("channel", "webhook"),))
        failed = ("crisis_triage_alerts_failed_total", (("channel", "webhook"),))
        escalations = ("crisis_triage_escalations_total", ())
        before = scrape(client, reader)
        client.post("/v1/messages", json=message(text="I took an overdose"), headers=platform)
        worker = client.app.state.worker  # type: ignore[attr-defined]
        assert worker.run_once().delivered == 1  # the crisis alert
        assert worker.run_once(now=utcnow() + timedelta(minutes=20)).escalated
        after = scrape(client, reader)
    assert after[sent] == before.get(sent, 0) + 1
    assert after[failed] == before.get(failed, 0) + 1  # the escalation's webhook: one try, 500
    assert after[escalations] == before[escalations] + 1


# One interpreter (importing the service costs seconds), forked: the child counts 2 and exits,
# then the parent counts 3 and scrapes.
_PROCESSES = textwrap.dedent(
    """
    import os, sys
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker
    from crisis_triage.service._prometheus import exposition, instruments

    counter = instruments().ingested.labels("portal", "flagged")
    child = os.fork()
    if child == 0:
        counter.inc(2)
        os._exit(0)
    os.waitpid(child, 0)
    counter.inc(3)
    body, _type = exposition(sessionmaker(create_engine("sqlite://")))
    sys.stdout.write(body.decode())
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_several_processes_add_up_in_multiprocess_mode(tmp_path: Path) -> None:
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    scraped = subprocess.run(
        [sys.executable, "-c", _PROCESSES], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert len(list(tmp_path.glob("counter_*.db"))) == 2  # one file per process
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
    }
    key = ("crisis_triage_messages_ingested_total", (("channel", "portal"), ("outcome", "flagged")))
    assert samples[key] == 5
    # No database to read: the scrape still answers, and says so.
    assert samples[("crisis_triage_queue_snapshot_up", ())] == 0


def test_messages_that_arrive_over_fhir_are_counted_under_their_channel(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    reader = factory.api_key("metrics:read")
    counted = (
        "crisis_triage_messages_ingested_total",
        (("channel", "fhir"), ("outcome", "flagged")),
    )
    before = scrape(client, reader)
    sent = client.post(
        "/fhir/r4/Communication",
        json=communication("I am going to take an overdose tonight"),
        headers=platform | FHIR,
    )
    assert sent.status_code == 201, sent.text
    assert scrape(client, reader)[counted] == before.get(counted, 0) + 1


def test_the_care_measures_are_gauges(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    client.post("/v1/messages", json=message(patient_id="p-prom"), headers=platform)
    late = (utcnow() - timedelta(hours=1)).isoformat()
    body = {"patient_id": "p-prom", "due_at": late, "kind": "call"}
    assert client.post("/v1/follow-ups", json=body, headers=factory.headers()).status_code == 201
    samples = scrape(client, factory.api_key("metrics:read"))
    assert samples[("crisis_triage_follow_ups_overdue", ())] == 1
    assert samples[("crisis_triage_follow_up_completion_within_target_30d", ())] == 0
    assert ("crisis_triage_caring_contact_opt_out_rate_30d", ()) not in samples  # no opt-ins
