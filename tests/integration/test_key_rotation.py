"""Key rotation: every value moves to the active key, nothing is lost, the service keeps writing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from privacy_helpers import engine_with, key_line, raw_values, secret_text, send, specialist, work
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.storage import Case, CaseEvent, Message, make_session_factory, rotate_keys
from crisis_triage.storage import upgrade as migrate

COLUMNS = [
    ("messages", "text"),
    ("messages", "reasons"),
    ("messages", "reason_items"),
    ("messages", "demographics"),
    ("cases", "note"),
    ("case_events", "note"),
    ("patient_replies", "text"),
]


def _key_ids(engine: Engine) -> set[str]:
    ids = set()
    for table, column in COLUMNS:
        for value in raw_values(engine, table, column):
            ids.add(value.lstrip('"').split(":", 2)[1] if "ct2:" in value else "plaintext")
    return ids


def _contents(session: Session) -> tuple[list[str], list[str | None], list[str | None]]:
    texts = list(session.scalars(select(Message.text).order_by(Message.id)))
    notes = list(session.scalars(select(Case.note).order_by(Case.id)))
    events = list(session.scalars(select(CaseEvent.note).order_by(CaseEvent.id)))
    session.rollback()
    return texts, notes, events


def _seed_under_old_key(url: str, count: int = 5) -> tuple[list[str], list[str | None]]:
    old = engine_with(url, "old")
    with make_session_factory(old)() as session:
        case_ids = send(session, [secret_text(str(i)) for i in range(count)])
        actor = specialist(session)
        for case_id in case_ids[:2]:
            work(session, case_id, actor, secret_text("note"))
        texts, notes, _events = _contents(session)
    old.dispose()
    return texts, notes


def test_rotation_moves_every_value_to_the_active_key_and_is_idempotent(
    database_url: str,
) -> None:
    texts, notes = _seed_under_old_key(database_url)
    engine = engine_with(database_url, "new", "old")
    assert _key_ids(engine) == {"old"}
    with engine.begin() as connection:  # and a row from before encryption existed
        connection.exec_driver_sql("UPDATE cases SET note = 'plain legacy note' WHERE id = 3")
    report = rotate_keys(engine, batch_size=2)
    assert report.active_key == "new"
    assert report.columns["messages.text"].rotated == 5
    assert report.columns["cases.note"].rotated == 3
    assert report.total("unreadable") == 0
    assert _key_ids(engine) == {"new"}
    with make_session_factory(engine)() as session:
        got_texts, got_notes, _events = _contents(session)
    assert got_texts == texts
    assert got_notes == [*notes[:2], "plain legacy note", None, None]
    again = rotate_keys(engine)
    assert again.total("rotated") == 0
    engine.dispose()
    # The old key can now be dropped.
    only_new = engine_with(database_url, "new")
    with make_session_factory(only_new)() as session:
        assert _contents(session)[0] == texts
    only_new.dispose()


def test_values_under_a_missing_key_are_counted_and_left_alone(database_url: str) -> None:
    _seed_under_old_key(database_url, count=2)
    engine = engine_with(database_url, "new")
    before = raw_values(engine, "messages", "text")
    report = rotate_keys(engine)
    assert report.columns["messages.text"].unreadable == 2
    assert report.total("rotated") == 0
    assert raw_values(engine, "messages", "text") == before
    engine.dispose()


def test_rotation_under_a_concurrent_writer_loses_nothing(database_url: str) -> None:
    """A service instance keeps ingesting and writing notes (still with the old key first, as
    one not yet restarted would) while rotation runs; a second pass finishes the job."""
    _seed_under_old_key(database_url, count=40)
    writer = engine_with(database_url, "old", "new")
    written: list[str] = []
    done = threading.Event()
    failures: list[BaseException] = []

    def keep_writing() -> None:
        try:
            with make_session_factory(writer)() as session:
                actor = specialist(session)
                while not done.is_set() or len(written) < 6:
                    body = secret_text("live")
                    (case_id,) = send(session, [body])
                    work(session, case_id, actor, body)
                    written.append(body)
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    engine = engine_with(database_url, "new", "old")
    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        first = rotate_keys(engine, batch_size=3)
    finally:
        done.set()
        thread.join(timeout=60)
    assert not failures
    assert first.total("rotated") >= 40
    rotate_keys(engine, batch_size=3)  # the writer's last rows were under "old"
    assert _key_ids(engine) == {"new"}
    with make_session_factory(engine)() as session:
        texts, notes, events = _contents(session)
    for body in written:
        assert body in texts and body in notes and events.count(body) == 2
    writer.dispose()
    engine.dispose()


@pytest.mark.postgres
def test_a_note_saved_between_read_and_rewrite_is_kept(postgres_url: str) -> None:
    """Compare-and-set: rotation never writes back a value someone changed meanwhile."""
    from service_helpers import empty_tables

    writer = engine_with(postgres_url, "old")
    empty_tables(writer)
    _seed_under_old_key(postgres_url, count=1)
    engine = engine_with(postgres_url, "new", "old")
    fresh_note = secret_text("saved meanwhile")
    interleaved: list[bool] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _specialist_saves_first(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if statement.startswith("UPDATE cases SET note") and not interleaved:
            interleaved.append(True)
            with make_session_factory(writer)() as session:
                session.scalars(select(Case)).one().note = fresh_note
                session.commit()

    report = rotate_keys(engine)
    assert report.columns["cases.note"].changed_meanwhile == 1
    with make_session_factory(engine)() as session:
        assert session.scalars(select(Case.note)).one() == fresh_note
    writer.dispose()
    engine.dispose()


def test_keys_generate_and_rotate_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", url)
    monkeypatch.setenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", key_line("old"))
    setup = engine_with(url, "old")
    migrate(setup)
    setup.dispose()
    _seed_under_old_key(url, count=3)
    runner = CliRunner()
    generated = runner.invoke(app, ["keys", "generate", "--id", "fresh"])
    assert generated.exit_code == 0, generated.output
    line = generated.output.strip()
    assert line.startswith("fresh:") and len(line.split(":")[1]) == 44
    missing = runner.invoke(app, ["keys", "rotate"], env={"CRISIS_TRIAGE_ENCRYPTION_KEYS": line})
    assert missing.exit_code == 1 and "cannot be decrypted" in missing.output
    both = f"{line},{key_line('old')}"
    rotated = runner.invoke(app, ["keys", "rotate"], env={"CRISIS_TRIAGE_ENCRYPTION_KEYS": both})
    assert rotated.exit_code == 0, rotated.output
    assert "messages.text" in rotated.output and "now under key fresh" in rotated.output
    bad = runner.invoke(app, ["keys", "rotate"], env={"CRISIS_TRIAGE_ENCRYPTION_KEYS": "x:y"})
    assert bad.exit_code == 2 and "base64" in bad.output
