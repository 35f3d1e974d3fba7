"""Helpers for the fault tests: a private PostgreSQL cluster, a real service process, a sender.

The shared PostgreSQL server on 127.0.0.1:5432 is never stopped: a test that needs to take the
database away starts a cluster of its own (``initdb`` + ``pg_ctl``, run as the ``postgres`` OS
user when we are root, in a temporary directory, on a free port) and stops that one.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CLI = Path(sys.executable).with_name("crisis-triage")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl live (Debian keeps them out of PATH), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


class PrivateCluster:
    """A throwaway PostgreSQL cluster that a test may stop and start at will."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="ct-faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:  # initdb refuses to run as root
            shutil.chown(self.root, user="postgres")
            self.root.chmod(0o700)

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N",
                  "-E", "UTF8")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "server.log"), "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class ServiceProcess:
    """``crisis-triage serve`` in a child process, with settings from the environment."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = os.environ | {"CRISIS_TRIAGE_WORKER_INTERVAL_SECONDS": "0.2"} | env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> None:
        command = [str(CLI), "serve", "--port", str(self.port), "--log-level", "warning"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("service did not start in time")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flush, as a crash or an OOM kill would be."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@dataclass
class Ledger:
    """What the sender saw: every key sent, and the status (or error) of each attempt."""

    sent: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    statuses: dict[str, int] = field(default_factory=dict)
    retry_after: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, key: str, outcome: str, reply: httpx.Response | None) -> None:
        with self.lock:
            self.statuses[outcome] = self.statuses.get(outcome, 0) + 1
            if reply is not None and 200 <= reply.status_code < 300:
                self.acknowledged.add(key)
            if reply is not None and reply.status_code == 503:
                self.retry_after.append(reply.headers.get("Retry-After", ""))

    def unacknowledged(self) -> list[str]:
        return [key for key in self.sent if key not in self.acknowledged]


def message_body(key: str, text: str = "Can I move my appointment to Thursday?") -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "patient_id": f"patient-{key}",
        "sender": "patient",
        "sent_at": "2026-01-05T10:00:00+00:00",
        "channel": "portal",
        "text": text,
    }


def send_all(
    base: str,
    api_key: str,
    keys: Iterable[str],
    ledger: Ledger,
    *,
    senders: int = 4,
    stop: threading.Event | None = None,
) -> None:
    """POST one message per key with ``senders`` concurrent clients, recording each outcome."""
    headers = {"Authorization": f"Bearer {api_key}"}

    def one(client: httpx.Client, key: str) -> None:
        if stop is not None and stop.is_set():
            return
        with ledger.lock:
            if key not in ledger.sent:
                ledger.sent.append(key)
        try:
            reply = client.post("/v1/messages", json=message_body(key), headers=headers)
        except httpx.HTTPError as exc:
            ledger.record(key, type(exc).__name__, None)
            return
        ledger.record(key, str(reply.status_code), reply)

    with (
        httpx.Client(base_url=base, timeout=10) as client,
        ThreadPoolExecutor(senders) as pool,
    ):
        for future in [pool.submit(one, client, key) for key in keys]:
            future.result()
