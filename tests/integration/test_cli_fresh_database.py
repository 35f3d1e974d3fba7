"""Every documented command that uses the database works on an empty data directory (issue 15).

The embedded SQLite database is created and migrated on first use; a PostgreSQL database is
never migrated behind its operator's back: it needs ``crisis-triage db upgrade`` first.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from conftest import _with_schema, postgres_base_url
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from crisis_triage.cli import app

PASSWORD = "a long enough password\n"
NO_PATIENT = "no messages are stored for this patient"

# The README's commands that use the database, in its order; the refusal each may rightly give.
DOCUMENTED = [
    (["users", "add", "alice", "--role", "specialist", "--password-stdin"], PASSWORD, ""),
    (["users", "list"], "", ""),
    (["apikeys", "create", "--name", "platform"], "", ""),
    (["apikeys", "list"], "", ""),
    (["report", "response-times", "--days", "30"], "", ""),
    (["export", "labels", "-o", "{tmp}/labels.csv"], "", ""),
    (["keys", "rotate"], "", ""),
    (["retention", "run", "--days", "365", "--dry-run"], "", ""),
    (["patients", "export", "patient-42", "-o", "{tmp}/patient.json"], "", NO_PATIENT),
    (["patients", "erase", "patient-42", "--yes"], "", NO_PATIENT),
    (["audit", "verify"], "", ""),
    (["audit", "export", "--patient", "patient-42", "-o", "{tmp}/audit.jsonl"], "", ""),
    (["models", "list"], "", ""),
]


@pytest.fixture
def empty_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user data directory with nothing in it, and no database URL configured."""
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.delenv("CRISIS_TRIAGE_DATABASE_URL", raising=False)
    for name in ("CRISIS_TRIAGE_ENCRYPTION_KEYS", "CRISIS_TRIAGE_ENCRYPTION_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    return data


@pytest.mark.parametrize(
    ("args", "stdin", "refusal"), DOCUMENTED, ids=[" ".join(d[0][:2]) for d in DOCUMENTED]
)
def test_each_documented_command_creates_the_default_database(
    empty_data_dir: Path, tmp_path: Path, args: list[str], stdin: str, refusal: str
) -> None:
    """Each runs to its own answer (an unknown patient is refused as such), not to a schema
    error."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(app, args, input=stdin)
    assert result.exit_code == (1 if refusal else 0), result.output
    assert refusal in result.output
    assert "db upgrade" not in result.output
    assert list(empty_data_dir.rglob("crisis-triage.db")), "the default database was not created"


def test_users_add_then_serve_on_a_fresh_machine_without_db_upgrade(
    empty_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's dashboard section, in its order: ``users add`` before ``serve``."""
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *_args, **_kwargs: None)
    runner = CliRunner()
    added = runner.invoke(app, ["users", "add", "alice", "--password-stdin"], input=PASSWORD)
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["serve"]).exit_code == 0
    listed = runner.invoke(app, ["users", "list"])
    assert "alice" in listed.output


def test_a_sqlite_url_anywhere_is_created_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", f"sqlite:///{tmp_path / 'deep' / 'x.db'}")
    result = CliRunner().invoke(app, ["users", "list"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "deep" / "x.db").exists()


@pytest.mark.postgres
def test_postgres_is_never_migrated_implicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    base = postgres_base_url()
    schema = f"ct_fresh_{secrets.token_hex(4)}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL not reachable: {type(exc).__name__}")
    try:
        monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", _with_schema(base, schema))
        result = CliRunner().invoke(app, ["users", "list"])
        assert result.exit_code == 1
        assert "crisis-triage db upgrade" in result.output
        with admin.connect() as connection:
            tables = connection.execute(
                text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
                {"s": schema},
            ).scalar_one()
        assert tables == 0
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
