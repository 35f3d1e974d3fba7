"""What language identification and the patient window add to ingest, with the bundled model.

Ingests N single messages (one request each, as the platform sends them) into a temporary
SQLite file, for patients who each already have ``--earlier`` messages inside the window, three
ways in turn, a few rounds, keeping the best of each:

- ``baseline``: language identification and the window switched off;
- ``language``: language identification on, window off;
- ``full``: both on (the default service).

Reports milliseconds per message (wall clock and CPU) and the added cost of each step, and the
cost of language identification alone per message.  Writes benchmarks/results/ingest_window.json.

    .venv/bin/python -m benchmarks.ingest_window [--n 300] [--earlier 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

from crisis_triage.detector import load_model
from crisis_triage.storage import KeyRing, generate_key_line, make_engine, make_session_factory
from crisis_triage.storage import upgrade as migrate
from crisis_triage.text import detect_language
from crisis_triage.triage import IncomingMessage, TriagePolicy, ingest

RESULTS = Path(__file__).resolve().parent / "results"
TEXTS = (
    "I have been feeling really low for weeks and I can't sleep at night",
    "Can I move my appointment to Tuesday afternoon please?",
    "my prescription ran out and the pharmacy says they need a new one",
    "I have been saving up my pills, I don't see the point any more",
    "thanks for calling me back yesterday, it helped a bit",
)


def _messages(run: str, patients: int, per_patient: int, start: datetime) -> list[IncomingMessage]:
    out = []
    for p in range(patients):
        for k in range(per_patient):
            out.append(
                IncomingMessage(
                    idempotency_key=f"{run}-{p}-{k}",
                    patient_id=f"{run}-patient-{p}",
                    sender="patient",
                    channel="sms",
                    sent_at=start + timedelta(minutes=10 * k),
                    text=TEXTS[(p + k) % len(TEXTS)],
                )
            )
    return out


def _switches(mode: str) -> AbstractContextManager[Any]:
    if mode == "baseline":
        unknown = mock.patch(
            "crisis_triage.detector._language.detect_language",
            return_value=detect_language(""),
        )
        return unknown
    return nullcontext()


def run_once(mode: str, n: int, earlier: int, round_no: int, scorer: Any) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(
            f"sqlite:///{Path(folder) / 'bench.db'}", keyring=KeyRing.parse(generate_key_line())
        )
        migrate(engine)
        window_hours = 72.0 if mode == "full" else 0.0
        policy = TriagePolicy(patient_window_hours=window_hours)
        patients = max(1, n // (earlier + 1))
        start = datetime.now(UTC) - timedelta(hours=24)
        history = _messages(f"h{round_no}", patients, earlier, start)
        new = [
            IncomingMessage(
                idempotency_key=f"n{round_no}-{p}",
                patient_id=f"h{round_no}-patient-{p}",
                sender="patient",
                channel="sms",
                sent_at=start + timedelta(hours=12),
                text="tonight is the night, I am ready",
            )
            for p in range(patients)
        ]
        factory = make_session_factory(engine)
        with _switches(mode), factory() as session:
            for item in history:  # the patients' earlier messages, not timed
                ingest(session, scorer, [item], TriagePolicy(patient_window_hours=0))
            wall, cpu = time.perf_counter(), time.process_time()
            for item in new:
                ingest(session, scorer, [item], policy)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        engine.dispose()
    return {"wall_ms": 1000 * wall / len(new), "cpu_ms": 1000 * cpu / len(new)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--earlier", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scorer = load_model()
    best: dict[str, dict[str, float]] = {}
    for round_no in range(args.rounds):
        for mode in ("baseline", "language", "full"):
            result = run_once(mode, args.n, args.earlier, round_no, scorer)
            if mode not in best or result["cpu_ms"] < best[mode]["cpu_ms"]:
                best[mode] = result
    texts = [t * 2 for t in TEXTS] * 200
    detect_language("warm up")
    started = time.perf_counter()
    for text in texts:
        detect_language(text)
    language_ms = 1000 * (time.perf_counter() - started) / len(texts)
    report = {
        "what": "ms per single-message ingest, bundled model, SQLite, encrypted text",
        "model": scorer.card_.get("model_id"),
        "earlier_messages_per_patient": args.earlier,
        "messages_timed_per_mode": max(1, args.n // (args.earlier + 1)),
        "best_of_rounds": args.rounds,
        "modes": {k: {m: round(v, 3) for m, v in r.items()} for k, r in best.items()},
        "language_id_ms_per_message": round(language_ms, 3),
        "added_cpu_ms": {
            "language": round(best["language"]["cpu_ms"] - best["baseline"]["cpu_ms"], 3),
            "window": round(best["full"]["cpu_ms"] - best["language"]["cpu_ms"], 3),
        },
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest_window.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
