"""`db backup` / `db restore` on SQLite, and the keys handled explicitly around them."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_fakes import FakeScorer, message
from service_helpers import Factory
from sqlalchemy import select, update
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.service import Settings, create_app
from crisis_triage.storage import (
    UNREADABLE_TEXT,
    AuditEntry,
    KeyRing,
    Message,
    check_keys,
    generate_key_line,
    make_engine,
    make_session_factory,
)

KEY = generate_key_line("site-2026")
TEXTS = [f"Backup marker message number {n}: I cannot cope any more" for n in range(5)]


def _use(monkeypatch: pytest.MonkeyPatch, database: Path, keys: str | None = KEY) -> str:
    url = f"sqlite:///{database}"
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", url)
    if keys is None:
        monkeypatch.delenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", raising=False)
    else:
        monkeypatch.setenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", keys)
    return url


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated database under KEY holding TEXTS (sent through the API)."""
    url = _use(monkeypatch, tmp_path / "live" / "triage.db")
    assert _run("db", "upgrade")[0] == 0
    settings = Settings(worker_enabled=False, load_model=False)
    engine = make_engine(url, keyring=settings.keyring())
    with make_session_factory(engine)() as session:
        platform = Factory(session).api_key("messages:write")
    engine.dispose()
    with TestClient(create_app(settings, scorer=FakeScorer())) as client:
        for text in TEXTS:
            reply = client.post("/v1/messages", json=message(text=text), headers=platform)
            assert reply.status_code == 201, reply.text
    return url


def _texts(url: str, keys: str = KEY) -> list[str]:
    engine = make_engine(url, keyring=KeyRing.parse(keys))
    with make_session_factory(engine)() as session:
        texts = list(session.scalars(select(Message.text).order_by(Message.id)))
        actions = set(session.scalars(select(AuditEntry.action)))
    engine.dispose()
    assert "db.backup" in actions
    return texts


def test_backup_then_restore_into_an_empty_directory_gives_back_every_message(
    live: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup = tmp_path / "backups" / "triage-backup.db"
    code, output = _run("db", "backup", str(backup))
    assert code == 0, output
    assert "site-2026 (15 values)" in output  # text, reasons and reason items of 5 messages
    assert "without them it is unreadable" in output
    assert backup.stat().st_mode & 0o077 == 0  # owner-only, like the key files

    restored = _use(monkeypatch, tmp_path / "empty" / "triage.db")
    code, output = _run("db", "restore", str(backup))
    assert code == 0, output
    assert _texts(restored) == TEXTS
    assert UNREADABLE_TEXT not in _texts(restored)
    code, output = _run("audit", "verify")  # the hash chain survived the copy and the restore
    assert code == 0, output
    code, output = _run("db", "check-keys")
    assert code == 0 and "the configured keys open it" in output


@pytest.mark.parametrize(
    "keys",
    [generate_key_line("other-key"), generate_key_line("site-2026")],
    ids=["a key id the data does not use", "the right key id with other key bytes"],
)
def test_restore_refuses_keys_that_do_not_open_the_backup(
    live: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: str
) -> None:
    backup = tmp_path / "backup.db"
    assert _run("db", "backup", str(backup))[0] == 0
    target = tmp_path / "empty" / "triage.db"
    _use(monkeypatch, target, keys=keys)
    code, output = _run("db", "restore", str(backup))
    assert code == 2
    assert "nothing restored" in output and "site-2026" in output
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_restore_without_configured_keys_is_refused_before_making_a_dev_key(
    live: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backup = tmp_path / "backup.db"
    assert _run("db", "backup", str(backup))[0] == 0
    target = tmp_path / "empty" / "triage.db"
    _use(monkeypatch, target, keys=None)
    code, output = _run("db", "restore", str(backup))
    assert code == 2 and "no encryption keys are configured" in output
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_nothing_stored_is_overwritten(live: str, tmp_path: Path) -> None:
    backup = tmp_path / "backup.db"
    backup.write_text("an older backup")
    code, output = _run("db", "backup", str(backup))
    assert code == 2 and "exists" in output
    assert backup.read_text() == "an older backup"
    fresh = tmp_path / "fresh.db"
    assert _run("db", "backup", str(fresh))[0] == 0
    code, output = _run("db", "restore", str(fresh))  # onto the live database itself
    assert code == 2 and "already holds a database" in output
    assert _texts(live) == TEXTS


def test_a_file_that_is_not_a_backup_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database at all")
    _use(monkeypatch, tmp_path / "empty" / "triage.db")
    code, output = _run("db", "restore", str(junk))
    assert code == 2 and "not a crisis-triage database backup" in output


def test_postgresql_is_pointed_to_pg_dump(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", "postgresql://triage@db.example/triage")
    monkeypatch.setenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", KEY)
    code, output = _run("db", "backup", str(tmp_path / "x.db"))
    assert code == 2 and "pg_dump" in output


def test_check_keys_names_what_is_missing(live: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", generate_key_line("new-key"))
    code, output = _run("db", "check-keys")
    assert code == 2 and "site-2026" in output and "not configured" in output
    # With the old key kept second (after a rotation starts), the data opens again.
    keys = generate_key_line("new-key") + "," + KEY
    engine = make_engine(live, keyring=KeyRing.parse(keys))
    check = check_keys(engine)
    engine.dispose()
    assert check.ok and check.values_by_key["site-2026"] >= len(TEXTS)


def test_check_keys_reads_the_reason_items_too(live: str) -> None:
    """Every encrypted column is checked: reason items written under a key nobody configured
    are named, even when every other value opens."""
    lost = make_engine(live, keyring=KeyRing.parse(generate_key_line("lost")))
    with make_session_factory(lost)() as session:
        session.execute(update(Message).values(reason_items=[{"kind": "note", "text": "x"}]))
        session.commit()
    lost.dispose()
    engine = make_engine(live, keyring=KeyRing.parse(KEY))
    check = check_keys(engine)
    engine.dispose()
    assert (check.missing, check.values_by_key["lost"]) == (["lost"], len(TEXTS))


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    import uvicorn

    calls: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: calls.append(target))
    return calls


def test_serve_refuses_to_start_when_the_keys_do_not_open_the_data(
    live: str, monkeypatch: pytest.MonkeyPatch, no_server: list[object]
) -> None:
    monkeypatch.setenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", generate_key_line("site-2026"))
    code, output = _run("serve")
    assert code == 2 and "do not open the stored message text" in output
    assert no_server == []
    monkeypatch.setenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", KEY)
    code, output = _run("serve")
    assert code == 0, output
    assert len(no_server) == 1 and "NO ENCRYPTION KEY" not in output


def test_serve_announces_a_development_key_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_server: list[object]
) -> None:
    database = tmp_path / "dev" / "triage.db"
    _use(monkeypatch, database, keys=None)
    code, output = _run("serve")
    assert code == 0, output
    assert "NO ENCRYPTION KEY IS CONFIGURED" in output
    assert f"{database}.dev-keys" in output.replace("\n", "")


@pytest.mark.parametrize("variable", ["CRISIS_TRIAGE_ENVIRONMENT", "CRISIS_TRIAGE_ENV"])
def test_production_refuses_to_generate_a_development_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_server: list[object], variable: str
) -> None:
    database = tmp_path / "prod" / "triage.db"
    _use(monkeypatch, database, keys=None)
    monkeypatch.setenv(variable, "production")
    monkeypatch.setenv("CRISIS_TRIAGE_SECRET_KEY", "a-real-secret-for-this-test-only")
    code, output = _run("serve")
    assert code == 2 and "CRISIS_TRIAGE_ENCRYPTION_KEYS" in output
    assert no_server == [] and not Path(f"{database}.dev-keys").exists()


@pytest.mark.parametrize("variable", ["CRISIS_TRIAGE_ENVIRONMENT", "CRISIS_TRIAGE_ENV"])
def test_production_refuses_a_development_key_made_earlier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_server: list[object], variable: str
) -> None:
    """A dev key left from a trial run is refused too, by `serve` and by the app factory."""
    database = tmp_path / "trial" / "triage.db"
    _use(monkeypatch, database, keys=None)
    assert _run("db", "upgrade")[0] == 0  # development: makes the dev key
    dev_key = Path(f"{database}.dev-keys")
    assert dev_key.is_file()
    monkeypatch.setenv(variable, "production")
    monkeypatch.setenv("CRISIS_TRIAGE_SECRET_KEY", "a-real-secret-for-this-test-only")
    code, output = _run("serve")
    assert code == 2 and "CRISIS_TRIAGE_ENCRYPTION_KEYS" in output
    assert no_server == []
    with pytest.raises(ValueError, match="CRISIS_TRIAGE_ENCRYPTION_KEY"):
        Settings(worker_enabled=False, load_model=False)
