"""Run every benchmark in turn (`make bench`); each writes its JSON under benchmarks/results/.

One process per benchmark, so one's memory and threads do not colour the next one's numbers.
A benchmark that needs something absent (shared data, PostgreSQL) says so and is skipped.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    "lexicon_baseline",
    "scoring_speed",
    "report_speed",
    "service_load",
    "encryption_speed",
    "bench_encoders",
    "detector_speed",
    "semantic_tier",
    "ingest_window",
    "soak",
    "spark_scoring",
)


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"== benchmarks.{name}", flush=True)
        result = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], check=False)
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
