"""Fixtures and helpers for the dashboard tests: users, a web client, logging in, posting
forms with their CSRF token, and the audit log as stored.

Test modules import the fixtures they use by name.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_fakes import FakeScorer, message
from service_helpers import PASSWORD, Factory, empty_tables, settings_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.storage import AuditEntry, make_engine, make_session_factory
from crisis_triage.triage import Role
from crisis_triage.web import create_app

SECRET_TEXT = "I will take an overdose of my pills tonight"
Audits = Callable[[], list[dict[str, Any]]]

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> TestClient:
    """Log ``username`` in on ``client`` (whoever was logged in before is forgotten)."""
    client.cookies.clear()
    page = client.get("/login")
    reply = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert reply.status_code == 303, reply.text
    return client


def post_form(client: TestClient, page: str, action: str, data: dict[str, object]) -> object:
    """POST a form from ``page`` (its CSRF token included), without following the redirect."""
    token = csrf_of(client.get(page).text)
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False)


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Session]:
    engine = make_engine(sqlite_url)
    empty_tables(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def users(db: Session) -> dict[str, int]:
    factory = Factory(db)
    return {
        name: factory.user(role, name=name)[0]
        for name, role in (
            ("sam", Role.SPECIALIST),
            ("tess", Role.SPECIALIST),
            ("sue", Role.SUPERVISOR),
            ("ada", Role.ADMIN),
        )
    }


@pytest.fixture
def platform(db: Session) -> dict[str, str]:
    return Factory(db).api_key("messages:write")


@pytest.fixture
def audits(db: Session) -> Audits:
    """Reads the audit log as stored so far (logins and logouts left out), oldest first."""

    def entries() -> list[dict[str, Any]]:
        db.expire_all()
        rows = db.scalars(
            select(AuditEntry).where(AuditEntry.action.not_like("auth.%")).order_by(AuditEntry.id)
        )
        return [
            {
                "action": e.action,
                "actor_kind": e.actor_kind,
                "actor_name": e.actor_name,
                "outcome": e.outcome,
                "patient_id": e.patient_id,
                "case_id": e.case_id,
                "message_id": e.message_id,
                "details": e.details,
            }
            for e in rows
        ]

    return entries


def make_client(url: str, base_url: str = "http://testserver", **overrides: Any) -> TestClient:
    app = create_app(settings_for(url, **overrides), scorer=FakeScorer())
    return TestClient(app, base_url=base_url, raise_server_exceptions=False)


@pytest.fixture
def web(sqlite_url: str, users: dict[str, int]) -> Iterator[TestClient]:
    with make_client(sqlite_url) as client:
        yield client


def send(client: TestClient, platform: dict[str, str], text: str, patient: str = "p-1") -> int:
    reply = client.post(
        "/v1/messages", json=message(text=text, patient_id=patient), headers=platform
    )
    assert reply.status_code == 201, reply.text
    return int(reply.json()["case_id"])


def browser_or_skip(*executables: str) -> None:
    """Skip when headless Chromium (or Selenium) is missing; fail instead when
    CRISIS_TRIAGE_REQUIRE_BROWSER=1, as in CI, so that a broken install cannot pass silently."""
    missing = [path for path in executables if not shutil.which(path)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        reason = f"headless Chromium not available: missing {', '.join(missing)}"
        if os.environ.get("CRISIS_TRIAGE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " (CRISIS_TRIAGE_REQUIRE_BROWSER=1)")
        pytest.skip(reason + " (apt-get install chromium chromium-driver)")
