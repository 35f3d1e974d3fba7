"""The semantic tier: fast scores at ingest, final scores from the background worker.

Every test runs on SQLite and PostgreSQL, with a fake two-tier scorer (tests/service_fakes.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_fakes import FailingFastScorer, FakeScorer, TwoTierScorer, message, rendered_items
from service_helpers import Factory, settings_for
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from crisis_triage.service import create_app
from crisis_triage.storage import (
    Alert,
    AuditEntry,
    Case,
    Message,
    make_engine,
    make_session_factory,
    utcnow,
)
from crisis_triage.triage import (
    IncomingMessage,
    Tier,
    TriagePolicy,
    ingest,
    rescore_pending,
    semantic_backlog,
)
from crisis_triage.triage._retention import purge_message_text

ROUTINE_TEXT = "Can I move my appointment to Tuesday please?"
HIDDEN_CRISIS_TEXT = "I gave my dog away, tonight is the night"
FIGURE_TEXT = "This heat is an overdose of sunshine for me"
FLAGGED_TEXT = "I took an overdose of my sleeping pills"


@pytest.fixture
def scorer() -> TwoTierScorer:
    return TwoTierScorer()


@pytest.fixture
def staff(factory: Factory) -> dict[str, str]:
    return factory.headers()


def _send(client: TestClient, headers: dict[str, str], text: str) -> dict[str, Any]:
    reply = client.post("/v1/messages", json=message(text=text), headers=headers)
    assert reply.status_code == 201, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _case(client: TestClient, headers: dict[str, str], case_id: int) -> dict[str, Any]:
    reply = client.get(f"/v1/cases/{case_id}", headers=headers)
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _rescore(client: TestClient, **kwargs: Any) -> Any:
    return client.app.state.semantic_worker.run_once(**kwargs)  # type: ignore[attr-defined]


def _crisis_alerts(session: Session, message_id: int) -> int:
    session.expire_all()
    alerts = session.scalars(
        select(Alert).where(Alert.kind == "crisis", Alert.message_id == message_id)
    )
    return len(list(alerts))


def test_a_message_goes_from_fast_to_final_and_the_read_is_audited(
    client: TestClient,
    platform: dict[str, str],
    staff: dict[str, str],
    scorer: TwoTierScorer,
    session: Session,
) -> None:
    sent = _send(client, platform, ROUTINE_TEXT)
    assert sent["score_tier"] == "fast"
    assert scorer.fast_calls == 1 and scorer.final_calls == 0
    case = _case(client, staff, sent["case_id"])
    assert case["message"]["score_tier"] == "fast"
    assert case["message"]["final_scoring"] == "pending"
    health = client.get("/healthz").json()
    assert health["semantic"]["mode"] == "two_tier" and health["semantic"]["available"] is True
    assert health["semantic"]["backlog"] == 1
    assert health["semantic"]["oldest_pending_seconds"] >= 0

    report = _rescore(client)

    assert (report.leased, report.finalised) == (1, 1)
    case = _case(client, staff, sent["case_id"])
    assert case["message"]["score_tier"] == "final"
    assert case["message"]["final_scoring"] == "done"
    assert case["message"]["final_scored_at"] is not None
    assert client.get("/healthz").json()["semantic"]["backlog"] == 0
    reads = session.scalars(
        select(AuditEntry).where(
            AuditEntry.actor_kind == "system", AuditEntry.action == "message.read"
        )
    ).all()
    assert len(reads) == 1
    assert reads[0].details == {
        "purpose": "semantic_rescore",
        "count": 1,
        "message_ids": str(sent["id"]),
    }
    assert _rescore(client).leased == 0  # nothing is scored twice


def test_crossing_the_threshold_in_the_final_tier_raises_exactly_one_alert(
    client: TestClient,
    platform: dict[str, str],
    staff: dict[str, str],
    session: Session,
) -> None:
    hidden = _send(client, platform, HIDDEN_CRISIS_TEXT)
    flagged = _send(client, platform, FLAGGED_TEXT)
    routine = _send(client, platform, ROUTINE_TEXT)
    assert hidden["flagged"] is False and hidden["priority"] == "routine"
    assert _crisis_alerts(session, hidden["id"]) == 0
    assert _crisis_alerts(session, flagged["id"]) == 1  # at ingest, from the fast tier

    report = _rescore(client)
    _rescore(client)

    assert report.newly_flagged == [hidden["id"]]
    assert _crisis_alerts(session, hidden["id"]) == 1
    assert _crisis_alerts(session, flagged["id"]) == 1  # still flagged: no second alert
    case = _case(client, staff, hidden["case_id"])
    assert case["priority"] == "crisis" and case["message"]["flagged"] is True
    assert case["message"]["categories"] == ["SI"]
    assert "ngram 'tonight is the night' +2.00" in case["message"]["reasons"]  # decrypts
    assert case["risk"] == pytest.approx(0.91)
    raw = session.execute(text("SELECT reasons FROM messages WHERE id = :id"), {"id": hidden["id"]})
    assert "tonight" not in str(raw.scalar_one())  # the final reasons are encrypted at rest
    # The final reasons as data too, replacing the fast tier's (encrypted like the strings).
    session.expire_all()
    final = session.get(Message, hidden["id"])
    assert final is not None and rendered_items(final) == case["message"]["reasons"]
    assert {"kind": "ngram", "term": "tonight is the night", "weight": 2.0} in (
        final.reason_items or []
    )
    raw = session.execute(
        text("SELECT reason_items FROM messages WHERE id = :id"), {"id": hidden["id"]}
    )
    assert "tonight" not in str(raw.scalar_one())
    queue = client.get("/v1/queue", headers=staff).json()["items"]
    assert [i["case_id"] for i in queue][:2] == [flagged["case_id"], hidden["case_id"]]
    assert queue[-1]["case_id"] == routine["case_id"]
    assert {i["score_tier"] for i in queue} == {"final"}


def test_a_message_that_falls_below_the_threshold_stays_in_the_queue(
    client: TestClient, platform: dict[str, str], staff: dict[str, str], session: Session
) -> None:
    figure = _send(client, platform, FIGURE_TEXT)
    assert figure["priority"] == "crisis"

    _rescore(client)

    case = _case(client, staff, figure["case_id"])
    assert case["priority"] == "routine" and case["message"]["flagged"] is False
    assert case["status"] == "open"
    queue = client.get("/v1/queue", headers=staff).json()
    assert [i["case_id"] for i in queue["items"]] == [figure["case_id"]]
    assert _crisis_alerts(session, figure["id"]) == 1  # the ingest alert stays on record


def test_a_failing_final_tier_keeps_the_fast_score_retries_then_says_so(
    client: TestClient,
    platform: dict[str, str],
    staff: dict[str, str],
    scorer: TwoTierScorer,
    session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    scorer.fail_final = 100
    sent = _send(client, platform, FLAGGED_TEXT)
    attempts = client.app.state.service.policy.semantic_max_attempts  # type: ignore[attr-defined]
    later = utcnow()
    with caplog.at_level(logging.DEBUG):
        first = _rescore(client, now=later)
        assert (first.retrying, first.failed) == (1, [])
        assert _rescore(client, now=later).leased == 0  # backing off: not due yet
        for _ in range(attempts - 1):
            later += timedelta(hours=1)
            _rescore(client, now=later)

    assert scorer.final_calls == attempts
    case = _case(client, staff, sent["case_id"])
    assert case["message"]["score_tier"] == "fast"
    assert case["message"]["final_scoring"] == "failed"
    assert case["message"]["score"] == pytest.approx(0.97)  # the fast score stays
    assert case["priority"] == "crisis"
    session.expire_all()
    stored = session.get(Message, sent["id"])
    assert stored is not None
    assert (stored.semantic_attempts, stored.semantic_error) == (attempts, "RuntimeError")
    assert _rescore(client, now=later + timedelta(days=1)).leased == 0  # given up for good
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "RuntimeError" in logged
    assert FLAGGED_TEXT not in logged


def test_a_message_unscored_at_ingest_is_scored_by_the_worker(
    database_url: str, session: Session
) -> None:
    scorer = FailingFastScorer()
    app = create_app(settings_for(database_url), scorer=scorer)
    with TestClient(app) as client:
        platform = Factory(session).api_key()
        sent = _send(client, platform, HIDDEN_CRISIS_TEXT)
        assert sent["score_status"] == "unscored" and sent["priority"] == "review_now"
        assert sent["score_tier"] is None

        report = _rescore(client)

    assert report.newly_flagged == [sent["id"]]
    session.expire_all()
    stored = session.get(Message, sent["id"])
    case = session.scalar(select(Case).where(Case.message_id == sent["id"]))
    assert stored is not None and case is not None
    assert (stored.score_status, stored.score_tier, stored.flagged) == ("scored", "final", True)
    assert case.tier == Tier.CRISIS


def test_an_old_style_scorer_scores_final_at_ingest_as_today(
    database_url: str, session: Session
) -> None:
    scorer = FakeScorer()
    app = create_app(settings_for(database_url), scorer=scorer)
    with TestClient(app) as client:
        platform = Factory(session).api_key()
        sent = _send(client, platform, FLAGGED_TEXT)
        health = client.get("/healthz").json()
        report = _rescore(client)

    assert sent["score_tier"] == "final" and sent["flagged"] is True
    assert health["semantic"]["mode"] == "single_tier" and health["warnings"] == []
    assert health["semantic"]["backlog"] == 0
    assert report.leased == 0 and scorer.calls == 1
    assert _crisis_alerts(session, sent["id"]) == 1


def test_a_missing_encoder_is_said_loudly_and_scores_are_final(
    database_url: str, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    scorer = TwoTierScorer(semantic=False)
    with caplog.at_level(logging.INFO):
        app = create_app(settings_for(database_url), scorer=scorer)
    with TestClient(app) as client:
        platform = Factory(session).api_key()
        sent = _send(client, platform, ROUTINE_TEXT)
        health = client.get("/healthz").json()
        ready = client.get("/readyz")

    assert sent["score_tier"] == "final" and scorer.fast_calls == 0 and scorer.final_calls == 1
    assert health["semantic"]["available"] is False
    assert health["semantic"]["mode"] == "semantic_unavailable"
    assert "SEMANTIC TIER UNAVAILABLE" in health["warnings"][0]
    assert ready.status_code == 200  # ingest still works: not a reason to leave the pool
    assert ready.json()["warnings"] == health["warnings"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("SEMANTIC TIER UNAVAILABLE" in r.getMessage() for r in errors)


def test_two_workers_rescore_each_message_exactly_once(database_url: str) -> None:
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    scorer = TwoTierScorer(seconds_per_message=0.002)
    policy = TriagePolicy()
    texts = [f"message number {n} about my appointment" for n in range(60)]
    with sessions() as session:
        for n, text in enumerate(texts):
            ingest(
                session,
                scorer,
                [
                    IncomingMessage(
                        f"two-workers-{n}", "patient-2", "patient", "portal", utcnow(), text
                    )
                ],
                policy,
            )
    failures: list[BaseException] = []

    def work() -> None:
        try:
            while rescore_pending(sessions, scorer, policy, limit=7).leased:
                pass
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert failures == []
    assert scorer.final_seen == dict.fromkeys(texts, 1)
    with sessions() as session:
        assert semantic_backlog(session).pending == 0
        tiers = set(session.scalars(select(Message.score_tier)))
    assert tiers == {"final"}
    engine.dispose()


@pytest.fixture
def hundred(database_url: str) -> Iterator[tuple[Any, TwoTierScorer]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine), TwoTierScorer()
    engine.dispose()


def test_a_large_batch_is_audited_in_entries_that_list_every_id(
    hundred: tuple[Any, TwoTierScorer],
) -> None:
    sessions, scorer = hundred
    policy = TriagePolicy()
    items = [
        IncomingMessage(f"audit-{n}", "patient-3", "patient", "portal", utcnow(), ROUTINE_TEXT)
        for n in range(100)
    ]
    with sessions() as session:
        stored = ingest(session, scorer, items, policy)

    report = rescore_pending(sessions, scorer, policy, limit=100)

    assert report.finalised == 100
    with sessions() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.actor_kind == "system")).all()
    listed = [int(i) for e in entries for i in str((e.details or {})["message_ids"]).split(",")]
    assert sorted(listed) == sorted(r.message_id for r in stored)
    assert all(len(str((e.details or {})["message_ids"])) <= 128 for e in entries)


def test_the_services_own_background_worker_finishes_fast_scores(
    database_url: str, session: Session
) -> None:
    scorer = TwoTierScorer()
    settings = settings_for(database_url, worker_enabled=True, semantic_poll_seconds=0.05)
    with TestClient(create_app(settings, scorer=scorer)) as client:
        platform = Factory(session).api_key()
        sent = _send(client, platform, HIDDEN_CRISIS_TEXT)
        assert sent["score_tier"] == "fast"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            session.expire_all()
            stored = session.get(Message, sent["id"])
            if stored is not None and stored.score_tier == "final":
                break
            time.sleep(0.05)
        deadline = time.monotonic() + 10  # then /healthz, from the worker's figures, says so
        while client.get("/healthz").json()["semantic"]["backlog"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.get("/healthz").json()["semantic"]["backlog"] == 0
    assert stored is not None and (stored.score_tier, stored.flagged) == ("final", True)
    assert _crisis_alerts(session, sent["id"]) == 1


def test_a_message_whose_text_was_purged_is_not_rescored(
    client: TestClient, platform: dict[str, str], scorer: TwoTierScorer, session: Session
) -> None:
    sent = _send(client, platform, FLAGGED_TEXT)
    purge_message_text(session, [sent["id"]], utcnow())
    session.commit()

    report = _rescore(client)

    assert report.failed == [sent["id"]] and scorer.final_calls == 0
    session.expire_all()
    stored = session.get(Message, sent["id"])
    assert stored is not None
    assert (stored.score_tier, stored.semantic_error, stored.semantic_due_at) == (
        "fast",
        "TextPurged",
        None,
    )


def test_a_worker_without_a_semantic_tier_leaves_fast_scores_for_one_that_has_it(
    hundred: tuple[Any, TwoTierScorer],
) -> None:
    sessions, two_tier = hundred
    policy = TriagePolicy()
    with sessions() as session:
        [fast] = ingest(
            session,
            two_tier,
            [IncomingMessage("mixed-1", "p-4", "patient", "portal", utcnow(), ROUTINE_TEXT)],
            policy,
        )
        [unscored] = ingest(
            session,
            FailingFastScorer(),
            [IncomingMessage("mixed-2", "p-4", "patient", "portal", utcnow(), FLAGGED_TEXT)],
            policy,
        )
    assert (fast.score_tier, unscored.score_status) == ("fast", "unscored")

    old_model = rescore_pending(sessions, FakeScorer(), policy)
    assert (old_model.leased, old_model.newly_flagged) == (1, [unscored.message_id])
    no_encoder = rescore_pending(sessions, TwoTierScorer(semantic=False), policy)
    assert no_encoder.leased == 0

    with sessions() as session:
        assert semantic_backlog(session).pending == 1  # the fast score still waits
    assert rescore_pending(sessions, two_tier, policy).finalised == 1
