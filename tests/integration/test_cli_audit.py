"""``crisis-triage audit verify`` and ``audit export`` against a real (SQLite) database."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.governance import AuditActor, record_audit
from crisis_triage.storage import make_engine, make_session_factory

SAM = AuditActor(kind="user", id=1, name="sam")
ANA = AuditActor(kind="user", id=2, name="ana")


@pytest.fixture
def audited_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated SQLite database holding four audit entries (ids 1 to 4)."""
    path = tmp_path / "audit.db"
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", f"sqlite:///{path}")
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    engine = make_engine(f"sqlite:///{path}")
    with make_session_factory(engine)() as session:
        record_audit(session, "auth.login", actor=SAM)
        record_audit(session, "message.read", actor=SAM, patient_id="p-1", case_id=1)
        record_audit(session, "case.claim", actor=SAM, patient_id="p-1", case_id=1)
        record_audit(session, "message.read", actor=ANA, patient_id="p-2", case_id=2)
        session.commit()
    engine.dispose()
    return path


def test_verify_passes_on_an_intact_log(audited_db: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "intact: 4 entries under key(s) dev; head entry 4 " in result.output


def test_verify_fails_at_the_tampered_entry(audited_db: Path) -> None:
    # A direct connection, as an attacker with the database file would use: the trigger is
    # dropped first, because it refuses the UPDATE otherwise.
    with sqlite3.connect(audited_db) as connection:
        connection.execute("DROP TRIGGER audit_log_no_update")
        connection.execute("UPDATE audit_log SET patient_id = 'p-9' WHERE id = 3")
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at entry 3" in result.output and "2 entries before it" in result.output


def test_the_trigger_refuses_a_direct_update(audited_db: Path) -> None:
    with sqlite3.connect(audited_db) as connection, pytest.raises(sqlite3.DatabaseError):
        connection.execute("UPDATE audit_log SET patient_id = 'p-9' WHERE id = 3")


def _export(*args: str) -> list[dict[str, object]]:
    result = CliRunner().invoke(app, ["audit", "export", *args])
    assert result.exit_code == 0, result.output
    output = Path(args[args.index("-o") + 1])
    return [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]


def test_export_filters_by_user_patient_action_and_time(audited_db: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "out.jsonl")
    assert [e["id"] for e in _export("--user", "sam", "-o", out)] == [1, 2, 3]
    assert [e["id"] for e in _export("--patient", "p-1", "-o", out)] == [2, 3]
    assert [e["id"] for e in _export("--action", "message.read", "-o", out)] == [2, 4]
    assert [e["id"] for e in _export("--action", "case.*", "-o", out)] == [3]
    assert _export("--until", "2000-01-01", "-o", out) == []
    everything = _export("--since", "2000-01-01T00:00:00+00:00", "-o", out)
    assert [e["id"] for e in everything][:4] == [1, 2, 3, 4]
    first = everything[0]
    assert first["actor_name"] == "sam" and str(first["at"]).endswith("+00:00")
    assert len(str(first["entry_hash"])) == 64


def test_export_is_itself_audited_and_the_chain_still_holds(
    audited_db: Path, tmp_path: Path
) -> None:
    _export("--patient", "p-2", "-o", str(tmp_path / "one.jsonl"))
    entries = _export("--action", "audit.export", "-o", str(tmp_path / "two.jsonl"))
    assert entries[0]["actor_kind"] == "cli"
    assert entries[0]["details"] == {"patient_id": "p-2", "entries": 1, "format": "jsonl"}
    assert CliRunner().invoke(app, ["audit", "verify"]).exit_code == 0


def test_export_writes_csv_for_a_csv_file(audited_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(app, ["audit", "export", "--user", "ana", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["id"], r["action"], r["patient_id"]) for r in rows] == [("4", "message.read", "p-2")]


def test_a_bad_time_is_a_clear_error(audited_db: Path, tmp_path: Path) -> None:
    args = ["audit", "export", "--since", "yesterday", "-o", str(tmp_path / "x.jsonl")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "ISO 8601" in result.output


def test_admin_commands_are_audited_as_the_command_line(audited_db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(
        app, ["users", "add", "bo", "--password-stdin"], input="a long enough password\n"
    )
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["apikeys", "create", "--name", "platform"]).exit_code == 0
    assert runner.invoke(app, ["apikeys", "revoke", "1"]).exit_code == 0
    entries = _export("--since", "2000-01-01", "-o", str(tmp_path / "all.jsonl"))
    changes = [(e["action"], e["actor_kind"]) for e in entries[4:]]
    assert changes == [("user.create", "cli"), ("apikey.create", "cli"), ("apikey.revoke", "cli")]
    assert all(str(e["actor_name"]).startswith("cli:") for e in entries[4:])


def _head() -> str:
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    entry_id, digest = result.output.split("head entry ")[1].split()[:2]
    return f"{entry_id}:{digest}"


def test_a_kept_head_detects_a_cut_chain(audited_db: Path) -> None:
    head = _head()
    assert head.startswith("4:")
    assert CliRunner().invoke(app, ["audit", "verify", "--head", head]).exit_code == 0
    # Removing the newest entries leaves a valid, shorter chain: only the kept head shows it.
    with sqlite3.connect(audited_db) as connection:
        connection.execute("DROP TRIGGER audit_log_no_delete")
        connection.execute("DELETE FROM audit_log WHERE id = 4")
    assert CliRunner().invoke(app, ["audit", "verify"]).exit_code == 0
    result = CliRunner().invoke(app, ["audit", "verify", "--head", head])
    assert result.exit_code == 1 and "entry 4 is gone" in result.output


def test_a_malformed_head_is_a_clear_error(audited_db: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "verify", "--head", "four"])
    assert result.exit_code == 2 and "ID:HASH" in result.output
