"""History rescoring speed: ``score --engine spark`` against the local scorer, per core.

Run from the repository root: ``python -m benchmarks.spark_scoring [--messages N]`` (needs
``crisis-triage[spark]`` and Java; skips with a message otherwise).

The workload is synthetic: ``--messages`` texts (1,000,000 by default) drawn with replacement
from the text column of ../shared/data's dev files (a stand-in corpus when they are absent: the
JSON says which), written once as Parquet.  Both engines run the real command end to end
(read, score, write the output CSV) with the same model file; by default the wave-1 baseline
(benchmarks/baselines/v1_default.skops), since the bundled v2 model's full encoder scores a few
messages per second and would take days here.  Spark runs in local mode on ``--cores`` cores
and its start-up is timed apart (a cluster pays it once per job).  Reported: messages/s, per
core (local: one core), the ratio spark/local per core, and the largest probability difference
between the two outputs.  Writes benchmarks/results/spark_scoring.json; no text is written.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CRISIS_TRIAGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
DEV_FILES = ("bench_core_dev.csv.gz", "bench_stress_dev.csv.gz")
V1_MODEL = ROOT / "benchmarks" / "baselines" / "v1_default.skops"
RESULTS = ROOT / "benchmarks" / "results" / "spark_scoring.json"


def _dev_texts() -> tuple[list[str], str]:
    paths = [DATA / name for name in DEV_FILES if (DATA / name).is_file()]
    if paths:
        texts = pd.concat([pd.read_csv(p, usecols=["text"]) for p in paths])["text"]
        return texts.dropna().astype(str).tolist(), ", ".join(p.name for p in paths)
    rng = random.Random(0)
    words = ["i", "feel", "my", "refill", "appointment", "want", "to", "die", "help", "today"]
    stand_in = [" ".join(rng.choices(words, k=rng.randint(4, 40))) for _ in range(5000)]
    return stand_in, "stand-in corpus (shared dev files absent)"


def _workload(path: Path, messages: int, seed: int) -> str:
    texts, source = _dev_texts()
    rng = np.random.default_rng(seed)
    picked = rng.integers(0, len(texts), size=messages)
    frame = pd.DataFrame(
        {"id": np.arange(messages), "text": np.asarray(texts, dtype=object)[picked]}
    )
    frame.to_parquet(path, row_group_size=100_000)
    return source


def _run_score(source: Path, output: Path, model: Path, *extra: str) -> float:
    from crisis_triage.cli import app

    start = time.perf_counter()
    try:
        app(["score", str(source), "-o", str(output), "--model", str(model), "--no-progress",
             "--chunksize", "10000", *extra], standalone_mode=False)  # fmt: skip
    except SystemExit as exit_:  # exit 3: some messages unscored (language, length)
        if exit_.code not in (0, 3, None):
            raise
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model", type=Path, default=V1_MODEL)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if importlib.util.find_spec("pyspark") is None or shutil.which("java") is None:
        print("skipped: needs PySpark (crisis-triage[spark]) and a Java runtime")
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core for the local scorer

    from crisis_triage.spark import spark_session

    with tempfile.TemporaryDirectory(prefix="spark-bench-") as folder:
        work = Path(folder)
        source = work / "messages.parquet"
        corpus = _workload(source, args.messages, args.seed)
        local_seconds = _run_score(source, work / "local.csv", args.model)
        started = time.perf_counter()
        with spark_session(f"local[{args.cores}]") as session:
            startup_seconds = time.perf_counter() - started
            session.sparkContext.setLogLevel("ERROR")
            spark_seconds = _run_score(source, work / "spark.csv", args.model, "--engine", "spark")
        local = pd.read_csv(work / "local.csv", usecols=["probability"])["probability"]
        spark = pd.read_csv(work / "spark.csv", usecols=["probability"])["probability"]
        same_missing = bool((local.isna() == spark.isna()).all())
        largest_difference = float(np.nanmax(np.abs(local.to_numpy() - spark.to_numpy())))

    local_rate = args.messages / local_seconds
    spark_rate = args.messages / spark_seconds
    results = {
        "workload": f"{args.messages:,} messages drawn with replacement from {corpus}",
        "messages": args.messages,
        "model": args.model.name,
        "local": {
            "cores": 1,
            "seconds": round(local_seconds, 2),
            "messages_per_second": round(local_rate, 1),
            "messages_per_second_per_core": round(local_rate, 1),
        },
        "spark": {
            "master": f"local[{args.cores}]",
            "cores": args.cores,
            "startup_seconds": round(startup_seconds, 2),
            "seconds": round(spark_seconds, 2),
            "messages_per_second": round(spark_rate, 1),
            "messages_per_second_per_core": round(spark_rate / args.cores, 1),
        },
        "ratio_spark_to_local_per_core": round(spark_rate / args.cores / local_rate, 3),
        "largest_probability_difference": largest_difference,
        "same_unscored_rows": same_missing,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
