"""Security headers on every response, the per-address login limit, and start-up refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import anyio
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from service_helpers import PASSWORD, Factory, settings_for
from sqlalchemy.orm import Session
from starlette.types import Message, Receive, Scope, Send

from crisis_triage.accounts import create_user, issue_token
from crisis_triage.service import Settings, create_app
from crisis_triage.service._ratelimit import SlidingWindowLimiter
from crisis_triage.service._security import CONTENT_SECURITY_POLICY, SecurityMiddleware
from crisis_triage.storage import generate_key_line, utcnow
from crisis_triage.triage import Role

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.fixture
def sqlite_client(sqlite_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(sqlite_url), scorer=None)) as client:
        yield client


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/v1/queue", 401),  # an error from a route
        ("GET", "/no/such/page", 404),  # an error from the router
        ("PUT", "/v1/messages", 405),
        ("POST", "/v1/messages", 415),  # an error from the outermost guard
    ],
)
def test_every_response_carries_the_security_headers(
    sqlite_client: TestClient, method: str, path: str, status: int
) -> None:
    reply = sqlite_client.request(method, path, content=b"x" if method == "POST" else None)
    assert reply.status_code == status
    for name, value in COMMON.items():
        assert reply.headers[name] == value
    policy = reply.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert reply.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in reply.headers  # development: plain HTTP


def test_the_api_docs_get_a_policy_that_lets_them_load(sqlite_client: TestClient) -> None:
    reply = sqlite_client.get("/docs")
    assert reply.status_code == 200
    policy = reply.headers["content-security-policy"]
    assert "https://" not in policy and "frame-ancestors 'none'" in policy
    assert "script-src 'self' 'unsafe-inline'" in policy
    assert reply.headers["x-frame-options"] == "DENY"


def test_api_replies_with_patient_data_are_never_cached(
    client: TestClient, factory: Factory
) -> None:
    reply = client.get("/v1/queue", headers=factory.headers())
    assert reply.status_code == 200 and reply.headers["cache-control"] == "no-store"


def test_outside_development_responses_ask_for_https_only(sqlite_url: str) -> None:
    settings = settings_for(
        sqlite_url,
        environment="production",
        secret_key="s3cret-" * 6,
        encryption_keys=generate_key_line("prod"),
    )
    with TestClient(create_app(settings, scorer=None)) as client:
        reply = client.get("/healthz")
    assert reply.headers["strict-transport-security"].startswith("max-age=31536000")


def test_too_many_logins_from_one_address_get_429_with_retry_after(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url, login_attempts_per_minute=3)
    with TestClient(create_app(settings, scorer=None)) as client:
        body = {"username": "nobody", "password": PASSWORD}
        codes = [client.post("/v1/auth/token", json=body).status_code for _ in range(4)]
        last = client.post("/v1/auth/token", json=body)
    assert codes == [401, 401, 401, 429]
    assert last.status_code == 429 and last.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(last.headers["retry-after"]) <= 60


def test_the_limiter_counts_per_address_within_its_window() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(2, window=60, clock=lambda: now[0])
    assert limiter.attempt("a") is None and limiter.attempt("a") is None
    assert limiter.attempt("b") is None  # another address has its own budget
    now[0] = 45.0
    assert limiter.attempt("a") == 15  # the oldest attempt leaves the window in 15 s
    now[0] = 60.5
    assert limiter.attempt("a") is None


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({}, "CRISIS_TRIAGE_SECRET_KEY"),
        (
            {"secret_key": "s3cret-" * 6, "webhook_urls": ["https://example.org/hook"]},
            "CRISIS_TRIAGE_WEBHOOK_SECRET",
        ),
    ],
)
def test_placeholder_secrets_are_refused_outside_development(
    overrides: dict[str, object], variable: str
) -> None:
    with pytest.raises(ValidationError, match=variable):
        Settings(environment="production", **overrides)  # type: ignore[arg-type]


def test_an_expired_login_token_is_refused(client: TestClient, session: Session) -> None:
    user = create_user(session, "sam", PASSWORD, Role.SPECIALIST)
    an_hour_ago = utcnow() - timedelta(hours=1)
    old, _row = issue_token(session, user, ttl=timedelta(minutes=30), now=an_hour_ago)
    fresh, _row = issue_token(session, user, ttl=timedelta(minutes=30))
    assert client.get("/v1/auth/me", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert (
        client.get("/v1/auth/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    )


async def _reply_with(headers: list[tuple[bytes, bytes]], path: str) -> dict[bytes, bytes]:
    """The response headers the middleware sends for an app that sets ``headers`` itself."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    scope = {"type": "http", "path": path, "client": ("198.51.100.7", 5000), "headers": []}
    await SecurityMiddleware(app, hsts=False)(scope, receive, send)
    return dict(sent[0]["headers"])


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/v1/queue", b"no-store"), ("/static/app.css", b"max-age=3600")],
)
def test_api_paths_are_no_store_whatever_the_route_says(path: str, expected: bytes) -> None:
    headers = anyio.run(_reply_with, [(b"cache-control", b"max-age=3600")], path)
    assert headers[b"cache-control"] == expected
    assert headers[b"x-content-type-options"] == b"nosniff"
