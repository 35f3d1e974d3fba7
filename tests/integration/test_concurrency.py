"""Concurrent claims never give one case to two specialists: threads on SQLite and PostgreSQL,
and two separate service processes sharing one PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from service_fakes import FakeScorer
from service_helpers import Factory, empty_tables
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crisis_triage.storage import Case, make_engine, make_session_factory
from crisis_triage.triage import (
    Actor,
    IncomingMessage,
    Role,
    TriagePolicy,
    claim_next,
    ingest,
)


def _cases(session: Session, n: int) -> None:
    now = datetime.now(UTC)
    items = [
        IncomingMessage(
            f"c-{i}", f"p-{i}", "patient", "sms", now - timedelta(minutes=n - i), f"message {i}"
        )
        for i in range(n)
    ]
    ingest(session, FakeScorer(), items, TriagePolicy())


def test_threads_claiming_the_next_case_never_share_one(
    engine: Engine, session: Session, factory: Factory
) -> None:
    _cases(session, 30)
    users = [factory.user()[0] for _ in range(6)]
    sessions = make_session_factory(engine)

    def work(user_id: int) -> list[int]:
        mine = []
        with sessions() as own:
            while (case := claim_next(own, Actor(user_id, Role.SPECIALIST))) is not None:
                mine.append(case.id)
        return mine

    with ThreadPoolExecutor(max_workers=6) as pool:
        claimed = [case_id for mine in pool.map(work, users) for case_id in mine]
    assert len(claimed) == 30
    assert len(set(claimed)) == 30
    session.expire_all()
    owners = dict(session.execute(select(Case.id, Case.claimed_by)).all())
    assert all(owner in users for owner in owners.values())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def pg_session(postgres_url: str) -> Iterator[Session]:
    """A session on the test PostgreSQL schema, emptied first."""
    engine = make_engine(postgres_url)
    empty_tables(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture(scope="module")
def two_servers(postgres_url: str) -> Iterator[list[str]]:
    """Two `crisis-triage serve` processes on one PostgreSQL schema (started once)."""
    cli = Path(sys.executable).with_name("crisis-triage")
    env = os.environ | {
        "CRISIS_TRIAGE_DATABASE_URL": postgres_url,
        "CRISIS_TRIAGE_LOAD_MODEL": "false",
        "CRISIS_TRIAGE_WORKER_ENABLED": "false",
    }
    ports = [_free_port(), _free_port()]
    processes = [
        subprocess.Popen(
            [str(cli), "serve", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + 90  # generous: CI machines can be busy
        for url in urls:
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"service at {url} did not start")
                time.sleep(0.2)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_service_processes_never_double_claim(
    two_servers: list[str], pg_session: Session
) -> None:
    session, factory = pg_session, Factory(pg_session)
    _cases(session, 40)
    specialists = [factory.headers() for _ in range(8)]

    async def run() -> tuple[list[tuple[int, int]], list[int]]:
        claims: list[tuple[int, int]] = []
        statuses: list[int] = []
        async with httpx.AsyncClient(timeout=30) as client:

            async def specialist(index: int) -> None:
                url = two_servers[index % 2]
                while True:
                    reply = await client.post(f"{url}/v1/queue:claim", headers=specialists[index])
                    statuses.append(reply.status_code)
                    if reply.status_code == 404:
                        return
                    assert reply.status_code == 200, reply.text
                    claims.append((index, reply.json()["id"]))

            await asyncio.gather(*(specialist(i) for i in range(8)))
        return claims, statuses

    claims, statuses = asyncio.run(run())
    claimed = [case_id for _who, case_id in claims]
    assert len(claimed) == 40, Counter(statuses)
    assert len(set(claimed)) == 40
    assert set(statuses) <= {200, 404}

    # All specialists race for one case through both processes: exactly one wins.
    _race = session.scalar(select(Case.id).order_by(Case.id))
    session.execute(Case.__table__.update().values(status="open", claimed_by=None))
    session.commit()

    async def race() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            replies = await asyncio.gather(
                *(
                    client.post(
                        f"{two_servers[i % 2]}/v1/cases/{_race}/claim", headers=specialists[i]
                    )
                    for i in range(8)
                )
            )
        return [reply.status_code for reply in replies]

    codes = asyncio.run(race())
    assert sorted(codes) == [200] + [409] * 7


@pytest.mark.postgres
@pytest.mark.slow
def test_an_alert_raised_in_one_process_reaches_a_stream_on_the_other(
    two_servers: list[str], pg_session: Session
) -> None:
    factory = Factory(pg_session)
    watcher, platform = factory.headers(), factory.api_key("messages:write")
    first, second = two_servers
    events: list[str] = []
    with httpx.Client(timeout=30) as client:
        stream_url = f"{first}/v1/alerts/stream?max_seconds=20"
        with client.stream("GET", stream_url, headers=watcher) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith(":")  # connected
            body = {
                "idempotency_key": "cross-process",
                "patient_id": "p",
                "sender": "patient",
                "sent_at": datetime.now(UTC).isoformat(),
                "channel": "sms",
                "text": "nobody scores this: the servers run without a model",
            }
            posted = client.post(f"{second}/v1/messages", json=body, headers=platform)
            assert posted.status_code == 201, posted.text
            for line in lines:
                events.append(line)
                if line.startswith("data:"):
                    break
    assert "event: operator" in events
    assert str(posted.json()["id"]) in events[-1]
