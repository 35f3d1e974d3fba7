"""Schemathesis against the service's own OpenAPI schema: no 5xx, replies that match the schema.

Every operation (the event stream excepted: it never ends) is called with generated requests,
valid and invalid, authenticated as an admin (user routes) or with an API key holding every
scope (ingest).  Checks: no server error, status codes and content types documented, bodies that
conform to the documented schema, and every 4xx in the service's one error envelope (on the
FHIR endpoint, an OperationOutcome valid by fhir.resources).

Schemathesis's ``negative_data_rejection`` check is left out: the service ignores unknown query
parameters (as HTTP services commonly do), and the negative cases that drop the Authorization
header get it back from this test.  Bad bodies and parameters are still sent (negative mode) and
must get a 4xx envelope, never a 5xx.  ``slow`` runs many more examples.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from service_fakes import FakeScorer, message
from service_helpers import settings_for
from sqlalchemy.orm import Session

from crisis_triage.accounts import SCOPES, create_api_key, create_user, issue_token
from crisis_triage.service import create_app
from crisis_triage.storage import User, make_engine, make_session_factory, upgrade, utcnow
from crisis_triage.triage import IncomingMessage, Role, TriagePolicy, ingest

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
ENVELOPE_KEYS = {"code", "message", "status", "details", "request_id"}


class Fuzzed:
    """The app under test and the credentials each kind of route needs."""

    def __init__(self, tmp: Path) -> None:
        url = f"sqlite:///{tmp / 'fuzz.db'}"
        engine = make_engine(url)
        upgrade(engine)
        self.sessions = make_session_factory(engine)
        with self.sessions() as session:
            self.admin = create_user(session, "fuzz-admin", "fuzz admin password", Role.ADMIN)
            token, _ = issue_token(session, self.admin, ttl=timedelta(hours=2))
            key, _ = create_api_key(session, "fuzz", SCOPES)
            _seed_cases(session)
        self.user_headers = {"Authorization": f"Bearer {token}"}
        self.key_headers = {"Authorization": f"Bearer {key}"}
        settings = settings_for(url, twilio_auth_token="fuzz-twilio-token")
        self.app = create_app(settings, scorer=FakeScorer())

    def headers_for(self, case: schemathesis.Case) -> dict[str, str]:
        path = case.operation.path
        sends = path.startswith("/fhir/") and case.operation.method.upper() == "POST"
        if path.startswith("/v1/messages") or sends:
            return self.key_headers
        if path == "/v1/auth/logout":  # a token of its own, so the admin's stays valid
            with self.sessions() as session:
                user = session.get(User, self.admin.id)
                assert user is not None
                token, _ = issue_token(session, user, ttl=timedelta(minutes=5))
            return {"Authorization": f"Bearer {token}"}
        return self.user_headers


def _seed_cases(session: Session) -> None:
    """A few open cases (some crises) so that case routes meet real ids, not only 404s."""
    texts = ["I took an overdose", "hello", "I want to end it", "I hurt myself", "thanks"]
    items = []
    for text in texts * 4:
        body = message(text=text)
        body["sent_at"] = utcnow()
        items.append(IncomingMessage(**body))
    ingest(session, FakeScorer(), items, TriagePolicy())


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    yield Fuzzed(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def api_schema(fuzzed: Fuzzed) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)
    return schema.exclude(path_regex=r"/stream$")


def _check_reply(fuzzed: Fuzzed, case: schemathesis.Case) -> None:
    response = case.call_and_validate(headers=fuzzed.headers_for(case), checks=CHECKS)
    if 400 <= response.status_code < 500 and case.operation.path.startswith("/fhir/"):
        OperationOutcome.model_validate_json(response.content)  # FHIR's error shape
    elif 400 <= response.status_code < 500:
        error = response.json()["error"]
        assert set(error) == ENVELOPE_KEYS
        assert error["status"] == response.status_code
        assert response.headers["x-request-id"] == [error["request_id"]]


def _fuzz_operation(
    fuzzed: Fuzzed, operation: Any, mode: GenerationMode, examples: int
) -> tuple[int, str | None]:
    """Run ``examples`` generated requests at one operation: (cases tried, failure or None)."""
    tried = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the report shows the case
    )
    def check(case: schemathesis.Case) -> None:
        nonlocal tried
        tried += 1
        _check_reply(fuzzed, case)

    try:
        check()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
        return tried, None
    except Exception as exc:  # collected, so that one run shows every failing operation
        return tried, f"{type(exc).__name__}: {str(exc)[:1500]}"
    return tried, None


def _fuzz(fuzzed: Fuzzed, api_schema: Any, mode: GenerationMode, examples: int) -> None:
    """Every operation, up to ``examples`` generated requests each; failures reported together.

    (Schemathesis's own pytest plugin cannot load a schema from a fixture under pytest 9, so
    the operations' Hypothesis strategies are driven directly.)
    """
    tried: dict[str, int] = {}
    failures: dict[str, str] = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        tried[label], failure = _fuzz_operation(fuzzed, operation, mode, examples)
        if failure is not None:
            failures[label] = failure
    total = sum(tried.values())
    print(f"\nfuzz ({mode.value}): {total} cases, {len(tried)} operations, {len(failures)} failing")
    assert len(tried) >= 15  # every operation but the event stream
    assert not failures, "\n\n".join(f"{k}: {v}" for k, v in failures.items())


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_never_fails_and_matches_its_schema(
    fuzzed: Fuzzed, api_schema: Any, mode: GenerationMode
) -> None:
    _fuzz(fuzzed, api_schema, mode, examples=10)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_never_fails_and_matches_its_schema_at_length(
    fuzzed: Fuzzed, api_schema: Any, mode: GenerationMode
) -> None:
    # 60 per operation (was 150): the number of operations grew several times this wave, and
    # the run's time with it.
    _fuzz(fuzzed, api_schema, mode, examples=60)


def test_an_alert_cursor_beyond_64_bits_is_refused_not_a_server_error(fuzzed: Fuzzed) -> None:
    """Found by the fuzzer: ``after`` larger than a database integer was a 500."""
    with TestClient(fuzzed.app) as client:
        reply = client.get("/v1/alerts", params={"after": 2**70}, headers=fuzzed.user_headers)
    assert reply.status_code == 422
    assert reply.json()["error"]["details"][0]["loc"] == ["query", "after"]


@pytest.mark.parametrize("sent_at", ["0001-01-01T00:00:00+03:04", "9999-12-31T23:59:59-05:00"])
def test_a_timestamp_outside_the_utc_range_is_refused_not_a_server_error(
    fuzzed: Fuzzed, sent_at: str
) -> None:
    """Found by the fuzzer: a time zone offset that moves a date out of datetime's range in UTC
    (year 0 or 10000) raised OverflowError in validation, a 500."""
    with TestClient(fuzzed.app) as client:
        reply = client.post(
            "/v1/messages", json=message(sent_at=sent_at), headers=fuzzed.key_headers
        )
    assert reply.status_code == 422
    assert reply.json()["error"]["details"][0]["loc"] == ["body", "sent_at"]
