"""Daily monitoring on SQLite and PostgreSQL: the aggregates the worker keeps, one operator
alert (through the alert path) for a day whose scores shifted and none for an unshifted day,
the fallback reference, the API and the supervisor page's chart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from service_fakes import FakeScorer
from service_helpers import Factory, settings_for
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from web_helpers import log_in, make_client

from crisis_triage.detector import score_reference
from crisis_triage.monitoring import MonitoringPolicy, run_monitoring
from crisis_triage.service._deps import ServiceState
from crisis_triage.service._worker import Worker
from crisis_triage.storage import (
    Alert,
    Case,
    DailyMonitoring,
    Message,
    WebhookDelivery,
    make_session_factory,
)
from crisis_triage.triage import Disposition, Role, Tier, TriagePolicy

THRESHOLD = 0.1
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
QUIET_DAY, SHIFTED_DAY = date(2026, 11, 18), date(2026, 11, 19)
HOOK = "http://hooks.example/ops"
SECRET = "patient text that must never leave the messages table"


def _scores(seed: int, n: int, b: float = 30.0) -> np.ndarray:
    return np.random.default_rng(seed).beta(0.6, b, size=n)


CARD: dict[str, Any] = {
    "reference_scores": score_reference(_scores(0, 4000), THRESHOLD, source="dev oof")
}


def _add_day(session: Session, day: date, scores: np.ndarray, *, unscored: int = 0) -> None:
    """Messages received on ``day``: one per score (flagged at THRESHOLD), with cases, the
    first flagged one resolved as a confirmed crisis; ``unscored`` more without a score."""
    start = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
    values: list[float | None] = [float(s) for s in scores] + [None] * unscored
    messages = []
    for i, probability in enumerate(values):
        at = start + timedelta(seconds=20 * i)
        messages.append(
            Message(
                idempotency_key=f"{day}-{i}",
                request_sha256="0" * 64,
                patient_id=f"p{i % 50}",
                sender="patient",
                channel="sms",
                sent_at=at,
                received_at=at,
                text=SECRET,
                text_sha256="0" * 64,
                text_length=len(SECRET),
                score_status="scored" if probability is not None else "unscored",
                probability=probability,
                flagged=None if probability is None else probability >= THRESHOLD,
                threshold=THRESHOLD,
                model_version="model@abc",
                language="es" if i % 5 == 0 else "en",
            )
        )
    session.add_all(messages)
    session.flush()
    confirmed = False
    for message in messages:
        tier = Tier.CRISIS if message.flagged else Tier.ROUTINE
        if message.probability is None:
            tier = Tier.REVIEW_NOW
        disposition = None
        if message.flagged and not confirmed:
            disposition, confirmed = Disposition.CONFIRMED_CRISIS.value, True
        session.add(
            Case(
                message_id=message.id,
                status="resolved" if disposition else "open",
                tier=tier,
                risk=message.probability or 0.0,
                sent_at=message.sent_at,
                disposition=disposition,
                version=1,
            )
        )
    session.commit()


def _operator_alerts(session: Session) -> list[Alert]:
    return list(session.scalars(select(Alert).where(Alert.kind == "operator").order_by(Alert.id)))


def test_alert_fires_for_the_shifted_day_only_and_once(session: Session) -> None:
    _add_day(session, QUIET_DAY, _scores(7, 300), unscored=12)
    _add_day(session, SHIFTED_DAY, _scores(8, 300, b=8.0))
    policy = TriagePolicy(webhook_urls=(HOOK,))
    rows = run_monitoring(
        session, policy, MonitoringPolicy(), card=CARD, threshold=THRESHOLD, now=NOW
    )
    by_day = {row.day: row for row in rows}
    quiet, shifted = by_day[QUIET_DAY], by_day[SHIFTED_DAY]
    assert quiet.complete and quiet.drift_alerted_at is None
    assert quiet.psi is not None and quiet.psi < 0.1
    assert shifted.drift_alerted_at is not None
    assert shifted.psi is not None and shifted.psi > 0.25
    alerts = _operator_alerts(session)
    assert len(alerts) == 1
    payload = alerts[0].payload
    assert payload["reason"] == "score_drift" and payload["day"] == SHIFTED_DAY.isoformat()
    deliveries = list(session.scalars(select(WebhookDelivery)))
    assert [d.event for d in deliveries] == ["alert.operator"]
    assert SECRET not in str(payload) + str(deliveries[0].payload) + alerts[0].summary
    # The next round recomputes the days but raises nothing new.
    run_monitoring(session, policy, MonitoringPolicy(), card=CARD, threshold=THRESHOLD, now=NOW)
    assert len(_operator_alerts(session)) == 1


def test_daily_aggregates_count_what_the_service_saw(session: Session) -> None:
    scores = _scores(7, 300)
    _add_day(session, QUIET_DAY, scores, unscored=12)
    run_monitoring(
        session, TriagePolicy(), MonitoringPolicy(), card=CARD, threshold=THRESHOLD, now=NOW
    )
    session.expire_all()
    row = session.get(DailyMonitoring, QUIET_DAY)
    assert row is not None
    assert (row.messages, row.scored, row.unscored) == (312, 300, 12)
    assert row.flagged == int((scores >= THRESHOLD).sum())
    assert sum(row.score_histogram) == 300
    assert row.languages == {"es": 63, "en": 249}
    assert (row.ppv_resolved, row.ppv_confirmed) == (1, 1)
    assert row.model_version == "model@abc"
    assert row.reference_source == "model card: dev oof"
    today = session.get(DailyMonitoring, NOW.date())
    assert today is not None and not today.complete and today.messages == 0


def test_without_a_card_reference_the_first_days_are_the_reference(session: Session) -> None:
    _add_day(session, QUIET_DAY, _scores(7, 300))
    _add_day(session, SHIFTED_DAY, _scores(8, 300, b=8.0))
    policy = MonitoringPolicy(baseline_days=1)
    rows = run_monitoring(session, TriagePolicy(), policy, card={}, threshold=THRESHOLD, now=NOW)
    shifted = next(r for r in rows if r.day == SHIFTED_DAY)
    assert shifted.reference_source is not None and "first 1 days" in shifted.reference_source
    assert shifted.drift_alerted_at is not None
    assert len(_operator_alerts(session)) == 1


def test_no_reference_yet_means_aggregates_without_drift(session: Session) -> None:
    _add_day(session, SHIFTED_DAY, _scores(8, 300, b=8.0))
    rows = run_monitoring(
        session, TriagePolicy(), MonitoringPolicy(), card={}, threshold=THRESHOLD, now=NOW
    )
    shifted = next(r for r in rows if r.day == SHIFTED_DAY)
    assert shifted.psi is None and shifted.messages == 300
    assert _operator_alerts(session) == []


def test_the_worker_keeps_the_aggregates(engine: Engine, database_url: str) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session:
        _add_day(session, SHIFTED_DAY, _scores(8, 300, b=8.0))
    settings = settings_for(database_url)
    scorer = FakeScorer()
    scorer.card_ = CARD
    state = ServiceState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        policy=settings.policy(),
        scorer=scorer,
    )
    Worker(state).run_once(now=NOW)
    with sessions() as session:
        assert session.get(DailyMonitoring, SHIFTED_DAY) is not None
        assert len(_operator_alerts(session)) == 1


def test_api_and_supervisor_page_show_the_days(
    client: TestClient, factory: Factory, session: Session, database_url: str
) -> None:
    today = datetime.now(UTC).date()
    _add_day(session, today - timedelta(days=1), _scores(7, 250))
    run_monitoring(
        session,
        TriagePolicy(),
        MonitoringPolicy(),
        card=CARD,
        threshold=THRESHOLD,
        now=datetime.now(UTC),
    )
    supervisor = factory.headers(Role.SUPERVISOR)
    reply = client.get("/v1/metrics/monitoring?days=3", headers=supervisor)
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert len(body["score_bin_edges"]) == len(body["days"][0]["score_histogram"]) + 1
    yesterday = body["days"][-2]
    assert yesterday["scored"] == 250 and yesterday["psi"] is not None
    assert client.get("/v1/metrics/monitoring", headers=factory.headers()).status_code == 403
    factory.user(Role.SUPERVISOR, name="sue")
    with make_client(database_url) as web:
        page = log_in(web, "sue").get("/supervisor")
    assert page.status_code == 200
    assert 'id="drift-chart-title"' in page.text
    assert 'class="line-crisis-dot"' in page.text  # yesterday's flag rate on the chart
    assert yesterday["day"] in page.text and "model card: dev oof" in page.text
