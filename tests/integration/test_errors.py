"""Every bad input gets a 4xx with the one documented error envelope; never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_fakes import message
from service_helpers import Factory

from crisis_triage.service import ErrorBody
from crisis_triage.triage import Role

SECRET = "a sentence the patient wrote that must not come back in an error"


def _json(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8")


def _chunks(size: int) -> Iterator[bytes]:
    yield b'{"text": "'
    for _ in range(size // 65536 + 1):
        yield b"x" * 65536
    yield b'"}'


CASES: dict[str, tuple[str, str, dict[str, Any], int, str]] = {
    # name: (method, path, request kwargs, status, code)
    "missing field": ("POST", "/v1/messages", {"body": {"text": SECRET}}, 422, "validation_error"),
    "wrong type": ("POST", "/v1/messages", {"patient_id": 12345}, 422, "validation_error"),
    "unknown key": ("POST", "/v1/messages", {"colour": "blue"}, 422, "validation_error"),
    "unknown demographic": (
        "POST",
        "/v1/messages",
        {"demographics": {"favourite_food": "soup"}},
        422,
        "validation_error",
    ),
    "future timestamp": (
        "POST",
        "/v1/messages",
        {"sent_at": (datetime.now(UTC) + timedelta(hours=2)).isoformat()},
        422,
        "validation_error",
    ),
    "timestamp without zone": (
        "POST",
        "/v1/messages",
        {"sent_at": "2025-01-01T10:00:00"},
        422,
        "validation_error",
    ),
    "not a timestamp": ("POST", "/v1/messages", {"sent_at": "yesterday"}, 422, "validation_error"),
    "empty text": ("POST", "/v1/messages", {"text": ""}, 422, "validation_error"),
    "NUL in text": ("POST", "/v1/messages", {"text": "a\x00b " + SECRET}, 422, "validation_error"),
    "lone surrogate": ("POST", "/v1/messages", {"raw": b'"\\ud800"'}, 422, "validation_error"),
    "array body": ("POST", "/v1/messages", {"body": [1, 2]}, 422, "validation_error"),
    "empty batch": (
        "POST",
        "/v1/messages:batch",
        {"body": {"messages": []}},
        422,
        "validation_error",
    ),
    "invalid UTF-8": (
        "POST",
        "/v1/messages",
        {"content": b'{"text": "\xff\xfe"}'},
        400,
        "invalid_json",
    ),
    "malformed JSON": ("POST", "/v1/messages", {"content": b'{"text": '}, 400, "invalid_json"),
    "not JSON": (
        "POST",
        "/v1/messages",
        {"content": b"text=hello", "type": "application/x-www-form-urlencoded"},
        415,
        "unsupported_media_type",
    ),
    "body over 1 MB": (
        "POST",
        "/v1/messages",
        {"content": b'{"text": "' + b"x" * 1_100_000 + b'"}'},
        413,
        "payload_too_large",
    ),
    "chunked body over 1 MB": (
        "POST",
        "/v1/messages",
        {"stream": 1_100_000},
        413,
        "payload_too_large",
    ),
    "unknown route": ("GET", "/v1/nothing-here", {}, 404, "not_found"),
    "wrong method": ("DELETE", "/v1/messages", {}, 405, "method_not_allowed"),
    "bad path parameter": ("GET", "/v1/cases/abc", {"auth": "user"}, 422, "validation_error"),
    "bad query parameter": ("GET", "/v1/queue?limit=0", {"auth": "user"}, 422, "validation_error"),
    "unknown case": ("GET", "/v1/cases/999", {"auth": "user"}, 404, "not_found"),
    "no credentials": ("POST", "/v1/messages", {"auth": None}, 401, "unauthorized"),
    "bad credentials": ("POST", "/v1/messages", {"auth": "bogus"}, 401, "unauthorized"),
    "user token on ingest": ("POST", "/v1/messages", {"auth": "user"}, 403, "forbidden"),
    "key without scope": ("GET", "/v1/queue", {"auth": "platform"}, 403, "forbidden"),
    "bad resolve": (
        "POST",
        "/v1/cases/1/resolve",
        {"auth": "user", "body": {"disposition": "maybe"}},
        422,
        "validation_error",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_the_error_envelope(
    name: str, client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    method, path, spec, status, code = CASES[name]
    spec = dict(spec)
    auth = spec.pop("auth", "platform")
    headers = {
        "platform": platform,
        "user": factory.headers(Role.SPECIALIST) if auth == "user" else {},
        "bogus": {"Authorization": "Bearer ctk_not-a-real-key"},
        None: {},
    }[auth]
    content_type = spec.pop("type", "application/json")
    if "content" in spec:
        content: Any = spec.pop("content")
    elif "stream" in spec:
        content = _chunks(spec.pop("stream"))
    elif "raw" in spec:
        raw = spec.pop("raw")
        content = _json(message(text="placeholder")).replace(b'"placeholder"', raw)
    elif "body" in spec:
        content = _json(spec.pop("body"))
    elif method == "POST":
        content = _json(message(text=SECRET) | spec)
    else:
        content = None
    reply = client.request(
        method, path, content=content, headers=headers | {"content-type": content_type}
    )
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/json"
    envelope = ErrorBody.model_validate(reply.json())
    assert envelope.error.status == status
    assert envelope.error.code == code
    assert envelope.error.message
    assert envelope.error.request_id == reply.headers["x-request-id"]
    assert SECRET not in reply.text
    assert "x" * 100 not in reply.text
    if status == 422 and code == "validation_error" and envelope.error.details:
        assert all(d.loc for d in envelope.error.details)


def test_unknown_key_names_the_field(client: TestClient, platform: dict[str, str]) -> None:
    reply = client.post("/v1/messages", json=message(colour="blue"), headers=platform)
    [detail] = reply.json()["error"]["details"]
    assert detail["loc"] == ["body", "colour"]
    assert detail["type"] == "extra_forbidden"


def test_openapi_documents_the_error_envelope(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "ErrorBody" in schema["components"]["schemas"]
    post = schema["paths"]["/v1/messages"]["post"]
    for status in ("400", "401", "403", "409", "413", "415", "422"):
        ref = post["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorBody"), status
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary") or operation.get("description"), (method, path)
