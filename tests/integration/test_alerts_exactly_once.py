"""Four workers on one PostgreSQL database deliver each alert's webhook exactly once, even when
a batch takes longer than a lease (issue 15)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from service_helpers import empty_tables, settings_for
from sqlalchemy import func, select

from crisis_triage.service._deps import ServiceState
from crisis_triage.service._worker import Worker
from crisis_triage.storage import WebhookDelivery, make_engine, make_session_factory, utcnow
from crisis_triage.triage import TriagePolicy, raise_alert
from crisis_triage.triage._alerts import AlertKind

HOOK = "http://hooks.example.test/crisis"
ALERTS = 24
WORKERS = 4


class SlowReceiver:
    """Takes a while to answer, and counts what it got by delivery id (its dedupe key)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.deliveries: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.seconds)
        with self.lock:
            self.deliveries[request.headers["X-Crisis-Triage-Delivery"]] += 1
        return httpx.Response(200)


@pytest.mark.postgres
def test_four_workers_on_postgres_deliver_each_alert_exactly_once(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    empty_tables(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        for n in range(ALERTS):
            policy = TriagePolicy(webhook_urls=(HOOK,))
            raise_alert(
                session, policy, AlertKind.CRISIS, f"crisis {n}", now=utcnow(), case_id=None
            )
        session.commit()
    # A lease of 2 x 0.5 + 1 = 2 s, and a batch of up to 20 sends of 0.15 s (3 s): without the
    # renewal before each send, leases run out mid-batch and other workers send those again.
    receiver = SlowReceiver(0.15)
    settings = settings_for(postgres_url, webhook_urls=[HOOK], webhook_timeout_seconds=0.5)

    def work(_index: int) -> None:
        state_engine = make_engine(postgres_url)  # one engine per worker, as per process
        state = ServiceState(
            settings=settings,
            engine=state_engine,
            sessions=make_session_factory(state_engine),
            policy=settings.policy(),
            scorer=None,
        )
        worker = Worker(state, transport=httpx.MockTransport(receiver))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            worker.run_once()
            with state.sessions() as session:
                pending = session.scalar(
                    select(func.count()).where(WebhookDelivery.status != "delivered")
                )
            if not pending:
                break
            time.sleep(0.05)
        state_engine.dispose()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        list(pool.map(work, range(WORKERS)))
    with sessions() as session:
        ids = {str(i) for i in session.scalars(select(WebhookDelivery.id))}
        statuses = set(session.scalars(select(WebhookDelivery.status)))
    engine.dispose()
    assert len(ids) == ALERTS and statuses == {"delivered"}
    assert set(receiver.deliveries) == ids
    twice = {delivery: n for delivery, n in receiver.deliveries.items() if n > 1}
    assert not twice, f"delivered more than once: {twice}"
