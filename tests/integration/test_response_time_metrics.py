"""Response-time analytics, clinician PPV and the label export, from known case histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from service_fakes import FakeScorer
from service_helpers import Factory, settings_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from crisis_triage.cli import app as cli
from crisis_triage.service import create_app
from crisis_triage.storage import AuditEntry
from crisis_triage.triage import (
    Action,
    Actor,
    Disposition,
    IncomingMessage,
    Role,
    TriagePolicy,
    apply_action,
    ingest,
    response_times,
)

NOW = datetime.now(UTC).replace(microsecond=0)
SENT = NOW - timedelta(hours=3)


def _history(session: Session, factory: Factory) -> dict[str, int]:
    """Five messages with known waits: crises triaged after 2, 4 and 30 minutes, the rest after
    60 minutes and one still waiting; dispositions give PPV 2/3 and one missed crisis."""
    user = Actor(factory.user()[0], Role.SPECIALIST)
    sent = SENT
    plan = [
        ("crisis-a", "overdose", 2, Disposition.CONFIRMED_CRISIS, ("OD",)),
        ("crisis-b", "hurt myself", 4, Disposition.CONFIRMED_CRISIS, ("NSSI",)),
        ("crisis-c", "end it", 30, Disposition.NOT_CRISIS, ()),
        ("rest-a", "hello", 60, Disposition.MISSED_CRISIS, ("SI",)),
        ("rest-b", "thanks", None, None, ()),
    ]
    items = [IncomingMessage(key, "p", "patient", "sms", sent, text) for key, text, *_ in plan]
    results = ingest(session, FakeScorer(), items, TriagePolicy(), now=sent)
    ids = {}
    for (key, _text, minutes, disposition, types), result in zip(plan, results, strict=True):
        ids[key] = result.message_id
        if minutes is None:
            continue
        at = sent + timedelta(minutes=minutes)
        apply_action(session, result.case_id, Action.CLAIM, user, now=at)
        apply_action(
            session,
            result.case_id,
            Action.RESOLVE,
            user,
            disposition=disposition,
            crisis_types=types,
            note="done",
            now=at,
        )
        session.commit()
    return ids


def test_response_times_per_group_and_ppv(session: Session, factory: Factory) -> None:
    _history(session, factory)
    report = response_times(session, days=7, now=NOW)
    crisis, rest = report.overall["crisis"], report.overall["rest"]
    assert (crisis.messages, crisis.triaged, crisis.waiting) == (3, 3, 0)
    assert crisis.median_minutes == 4.0
    assert crisis.max_minutes == 30.0
    assert (rest.messages, rest.triaged, rest.waiting) == (2, 1, 1)
    assert rest.median_minutes == 60.0
    assert (report.ppv.resolved, report.ppv.confirmed, report.ppv.ppv) == (3, 2, 0.6667)
    assert report.ppv.ci_low is not None and report.ppv.ci_low < 0.6667 < (report.ppv.ci_high or 0)
    assert report.missed_crises == 1
    [day] = [d for d in report.days if d.crisis.messages]
    assert day.day == SENT.date() and day.crisis.median_minutes == 4.0


def test_the_metrics_endpoint_is_for_supervisors_and_metrics_keys(
    database_url: str, session: Session, factory: Factory
) -> None:
    _history(session, factory)
    with TestClient(create_app(settings_for(database_url), scorer=None)) as client:
        supervisor = client.get(
            "/v1/metrics/response-times?days=7", headers=factory.headers(Role.SUPERVISOR)
        )
        assert supervisor.status_code == 200, supervisor.text
        body = supervisor.json()
        assert body["overall"]["crisis"]["median_minutes"] == 4.0
        assert body["ppv"]["ppv"] == 0.6667
        key = factory.api_key("metrics:read")
        assert client.get("/v1/metrics/response-times", headers=key).status_code == 200
        specialist = factory.headers(Role.SPECIALIST)
        assert client.get("/v1/metrics/response-times", headers=specialist).status_code == 403
        assert "hello" not in supervisor.text


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_export_labels_writes_dispositions_as_training_rows(
    database_url: str,
    session: Session,
    factory: Factory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    suffix: str,
) -> None:
    ids = _history(session, factory)
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", database_url)
    out = tmp_path / f"labels.{suffix}"
    result = CliRunner().invoke(cli, ["export", "labels", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 4 labelled message(s)" in result.output
    frame = {"csv": pd.read_csv, "jsonl": lambda p: pd.read_json(p, lines=True)}.get(
        suffix, pd.read_parquet
    )(out)
    labels = dict(zip(frame["uid"], frame["crisis"], strict=True))
    assert labels == {
        f"triage:{ids['crisis-a']}": 1,
        f"triage:{ids['crisis-b']}": 1,
        f"triage:{ids['crisis-c']}": 0,
        f"triage:{ids['rest-a']}": 1,
    }
    assert set(frame["label_origin"]) == {"clinician_disposition"}
    assert set(frame["model_version"]) == {"fake-1"}  # the scorer's card names the model
    assert "hello" in set(frame["text"])
    audited = session.scalar(select(AuditEntry).where(AuditEntry.action == "labels.export"))
    assert audited is not None and audited.actor_kind == "cli"
    assert audited.details == {"entries": 4}


def test_report_and_export_commands(
    database_url: str,
    session: Session,
    factory: Factory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _history(session, factory)
    monkeypatch.setenv("CRISIS_TRIAGE_DATABASE_URL", database_url)
    runner = CliRunner()
    text = runner.invoke(cli, ["report", "response-times", "--days", "7"])
    assert text.exit_code == 0, text.output
    assert "clinician-confirmed PPV: 0.667 (2/3" in text.output
    as_json = runner.invoke(cli, ["report", "response-times", "--json"])
    assert '"median_minutes": 4.0' in as_json.output
    bad = runner.invoke(cli, ["export", "labels", "-o", str(tmp_path / "labels.xlsx")])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
