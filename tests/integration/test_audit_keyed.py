"""The audit chain is keyed (issue 15): rewriting it without the key, or cutting its tail
behind a checkpoint kept elsewhere, is found; the key rotates with the encryption keys."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from service_helpers import settings_for
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.governance import AuditActor, record_audit, verify_chain
from crisis_triage.service import create_app
from crisis_triage.service._worker import Worker
from crisis_triage.storage import (
    GENESIS_HASH,
    Checkpoint,
    downgrade,
    generate_key_line,
    make_engine,
    make_session_factory,
    upgrade,
)

SAM = AuditActor(kind="user", id=1, name="sam")
FIELDS = [
    "at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "origin",
    "action",
    "outcome",
    "patient_id",
    "case_id",
    "message_id",
    "details",
    "prev_hash",
    "key_id",
]


def _record(url: str, n: int) -> None:
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        for i in range(n):
            record_audit(session, "message.read", actor=SAM, patient_id=f"p-{i}", case_id=i)
        session.commit()
    engine.dispose()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A SQLite database with five audit entries (ids 1 to 5), keys from the environment."""
    path = tmp_path / "audit.db"
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", generate_key_line("k1"))
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    _record(f"sqlite:///{path}", 5)
    return path


def _verify(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify", *args])
    return result.exit_code, result.output


def _rechain_without_the_key(path: Path, edited_id: int) -> None:
    """What an attacker with the database file does: drop the guards, edit an entry, then
    recompute every hash from there with the unkeyed formula (SHA-256 of the canonical form)."""
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        for name in ("audit_log_no_update", "audit_log_no_delete"):
            connection.execute(f"DROP TRIGGER {name}")
        connection.execute("UPDATE audit_log SET patient_id = 'p-9' WHERE id = ?", (edited_id,))
        rows = connection.execute("SELECT * FROM audit_log ORDER BY id").fetchall()
        previous = GENESIS_HASH
        for row in rows:
            if row["id"] >= edited_id:
                document = {name: row[name] for name in FIELDS}
                at = datetime.fromisoformat(row["at"]).replace(tzinfo=UTC)
                document.update(v=2, at=at.isoformat(timespec="microseconds"), prev_hash=previous)
                document["details"] = json.loads(row["details"]) if row["details"] else None
                canonical = json.dumps(
                    document, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                )
                digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
                connection.execute(
                    "UPDATE audit_log SET prev_hash = ?, entry_hash = ? WHERE id = ?",
                    (previous, digest, row["id"]),
                )
                previous = digest
            else:
                previous = row["entry_hash"]


def test_an_intact_log_verifies_and_names_its_key(db: Path) -> None:
    code, output = _verify()
    assert code == 0, output
    assert "intact: 5 entries under key(s) k1" in output


def test_an_entry_edited_and_rechained_without_the_key_fails_at_that_entry(db: Path) -> None:
    _rechain_without_the_key(db, edited_id=3)
    code, output = _verify()
    assert code == 1
    assert "BROKEN at entry 3" in output and "re-chained without the key" in output
    assert "the 2 entries before it are intact" in output


def test_a_cut_tail_is_found_against_an_exported_checkpoint(db: Path, tmp_path: Path) -> None:
    kept = tmp_path / "elsewhere" / "checkpoints.jsonl"
    made = CliRunner().invoke(app, ["audit", "checkpoint", "-o", str(kept)])
    assert made.exit_code == 0, made.output
    assert "entry 5 of 5, key k1" in made.output
    assert _verify("--checkpoints", str(kept))[0] == 0
    with sqlite3.connect(db) as connection:
        connection.execute("DROP TRIGGER audit_log_no_delete")
        connection.execute("DELETE FROM audit_log WHERE id >= 4")
    assert _verify()[0] == 0  # a shorter chain is still a valid chain...
    code, output = _verify("--checkpoints", str(kept))
    assert code == 1  # ...but not the one the checkpoint saw
    assert "checkpoint of entry 5" in output and "gone (the log was cut short)" in output


def test_a_forged_checkpoint_is_refused(db: Path, tmp_path: Path) -> None:
    kept = tmp_path / "checkpoints.jsonl"
    assert CliRunner().invoke(app, ["audit", "checkpoint", "-o", str(kept)]).exit_code == 0
    checkpoint = json.loads(kept.read_text())
    checkpoint["entry_id"] = 2  # pretend the log was shorter when it was checked
    kept.write_text(json.dumps(checkpoint) + "\n")
    code, output = _verify("--checkpoints", str(kept))
    assert code == 1 and "signature does not hold" in output


def test_a_malformed_checkpoint_file_is_a_clear_error(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    code, output = _verify("--checkpoints", str(bad))
    assert code == 2 and "line 1" in output and "Traceback" not in output


def test_another_key_under_the_same_id_does_not_verify(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", generate_key_line("k1"))
    code, output = _verify()
    assert code == 1 and "BROKEN at entry 1" in output  # a different k1 is not the key


def test_entries_under_a_new_key_verify_beside_the_old_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rotated.db"
    url = f"sqlite:///{path}"
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", url)
    k1, k2 = generate_key_line("k1"), generate_key_line("k2")
    monkeypatch.setenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", k1)
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    _record(url, 2)
    monkeypatch.setenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", f"{k2},{k1}")  # k2 active, k1 kept
    _record(url, 2)
    code, output = _verify()
    assert code == 0 and "4 entries under key(s) k1, k2" in output
    monkeypatch.setenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", k2)  # k1 retired too early
    code, output = _verify()
    assert code == 1 and "BROKEN at entry 1" in output and "'k1' is not in the key ring" in output


def test_the_migration_keys_an_existing_unkeyed_log(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine)
    _record(f"sqlite:///{tmp_path / 'old.db'}", 3)
    downgrade(engine, "0004")  # back to the unkeyed SHA-256 chain of revision 0003
    with sqlite3.connect(tmp_path / "old.db") as connection:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(audit_log)")]
        triggers = connection.execute("SELECT count(*) FROM sqlite_master WHERE type='trigger'")
        assert "key_id" not in columns and triggers.fetchone()[0] == 2
    upgrade(engine)
    with make_session_factory(engine)() as session:
        report = verify_chain(session)
    engine.dispose()
    assert report.ok and report.entries == 3 and len(report.key_ids) == 1
    with sqlite3.connect(tmp_path / "old.db") as connection, pytest.raises(sqlite3.DatabaseError):
        connection.execute("DELETE FROM audit_log")  # the guards are back


def test_the_worker_publishes_checkpoints_to_a_file_and_a_webhook(db: Path, tmp_path: Path) -> None:
    got: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        got.append(request)
        return httpx.Response(200)

    kept = tmp_path / "elsewhere" / "checkpoints.jsonl"
    settings = settings_for(
        f"sqlite:///{db}",
        audit_checkpoint_minutes=60,
        audit_checkpoint_file=kept,
        webhook_urls=["http://hooks.example.test/audit"],
    )
    app = create_app(settings, scorer=None)
    state = app.state.service
    worker = Worker(
        state, transport=httpx.MockTransport(lambda r: got.append(r) or httpx.Response(200))
    )
    worker.run_once()
    worker.run_once()  # within the hour: no second checkpoint
    state.engine.dispose()
    [line] = kept.read_text().splitlines()
    checkpoint = Checkpoint.from_json(line)
    assert (checkpoint.entry_id, checkpoint.entries, checkpoint.key_id) == (5, 5, "k1")
    [request] = got
    assert request.headers["X-Crisis-Triage-Event"] == "audit.checkpoint"
    assert json.loads(request.content)["data"]["signature"] == checkpoint.signature
    assert _verify("--checkpoints", str(kept))[0] == 0
