"""How long a full evaluation report takes for 100,000 messages with 2,000 bootstrap resamples.

Synthetic labels and scores (1.5% prevalence, like bench_core_dev), a lexicon-baseline flag,
one group column, a time column and message texts; no model is involved (the report core takes
arrays).  Runs on one thread (BLAS limited with threadpoolctl) and writes
benchmarks/results/report_speed.json with wall-clock and CPU seconds (the CPU figure is what one
free core would take; wall-clock grows when other processes share the machine).

    .venv/bin/python benchmarks/report_speed.py [--n 100000] [--n-boot 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from crisis_triage.evaluation import EvaluationData, EvaluationReport, ReportConfig

RESULTS = Path(__file__).resolve().parent / "results"


def synthetic(n: int, seed: int = 0) -> EvaluationData:
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(n) < 0.015, 1, 0)
    labels[rng.random(n) < 0.02] = -1
    crisis = labels == 1
    scores = np.clip(rng.beta(1, 40, n) + 0.4 * crisis * rng.random(n), 0, 1)
    baseline = (crisis & (rng.random(n) < 0.9)) | (rng.random(n) < 0.1)
    start = np.datetime64("2024-01-01T00:00")
    times = start + rng.integers(0, 180 * 24 * 60, n).astype("timedelta64[m]")
    return EvaluationData.from_arrays(
        labels,
        scores,
        0.01,
        ids=[f"m{i}" for i in range(n)],
        texts=[f"synthetic message {i}" for i in range(n)],
        baseline=baseline.astype(float),
        groups={"age_band": rng.choice(["18-21", "22-40", "41-64", "65+"], n)},
        times=times,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS / "report_speed.json")
    args = parser.parse_args()
    data = synthetic(args.n)
    with threadpool_limits(limits=1):
        started, cpu = time.perf_counter(), time.process_time()
        result = EvaluationReport(ReportConfig(n_boot=args.n_boot, seed=0)).run(data)
        run_seconds, run_cpu = time.perf_counter() - started, time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        html, markdown, text = result.to_html(), result.to_markdown(), result.to_json()
        render_seconds, render_cpu = time.perf_counter() - started, time.process_time() - cpu
    record = {
        "benchmark": "report_speed",
        "messages": args.n,
        "evaluated": result.data["dataset"]["n_evaluated"],
        "crisis": result.data["dataset"]["n_positive"],
        "n_boot": args.n_boot,
        "run_seconds": round(run_seconds, 2),
        "render_seconds": round(render_seconds, 2),
        "total_seconds": round(run_seconds + render_seconds, 2),
        "run_cpu_seconds": round(run_cpu, 2),
        "render_cpu_seconds": round(render_cpu, 2),
        "sizes_kb": {
            "html": len(html) // 1024,
            "md": len(markdown) // 1024,
            "json": len(text) // 1024,
        },
        "threads": 1,
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
