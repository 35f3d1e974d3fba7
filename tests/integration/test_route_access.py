"""Every API route, found from the OpenAPI schema so that a new one is covered too, refuses
callers without credentials, with a platform key's scope, or with too low a role (issue 15's
attack pass)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from service_helpers import Factory, empty_tables, settings_for

from crisis_triage.service import create_app
from crisis_triage.storage import make_engine, make_session_factory
from crisis_triage.triage import Role

# Routes a caller may reach without a credential (the login itself, the FHIR server's
# CapabilityStatement), and what they answer an empty request.
PUBLIC = {("POST", "/v1/auth/token"): 422, ("GET", "/fhir/r4/metadata"): 200}
# Twilio's webhook: signed by Twilio, not a bearer credential (tests/integration/test_sms.py).
SIGNED = {("POST", "/v1/channels/sms/twilio")}
# What a platform key that may only send messages reaches.
PLATFORM = {
    ("POST", "/v1/messages"),
    ("POST", "/v1/messages:batch"),
    ("GET", "/v1/auth/me"),
    ("POST", "/fhir/r4/Communication"),
    ("POST", "/fhir/r4"),
}
# Routes for supervisors or admins only.
ABOVE_SPECIALIST = {
    ("GET", "/v1/metrics/response-times"),
    ("GET", "/v1/metrics/care"),
    ("GET", "/v1/patients/{patient_id}/export"),
    ("DELETE", "/v1/patients/{patient_id}"),
    ("POST", "/v1/caring-contact-templates"),
    ("POST", "/v1/caring-contact-templates/{template_id}/review"),
    ("POST", "/v1/channels/sms/senders"),
    ("GET", "/v1/channels/sms/senders"),
    ("DELETE", "/v1/channels/sms/senders/{sender_id}"),
    ("GET", "/v1/paging/channels"),
    ("POST", "/v1/paging/channels"),
    ("DELETE", "/v1/paging/channels/{channel_id}"),
    ("POST", "/v1/paging/channels/{channel_id}/test"),
}


@pytest.fixture(scope="module")
def app_and_session(sqlite_url: str) -> Iterator[tuple[TestClient, Factory]]:
    engine = make_engine(sqlite_url)
    empty_tables(engine)
    engine.dispose()
    app = create_app(settings_for(sqlite_url), scorer=None)
    with TestClient(app, raise_server_exceptions=False) as client:
        session = make_session_factory(app.state.service.engine)()
        yield client, Factory(session)
        session.close()


def _routes() -> list[tuple[str, str]]:
    schema = create_app(settings_for("sqlite://"), scorer=None).openapi()
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        if path.startswith(("/v1/", "/fhir/"))
        for method in operations
        if (method.upper(), path) not in SIGNED
    )


ROUTES = _routes()


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    concrete = re.sub(r"\{[^}]+\}", "1", path)
    if path.endswith("/stream"):
        concrete += "?max_seconds=1"
    return client.request(method, concrete, headers=headers, json={}).status_code


def test_the_schema_lists_the_routes_this_test_knows() -> None:
    assert len(ROUTES) >= 15 and set(ROUTES) >= PLATFORM | ABOVE_SPECIALIST


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_credentials_is_401(
    app_and_session: tuple[TestClient, Factory], method: str, path: str
) -> None:
    client, _session = app_and_session
    status = _call(client, method, path, {})
    assert status == PUBLIC.get((method, path), 401)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_a_platform_key_reaches_only_what_its_scope_allows(
    app_and_session: tuple[TestClient, Factory], method: str, path: str
) -> None:
    client, factory = app_and_session
    headers = factory.api_key("messages:write")
    status = _call(client, method, path, headers)
    if (method, path) in PLATFORM | set(PUBLIC):
        assert status < 500
    else:
        assert status == 403


@pytest.mark.parametrize(("method", "path"), sorted(ABOVE_SPECIALIST))
def test_a_specialist_cannot_reach_supervisor_and_admin_routes(
    app_and_session: tuple[TestClient, Factory], method: str, path: str
) -> None:
    client, factory = app_and_session
    assert _call(client, method, path, factory.headers(Role.SPECIALIST)) == 403
