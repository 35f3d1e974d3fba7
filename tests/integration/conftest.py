"""Database fixtures for the service tests: SQLite and PostgreSQL, same tests on both.

PostgreSQL: CRISIS_TRIAGE_TEST_POSTGRES_URL (default the local server, database ``test``); each
run gets its own schema, dropped at the end.  Unreachable -> the postgres tests skip, unless
CRISIS_TRIAGE_REQUIRE_POSTGRES=1, when they fail.  Every test starts with empty tables.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from service_fakes import FakeScorer
from service_helpers import Factory, empty_tables, settings_for
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from crisis_triage.service import create_app
from crisis_triage.storage import make_engine, make_session_factory, upgrade

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (a schema on PostgreSQL), for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    base = _postgres_or_skip()
    schema = f"ct_mig_{secrets.token_hex(4)}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_schema(base, schema)
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
    empty_tables(engine)
    yield url
    engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as session:
        yield session


@pytest.fixture
def scorer() -> FakeScorer:
    return FakeScorer()


@pytest.fixture
def client(database_url: str, scorer: FakeScorer) -> Iterator[TestClient]:
    app = create_app(settings_for(database_url), scorer=scorer)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def factory(session: Session) -> Factory:
    return Factory(session)


@pytest.fixture
def platform(factory: Factory) -> dict[str, str]:
    """Headers of a platform API key that may send messages."""
    return factory.api_key("messages:write")


@pytest.fixture
def fresh_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite file that does not exist yet, as the CLI's configured database."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", url)
    return url
