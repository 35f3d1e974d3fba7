"""Access logs: one JSON object per request, with the route template and never text or ids."""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from service_fakes import FakeScorer, message
from service_helpers import Factory, settings_for
from web_helpers import log_in

from crisis_triage.service import ACCESS_LOGGER, logging_config
from crisis_triage.triage import Role
from crisis_triage.web import create_app

PATIENT = "patient-zebra-4711"
TEXT = "Quokka lantern marker sentence that must never reach an access log"


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    """The access logger, writing JSON lines (as CRISIS_TRIAGE_LOG_FORMAT=json sets it) here."""
    config = logging_config("json", "info")
    configurator = logging.config.DictConfigurator(config)
    formatter = configurator.configure_formatter(dict(config["formatters"]["default"]))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(ACCESS_LOGGER)
    saved = (logger.handlers, logger.level, logger.propagate)
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    yield stream
    logger.handlers, logger.level, logger.propagate = saved


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _ms_time(value: object) -> datetime:
    assert isinstance(value, str) and value.endswith("+00:00")
    assert len(value.split(".")[1]) == len("123+00:00")  # milliseconds, no more, no less
    return datetime.fromisoformat(value)


def test_each_request_is_one_json_object_naming_its_route_not_its_path(
    database_url: str,
    factory: Factory,
    platform: dict[str, str],
    access_lines: io.StringIO,
) -> None:
    admin_id, admin_token = factory.user(Role.ADMIN)
    admin = {"Authorization": f"Bearer {admin_token}"}
    app = create_app(settings_for(database_url), scorer=FakeScorer())
    with TestClient(app, raise_server_exceptions=False) as client:
        sent = client.post(
            f"/v1/messages?patient={PATIENT}",
            json=message(patient_id=PATIENT, text=TEXT),
            headers=platform,
        )
        exported = client.get(f"/v1/patients/{PATIENT}/export", headers=admin)
        missing = client.get(f"/nowhere/{PATIENT}")
        refused = client.get(f"/v1/patients/{PATIENT}/export")
        probe = client.get("/healthz")  # a health check every few seconds: not at INFO
    assert (sent.status_code, exported.status_code) == (201, 200)
    assert (missing.status_code, refused.status_code, probe.status_code) == (404, 401, 200)
    assert TEXT in exported.text  # the reply carried the text; the log must not

    records = _records(access_lines)
    assert [r["route"] for r in records] == [
        "/v1/messages",
        "/v1/patients/{patient_id}/export",
        "(no route)",
        "/v1/patients/{patient_id}/export",
    ]
    assert [r["status"] for r in records] == [201, 200, 404, 401]
    assert [r["method"] for r in records] == ["POST", "GET", "GET", "GET"]
    replies = (sent, exported, missing, refused)
    assert [r["request_id"] for r in records] == [x.headers["x-request-id"] for x in replies]
    assert (records[0]["api_key"], records[0]["user_id"]) == ("platform", None)  # Factory's name
    assert (records[1]["user_id"], records[1]["api_key"]) == (admin_id, None)
    assert records[3]["user_id"] is None and records[3]["api_key"] is None
    for record in records:
        assert record["logger"] == ACCESS_LOGGER and record["level"] == "INFO"
        assert isinstance(record["duration_ms"], float) and record["duration_ms"] >= 0
        started, logged = _ms_time(record["started_at"]), _ms_time(record["time"])
        assert started <= logged
    logged_text = access_lines.getvalue()
    assert PATIENT not in logged_text and "zebra" not in logged_text
    assert "Quokka" not in logged_text and "?" not in logged_text


def test_dashboard_pages_log_the_user_id_never_the_username(
    database_url: str, factory: Factory, access_lines: io.StringIO
) -> None:
    user_id, _token = factory.user(Role.SPECIALIST, name="dr-quokka")
    app = create_app(settings_for(database_url), scorer=FakeScorer())
    with TestClient(app, raise_server_exceptions=False) as client:
        queue = log_in(client, "dr-quokka").get("/queue")
    assert queue.status_code == 200
    records = _records(access_lines)
    assert records[-1]["route"] == "/queue" and records[-1]["user_id"] == user_id
    assert [r["route"] for r in records[:2]] == ["/login", "/login"]
    assert "dr-quokka" not in access_lines.getvalue()


def test_uvicorn_access_lines_with_raw_paths_are_kept_quiet() -> None:
    config = logging_config("json", "info")
    assert config["loggers"]["uvicorn.access"]["level"] == "WARNING"
    assert config["loggers"][ACCESS_LOGGER]["level"] == "INFO"
