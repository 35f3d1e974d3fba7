"""The supervisor's early warning: rising daily risk and no open case, on SQLite and
PostgreSQL; the rule is stated on the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service_fakes import FakeScorer
from sqlalchemy import Engine, update

from crisis_triage.care import EARLY_WARNING_RULE, rising_risk
from crisis_triage.storage import Case, make_session_factory
from crisis_triage.triage import IncomingMessage, TriagePolicy, ingest

NOW = datetime(2027, 5, 10, 18, 0, tzinfo=UTC)
POLICY = TriagePolicy(patient_window_hours=0)
RISING = ("maybe I should end it", "I want to hurt myself", "I took an overdose")


def _write(engine: Engine, patient: str, texts: tuple[str, ...], *, resolve: bool) -> None:
    with make_session_factory(engine)() as session:
        for days_ago, text in zip(range(len(texts) - 1, -1, -1), texts, strict=True):
            incoming = IncomingMessage(
                idempotency_key=f"{patient}-{days_ago}",
                patient_id=patient,
                sender="patient",
                channel="sms",
                sent_at=NOW - timedelta(days=days_ago, hours=1),
                text=text,
            )
            [result] = ingest(session, FakeScorer(), [incoming], POLICY)
            if resolve:
                session.execute(
                    update(Case).where(Case.id == result.case_id).values(status="resolved")
                )
                session.commit()


def test_rising_risk_without_an_open_case_is_listed(engine: Engine) -> None:
    _write(engine, "p-rising", RISING, resolve=True)
    _write(engine, "p-watched", RISING, resolve=False)  # a case is open: someone is looking
    _write(engine, "p-falling", tuple(reversed(RISING)), resolve=True)
    _write(engine, "p-two-days", RISING[1:], resolve=True)
    with make_session_factory(engine)() as session:
        found = rising_risk(session, now=NOW)
    assert [r.patient_id for r in found] == ["p-rising"]
    assert [risk for _day, risk in found[0].days] == [0.7, 0.8, 0.97]
    assert "none of their cases is open" in EARLY_WARNING_RULE
