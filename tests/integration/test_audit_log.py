"""The audit log: one hash chain, append-only in the application and in the database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from service_helpers import empty_tables
from sqlalchemy import Engine, delete, select, text, update
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlalchemy.orm import Session

from crisis_triage.governance import (
    GENESIS_HASH,
    AuditActor,
    audit_origin,
    hash_entry,
    record_audit,
    verify_chain,
)
from crisis_triage.storage import (
    AuditEntry,
    AuditLogIsAppendOnlyError,
    engine_keyring,
    make_engine,
    make_session_factory,
)

ALICE = AuditActor(kind="user", id=7, name="alice")


def _append(session: Session, n: int, actor: AuditActor = ALICE) -> list[int]:
    ids = []
    for i in range(n):
        entry = record_audit(
            session, "case.claim", actor=actor, case_id=i + 1, patient_id=f"p{i}", details={"n": i}
        )
        ids.append(entry.id)
    session.commit()
    return ids


def test_entries_form_a_chain_that_verifies(session: Session) -> None:
    token = audit_origin.set("203.0.113.9")
    try:
        _append(session, 3)
    finally:
        audit_origin.reset(token)
    entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert entries[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in entries[1:]] == [e.entry_hash for e in entries[:-1]]
    session.expire_all()  # recompute from what the database returns, not from memory
    keyring = engine_keyring(session.get_bind())
    assert all(hash_entry(e, keyring) == e.entry_hash for e in session.scalars(select(AuditEntry)))
    first = entries[0]
    assert (first.actor_kind, first.actor_id, first.actor_name) == ("user", 7, "alice")
    assert first.origin == "203.0.113.9" and first.details == {"n": 0}
    report = verify_chain(session)
    assert report.ok and report.entries == 3 and report.head_hash == entries[-1].entry_hash


def test_an_empty_log_verifies(session: Session) -> None:
    report = verify_chain(session)
    assert report.ok and report.entries == 0 and report.head_id is None


def test_details_refuse_free_text(session: Session) -> None:
    with pytest.raises(ValueError, match="too long"):
        record_audit(session, "message.read", actor=ALICE, details={"note": "x" * 200})
    with pytest.raises(TypeError):
        record_audit(session, "message.read", actor=ALICE, details={"list": [1]})  # type: ignore[dict-item]


def test_the_application_cannot_change_or_delete_entries(session: Session) -> None:
    [entry_id] = _append(session, 1)
    entry = session.get(AuditEntry, entry_id)
    assert entry is not None
    entry.action = "case.resolve"
    with pytest.raises(AuditLogIsAppendOnlyError):
        session.flush()
    session.rollback()
    session.delete(entry)
    with pytest.raises(AuditLogIsAppendOnlyError):
        session.flush()
    session.rollback()
    with pytest.raises(AuditLogIsAppendOnlyError):
        session.execute(update(AuditEntry).values(outcome="ok"))
    with pytest.raises(AuditLogIsAppendOnlyError):
        session.execute(delete(AuditEntry))
    session.rollback()
    assert verify_chain(session).entries == 1


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET action = 'case.resolve'", "DELETE FROM audit_log"],
)
def test_the_database_refuses_updates_and_deletes(engine: Engine, statement: str) -> None:
    with make_session_factory(engine)() as session:
        _append(session, 2)
    with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))
    with make_session_factory(engine)() as session:
        assert verify_chain(session).entries == 2


@pytest.mark.postgres
def test_postgres_refuses_truncate(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(text("TRUNCATE audit_log"))
    finally:
        engine.dispose()


def _tamper(engine: Engine, statement: str, **params: object) -> None:
    """Change the log behind the application's back, lifting the guard triggers for it."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            connection.execute(text(statement), params)
            connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
        else:
            triggers = connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            ).all()
            for name, _sql in triggers:
                connection.execute(text(f'DROP TRIGGER "{name}"'))
            connection.execute(text(statement), params)
            for _name, sql in triggers:
                connection.execute(text(sql))


def test_a_changed_entry_is_found(engine: Engine, session: Session) -> None:
    ids = _append(session, 5)
    _tamper(engine, "UPDATE audit_log SET patient_id = 'someone-else' WHERE id = :id", id=ids[2])
    session.expire_all()
    report = verify_chain(session)
    assert not report.ok and report.broken_id == ids[2] and "changed" in (report.problem or "")
    assert report.entries == 2 and report.head_id == ids[1]


def test_a_removed_entry_is_found_at_the_next(engine: Engine, session: Session) -> None:
    ids = _append(session, 5)
    _tamper(engine, "DELETE FROM audit_log WHERE id = :id", id=ids[1])
    session.expire_all()
    report = verify_chain(session)
    assert not report.ok and report.broken_id == ids[2] and "removed" in (report.problem or "")


def test_the_chain_cannot_fork(session: Session) -> None:
    [first] = _append(session, 1)
    entry = session.get(AuditEntry, first)
    assert entry is not None
    fork = AuditEntry(
        at=entry.at,
        actor_kind="user",
        actor_id=1,
        actor_name="mallory",
        action="case.claim",
        outcome="ok",
        prev_hash=GENESIS_HASH,
        key_id=entry.key_id,
    )
    fork.entry_hash = hash_entry(fork, engine_keyring(session.get_bind()))
    session.add(fork)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


@pytest.mark.postgres
def test_concurrent_writers_on_postgres_form_one_chain(postgres_url: str) -> None:
    engine = make_engine(postgres_url, pool_size=8)
    sessions = make_session_factory(engine)
    writers, each = 8, 15

    def write(worker: int) -> int:
        actor = AuditActor(kind="user", id=worker, name=f"writer{worker}")
        with sessions() as session:
            for i in range(each):
                record_audit(session, "message.read", actor=actor, case_id=i)
                if i % 3 == 2:
                    session.commit()  # some transactions hold several entries
            session.commit()
        return worker

    empty_tables(engine)
    try:
        with ThreadPoolExecutor(writers) as pool:
            assert sorted(pool.map(write, range(writers))) == list(range(writers))
        with sessions() as session:
            report = verify_chain(session)
        assert report.ok, report
        assert report.entries == writers * each
    finally:
        engine.dispose()
