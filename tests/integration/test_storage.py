"""The packaged migrations build exactly the models' schema, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session

from crisis_triage.storage import (
    Base,
    DatabaseError,
    Message,
    check_database,
    current_revision,
    default_database_url,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    assert current_revision(engine) == head_revision()
    check_database(engine)


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    upgrade(engine)
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    with pytest.raises(DatabaseError, match="db upgrade"):
        check_database(engine)
    upgrade(engine)
    assert "messages" in inspect(engine).get_table_names()
    engine.dispose()


def test_timestamps_come_back_in_utc_on_every_backend(session: Session) -> None:
    sent = datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    session.add(
        Message(
            idempotency_key="tz",
            request_sha256="0" * 64,
            patient_id="p",
            sender="patient",
            channel="sms",
            sent_at=sent,
            text="x",
            text_sha256="0" * 64,
            text_length=1,
            score_status="unscored",
        )
    )
    session.commit()
    session.expire_all()
    stored = session.scalar(select(Message.sent_at))
    assert stored == sent and stored is not None and stored.tzinfo == UTC


def test_naive_timestamps_are_refused(session: Session) -> None:
    session.add(
        Message(
            idempotency_key="naive",
            request_sha256="0",
            patient_id="p",
            sender="s",
            channel="c",
            sent_at=datetime(2026, 1, 1),
            text="x",
            text_sha256="0",
            text_length=1,
            score_status="unscored",
        )
    )
    with pytest.raises(Exception, match="naive datetime"):
        session.commit()
    session.rollback()


def test_the_default_database_is_a_file_in_the_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    url = default_database_url()
    assert url == f"sqlite:///{tmp_path / 'crisis-triage' / 'crisis-triage.db'}"


@pytest.mark.slow
def test_serve_creates_and_migrates_the_default_database_on_first_start(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRISIS_TRIAGE_")}
    env |= {"XDG_DATA_HOME": str(tmp_path), "CRISIS_TRIAGE_WORKER_ENABLED": "false"}
    cli = Path(sys.executable).with_name("crisis-triage")
    server = subprocess.Popen(
        [str(cli), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        login = httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert login.status_code == 200 and 'name="password"' in login.text
        database = tmp_path / "crisis-triage" / "crisis-triage.db"
        assert database.is_file()
        engine = make_engine(f"sqlite:///{database}")
        assert current_revision(engine) == head_revision()
        engine.dispose()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=15)
    assert f"serving on http://127.0.0.1:{port}" in output
    assert f"dashboard at http://127.0.0.1:{port}/queue" in output
