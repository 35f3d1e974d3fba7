"""Detector v2 speed and memory against the wave-1 model, in the same run, on one core.

Run from the repository root: ``python -m benchmarks.detector_speed [--model PATH]``.

Measured, single-threaded (BLAS and the encoder pinned to one thread):

- ``v1``: the wave-1 bundled model (benchmarks/baselines/v1_default.skops), ``explain``;
- ``v2_fast``: detector v2's synchronous tier (``explain_fast``: lexicon evidence, word and
  character n-grams, static embedding, stacker, categories, explanation), what ingest runs;
- ``v2_ngrams``: v2's sparse path alone (the compiled n-gram scorer's decision function);
- ``v2_full``: the final score with the full encoder (``explain``), the background tier.

For each: single-message latency p50/p99 (one message per call) and batch throughput
(messages/s, batches of 256), with ratios to v1 measured in this run.  Memory: the resident
set size of a fresh process after loading the model and scoring one message, for v1 and v2.
Goals (issue 12): the synchronous tier p99 <= 5 ms and >= 1,000 messages/s per core; the
sparse path >= 20,000 messages/s.  Writes benchmarks/results/detector_speed.json.  Message
text never reaches the output.
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
V1_MODEL = ROOT / "benchmarks" / "baselines" / "v1_default.skops"
RESULTS = ROOT / "benchmarks" / "results" / "detector_speed.json"
GOALS = {"fast_p99_ms": 5.0, "fast_per_second": 1_000, "ngrams_per_second": 20_000}


def workload(limit: int) -> tuple[list[str], str]:
    path = DATA / "bench_core_dev.csv.gz"
    if path.is_file():
        texts = pd.read_csv(path, usecols=["text"])["text"].fillna("").astype(str).tolist()
        random.Random(0).shuffle(texts)
        return texts[:limit], "../shared/data/bench_core_dev.csv.gz (text column, shuffled)"
    rng = random.Random(0)
    words = ["i", "the", "my", "to", "feel", "want", "pills", "appointment", "refill"]
    words += ["tonight", "die", "help", "can", "you"]
    texts = [" ".join(rng.choices(words, k=rng.randint(3, 40))) for _ in range(limit)]
    return texts, "synthetic (../shared/data absent)"


def latency(fn: Callable[[Sequence[str]], Any], texts: Sequence[str]) -> dict[str, float]:
    times = []
    for text in texts:
        start = time.perf_counter()
        fn([text])
        times.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
    }


def throughput(fn: Callable[[Sequence[str]], Any], texts: Sequence[str], batch: int = 256) -> float:
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        fn(texts[i : i + batch])
    return round(len(texts) / (time.perf_counter() - start), 1)


def rss_after_load(model_path: Path) -> float:
    """Resident memory (MB) of a fresh process that loaded the model and scored a message."""
    code = (
        "import resource, sys\n"
        "from crisis_triage.detector import load_model\n"
        "m = load_model(sys.argv[1])\n"
        "f = getattr(m, 'explain_fast', m.explain)\n"
        "f(['hello there'])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    env = os.environ | {"OMP_NUM_THREADS": "1", "CRISIS_TRIAGE_ENCODER_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(model_path)], capture_output=True, text=True, env=env
    )
    return round(float(out.stdout.strip().splitlines()[-1]), 1) if out.returncode == 0 else -1.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="v2 model (default: bundled)")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--full-messages", type=int, default=200)
    args = parser.parse_args(argv)
    os.environ["CRISIS_TRIAGE_ENCODER_THREADS"] = "1"
    from crisis_triage.detector import BUNDLED_MODEL_PATH, load_model
    from crisis_triage.text import normalise

    v2_path = args.model or BUNDLED_MODEL_PATH
    texts, source = workload(args.messages)
    results: dict[str, Any] = {"workload": source, "messages": len(texts)}
    with threadpool_limits(1):
        v1 = load_model(V1_MODEL)
        v2 = load_model(v2_path)
        if not hasattr(v2, "explain_fast"):
            print(f"{v2_path} is not a detector v2 model", file=sys.stderr)
            return 2
        normalised = [normalise(t) for t in texts]
        compiled = v2._compiled()
        v2.explain_fast(texts[:50])  # warm the caches as a running service has them
        v1.explain(texts[:50])
        candidates: dict[str, tuple[Callable[[Sequence[str]], Any], Sequence[str]]] = {
            "v1": (v1.explain, texts),
            "v2_fast": (v2.explain_fast, texts),
            "v2_ngrams": (compiled.decision_function, normalised),
        }
        if v2.semantic_available():
            candidates["v2_full"] = (v2.explain, texts[: args.full_messages])
        for name, (fn, workload_texts) in candidates.items():
            results[name] = latency(fn, workload_texts) | {
                "messages_per_second": throughput(fn, workload_texts)
            }
    base = results["v1"]
    for name in candidates:
        if name != "v1":
            results[name]["ratio_to_v1"] = {
                "p99": round(results[name]["p99_ms"] / base["p99_ms"], 2),
                "messages_per_second": round(
                    results[name]["messages_per_second"] / base["messages_per_second"], 2
                ),
            }
    results["memory_mb"] = {"v1": rss_after_load(V1_MODEL), "v2": rss_after_load(v2_path)}
    fast, ngrams = results["v2_fast"], results["v2_ngrams"]
    results["goals"] = GOALS | {
        "fast_p99_met": fast["p99_ms"] <= GOALS["fast_p99_ms"],
        "fast_throughput_met": fast["messages_per_second"] >= GOALS["fast_per_second"],
        "ngrams_throughput_met": ngrams["messages_per_second"] >= GOALS["ngrams_per_second"],
    }
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    results["threads"] = "1 (threadpoolctl and CRISIS_TRIAGE_ENCODER_THREADS=1)"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
