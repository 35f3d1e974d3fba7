"""Logging in, tokens, API keys and role guards on every kind of endpoint."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from service_fakes import message
from service_helpers import PASSWORD, Factory
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.accounts import create_user, revoke_api_key
from crisis_triage.service._deps import ApiKeyCache
from crisis_triage.storage import ApiKey, User
from crisis_triage.triage import Role


def test_login_gives_a_token_that_works_until_logout(client: TestClient, session: Session) -> None:
    create_user(session, "sam", PASSWORD, Role.SPECIALIST)
    reply = client.post("/v1/auth/token", json={"username": "sam", "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    token = reply.json()["access_token"]
    assert token.startswith("ctu_") and reply.json()["role"] == "specialist"
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/auth/me", headers=headers).json()["name"] == "sam"
    assert client.get("/v1/queue", headers=headers).status_code == 200
    assert client.post("/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/v1/queue", headers=headers).status_code == 401


def test_passwords_are_stored_as_argon2_hashes(session: Session) -> None:
    create_user(session, "ana", PASSWORD, Role.ADMIN)
    stored = session.scalar(select(User.password_hash).where(User.username == "ana"))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize(
    ("username", "password"), [("sam", "wrong password!"), ("nobody", PASSWORD)]
)
def test_a_wrong_login_is_401_with_the_same_message(
    client: TestClient, session: Session, username: str, password: str
) -> None:
    create_user(session, "sam", PASSWORD, Role.SPECIALIST)
    reply = client.post("/v1/auth/token", json={"username": username, "password": password})
    assert reply.status_code == 401
    assert reply.json()["error"]["message"] == "wrong username or password"


def test_api_keys_are_stored_hashed_and_stop_working_within_the_cache_time_when_revoked(
    client: TestClient, factory: Factory, session: Session
) -> None:
    clock = FakeClock()
    state = client.app.state.service  # type: ignore[attr-defined]
    state.api_keys = ApiKeyCache(10, timer=clock)
    headers = factory.api_key("messages:write")
    key = headers["Authorization"].removeprefix("Bearer ")
    row = session.scalar(select(ApiKey))
    assert row is not None and key not in (row.key_hash, row.prefix) and len(row.key_hash) == 64
    assert client.post("/v1/messages", json=message(), headers=headers).status_code == 201
    revoke_api_key(session, row.id)
    clock.now += 9.9  # still cached: the documented price of saving a lookup per request
    assert client.post("/v1/messages", json=message(), headers=headers).status_code == 201
    clock.now += 0.2
    assert client.post("/v1/messages", json=message(), headers=headers).status_code == 401
    clock.now += 60  # a revoked key is never cached
    assert client.post("/v1/messages", json=message(), headers=headers).status_code == 401


def test_without_the_cache_a_revoked_key_stops_working_at_once(
    client: TestClient, factory: Factory, session: Session
) -> None:
    client.app.state.service.api_keys = ApiKeyCache(0)  # type: ignore[attr-defined]
    headers = factory.api_key("messages:write")
    assert client.post("/v1/messages", json=message(), headers=headers).status_code == 201
    row = session.scalar(select(ApiKey))
    assert row is not None
    revoke_api_key(session, row.id)
    assert client.post("/v1/messages", json=message(), headers=headers).status_code == 401


def test_a_key_revoked_in_this_process_leaves_the_cache_at_once(
    client: TestClient, factory: Factory, session: Session
) -> None:
    state = client.app.state.service  # type: ignore[attr-defined]
    state.api_keys = ApiKeyCache(3600)
    headers = factory.api_key("messages:write")
    assert client.post("/v1/messages", json=message(), headers=headers).status_code == 201
    row = session.scalar(select(ApiKey))
    assert row is not None
    revoke_api_key(session, row.id)
    state.api_keys.forget(row.id)  # what the admin page does after revoking
    assert client.post("/v1/messages", json=message(), headers=headers).status_code == 401


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# (method, path, who may call it); everyone else gets 401 (no credentials) or 403.
ENDPOINTS = [
    ("POST", "/v1/messages", {"ingest"}),
    ("POST", "/v1/messages:batch", {"ingest"}),
    ("GET", "/v1/queue", {"specialist", "supervisor", "admin", "queue_key"}),
    ("POST", "/v1/queue:claim", {"specialist", "supervisor", "admin"}),
    ("GET", "/v1/cases/1", {"specialist", "supervisor", "admin"}),
    ("POST", "/v1/cases/1/claim", {"specialist", "supervisor", "admin"}),
    ("POST", "/v1/cases/1/resolve", {"specialist", "supervisor", "admin"}),
]


@pytest.mark.parametrize(("method", "path", "allowed"), ENDPOINTS)
def test_every_endpoint_checks_role_or_scope(
    client: TestClient, factory: Factory, method: str, path: str, allowed: set[str]
) -> None:
    callers = {
        "anonymous": {},
        "specialist": factory.headers(Role.SPECIALIST),
        "supervisor": factory.headers(Role.SUPERVISOR),
        "admin": factory.headers(Role.ADMIN),
        "ingest": factory.api_key("messages:write"),
        "queue_key": factory.api_key("queue:read"),
    }
    for name, headers in callers.items():
        reply = client.request(method, path, headers=headers, json={})
        if name == "anonymous":
            assert reply.status_code == 401, (name, reply.text)
        elif name in allowed:
            assert reply.status_code not in (401, 403), (name, reply.text)
        else:
            assert reply.status_code == 403, (name, reply.text)
