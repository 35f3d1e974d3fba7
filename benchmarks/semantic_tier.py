"""The semantic tier under load: seconds from ingest to final score, and the worker's rate.

A fake two-tier scorer stands in for detector v2: its fast tier is a keyword rule (free), its
final tier sleeps 30 ms per message, what the full encoder costs on this machine (about 40
messages/s in batches, docs in ../shared/background/encoders.md).  Sleeping holds no CPU, so
these numbers are the pipeline's (lease, audited decrypt, store, re-order, alerts) plus the
encoder's wall time, not CPU contention between them.

1. Latency: messages arrive one by one (Poisson, ``--rate`` a second, ``--seconds`` long) and
   are ingested as the service does; one semantic worker (the service's own ``SemanticWorker``,
   batch 32, the same poll) finishes them.  For each message, ``final_scored_at -
   received_at``: p50, p99, max.  Below the worker's capacity this is about a poll interval
   plus a batch; above it the backlog grows and so does the latency.
2. Throughput: ``--backlog`` messages already waiting, one worker drains them: messages/s with
   the 30 ms/message scorer, and with a free one (the pipeline's own overhead).

Writes benchmarks/results/semantic_tier.json (``--out`` elsewhere).

    .venv/bin/python -m benchmarks.semantic_tier [--rate 20] [--seconds 30] [--backlog 640]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
from pydantic import SecretStr
from sqlalchemy import create_engine, select, text

from crisis_triage.detector import Explanation
from crisis_triage.service import Settings, create_app
from crisis_triage.storage import Message, generate_key_line, make_engine, upgrade
from crisis_triage.triage import IncomingMessage, ingest

RESULTS = Path(__file__).resolve().parent / "results" / "semantic_tier.json"
ENCODER_SECONDS = 0.030
TEXTS = (
    "Can I move my appointment to Tuesday?",
    "The new dose makes me sleepy in the afternoons",
    "I gave my things away, tonight is the night",
    "Is it normal to feel this tired after the first week?",
)


class SlowEncoderScorer:
    """Fast tier: free; final tier: ``seconds`` per message, as the full encoder costs."""

    threshold_ = 0.5
    card_: dict[str, Any] = {"version": "bench-two-tier"}  # noqa: RUF012

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def semantic_available(self) -> bool:
        return True

    def explain_fast(self, texts: Sequence[str]) -> list[Explanation]:
        return [Explanation(0.05, False, 0.5, (), (), ()) for _ in texts]

    def explain(self, texts: Sequence[str]) -> list[Explanation]:
        time.sleep(self.seconds * len(texts))
        return [
            Explanation(0.9, True, 0.5, ("SI",), (), ())
            if "tonight is the night" in text
            else Explanation(0.02, False, 0.5, (), (), ())
            for text in texts
        ]

    def predict_proba(self, texts: Sequence[str]) -> Any:  # the Scorer protocol; unused here
        raise NotImplementedError


KEYS = SecretStr(generate_key_line())  # no development key file is left behind


def _app(url: str, scorer: SlowEncoderScorer) -> Any:
    settings = Settings(
        database_url=url, worker_enabled=False, load_model=False, encryption_keys=KEYS
    )
    return create_app(settings, scorer=scorer)


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """A migrated database: a temporary SQLite file, or a schema of its own on the given
    PostgreSQL server, dropped afterwards."""
    if url is None:
        with tempfile.TemporaryDirectory() as folder:
            yield _migrated(f"sqlite:///{folder}/bench.db")
        return
    schema = f"ct_bench_{secrets.token_hex(4)}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    joiner = "&" if "?" in url else "?"
    try:
        yield _migrated(f"{url}{joiner}options={quote(f'-csearch_path={schema}')}")
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _migrated(url: str) -> str:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def _item(n: int, tag: str) -> IncomingMessage:
    return IncomingMessage(
        f"{tag}-{n}", f"patient-{n % 50}", "patient", "portal", datetime.now(UTC), TEXTS[n % 4]
    )


def _drain_loop(app: Any, stop: threading.Event) -> None:
    """The service's semantic loop: a full batch is followed at once, else a poll wait."""
    worker = app.state.semantic_worker
    settings = app.state.service.settings
    while not stop.is_set():
        report = worker.run_once()
        if report.leased < settings.semantic_batch_size:
            stop.wait(settings.semantic_poll_seconds)


def latency(url: str, rate: float, seconds: float) -> dict[str, Any]:
    app = _app(url, SlowEncoderScorer(ENCODER_SECONDS))
    state = app.state.service
    stop = threading.Event()
    worker = threading.Thread(target=_drain_loop, args=(app, stop))
    worker.start()
    rng = random.Random(12)
    count = int(rate * seconds)
    started = time.perf_counter()
    due = started
    with state.sessions() as session:
        for n in range(count):
            due += rng.expovariate(rate)
            time.sleep(max(0.0, due - time.perf_counter()))
            ingest(session, state.scorer, [_item(n, "lat")], state.policy)
    while True:  # wait for the worker to finish the last arrivals
        with state.sessions() as session:
            pending = session.scalar(
                select(Message.id).where(Message.semantic_due_at.is_not(None)).limit(1)
            )
        if pending is None:
            break
        time.sleep(0.05)
    stop.set()
    worker.join()
    with state.sessions() as session:
        rows = session.execute(
            select(Message.received_at, Message.final_scored_at).where(
                Message.idempotency_key.like("lat-%")
            )
        ).all()
    waits = np.array([(done - received).total_seconds() for received, done in rows])
    state.engine.dispose()
    return {
        "arrival_rate_per_s": rate,
        "seconds": seconds,
        "messages": len(waits),
        "ingest_to_final_p50_s": round(float(np.percentile(waits, 50)), 3),
        "ingest_to_final_p99_s": round(float(np.percentile(waits, 99)), 3),
        "ingest_to_final_max_s": round(float(waits.max()), 3),
    }


def throughput(url: str, backlog: int, seconds_per_message: float, tag: str) -> dict[str, Any]:
    app = _app(url, SlowEncoderScorer(seconds_per_message))
    state = app.state.service
    with state.sessions() as session:
        for start in range(0, backlog, 100):
            items = [_item(n, tag) for n in range(start, min(backlog, start + 100))]
            ingest(session, state.scorer, items, state.policy)
    worker = app.state.semantic_worker
    started = time.perf_counter()
    done = 0
    while (report := worker.run_once()).leased:
        done += report.finalised
    elapsed = time.perf_counter() - started
    state.engine.dispose()
    return {
        "encoder_seconds_per_message": seconds_per_message,
        "messages": done,
        "seconds": round(elapsed, 2),
        "messages_per_s": round(done / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20.0, help="arrivals per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--backlog", type=int, default=640)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server (a schema of its own is used); default: a temporary SQLite file",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # not a line per newly flagged message
    with database(args.database_url) as url:
        record = {
            "benchmark": "semantic_tier",
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": url.split(":", 1)[0],
            "batch_size": Settings().semantic_batch_size,
            "poll_seconds": Settings().semantic_poll_seconds,
            "latency": latency(url, args.rate, args.seconds),
            "throughput_encoder_30ms": throughput(url, args.backlog, ENCODER_SECONDS, "tp30"),
            "throughput_pipeline_only": throughput(url, args.backlog, 0.0, "tp0"),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "note": "fake scorer: the final tier sleeps 30 ms a message (no CPU held)",
        }
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
