"""Soak test of the triage service on PostgreSQL: sustained load for minutes, watched over time.

A real server process (``crisis-triage serve``) takes an open-loop stream of messages (default
50 messages/s for 3 minutes) from a load generator in its own process.  Every window (default
10 s) records throughput, latency percentiles and the server's resident memory (RSS, from
/proc).  A straight line fitted to RSS and to p99 latency over time (after a warm-up window)
shows whether either grows: a leak or a slow build-up shows as a positive slope that a
minutes-long run is enough to see.  At the end every acknowledged message is counted in the
database.

    python -m benchmarks.soak [--minutes 3] [--rate 50] [--window 10] [--model auto]

Needs PostgreSQL at CRISIS_TRIAGE_BENCH_POSTGRES_URL (default: the local test database); works
in a schema of its own, dropped afterwards.  Writes benchmarks/results/soak.json and soak.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text

from benchmarks.service_load import (
    DEFAULT_PG,
    _body,
    _client,
    _count,
    _detector_available,
    _free_port,
    _percentiles,
    _post,
    _schema_url,
    _start_server,
)
from crisis_triage.accounts import create_api_key
from crisis_triage.storage import make_engine, make_session_factory, upgrade

RESULTS = Path(__file__).resolve().parent / "results"
REPO = Path(__file__).resolve().parents[1]
# Growth that counts as a trend over the run (after warm-up): beyond run-to-run noise on a
# shared machine, small enough that a real leak of this size would matter within a day.
RSS_GROWTH_LIMIT_MB_PER_MIN = 2.0
P99_GROWTH_LIMIT_MS_PER_MIN = 10.0


# ---------------------------------------------------------------- load generator (own process)


async def _windows(url: str, key: str, rate: float, seconds: float, window: float) -> None:
    """Open loop at ``rate``; prints one JSON line per window as it closes."""
    rng = random.Random(7)
    total = int(rate * seconds)
    run = f"soak{secrets.token_hex(3)}"
    buckets: dict[int, dict[str, Any]] = {}
    async with _client(url, key, 256) as session:

        async def one(index: int, due: float) -> None:
            body = _body(run, index, rng, "portal")
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            started = time.perf_counter()
            bucket = buckets.setdefault(
                int((started - begin) // window), {"latencies": [], "statuses": {}}
            )
            await _post(session, body, bucket["statuses"])
            bucket["latencies"].append((time.perf_counter() - started) * 1000)

        async def report() -> None:
            done = 0
            while done * window < seconds:
                await asyncio.sleep(max(0.0, begin + (done + 1) * window + 2 - time.perf_counter()))
                bucket = buckets.pop(done, {"latencies": [], "statuses": {}})
                print(json.dumps({"window": done, "run": run} | _summary(bucket, window)),
                      flush=True)  # fmt: skip
                done += 1

        begin = time.perf_counter() + 0.5
        await asyncio.gather(report(), *(one(i, begin + i / rate) for i in range(total)))


def _summary(bucket: dict[str, Any], window: float) -> dict[str, Any]:
    statuses: dict[str, int] = bucket["statuses"]
    ok = sum(v for k, v in statuses.items() if k in ("200", "201"))
    return {
        "sent": sum(statuses.values()),
        "acknowledged": ok,
        "statuses": statuses,
        "throughput_per_s": round(ok / window, 1),
        "latency_ms": _percentiles(bucket["latencies"]),
    }


# ---------------------------------------------------------------- orchestration


def _rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), from /proc."""
    total = 0.0
    for candidate in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except FileNotFoundError:
            continue
    return round(total, 1)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _slope_per_minute(times_s: list[float], values: list[float | None]) -> float | None:
    points = [(t, v) for t, v in zip(times_s, values, strict=True) if v is not None]
    if len(points) < 3:
        return None
    t, v = np.asarray(points).T
    return round(float(np.polyfit(t / 60, v, 1)[0]), 3)


def _sample_memory(pid: int, every: float, samples: list[dict[str, float]], stop: Any) -> None:
    started = time.monotonic()
    while not stop.is_set():
        samples.append({"t_s": round(time.monotonic() - started, 1), "rss_mb": _rss_mb(pid)})
        stop.wait(every)


def main(args: argparse.Namespace) -> dict[str, Any]:
    base = os.environ.get("CRISIS_TRIAGE_BENCH_POSTGRES_URL", DEFAULT_PG)
    schema = f"ct_soak_{secrets.token_hex(4)}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _schema_url(base, schema)
    engine = make_engine(url)
    model = args.model
    if model == "auto":
        model = "default" if _detector_available() else "keyword"
    server = None
    memory: list[dict[str, float]] = []
    windows: list[dict[str, Any]] = []
    stop = threading.Event()
    try:
        upgrade(engine)
        with make_session_factory(engine)() as session:
            key, _ = create_api_key(session, "soak", ["messages:write"])
        port = _free_port()
        server = _start_server(url, port, model, args.workers)
        sampler = threading.Thread(
            target=_sample_memory, args=(server.pid, args.window / 2, memory, stop), daemon=True
        )
        sampler.start()
        command = [sys.executable, "-m", "benchmarks.soak", "--generator",
                   "--url", f"http://127.0.0.1:{port}", "--key", key, "--rate", str(args.rate),
                   "--minutes", str(args.minutes), "--window", str(args.window)]  # fmt: skip
        generator = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert generator.stdout is not None
        for line in generator.stdout:
            window = json.loads(line)
            window["t_end_s"] = round((window["window"] + 1) * args.window, 1)
            window["rss_mb"] = memory[-1]["rss_mb"] if memory else None
            windows.append(window)
            print(f"window {window['window']:3d}: {window['throughput_per_s']:6.1f}/s "
                  f"p99 {window['latency_ms']['p99']} ms  rss {window['rss_mb']} MB  "
                  f"{window['statuses']}", file=sys.stderr, flush=True)  # fmt: skip
        generator.wait(timeout=60)
        stop.set()
        run = windows[0]["run"] if windows else "none"
        stored = _count(engine, run)
    finally:
        stop.set()
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return _result(args, model, windows, memory, stored)


def _result(
    args: argparse.Namespace,
    model: str,
    windows: list[dict[str, Any]],
    memory: list[dict[str, float]],
    stored: int,
) -> dict[str, Any]:
    steady = windows[1:]  # the first window warms caches, pools and the model
    steady_memory = [m for m in memory if m["t_s"] >= args.window]
    times = [w["t_end_s"] for w in steady]
    sent = sum(w["sent"] for w in windows)
    acknowledged = sum(w["acknowledged"] for w in windows)
    rss_slope = _slope_per_minute([m["t_s"] for m in steady_memory],
                                  [m["rss_mb"] for m in steady_memory])  # fmt: skip
    p99_slope = _slope_per_minute(times, [w["latency_ms"]["p99"] for w in steady])
    duration = len(windows) * args.window
    verdict = {
        "rss_no_growth_trend": rss_slope is not None and rss_slope < RSS_GROWTH_LIMIT_MB_PER_MIN,
        "p99_no_growth_trend": p99_slope is not None and p99_slope < P99_GROWTH_LIMIT_MS_PER_MIN,
        "zero_lost": stored == acknowledged,
    }
    return {
        "benchmark": "soak",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "note": "shared machine: other processes compete for the CPUs during the run",
        },
        "setup": {
            "database": "postgresql (same machine, loopback)",
            "server": f"crisis-triage serve, {args.workers} worker process(es)",
            "model": model,
            "rate_per_s": args.rate,
            "duration_s": duration,
            "window_s": args.window,
        },
        "totals": {
            "sent": sent,
            "acknowledged": acknowledged,
            "stored": stored,
            "lost": acknowledged - stored,
            "throughput_per_s": round(acknowledged / max(duration, 1), 1),
            "statuses": _merge([w["statuses"] for w in windows]),
        },
        "start": _edge(steady[:1], steady_memory[:1]),
        "end": _edge(steady[-1:], steady_memory[-1:]),
        "trend": {
            "rss_mb_per_min": rss_slope,
            "p99_ms_per_min": p99_slope,
            "limits": {
                "rss_mb_per_min": RSS_GROWTH_LIMIT_MB_PER_MIN,
                "p99_ms_per_min": P99_GROWTH_LIMIT_MS_PER_MIN,
            },
        },
        "verdict": verdict,
        "all_ok": all(verdict.values()),
        "windows": windows,
        "memory": memory,
    }


def _edge(window: list[dict[str, Any]], memory: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "p99_ms": window[0]["latency_ms"]["p99"] if window else None,
        "throughput_per_s": window[0]["throughput_per_s"] if window else None,
        "rss_mb": memory[0]["rss_mb"] if memory else None,
    }


def _merge(counts: list[dict[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for count in counts:
        for key, value in count.items():
            merged[key] = merged.get(key, 0) + value
    return merged


def markdown(result: dict[str, Any]) -> str:
    setup, totals, trend = result["setup"], result["totals"], result["trend"]
    start, end = result["start"], result["end"]
    rows = "\n".join(
        f"| {w['t_end_s']:.0f} | {w['throughput_per_s']} | {w['latency_ms']['p50']} | "
        f"{w['latency_ms']['p99']} | {w['rss_mb']} | {w['sent'] - w['acknowledged']} |"
        for w in result["windows"]
    )
    return f"""# Soak test ({result["date"]})

{setup["duration_s"]} s at {setup["rate_per_s"]} messages/s on PostgreSQL, model `{setup["model"]}`,
{result["machine"]["cpus"]} CPUs shared with other work (load average at the end
{result["machine"]["load_average_1m_at_end"]}).

- sent {totals["sent"]}, acknowledged {totals["acknowledged"]}, stored {totals["stored"]},
  lost {totals["lost"]}; statuses {totals["statuses"]}
- throughput {totals["throughput_per_s"]}/s
- p99 latency: {start["p99_ms"]} ms at the start, {end["p99_ms"]} ms at the end
  (trend {trend["p99_ms_per_min"]} ms/min, limit {trend["limits"]["p99_ms_per_min"]})
- server RSS: {start["rss_mb"]} MB at the start, {end["rss_mb"]} MB at the end
  (trend {trend["rss_mb_per_min"]} MB/min, limit {trend["limits"]["rss_mb_per_min"]})
- verdict: {result["verdict"]}

| t (s) | acknowledged/s | p50 ms | p99 ms | RSS MB | not acknowledged |
|---|---|---|---|---|---|
{rows}
"""


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="how long to keep the load")
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per window")
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    parser.add_argument(
        "--model", default="auto", help="auto, default, keyword, none, or a model file"
    )
    parser.add_argument("--generator", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.generator:
        seconds = arguments.minutes * 60
        asyncio.run(
            _windows(arguments.url, arguments.key, arguments.rate, seconds, arguments.window)
        )
    else:
        outcome = main(arguments)
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "soak.json").write_text(json.dumps(outcome, indent=2) + "\n", encoding="utf-8")
        (RESULTS / "soak.md").write_text(markdown(outcome), encoding="utf-8")
        print(json.dumps(outcome["verdict"] | {"totals": outcome["totals"]}), file=sys.stderr)
        print(f"wrote {RESULTS / 'soak.json'} and soak.md", file=sys.stderr)
