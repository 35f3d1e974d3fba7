"""Message text and notes never reach the disk in plaintext: SQLite file and WAL, pg_dump."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from privacy_helpers import engine_with, key_line, raw_values, secret_text, send, specialist, work
from service_fakes import FakeScorer
from service_helpers import Factory, empty_tables, settings_for
from sqlalchemy import Engine, make_url, select

from crisis_triage.detector import Explanation
from crisis_triage.governance import AuditActor
from crisis_triage.lexicon import LexiconHit
from crisis_triage.service import create_app
from crisis_triage.storage import (
    INTEGRITY_ERROR_TEXT,
    UNREADABLE_TEXT,
    Message,
    make_session_factory,
    rotate_keys,
    upgrade,
)
from crisis_triage.triage import erase_patient, iter_labels, list_queue, purge_expired_text

LONG_AGO = datetime.now(UTC) - timedelta(days=100)
ENCRYPTED = [
    ("messages", "text"),
    ("messages", "reasons"),
    ("messages", "reason_items"),
    ("messages", "demographics"),
    ("cases", "note"),
    ("case_events", "note"),
    ("patient_replies", "text"),
]


def _seed(engine: Engine, patient: str) -> list[str]:
    """A flagged and a routine message, a worked case with notes; returns every secret."""
    secrets_written = [secret_text("crisis"), f"routine question {secret_text('routine')}"]
    note = f"spoke to them, safe now {secret_text('note')}"
    with make_session_factory(engine)() as session:
        case_ids = send(session, secrets_written, patient_id=patient)
        work(session, case_ids[0], specialist(session), note)
    return [*secrets_written, note]


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    path = tmp_path / "at-rest.db"
    url = f"sqlite:///{path}"
    engine = engine_with(url, "k1")
    upgrade(engine)
    engine.dispose()
    yield url, path


def test_the_sqlite_file_and_its_wal_hold_no_plaintext(sqlite_file: tuple[str, Path]) -> None:
    url, path = sqlite_file
    engine = engine_with(url, "k1")
    patient = "patient-marker-7f3a"
    written = _seed(engine, patient)
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    assert any(p.name.endswith("-wal") for p in files)  # read before the WAL is checkpointed
    raw = b"".join(p.read_bytes() for p in files)
    # The search works: an unencrypted column is found in the same bytes.
    assert patient.encode() in raw
    for secret in written:
        assert secret.encode() not in raw
        assert secret.split()[-1].encode() not in raw  # not even the unique fragment
    # ... and the stored values are envelopes that the application reads back.
    for table, column in ENCRYPTED:
        stored = raw_values(engine, table, column)
        assert stored and all(v.lstrip('"').startswith("ct2:k1:") for v in stored), table
    with make_session_factory(engine)() as session:
        texts = set(session.scalars(select(Message.text)))
    assert set(written[:2]) == texts
    engine.dispose()


def _file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))


def test_rewritten_and_purged_text_does_not_linger_in_the_sqlite_file(
    sqlite_file: tuple[str, Path],
) -> None:
    url, path = sqlite_file
    engine = engine_with(url, "k1")
    legacy = secret_text("legacy")
    with make_session_factory(engine)() as session:
        (case_id,) = send(session, [secret_text("purged")], sent_at=LONG_AGO)
        work(session, case_id, specialist(session), secret_text("note"), now=LONG_AGO)
        send(session, ["a routine message"])
    with engine.begin() as connection:  # a row from before encryption, on disk in plaintext
        connection.exec_driver_sql(
            "UPDATE messages SET text = ? WHERE id = (SELECT max(id) FROM messages)", (legacy,)
        )
    assert legacy.encode() in _file_bytes(path)
    envelope = raw_values(engine, "messages", "text")[0].split(":")[2]
    rotate_keys(engine)
    assert legacy.encode() not in _file_bytes(path)
    with make_session_factory(engine)() as session:
        assert purge_expired_text(session, days=30).messages == 1
    assert envelope[:24].encode() not in _file_bytes(path)
    engine.dispose()


@pytest.mark.postgres
def test_after_erasure_the_patient_id_is_left_only_in_the_audit_trail(
    sqlite_file: tuple[str, Path],
) -> None:
    """An attacker with the erased patient's id and the SQLite file (WAL too) finds it only on
    the audit trail's pages: the append-only record of who did what, kept by design
    (docs/privacy.md). Their texts and notes are nowhere, not even as old page images."""
    url, path = sqlite_file
    engine = engine_with(url, "k1")
    patient = "patient-marker-e1a5"
    written = _seed(engine, patient)
    with make_session_factory(engine)() as session:
        erase_patient(session, patient, actor=AuditActor.cli(), force=True)
    engine.dispose()
    files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
    raw = b"".join(p.read_bytes() for p in files if p != path)  # the WAL and shared memory
    assert patient.encode() not in raw
    database = path.read_bytes()
    for secret in written:
        assert secret.split()[-1].encode() not in database + raw
    with sqlite3.connect(path) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        owner = dict(connection.execute("SELECT pageno, name FROM dbstat").fetchall())
        audit_names = {
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE tbl_name = 'audit_log'"
            )
        }
    found = [m.start() for m in re.finditer(re.escape(patient.encode()), database)]
    assert found  # the search works: the audit trail keeps the id
    assert {owner.get(offset // page_size + 1) for offset in found} <= audit_names


def test_a_pg_dump_of_the_schema_holds_no_plaintext(postgres_url: str) -> None:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        if os.environ.get("CRISIS_TRIAGE_REQUIRE_POSTGRES") == "1":
            pytest.fail("pg_dump is not installed (apt-get install postgresql-client)")
        pytest.skip("pg_dump is not installed")
    engine = engine_with(postgres_url, "k1")
    empty_tables(engine)
    patient = "patient-marker-pg-91c2"
    written = _seed(engine, patient)
    engine.dispose()
    parsed = make_url(postgres_url)
    schema = str(parsed.query["options"]).split("search_path=", 1)[1]
    dump = subprocess.run(
        [
            pg_dump,
            "-h",
            parsed.host or "127.0.0.1",
            "-p",
            str(parsed.port or 5432),
            "-U",
            parsed.username or "postgres",
            "-n",
            schema,
            parsed.database or "test",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert patient.encode() in dump and b"ct2:k1:" in dump
    for secret in written:
        assert secret.split()[-1].encode() not in dump


def test_an_undecryptable_case_stays_in_the_queue_with_its_text_unavailable(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    writer = engine_with(database_url, "lost")
    with make_session_factory(writer)() as session:
        (case_id,) = send(session, [secret_text()])
    writer.dispose()
    # The service now runs with a key ring that lacks the key the message was written under.
    settings = settings_for(database_url, encryption_keys=key_line("other"))
    with TestClient(create_app(settings, scorer=None)) as client:
        factory = Factory(make_session_factory(client.app.state.service.engine)())  # type: ignore[attr-defined]
        headers = factory.headers()
        queue = client.get("/v1/queue", headers=headers)
        assert queue.status_code == 200
        assert [item["case_id"] for item in queue.json()["items"]] == [case_id]
        case = client.get(f"/v1/cases/{case_id}", headers=headers)
        assert case.status_code == 200, case.text
        assert case.json()["message"]["text"] == UNREADABLE_TEXT
        assert case.json()["message"]["reasons"] == [UNREADABLE_TEXT]
        factory.session.close()
    assert "key 'lost' is not in the key ring" in caplog.text
    assert "ct2:" not in caplog.text


def test_a_ciphertext_copied_into_another_column_does_not_open(database_url: str) -> None:
    engine = engine_with(database_url, "k1")
    with make_session_factory(engine)() as session:
        (case_id,) = send(session, [secret_text()])
        note = secret_text("note")
        work(session, case_id, specialist(session), note)
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE messages SET text = (SELECT note FROM cases)")
        assert session.scalar(select(Message.text)) == INTEGRITY_ERROR_TEXT
    engine.dispose()


def test_the_labels_export_leaves_out_text_it_cannot_decrypt(database_url: str) -> None:
    lost = engine_with(database_url, "lost")
    with make_session_factory(lost)() as session:
        (case_id,) = send(session, [secret_text("lost")])
        work(session, case_id, specialist(session), "n")
    lost.dispose()
    engine = engine_with(database_url, "k1")
    with make_session_factory(engine)() as session:
        (case_id,) = send(session, [secret_text("kept")])
        work(session, case_id, specialist(session), "n")
        texts = [t for chunk in iter_labels(session) for t in chunk["text"]]
    assert len(texts) == 1 and "kept" in texts[0]
    engine.dispose()


def test_plaintext_written_behind_the_applications_back_is_an_integrity_error(
    database_url: str,
) -> None:
    """Rows from before encryption are encrypted and bound by migration 0007; plaintext found
    later was put there by someone else and is not shown as the patient's message."""
    engine = engine_with(database_url, "k1")
    with make_session_factory(engine)() as session:
        (case_id,) = send(session, ["legacy row"])
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE messages SET text = 'written in plaintext'")
        items = list_queue(session)[0]
        assert [item.case_id for item in items] == [case_id]
        assert session.scalar(select(Message.text)) == INTEGRITY_ERROR_TEXT
    engine.dispose()


class QuotingScorer(FakeScorer):
    """Reasons that quote the message, as real ones do: its last word in a matched term and in
    a phrase (with apostrophes)."""

    def explain(self, texts: Sequence[str]) -> list[Explanation]:
        out = []
        for body in texts:
            word = body.split()[-1]
            hit = LexiconHit("si-x", "SI", f"i'm {word}", 0, len(word) + 4)
            out.append(Explanation(0.9, True, 0.5, ("SI",), (hit,), ((f"{word}'s", 1.2),)))
        return out


def test_reasons_quoting_the_text_are_encrypted_in_both_columns(
    sqlite_file: tuple[str, Path],
) -> None:
    url, path = sqlite_file
    engine = engine_with(url, "k1")
    body = secret_text("quoted")
    fragment = body.split()[-1]
    with make_session_factory(engine)() as session:
        send(session, [body], scorer=QuotingScorer())
    assert fragment.encode() not in _file_bytes(path)
    for column in ("reasons", "reason_items"):
        (stored,) = raw_values(engine, "messages", column)
        assert stored.lstrip('"').startswith("ct2:k1:"), column
    with make_session_factory(engine)() as session:
        message = session.scalars(select(Message)).one()
        assert message.reasons == [
            f"lexicon SI:si-x 'i'm {fragment}'",
            f"ngram '{fragment}'s' +1.20",
        ]
        assert message.reason_items is not None
        assert [item.get("term") for item in message.reason_items] == [
            f"i'm {fragment}",
            f"{fragment}'s",
        ]
    engine.dispose()


def test_reasons_copied_into_the_reason_items_column_do_not_open(database_url: str) -> None:
    """The items are sealed under their own associated data (``messages.reason_items``)."""
    engine = engine_with(database_url, "k1")
    with make_session_factory(engine)() as session:
        send(session, [secret_text()])
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE messages SET reason_items = reasons")
        assert session.scalar(select(Message.reasons)) == ["ngram 'end it' +1.50"]
        assert session.scalar(select(Message.reason_items)) is None  # not readable as items
    engine.dispose()
