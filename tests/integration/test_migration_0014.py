"""Migration 0014 (messages.reason_items) up and down with rows in the tables, on SQLite and on a
PostgreSQL schema of its own: rows stored before it keep their reason strings and read as NULL
items; items stored after it are encrypted."""

from __future__ import annotations

from typing import cast

from privacy_helpers import raw_values
from sqlalchemy import Table, insert, inspect, select, text, update

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
OLD_REASONS = ["lexicon SI:si-not-live 'can't go on'", "ngram 'i'm' +0.52"]


def _columns(engine: object) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("messages")}  # type: ignore[arg-type]


def test_0014_adds_and_removes_reason_items_keeping_the_rows(fresh_url: str) -> None:
    engine = make_engine(fresh_url)
    try:
        upgrade(engine, "0013")
        assert "reason_items" not in _columns(engine)
        with make_session_factory(engine)() as session:
            now = utcnow()
            row = {
                "idempotency_key": "k",
                "request_sha256": "0" * 64,
                "patient_id": "p",
                "sender": "patient",
                "channel": "sms",
                "sent_at": now,
                "text": "I can't go on, i'm done",
                "text_sha256": "0" * 64,
                "text_length": 23,
                "score_status": "scored",
                "reasons": OLD_REASONS,
            }
            message_id = session.scalars(insert(Message).values(row).returning(Message.id)).one()
            bind_rows(session.connection(), _MESSAGES, [{**row, "id": message_id}])
            session.add(Case(message_id=message_id, status="open", tier=0, sent_at=now, version=1))
            session.commit()
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert "reason_items" in _columns(engine)
        items = [{"kind": "ngram", "term": "i'm", "weight": 0.52}]
        with make_session_factory(engine)() as session:
            old = session.get(Message, message_id)
            assert old is not None and old.reason_items is None  # stored before 0014
            assert old.reasons == OLD_REASONS
            old.reason_items = items
            session.commit()
        stored = raw_values(engine, "messages", "reason_items")
        assert len(stored) == 1 and stored[0].lstrip('"').startswith("ct2:")
        assert "i'm" not in stored[0]
        with make_session_factory(engine)() as session:
            assert session.scalar(select(Message.reason_items)) == items
        downgrade(engine, "-1")
        assert current_revision(engine) == "0013"
        assert "reason_items" not in _columns(engine)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM messages")).scalar() == 1
            assert connection.execute(text("SELECT count(*) FROM cases")).scalar() == 1
        upgrade(engine)
        with make_session_factory(engine)() as session:
            again = session.get(Message, message_id)
            assert again is not None and again.reason_items is None
            assert again.reasons == OLD_REASONS and again.text == "I can't go on, i'm done"
            # Still writable after the round trip.
            session.execute(update(Message).values(reason_items=[]))
            session.commit()
    finally:
        engine.dispose()
