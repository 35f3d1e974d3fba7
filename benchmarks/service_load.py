"""Load benchmark of the triage service on PostgreSQL, over loopback HTTP.

Measures, with a real server process (``crisis-triage serve``) and a load generator in a separate
process:

1. ingest latency at a fixed arrival rate (open loop, default 200 messages/s): time from sending
   ``POST /v1/messages`` to the reply, which comes only after the message and its case are
   committed (so this is ingest-to-queued latency); p50/p99, errors, and rows counted after;
2. sustained throughput: as fast as a fixed number of concurrent clients can go;
3. queue read with 10,000 open cases: ``GET /v1/queue`` latency.

Goals (issue 4): p99 < 50 ms at 200 msgs/s with zero errors and zero lost messages; queue read
under 50 ms.  Results go to benchmarks/results/service_load.json.

    python benchmarks/service_load.py [--rate 200] [--seconds 30] [--workers 1] [--model default]

Needs PostgreSQL at CRISIS_TRIAGE_BENCH_POSTGRES_URL (default: the local test database); works
in a schema of its own, dropped afterwards.  Message texts are synthetic (written here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import resource
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx
import numpy as np
from sqlalchemy import create_engine, func, select, text

from crisis_triage.accounts import create_api_key, create_user, issue_token
from crisis_triage.detector import Explanation
from crisis_triage.storage import Message, make_engine, make_session_factory, upgrade
from crisis_triage.triage import IncomingMessage, Role, TriagePolicy, ingest

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).resolve().parent / "results" / "service_load.json"
ROUTINE = [
    "Can I move my appointment on {day} to the afternoon? Work changed my shift.",
    "The pharmacy says my refill for {med} needs a new authorisation, can you send it?",
    "I have been sleeping better since we changed the dose, thank you for the help.",
    "My insurance card changed this month, where do I upload the new one?",
    "Is it normal to feel a bit dizzy in the first week of {med}? It is getting better.",
    "Running ten minutes late for the video visit on {day}, sorry!",
    "Could you send me the worksheet we talked about last session?",
]
CONCERNING = [
    "I don't see the point anymore and I keep thinking about ending my life.",
    "I took all of my {med} tonight and I feel really strange.",
    "My partner hit me again and I am scared to go home on {day}.",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
MEDS = ["sertraline", "lithium", "quetiapine", "bupropion"]


def synthetic_text(rng: random.Random) -> str:
    pool = CONCERNING if rng.random() < 0.02 else ROUTINE
    return rng.choice(pool).format(day=rng.choice(DAYS), med=rng.choice(MEDS))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    array = np.asarray(values)
    return {
        "p50": round(float(np.percentile(array, 50)), 2),
        "p90": round(float(np.percentile(array, 90)), 2),
        "p99": round(float(np.percentile(array, 99)), 2),
        "max": round(float(array.max()), 2),
        "mean": round(float(array.mean()), 2),
    }


# ---------------------------------------------------------------- load generator (own process)


def _body(run: str, index: int, rng: random.Random, channel: str) -> bytes:
    return json.dumps(
        {
            "idempotency_key": f"{run}-{index}",
            "patient_id": f"patient-{rng.randrange(5000)}",
            "sender": "patient",
            "sent_at": datetime.now(UTC).isoformat(),
            "channel": channel,
            "text": synthetic_text(rng),
        }
    ).encode()


async def _post(session: aiohttp.ClientSession, body: bytes, statuses: dict[str, int]) -> None:
    try:
        async with session.post("/v1/messages", data=body) as reply:
            await reply.read()
            status = str(reply.status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        status = type(exc).__name__
    statuses[status] = statuses.get(status, 0) + 1


def _client(url: str, key: str, connections: int) -> aiohttp.ClientSession:
    # Idle connections are dropped before the server's 5 s keep-alive timeout, so a request
    # never races the server closing its connection.
    return aiohttp.ClientSession(
        base_url=url,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=2),
        timeout=aiohttp.ClientTimeout(total=30),
    )


async def _open_loop(url: str, key: str, run: str, rate: float, seconds: float) -> dict[str, Any]:
    """Requests at fixed times (open loop): a slow reply does not delay the next request."""
    rng = random.Random(1)
    total = int(rate * seconds)
    latencies: list[float] = []
    lags: list[float] = []
    statuses: dict[str, int] = {}
    async with _client(url, key, 256) as session:

        async def one(index: int, due: float) -> None:
            body = _body(run, index, rng, "portal")
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            started = time.perf_counter()
            lags.append((started - due) * 1000)
            await _post(session, body, statuses)
            latencies.append((time.perf_counter() - started) * 1000)

        begin = time.perf_counter() + 0.5
        await asyncio.gather(*(one(i, begin + i / rate) for i in range(total)))
        elapsed = time.perf_counter() - begin
    return {
        "sent": total,
        "statuses": statuses,
        "elapsed_s": round(elapsed, 2),
        "achieved_rate": round(total / elapsed, 1),
        "latency_ms": _percentiles(latencies),
        "send_lag_ms": _percentiles(lags),
    }


async def _closed_loop(
    url: str, key: str, run: str, clients: int, seconds: float
) -> dict[str, Any]:
    """Each client sends its next message as soon as the last one is answered."""
    rng = random.Random(2)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    counter = iter(range(10**9))
    async with _client(url, key, clients) as session:
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < stop:
                body = _body(run, next(counter), rng, "sms")
                started = time.perf_counter()
                await _post(session, body, statuses)
                latencies.append((time.perf_counter() - started) * 1000)

        begin = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - begin
    sent = sum(statuses.values())
    return {
        "clients": clients,
        "sent": sent,
        "statuses": statuses,
        "elapsed_s": round(elapsed, 2),
        "throughput_per_s": round(sent / elapsed, 1),
        "stored_per_s": round(
            sum(v for k, v in statuses.items() if k in ("200", "201")) / elapsed, 1
        ),
        "latency_ms": _percentiles(latencies),
    }


def generator_main(args: argparse.Namespace) -> None:
    if args.generator == "open":
        result = asyncio.run(_open_loop(args.url, args.key, args.run, args.rate, args.seconds))
    else:
        result = asyncio.run(_closed_loop(args.url, args.key, args.run, args.clients, args.seconds))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    result["generator_cpu_ms_per_request"] = round(cpu * 1000 / max(1, result["sent"]), 2)
    print(json.dumps(result))


def run_generator(*extra: str) -> dict[str, Any]:
    command = [sys.executable, __file__, *extra]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=900)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ---------------------------------------------------------------- orchestration


def _schema_url(base: str, schema: str) -> str:
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options={quote(f'-csearch_path={schema}')}"


def _detector_available() -> bool:
    import importlib

    return hasattr(importlib.import_module("crisis_triage.detector"), "load_model")


def bench_app() -> Any:
    """The service with the stand-in scorer (``--model keyword``), for uvicorn's --factory."""
    from crisis_triage.service import Settings, create_app

    return create_app(Settings(), scorer=_KeywordScorer())


def _start_server(url: str, port: int, model: str, workers: int = 1) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "CRISIS_TRIAGE_DATABASE_URL": url,
        "CRISIS_TRIAGE_LOAD_MODEL": "false" if model == "none" else "true",
        "CRISIS_TRIAGE_WORKER_ENABLED": "true",
    }
    if model not in ("none", "default", "keyword"):
        env["CRISIS_TRIAGE_MODEL_PATH"] = model
    if model == "keyword":
        command = [sys.executable, "-m", "uvicorn", "service_load:bench_app", "--factory",
                   "--app-dir", str(Path(__file__).parent), "--port", str(port),
                   "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
    else:
        cli = Path(sys.executable).with_name("crisis-triage")
        command = [str(cli), "serve", "--port", str(port), "--workers", str(workers),
                   "--log-level", "warning"]  # fmt: skip
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 180  # each worker loads the model: slow on a busy machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    server.terminate()
    raise SystemExit("the service did not start")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its live descendants (Linux /proc): with
    ``--workers`` above 1 the requests are served by uvicorn's child processes."""
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except FileNotFoundError:  # it ended meanwhile
            continue
    return total


def _wait_until_idle(pid: int, seconds: float = 180) -> None:
    """Until the server uses under a tenth of a core: with several workers, the first answers
    /healthz while the others are still loading their models."""
    deadline = time.monotonic() + seconds
    before = _cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(2)
        now = _cpu_seconds(pid)
        if now - before < 0.2:
            return
        before = now


def _count(engine: Any, prefix: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.scalar(
                select(func.count())
                .select_from(Message)
                .where(Message.idempotency_key.like(f"{prefix}-%"))
            )
            or 0
        )


class _KeywordScorer:
    """A stand-in for the model when none is available: flags the synthetic crisis texts with a
    varied risk.  It costs next to nothing, so runs with it measure the service alone."""

    threshold_ = 0.5
    card_: dict[str, Any] = {"version": "bench-keyword"}  # noqa: RUF012

    def __init__(self) -> None:
        self.rng = random.Random(4)

    def explain(self, texts: Sequence[str]) -> list[Explanation]:
        out = []
        for text_ in texts:
            p = self.rng.uniform(0.5, 1.0) if text_ in _CONCERNING_TEXTS else 0.01
            out.append(Explanation(p, p >= 0.5, 0.5, ("SI",) if p >= 0.5 else (), (), ()))
        return out

    def predict_proba(self, texts: Sequence[str]) -> Any:
        raise NotImplementedError


_CONCERNING_TEXTS = {t.format(day=d, med=m) for t in CONCERNING for d in DAYS for m in MEDS}


def _seed_open_cases(sessions: Any, n: int) -> None:
    rng = random.Random(3)
    start = datetime.now(UTC) - timedelta(days=2)
    with sessions() as session:
        for batch in range(0, n, 500):
            items = [
                IncomingMessage(
                    f"seed-{i}",
                    f"patient-{rng.randrange(5000)}",
                    "patient",
                    "portal",
                    start + timedelta(seconds=i * 10),
                    synthetic_text(rng),
                )
                for i in range(batch, min(n, batch + 500))
            ]
            # every tenth batch unscored, as if the model had been down for a while
            scorer = None if batch % 5000 == 0 else _KeywordScorer()
            ingest(session, scorer, items, TriagePolicy())


def _queue_reads(url: str, token: str, limit: int, n: int = 200) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    latencies = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(n + 10):
            started = time.perf_counter()
            reply = client.get(f"/v1/queue?limit={limit}", headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            reply.raise_for_status()
            if i >= 10:
                latencies.append(elapsed)
        total = reply.json()["total"]
    return {
        "limit": limit,
        "open_cases": total,
        "requests": n,
        "latency_ms": _percentiles(latencies),
    }


def main(args: argparse.Namespace) -> None:
    base = os.environ.get("CRISIS_TRIAGE_BENCH_POSTGRES_URL", DEFAULT_PG)
    schema = f"ct_bench_{secrets.token_hex(4)}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _schema_url(base, schema)
    engine = make_engine(url)
    server = None
    if args.model == "auto":
        args.model = "default" if _detector_available() else "keyword"
    try:
        upgrade(engine)
        sessions = make_session_factory(engine)
        with sessions() as session:
            key, _ = create_api_key(session, "bench", ["messages:write"])
            user = create_user(session, "bench-reader", "bench-password", Role.SPECIALIST)
            token, _ = issue_token(session, user, ttl=timedelta(hours=2))
        port = _free_port()
        server = _start_server(url, port, args.model, args.workers)
        _wait_until_idle(server.pid)
        service = f"http://127.0.0.1:{port}"
        ready = httpx.get(f"{service}/readyz", timeout=5).json()
        model_loaded = ready.get("checks", {}).get("model") == "ok"
        print(f"service up on {service}; model loaded: {model_loaded}", file=sys.stderr)

        warm = run_generator(
            "--generator",
            "open",
            "--url",
            service,
            "--key",
            key,
            "--run",
            "warm",
            "--rate",
            str(args.rate),
            "--seconds",
            "5",
        )
        print(f"warm-up: {warm['statuses']}", file=sys.stderr)
        load_before = round(os.getloadavg()[0], 2)
        cpu_before = _cpu_seconds(server.pid)
        steady = run_generator("--generator", "open", "--url", service, "--key", key,
                               "--run", "steady", "--rate", str(args.rate),
                               "--seconds", str(args.seconds))  # fmt: skip
        stored = _count(engine, "steady")
        ok = sum(v for k, v in steady["statuses"].items() if k in ("200", "201"))
        steady |= {"rows_after": stored, "errors": steady["sent"] - ok, "lost": ok - stored}
        cpu_ms = (_cpu_seconds(server.pid) - cpu_before) * 1000
        steady["server_cpu_ms_per_message"] = round(cpu_ms / max(1, steady["sent"]), 2)
        steady["server_cpu_ms_per_stored_message"] = round(cpu_ms / max(1, ok), 2)
        print(f"steady: {json.dumps(steady)}", file=sys.stderr)

        cpu_before = _cpu_seconds(server.pid)
        burst = run_generator("--generator", "closed", "--url", service, "--key", key,
                              "--run", "burst", "--clients", str(args.clients),
                              "--seconds", str(min(args.seconds, 20)))  # fmt: skip
        cpu_ms = (_cpu_seconds(server.pid) - cpu_before) * 1000
        burst_ok = sum(v for k, v in burst["statuses"].items() if k in ("200", "201"))
        burst |= {"rows_after": _count(engine, "burst"), "errors": burst["sent"] - burst_ok}
        burst["server_cpu_ms_per_stored_message"] = round(cpu_ms / max(1, burst_ok), 2)
        print(f"throughput: {json.dumps(burst)}", file=sys.stderr)

        with engine.begin() as connection:  # queue read: exactly 10,000 open cases
            connection.execute(text("UPDATE cases SET status = 'resolved'"))
        _seed_open_cases(sessions, args.open_cases)
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        reads = [_queue_reads(service, token, limit) for limit in (50, 500)]
        print(f"queue reads: {json.dumps(reads)}", file=sys.stderr)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    goals = {
        "ingest_p99_under_50ms": (steady["latency_ms"]["p99"] or 1e9) < 50,
        "rate_sustained": steady["achieved_rate"] >= 0.97 * args.rate,
        "zero_errors": steady["errors"] == 0,
        "zero_lost": steady["lost"] == 0,
        "queue_read_p99_under_50ms": (reads[0]["latency_ms"]["p99"] or 1e9) < 50,
    }
    result = {
        "benchmark": "service_load",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m_before_steady": load_before,
            "load_average_1m": round(os.getloadavg()[0], 2),
            "note": args.note,
        },
        "setup": {
            "database": "postgresql (same machine, loopback)",
            "server": f"crisis-triage service, {args.workers} uvicorn worker process(es)",
            "generator": "aiohttp client in a separate process, open loop (fixed send times)",
            "model": args.model,
            "model_loaded": model_loaded,
            "rate_per_s": args.rate,
            "seconds": args.seconds,
        },
        "ingest_at_rate": steady,
        "throughput": burst,
        "queue_read": reads,
        "goals": goals,
        "all_goals_met": all(goals.values()),
    }
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    output.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(json.dumps(result["goals"]), file=sys.stderr)
    print(f"wrote {output} and {output.with_suffix('.md').name}", file=sys.stderr)


def markdown(result: dict[str, Any]) -> str:
    """A short human summary of one run (the JSON has everything)."""
    setup, machine = result["setup"], result["machine"]
    steady, burst = result["ingest_at_rate"], result["throughput"]
    lat = steady["latency_ms"]
    met = {True: "met", False: "**not met**"}
    lines = [
        "# Service load benchmark",
        "",
        f"Run {result['date']} by `python benchmarks/service_load.py` on {machine['cpus']} cores "
        f"(load average {machine['load_average_1m_before_steady']} before the steady phase, "
        f"{machine['load_average_1m']} at the end). {machine.get('note') or ''}".rstrip(),
        "",
        f"Setup: {setup['server']}; {setup['database']}; model `{setup['model']}` "
        f"(loaded: {setup['model_loaded']}); {setup['generator']}.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| offered rate | {setup['rate_per_s']:.0f} messages/s for {setup['seconds']:.0f} s |",
        f"| achieved send rate | {steady['achieved_rate']} /s |",
        f"| replies | {', '.join(f'{k}: {v}' for k, v in sorted(steady['statuses'].items()))} |",
        f"| errors (not 200/201) | {steady['errors']} |",
        f"| rows counted after / lost | {steady['rows_after']} / {steady['lost']} |",
        f"| latency p50 / p90 / p99 / max | {lat['p50']} / {lat['p90']} / {lat['p99']} / "
        f"{lat['max']} ms |",
        f"| server CPU per stored message | {steady['server_cpu_ms_per_stored_message']} ms |",
        f"| throughput, {burst['clients']} closed-loop clients | {burst['stored_per_s']} stored/s, "
        f"{burst['errors']} errors, p99 {burst['latency_ms']['p99']} ms, "
        f"{burst['server_cpu_ms_per_stored_message']} ms CPU per message |",
    ]
    for read in result["queue_read"]:
        q = read["latency_ms"]
        lines.append(
            f"| queue read, {read['open_cases']} open cases, limit {read['limit']} | "
            f"p50 {q['p50']} ms, p99 {q['p99']} ms |"
        )
    lines += ["", "Goals (issue 4):", ""]
    lines += [f"- {name}: {met[bool(ok)]}" for name, ok in result["goals"].items()]
    return "\n".join(lines) + "\n"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="steady phase length")
    parser.add_argument("--clients", type=int, default=16, help="clients in the throughput run")
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    parser.add_argument("--open-cases", type=int, default=10_000)
    parser.add_argument("--output", default=str(RESULTS), help="JSON file (Markdown beside it)")
    parser.add_argument("--note", default="", help="recorded with the results (machine state)")
    parser.add_argument(
        "--model",
        default="auto",
        help="auto (the bundled model if the detector can load one, else keyword), default, "
        "keyword (a stand-in scorer), none (unscored fallback), or a model file",
    )
    parser.add_argument("--generator", choices=["open", "closed"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.generator:
        generator_main(arguments)
    else:
        main(arguments)
