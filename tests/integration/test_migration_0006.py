"""Migration 0006 (language and patient window columns) up and down, with rows in the tables,
on SQLite and on a PostgreSQL schema of its own."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, insert, inspect, text

from crisis_triage.storage import (
    Case,
    Message,
    bind_rows,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    make_session_factory,
    upgrade,
    utcnow,
)

_MESSAGES = cast(Table, Message.__table__)
NEW_COLUMNS = {"language", "window_probability", "window_contributors"}


def _columns(engine: object) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("messages")}  # type: ignore[arg-type]


def test_0006_adds_and_removes_its_columns_keeping_the_rows(fresh_url: str) -> None:
    engine = make_engine(fresh_url)
    try:
        upgrade(engine, "0006")
        assert _columns(engine) >= NEW_COLUMNS
        with make_session_factory(engine)() as session:
            now = utcnow()
            # An insert naming only the columns of 0006: a Message object would name the
            # columns later revisions added.
            row = {
                "idempotency_key": "k",
                "request_sha256": "0" * 64,
                "patient_id": "p",
                "sender": "patient",
                "channel": "sms",
                "sent_at": now,
                "text": "secret words",
                "text_sha256": "0" * 64,
                "text_length": 12,
                "score_status": "scored",
                "language": "en",
                "window_probability": 0.8,
                "window_contributors": [{"message_id": 1, "case_id": 1, "drop": 0.5}],
            }
            message_id = session.scalars(insert(Message).values(row).returning(Message.id)).one()
            bind_rows(session.connection(), _MESSAGES, [{**row, "id": message_id}])
            session.add(Case(message_id=message_id, status="open", tier=0, sent_at=now, version=1))
            session.commit()
        downgrade(engine, "-1")
        assert not NEW_COLUMNS & _columns(engine)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 1
            assert connection.execute(text("SELECT count(*) FROM cases")).scalar() == 1
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with make_session_factory(engine)() as session:
            again = session.get(Message, message_id)
            assert again is not None and again.text == "secret words"
            assert again.language is None and again.window_probability is None
    finally:
        engine.dispose()
