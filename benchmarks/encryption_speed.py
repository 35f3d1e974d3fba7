"""What field-level encryption costs: per message, and for ingest into SQLite.

1. Encrypt + decrypt one message's text (AES-256-GCM envelope, the key ring's own code), in
   microseconds, for short, typical and long messages.
2. Ingest N messages (batches of 50, a keyword scorer, a temporary SQLite file) with the
   encrypted column types as shipped and with them switched to pass-through, alternately, a
   few rounds; the best wall-clock and CPU time of each and their ratios (CPU time is the
   steadier figure when other processes share the machine).

Writes benchmarks/results/encryption_speed.json.

    .venv/bin/python -m benchmarks.encryption_speed [--n 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import cryptography

from crisis_triage.detector import Explanation
from crisis_triage.storage import KeyRing, generate_key_line, make_engine, make_session_factory
from crisis_triage.storage import upgrade as migrate
from crisis_triage.storage._encrypted import EncryptedJSON, EncryptedText
from crisis_triage.triage import IncomingMessage, TriagePolicy, ingest

RESULTS = Path(__file__).resolve().parent / "results"

LENGTHS = {"short": 40, "typical": 240, "long": 2000}


def per_message_us(keyring: KeyRing, length: int, repeats: int) -> dict[str, float]:
    text = ("I can't sleep and keep thinking about ending it. " * 50)[:length]
    started = time.perf_counter()
    stored = [keyring.encrypt(text, "messages.text") for _ in range(repeats)]
    encrypt = time.perf_counter() - started
    started = time.perf_counter()
    for value in stored:
        keyring.decrypt(value, "messages.text")
    decrypt = time.perf_counter() - started
    return {
        "encrypt_us": round(encrypt / repeats * 1e6, 2),
        "decrypt_us": round(decrypt / repeats * 1e6, 2),
        "total_us": round((encrypt + decrypt) / repeats * 1e6, 2),
        "stored_chars": len(stored[0]),
    }


class KeywordScorer:
    """Flags "end it" (with one reason quoting it), so that reasons are stored as in real use."""

    threshold_ = 0.5
    card_: dict[str, Any] = {"version": "bench"}  # noqa: RUF012

    def explain(self, texts: list[str]) -> list[Explanation]:
        return [
            Explanation(0.9, True, 0.5, ("SI",), (), (("end it", 1.5),))
            if "end it" in text
            else Explanation(0.01, False, 0.5, (), (), ())
            for text in texts
        ]


@contextmanager
def encryption_off() -> Any:
    """The encrypted column types as plain pass-through (what ingest cost before)."""

    def through(_self: Any, value: Any, _dialect: Any) -> Any:
        return value

    with (
        mock.patch.object(EncryptedText, "process_bind_param", through),
        mock.patch.object(EncryptedJSON, "process_bind_param", through),
    ):
        yield


def ingest_seconds(keyring: KeyRing, n: int, batch: int = 50) -> tuple[float, float]:
    """Wall-clock and CPU seconds to ingest ``n`` messages."""
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db", keyring=keyring)
        migrate(engine)
        scorer, policy = KeywordScorer(), TriagePolicy()
        sent = datetime.now(UTC)
        items = [
            IncomingMessage(
                idempotency_key=f"k{i}",
                patient_id=f"p{i % 100}",
                sender="patient",
                channel="portal",
                sent_at=sent,
                text=f"message {i}: I keep thinking I should just end it, can we talk today?",
                demographics={"age_band": "25-34"},
            )
            for i in range(n)
        ]
        with make_session_factory(engine)() as session:
            started, cpu = time.perf_counter(), time.process_time()
            for start in range(0, n, batch):
                ingest(session, scorer, items[start : start + batch], policy)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        engine.dispose()
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="messages to ingest per run")
    parser.add_argument("--repeats", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "encryption_speed.json")
    args = parser.parse_args()
    keyring = KeyRing.parse(generate_key_line("bench"))
    per_message = {
        name: per_message_us(keyring, length, args.repeats) | {"chars": length}
        for name, length in LENGTHS.items()
    }
    ingest_seconds(keyring, 200)  # warm up imports and caches
    plain_runs, encrypted_runs = [], []
    for _round in range(args.rounds):  # alternated; the best of each resists a busy machine
        with encryption_off():
            plain_runs.append(ingest_seconds(keyring, args.n))
        encrypted_runs.append(ingest_seconds(keyring, args.n))
    plain, encrypted = min(plain_runs), min(encrypted_runs)
    plain_cpu, encrypted_cpu = min(r[1] for r in plain_runs), min(r[1] for r in encrypted_runs)
    record = {
        "benchmark": "encryption_speed",
        "per_message": per_message,
        "ingest": {
            "messages": args.n,
            "batch": 50,
            "rounds": args.rounds,
            "backend": "sqlite",
            "plain_seconds": round(plain[0], 3),
            "encrypted_seconds": round(encrypted[0], 3),
            "wall_ratio": round(encrypted[0] / plain[0], 3),
            "plain_cpu_us_per_message": round(plain_cpu / args.n * 1e6, 1),
            "encrypted_cpu_us_per_message": round(encrypted_cpu / args.n * 1e6, 1),
            "cpu_ratio": round(encrypted_cpu / plain_cpu, 3),
        },
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "cryptography": cryptography.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
