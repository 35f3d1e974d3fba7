"""Retention and a patient's requests: what is purged or erased, what stays, what is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from privacy_helpers import engine_with, key_line, secret_text, send, specialist, work
from service_fakes import message
from service_helpers import Factory
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.governance import AuditActor
from crisis_triage.storage import (
    Alert,
    Case,
    CaseEvent,
    Message,
    PatientReply,
    WebhookDelivery,
    make_session_factory,
    upgrade,
)
from crisis_triage.triage import (
    ConflictError,
    Disposition,
    NotFoundError,
    Role,
    erase_patient,
    export_patient,
    iter_labels,
    purge_expired_text,
    response_times,
)

NOW = datetime.now(UTC)
LONG_AGO = NOW - timedelta(days=400)


@pytest.fixture
def db(database_url: str) -> Engine:
    engine = engine_with(database_url, "k1")
    yield engine  # type: ignore[misc]
    engine.dispose()


def _old_resolved_and_open(session: Session) -> tuple[list[int], list[int], list[str]]:
    """Two cases resolved 400 days ago, one resolved today, one still open (sent long ago)."""
    bodies = [secret_text(str(i)) for i in range(4)]
    case_ids = send(session, bodies, sent_at=LONG_AGO)
    actor = specialist(session)
    for case_id in case_ids[:2]:
        work(session, case_id, actor, secret_text("note"), now=LONG_AGO)
    work(session, case_ids[2], actor, secret_text("note"))
    return case_ids[:2], case_ids[2:], bodies


def _message_of(session: Session, case_id: int) -> Message:
    message = session.scalars(
        select(Message).join(Case, Case.message_id == Message.id).where(Case.id == case_id)
    ).one()
    return message


def test_retention_purges_text_of_old_resolved_cases_only(db: Engine) -> None:
    with make_session_factory(db)() as session:
        expired, kept, bodies = _old_resolved_and_open(session)
        before = response_times(session, days=500, now=NOW).to_dict()
        assert _message_of(session, expired[0]).reason_items  # there is something to purge
        dry = purge_expired_text(session, days=365, dry_run=True)
        assert (dry.messages, dry.case_notes, dry.event_notes) == (2, 2, 4)
        assert _message_of(session, expired[0]).text == bodies[0]
        report = purge_expired_text(session, days=365, actor=AuditActor.cli())
        assert (report.messages, report.case_notes, report.event_notes) == (2, 2, 4)
        assert report.replies == 2  # the auto-replies to the two flagged messages
        session.expire_all()
        for case_id in expired:
            message = _message_of(session, case_id)
            assert message.text == "" and message.reasons == []
            assert message.reason_items == []  # the reasons as data go with their strings
            assert message.text_purged_at is not None
            # Metadata and labels stay for metrics.
            assert message.text_length > 0 and message.probability is not None
            case = session.get(Case, case_id)
            assert case is not None and case.note is None and case.disposition is not None
            notes = session.scalars(select(CaseEvent.note).where(CaseEvent.case_id == case_id))
            assert set(notes) == {None}
        for case_id, body in zip(kept, bodies[2:], strict=True):
            assert _message_of(session, case_id).text == body
            assert _message_of(session, case_id).reason_items
            assert _message_of(session, case_id).text_purged_at is None
        assert response_times(session, days=500, now=NOW).to_dict() == before
        labelled = [row for chunk in iter_labels(session) for row in chunk["uid"]]
        assert len(labelled) == 1  # the purged ones have no text to learn from
        assert purge_expired_text(session, days=365).messages == 0


def test_cases_resolved_as_crises_can_be_kept_longer(db: Engine) -> None:
    with make_session_factory(db)() as session:
        crisis, routine = send(session, [secret_text("c"), secret_text("r")], sent_at=LONG_AGO)
        actor = specialist(session)
        work(session, crisis, actor, "n", disposition=Disposition.CONFIRMED_CRISIS, now=LONG_AGO)
        work(session, routine, actor, "n", disposition=Disposition.NOT_CRISIS, now=LONG_AGO)
        assert purge_expired_text(session, days=365, crisis_days=730).messages == 1
        assert _message_of(session, crisis).text_purged_at is None
        assert _message_of(session, routine).text_purged_at is not None
        assert purge_expired_text(session, days=365).messages == 1


def test_retention_never_purges_an_open_case(db: Engine) -> None:
    with make_session_factory(db)() as session:
        (case_id,) = send(session, [secret_text()], sent_at=LONG_AGO)
        work(session, case_id, specialist(session), secret_text("n"), resolve=False, now=LONG_AGO)
        assert purge_expired_text(session, days=1).messages == 0
        assert _message_of(session, case_id).text_purged_at is None


def test_export_holds_everything_about_the_patient_decrypted(db: Engine) -> None:
    with make_session_factory(db)() as session:
        mine = send(session, [secret_text("mine"), "routine"], patient_id="p-export")
        note = secret_text("note")
        work(session, mine[0], specialist(session), note)
        send(session, [secret_text("theirs")], patient_id="someone-else")
        exported = export_patient(session, "p-export", actor=AuditActor.cli())
        with pytest.raises(NotFoundError):
            export_patient(session, "nobody", actor=AuditActor.cli())
    assert exported["patient_id"] == "p-export"
    texts = [m["text"] for m in exported["messages"]]
    assert len(texts) == 2 and "routine" in texts and texts[0].startswith("I want to end it mine")
    # Each score traced to its model (FakeScorer's card names it), in the export too.
    assert {m["model_version"] for m in exported["messages"]} == {"fake-1"}
    first_case = exported["messages"][0]["case"]
    assert first_case["note"] == note
    assert [e["action"] for e in first_case["events"]] == ["claim", "acknowledge", "resolve"]
    assert exported["replies"][0]["text"].startswith("If you are in danger")
    # The reasons, as text and as the data stored beside it.
    assert exported["messages"][0]["reasons"] == ["ngram 'end it' +1.50"]
    assert exported["messages"][0]["reason_items"] == [
        {"kind": "ngram", "term": "end it", "weight": 1.5}
    ]
    assert "theirs" not in json.dumps(exported)


def test_erasure_removes_text_and_identity_and_keeps_deidentified_metrics(db: Engine) -> None:
    with make_session_factory(db)() as session:
        case_ids = send(session, [secret_text("a"), "routine"], patient_id="p-erase")
        work(session, case_ids[0], specialist(session), secret_text("note"))
        (other,) = send(session, [secret_text("other")], patient_id="p-keep")
        with pytest.raises(ConflictError, match="still open"):
            erase_patient(session, "p-erase", actor=AuditActor.cli())
        assert all(_message_of(session, case_id).reason_items for case_id in case_ids)
        report = erase_patient(session, "p-erase", actor=AuditActor.cli(), force=True)
        assert (report.messages, report.open_cases) == (2, 1)
        session.expire_all()
        assert not session.scalars(select(Message).where(Message.patient_id == "p-erase")).all()
        erased = session.scalars(
            select(Message).where(Message.patient_id == report.pseudonym)
        ).all()
        assert len(erased) == 2
        for message in erased:
            assert message.text == "" and message.demographics is None
            assert message.reasons == [] and message.reason_items == []
            assert "p-erase" not in message.idempotency_key
            assert message.text_sha256 == "0" * 64 and message.probability is not None
        assert session.get(Case, case_ids[0]).disposition is not None  # type: ignore[union-attr]
        payloads = [a.payload for a in session.scalars(select(Alert))]
        payloads += [d.payload for d in session.scalars(select(WebhookDelivery))]
        assert payloads and all(p.get("patient_id") != "p-erase" for p in payloads)
        replies = session.scalars(select(PatientReply.patient_id)).all()
        assert "p-erase" not in replies
        assert _message_of(session, other).patient_id == "p-keep"
        assert session.scalar(select(func.count()).select_from(Message)) == 3
        with pytest.raises(NotFoundError):
            erase_patient(session, "p-erase", actor=AuditActor.cli())


def test_retention_and_patient_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", url)
    monkeypatch.setenv("CRISIS_TRIAGE_ENCRYPTION_KEYS", key_line("k1"))
    engine = engine_with(url, "k1")
    upgrade(engine)
    with make_session_factory(engine)() as session:
        _old_resolved_and_open(session)
        send(session, [secret_text("p")], patient_id="p-cli")
    engine.dispose()
    runner = CliRunner()
    unset = runner.invoke(app, ["retention", "run"])
    assert unset.exit_code == 2 and "RETENTION_TEXT_DAYS" in unset.output
    dry = runner.invoke(
        app, ["retention", "run", "--dry-run"], env={"CRISIS_TRIAGE_RETENTION_TEXT_DAYS": "365"}
    )
    assert dry.exit_code == 0 and "would purge the text of 2 message(s)" in dry.output
    run = runner.invoke(app, ["retention", "run", "--days", "365"])
    assert run.exit_code == 0 and "purged the text of 2 message(s)" in run.output
    out = tmp_path / "p.json"
    exported = runner.invoke(app, ["patients", "export", "p-cli", "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    assert json.loads(out.read_text())["messages"][0]["text"].startswith("I want to end it p-")
    assert out.stat().st_mode & 0o077 == 0
    unconfirmed = runner.invoke(app, ["patients", "erase", "p-cli"])
    assert unconfirmed.exit_code == 2 and "--yes" in unconfirmed.output
    refused = runner.invoke(app, ["patients", "erase", "p-cli", "--yes"])
    assert refused.exit_code == 1 and "still open" in refused.output
    erased = runner.invoke(app, ["patients", "erase", "p-cli", "--yes", "--force"])
    assert erased.exit_code == 0 and "erased 1 message(s)" in erased.output
    assert "erased-" not in erased.output
    gone = runner.invoke(app, ["patients", "export", "p-cli", "-o", str(out)])
    assert gone.exit_code == 1


def test_admins_export_and_erase_over_http(
    client: TestClient, factory: Factory, platform: dict[str, str]
) -> None:
    body = secret_text("http")
    sent = client.post(
        "/v1/messages", json=message(patient_id="p-http", text=body), headers=platform
    )
    assert sent.status_code == 201, sent.text
    admin, specialist_headers = factory.headers(Role.ADMIN), factory.headers()
    assert client.get("/v1/patients/p-http/export", headers=specialist_headers).status_code == 403
    exported = client.get("/v1/patients/p-http/export", headers=admin)
    assert exported.status_code == 200 and exported.json()["messages"][0]["text"] == body
    missing = client.get("/v1/patients/nobody/export", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    refused = client.delete("/v1/patients/p-http", headers=admin)
    assert refused.status_code == 409 and body not in refused.text
    erased = client.delete("/v1/patients/p-http?force=true", headers=admin)
    assert erased.status_code == 200 and erased.json()["messages"] == 1
    assert "pseudonym" not in erased.json()
    case_id = sent.json()["case_id"]
    case = client.get(f"/v1/cases/{case_id}", headers=specialist_headers).json()
    assert case["message"]["text"] == "" and case["message"]["text_purged_at"]
