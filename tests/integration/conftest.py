"""Database fixtures for the service tests: SQLite and PostgreSQL, same tests on both.

PostgreSQL: CRISIS_TRIAGE_TEST_POSTGRES_URL (default the local server, database ``test``); each
run gets its own schema, dropped at the end.  Unreachable -> the postgres tests skip, unless
CRISIS_TRIAGE_REQUIRE_POSTGRES=1, when they fail.  Every test starts with empty tables.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from service_fakes import FakeScorer
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from crisis_triage.service import Settings, create_app
from crisis_triage.storage import Base, User, make_engine, make_session_factory, upgrade
from crisis_triage.triage import Role, create_api_key, issue_token

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = "correct horse battery"


def postgres_base_url() -> str:
    return os.environ.get("CRISIS_TRIAGE_TEST_POSTGRES_URL", DEFAULT_PG)


def _postgres_or_skip() -> str:
    url = postgres_base_url()
    try:
        probe = create_engine(url)
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
        probe.dispose()
    except Exception as exc:
        message = f"PostgreSQL not reachable at {url}: {type(exc).__name__}"
        if os.environ.get("CRISIS_TRIAGE_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return url


def _with_schema(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated schema of its own on the test PostgreSQL, as a URL."""
    base = _postgres_or_skip()
    schema = f"ct_test_{secrets.token_hex(4)}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _with_schema(base, schema)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("db") / "triage.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test using this runs on SQLite and on PostgreSQL, starting from empty tables."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    engine = make_engine(url)
    _empty(engine)
    yield url
    engine.dispose()


def _empty(engine: Engine) -> None:
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as session:
        yield session


def settings_for(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"database_url": url, "worker_enabled": False, "load_model": False}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def scorer() -> FakeScorer:
    return FakeScorer()


@pytest.fixture
def client(database_url: str, scorer: FakeScorer) -> Iterator[TestClient]:
    app = create_app(settings_for(database_url), scorer=scorer)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@functools.cache
def _hash() -> str:
    """One argon2 hash of PASSWORD per run: hashing is slow on purpose."""
    return PasswordHasher().hash(PASSWORD)


class Factory:
    """Small factories for users, tokens and API keys, straight into the database."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._n = 0

    def user(self, role: Role = Role.SPECIALIST, name: str | None = None) -> tuple[int, str]:
        """A user of ``role`` (password PASSWORD); returns (user id, bearer token)."""
        self._n += 1
        user = User(username=name or f"{role.value}{self._n}", password_hash=_hash(), role=role)
        self.session.add(user)
        self.session.commit()
        token, _row = issue_token(self.session, user, ttl=timedelta(hours=1))
        return user.id, token

    def headers(self, role: Role = Role.SPECIALIST) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.user(role)[1]}"}

    def api_key(self, *scopes: str) -> dict[str, str]:
        key, _row = create_api_key(self.session, "platform", scopes or ("messages:write",))
        return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def factory(session: Session) -> Factory:
    return Factory(session)


@pytest.fixture
def platform(factory: Factory) -> dict[str, str]:
    """Headers of a platform API key that may send messages."""
    return factory.api_key("messages:write")
