"""Each ciphertext is bound to its row (issue 15): swapped between two rows it is an integrity
error — logged without text, alerted, shown as such — never the other patient's text."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from privacy_helpers import engine_with, key_line, raw_values, secret_text, send, specialist, work
from service_helpers import Factory, settings_for
from sqlalchemy import Engine, select, text

from crisis_triage.governance import verify_chain
from crisis_triage.service import create_app
from crisis_triage.service._worker import Worker
from crisis_triage.storage import (
    INTEGRITY_ERROR_TEXT,
    Alert,
    Case,
    Message,
    downgrade,
    make_session_factory,
    upgrade,
)


def _swap(engine: Engine, table: str, column: str, first: int, second: int) -> None:
    """What someone with write access to the database does: exchange two stored values."""
    with engine.begin() as connection:
        a, b = (
            connection.execute(
                text(f"SELECT {column} FROM {table} WHERE id = :id"),  # noqa: S608
                {"id": row},
            ).scalar_one()
            for row in (first, second)
        )
        for row, value in ((first, b), (second, a)):
            connection.execute(
                text(f"UPDATE {table} SET {column} = :v WHERE id = :id"),  # noqa: S608
                {"v": value, "id": row},
            )


def test_swapped_message_texts_are_an_integrity_error_not_the_other_text(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    writer = engine_with(database_url, "k1")
    alice_text, bob_text = secret_text("alice"), secret_text("bob")
    with make_session_factory(writer)() as session:
        (alice_case,) = send(session, [alice_text], patient_id="alice")
        (bob_case,) = send(session, [bob_text], patient_id="bob")
        alice_message, bob_message = (
            session.get(Case, c).message_id for c in (alice_case, bob_case)
        )  # type: ignore[union-attr]
    _swap(writer, "messages", "text", alice_message, bob_message)
    writer.dispose()

    settings = settings_for(database_url, encryption_keys=key_line("k1"))
    app = create_app(settings, scorer=None)
    with TestClient(app) as client:
        state = client.app.state.service  # type: ignore[attr-defined]
        factory = Factory(make_session_factory(state.engine)())
        headers = factory.headers()
        reply = client.get(f"/v1/cases/{alice_case}", headers=headers)
        assert reply.status_code == 200, reply.text
        assert reply.json()["message"]["text"] == INTEGRITY_ERROR_TEXT
        assert bob_text not in reply.text and alice_text not in reply.text
        # Still in the queue, for a person to look at.
        queue = client.get("/v1/queue", headers=headers).json()["items"]
        assert alice_case in [item["case_id"] for item in queue]
        Worker(state).run_once()
        factory.session.close()
        with state.sessions() as session:
            alerts = list(session.scalars(select(Alert).where(Alert.kind == "operator")))
    assert [a.payload["row"] for a in alerts] == [alice_message]
    assert alerts[0].payload["column"] == "messages.text"
    assert f"messages.text row {alice_message}" in caplog.text
    assert "integrity error" in caplog.text
    assert bob_text not in caplog.text and alice_text not in caplog.text


def test_swapped_case_notes_are_an_integrity_error(database_url: str) -> None:
    engine = engine_with(database_url, "k1")
    with make_session_factory(engine)() as session:
        first, second = send(session, [secret_text("a"), secret_text("b")])
        actor = specialist(session)
        work(session, first, actor, secret_text("note a"))
        work(session, second, actor, secret_text("note b"))
    _swap(engine, "cases", "note", first, second)
    with make_session_factory(engine)() as session:
        notes = list(session.scalars(select(Case.note).order_by(Case.id)))
    engine.dispose()
    assert notes == [INTEGRITY_ERROR_TEXT, INTEGRITY_ERROR_TEXT]


def test_values_written_and_read_back_in_place_open(database_url: str) -> None:
    engine = engine_with(database_url, "k1")
    body, note = secret_text("body"), secret_text("note")
    with make_session_factory(engine)() as session:
        (case_id,) = send(session, [body])
        work(session, case_id, specialist(session), note)
    stored = raw_values(engine, "messages", "text")
    with make_session_factory(engine)() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.note == note
        assert session.scalar(select(Message.text)) == body
        assert verify_chain(session).ok  # the audit log was re-keyed down and up again
    engine.dispose()
    assert all(value.startswith("ct2:k1:") for value in stored)


def test_the_migration_binds_existing_values_and_going_back_unbinds_them(fresh_url: str) -> None:
    url = fresh_url
    engine = engine_with(url, "k1")
    upgrade(engine)
    body, note = secret_text("body"), secret_text("note")
    with make_session_factory(engine)() as session:
        (case_id,) = send(session, [body])
        work(session, case_id, specialist(session), note)
    downgrade(engine, "0006")  # the revision before 0007
    assert all(v.lstrip('"').startswith("ct1:k1:") for v in raw_values(engine, "messages", "text"))
    assert raw_values(engine, "cases", "note")[0].startswith("ct1:k1:")
    upgrade(engine)
    for table, column in (("messages", "text"), ("messages", "reasons"), ("cases", "note")):
        stored = raw_values(engine, table, column)
        assert stored and all(v.lstrip('"').startswith("ct2:k1:") for v in stored), table
    with make_session_factory(engine)() as session:
        case = session.get(Case, case_id)
        assert case is not None and case.note == note
        assert session.scalar(select(Message.text)) == body
        assert verify_chain(session).ok  # the audit log was re-keyed down and up again
    engine.dispose()
