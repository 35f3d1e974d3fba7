"""Plain helpers for the service tests: settings, emptying tables, and small factories."""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import uvicorn
from argon2 import PasswordHasher
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from crisis_triage.accounts import create_api_key, issue_token
from crisis_triage.service import Settings
from crisis_triage.storage import Base, User
from crisis_triage.triage import Role

PASSWORD = "correct horse battery"


def settings_for(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"database_url": url, "worker_enabled": False, "load_model": False}
    values.update(overrides)
    return Settings(**values)


def empty_tables(engine: Engine) -> None:
    """Empty every table, the append-only audit log too (its guard triggers are lifted for
    this transaction only, which the application never does)."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            triggers = connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            ).all()
            for name, _sql in triggers:
                connection.execute(text(f'DROP TRIGGER "{name}"'))
            for table in tables:
                connection.execute(table.delete())
            for _name, sql in triggers:
                connection.execute(text(sql))


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


@contextmanager
def served_in_thread(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free local port in a thread; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
