"""Fault tests: the real service process under load while things break.

1. The service is killed with SIGKILL mid-load and restarted: every message that got a 2xx is
   in the database exactly once, and resending the rest (same idempotency keys) stores each once.
2. PostgreSQL goes away mid-run (a private cluster, stopped with ``-m immediate``): the service
   answers 503 with Retry-After (never 500, never hangs), recovers by itself when the database
   comes back, and loses nothing it acknowledged.
3. A corrupt or missing model file: the service starts, /readyz says the model is not ready,
   messages still get 2xx and queue as unscored, and an operator alert is stored.
4. The webhook receiver is down: deliveries are retried with backoff, every attempt recorded,
   and delivered once the receiver is back.

Counts (sent / acknowledged / found) are printed, so ``pytest -s`` shows them.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fault_helpers import (
    Ledger,
    PrivateCluster,
    ServiceProcess,
    free_port,
    message_body,
    postgres_bin_dir,
    send_all,
)
from sqlalchemy import Engine, create_engine, func, select, text

from crisis_triage.accounts import create_api_key
from crisis_triage.detector import BUNDLED_MODEL_PATH, card_path
from crisis_triage.storage import Alert, Message, WebhookDelivery, make_engine, upgrade
from crisis_triage.triage import SIGNATURE_HEADER, verify

pytestmark = pytest.mark.slow


def _api_key(engine: Engine) -> str:
    from crisis_triage.storage import make_session_factory

    with make_session_factory(engine)() as session:
        key, _row = create_api_key(session, "faults", ["messages:write"])
    return key


def _counts(engine: Engine, keys: list[str]) -> dict[str, int]:
    """Rows per idempotency key, for the keys given."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(Message.idempotency_key, func.count())
            .where(Message.idempotency_key.in_(keys))
            .group_by(Message.idempotency_key)
        ).all()
    return {key: int(n) for key, n in rows}


def _wait_for(predicate: object, timeout: float, step: float = 0.2) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


@pytest.fixture(scope="module")
def cluster() -> Iterator[PrivateCluster]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    cluster = PrivateCluster(bin_dir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def pg_database(cluster: PrivateCluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated database in the private cluster (which is running on entry)."""
    name = f"faults_{request.node.name.split('[')[0][-40:]}".lower()
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    engine = make_engine(cluster.url(name))
    upgrade(engine)
    engine.dispose()
    yield cluster.url(name)


def _service(tmp_path: Path, url: str, **env: str) -> ServiceProcess:
    base = {
        "CRISIS_TRIAGE_DATABASE_URL": url,
        "CRISIS_TRIAGE_LOAD_MODEL": "false",
        "CRISIS_TRIAGE_WORKER_ENABLED": "true",
    }
    return ServiceProcess(base | env, tmp_path / "service.log")


def test_kill_9_mid_load_loses_nothing_acknowledged(tmp_path: Path, pg_database: str) -> None:
    engine = make_engine(pg_database)
    api_key = _api_key(engine)
    service = _service(tmp_path, pg_database)
    service.start()
    ledger = Ledger()
    keys = [f"kill-{i}" for i in range(600)]
    stop = threading.Event()
    sender = threading.Thread(
        target=send_all, args=(service.base, api_key, keys, ledger), kwargs={"stop": stop}
    )
    try:
        sender.start()
        # Kill once a good part is stored but most is still to come (slow machines: wait).
        reached = _wait_for(lambda: len(ledger.acknowledged) >= 100, timeout=180)
        assert reached, f"the load never got going: outcomes {ledger.statuses}"
        service.kill()  # mid-load: requests are in flight right now
        time.sleep(0.5)
        stop.set()
        sender.join(timeout=60)
        acknowledged_before = set(ledger.acknowledged)
        sent_before = len(ledger.sent)
        counts = _counts(engine, keys)
        rows_after_kill = len(counts)
        # Everything acknowledged before the kill is stored, once; in-flight requests that
        # died unanswered may or may not have been committed (the sender cannot know).
        assert all(counts.get(key) == 1 for key in acknowledged_before)
        assert all(n == 1 for n in counts.values())

        service.start()  # same database, new process
        retry = Ledger(acknowledged=set(ledger.acknowledged))
        send_all(service.base, api_key, keys, retry)  # resend all: repeats must be no-ops
        counts = _counts(engine, keys)
        print(
            f"\nkill -9: {sent_before} attempted ({ledger.statuses}), "
            f"{len(acknowledged_before)} acknowledged, {rows_after_kill} rows after the kill, "
            f"{sum(1 for k in acknowledged_before if counts.get(k) == 1)} acknowledged found "
            f"once; after restart and resend: {len(retry.acknowledged)}/{len(keys)} "
            f"acknowledged, {len(counts)} rows, statuses {retry.statuses}"
        )
        assert retry.statuses.keys() <= {"200", "201"}
        assert counts == dict.fromkeys(keys, 1)
        assert retry.statuses.get("200", 0) >= len(acknowledged_before)  # repeats answered 200
    finally:
        stop.set()
        service.stop()
        engine.dispose()


def test_postgres_outage_gives_503_then_recovers_by_itself(
    tmp_path: Path, cluster: PrivateCluster, pg_database: str
) -> None:
    engine = make_engine(pg_database)
    api_key = _api_key(engine)
    engine.dispose()
    service = _service(tmp_path, pg_database)
    service.start()
    headers = {"Authorization": f"Bearer {api_key}"}
    before, during, after = Ledger(), Ledger(), Ledger()
    try:
        send_all(service.base, api_key, [f"pg-before-{i}" for i in range(100)], before)
        cluster.stop("immediate")
        started = time.monotonic()
        send_all(service.base, api_key, [f"pg-during-{i}" for i in range(40)], during)
        outage_seconds = time.monotonic() - started
        with httpx.Client(base_url=service.base, timeout=10) as client:
            reply = client.post("/v1/messages", json=message_body("pg-probe"), headers=headers)
            assert reply.status_code == 503
            assert reply.headers["Retry-After"].isdigit()
            assert reply.json()["error"]["code"] == "unavailable"
            assert client.get("/readyz").status_code == 503
            assert client.get("/healthz").status_code == 200  # the process itself is fine
        cluster.start()

        def recovered() -> bool:
            try:
                with httpx.Client(base_url=service.base, timeout=5) as client:
                    return client.get("/readyz").status_code in (200, 503) and (
                        client.post("/v1/messages", json=message_body("pg-probe"),
                                    headers=headers).status_code in (200, 201)
                    )  # fmt: skip
            except httpx.HTTPError:
                return False

        assert _wait_for(recovered, timeout=30, step=0.5), "the service did not recover"
        send_all(service.base, api_key, [f"pg-after-{i}" for i in range(100)], after)
        # The sender retries what was refused during the outage, with the same keys.
        retried = Ledger()
        send_all(service.base, api_key, during.sent, retried)

        check = make_engine(pg_database)
        everything = before.sent + during.sent + after.sent
        counts = _counts(check, everything)
        check.dispose()
        print(
            f"\npostgres outage ({outage_seconds:.1f} s): before {len(before.acknowledged)}/"
            f"{len(before.sent)} acknowledged; during {during.statuses}; after restart "
            f"{len(after.acknowledged)}/{len(after.sent)} acknowledged; "
            f"retried {len(retried.acknowledged)}/{len(during.sent)}; "
            f"found {len(counts)} of {len(everything)}, each once: "
            f"{all(n == 1 for n in counts.values())}"
        )
        assert len(before.acknowledged) == len(before.sent)
        assert during.statuses == {"503": len(during.sent)}  # refused fast, never a 500
        assert all(value.isdigit() for value in during.retry_after)
        assert outage_seconds < 30
        assert len(after.acknowledged) == len(after.sent)
        assert len(retried.acknowledged) == len(during.sent)
        assert counts == dict.fromkeys(everything, 1)
    finally:
        service.stop()


@pytest.mark.parametrize("problem", ["truncated", "garbage", "missing"])
def test_a_bad_model_file_still_queues_messages_unscored(tmp_path: Path, problem: str) -> None:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    engine = make_engine(url)
    upgrade(engine)
    api_key = _api_key(engine)
    model = tmp_path / "site.skops"
    card = json.loads(card_path(BUNDLED_MODEL_PATH).read_text())
    if problem == "truncated":  # a half-copied file: no longer matches its card
        model.write_bytes(BUNDLED_MODEL_PATH.read_bytes()[:5000])
    elif problem == "garbage":  # matches its card, so the archive itself is read and refused
        model.write_bytes(b"PK\x03\x04 this is not a model" * 100)
        card["file_sha256"] = hashlib.sha256(model.read_bytes()).hexdigest()
    if problem != "missing":
        card_path(model).write_text(json.dumps(card))
    service = _service(
        tmp_path, url, CRISIS_TRIAGE_LOAD_MODEL="true", CRISIS_TRIAGE_MODEL_PATH=str(model)
    )
    service.start()
    try:
        with httpx.Client(base_url=service.base, timeout=10) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert [d["loc"] for d in ready.json()["error"]["details"]] == [["checks", "model"]]
            headers = {"Authorization": f"Bearer {api_key}"}
            replies = [
                client.post("/v1/messages", json=message_body(f"model-{i}"), headers=headers)
                for i in range(5)
            ]
        assert [r.status_code for r in replies] == [201] * 5
        assert {r.json()["score_status"] for r in replies} == {"unscored"}
        assert {r.json()["priority"] for r in replies} == {"review_now"}
        ids = {r.json()["id"] for r in replies}
        with engine.connect() as connection:
            stored = set(connection.scalars(select(Message.id)))
            alerts = connection.execute(select(Alert.payload).where(Alert.kind == "operator")).all()
        alerted = {i for (payload,) in alerts for i in payload.get("message_ids", [])}
        print(f"\n{problem} model: 5 sent, 5 acknowledged unscored, {len(stored)} found, "
              f"{len(alerts)} operator alert(s) covering {len(alerted)} messages")  # fmt: skip
        assert stored == ids
        assert ids <= alerted
    finally:
        service.stop()
        engine.dispose()


class _Hooks(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.append((dict(self.headers), self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output quiet


def test_webhook_receiver_down_then_up_retries_and_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'triage.db'}"
    engine = make_engine(url)
    upgrade(engine)
    api_key = _api_key(engine)
    hook_port = free_port()  # nothing listens here yet: connections are refused
    secret = "fault-test-webhook-secret"
    service = _service(
        tmp_path,
        url,
        CRISIS_TRIAGE_WEBHOOK_URLS=json.dumps([f"http://127.0.0.1:{hook_port}/hook"]),
        CRISIS_TRIAGE_WEBHOOK_SECRET=secret,
        CRISIS_TRIAGE_WEBHOOK_BACKOFF_SECONDS="0.3",
        CRISIS_TRIAGE_WEBHOOK_MAX_ATTEMPTS="50",
    )
    service.start()
    receiver: http.server.HTTPServer | None = None
    try:
        reply = httpx.post(
            f"{service.base}/v1/messages",
            json=message_body("hook-1"),
            headers={"Authorization": f"Bearer {api_key}"},
        )
        assert reply.status_code == 201  # no model: unscored, so an operator alert is raised

        def deliveries() -> list[WebhookDelivery]:
            with engine.connect() as connection:
                return list(connection.execute(select(WebhookDelivery)).all())  # type: ignore[arg-type]

        assert _wait_for(lambda: any(d.attempts >= 3 for d in deliveries()), timeout=30)
        failing = deliveries()
        assert {d.status for d in failing} == {"pending"}
        assert {d.last_error for d in failing} == {"ConnectError"}

        _Hooks.received = []
        receiver = http.server.HTTPServer(("127.0.0.1", hook_port), _Hooks)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        assert _wait_for(lambda: {d.status for d in deliveries()} == {"delivered"}, timeout=60)
        done = deliveries()
        print(
            f"\nwebhook receiver down then up: {len(done)} delivery(ies), attempts "
            f"{[d.attempts for d in done]}, received {len(_Hooks.received)}"
        )
        # ``attempts`` counts an attempt when it is leased, so the snapshot above may already
        # include the attempt that then succeeded; at least two refused ones came before it.
        failed_attempts = {d.id: d.attempts for d in failing}
        assert all(d.attempts >= max(3, failed_attempts[d.id]) for d in done), (failing, done)
        assert {d.last_status_code for d in done} == {204}
        assert len(_Hooks.received) == len(done)  # each delivered once, not once per attempt
        headers, body = _Hooks.received[0]
        assert verify(secret, headers[SIGNATURE_HEADER], body, now=int(time.time()))
    finally:
        if receiver is not None:
            receiver.shutdown()
            receiver.server_close()
        service.stop()
        engine.dispose()
