"""The semantic tier together with the language rule and the patient window (SQLite and
PostgreSQL): a fast-tier ingest applies both, the final re-score keeps a window's priority, and
the worker applies the language rule to messages it scores for the first time."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_fakes import message, rendered_items
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from test_ingest_language_window import FRENCH, SAVING, TONIGHT, WindowScorer, _sent

from crisis_triage.storage import Alert, Case, Message, make_session_factory, utcnow
from crisis_triage.triage import IncomingMessage, Tier, TriagePolicy, ingest, rescore_pending

ROUTINE_TEXT = "Can I move my appointment to Tuesday please?"


class TwoTierWindowScorer(WindowScorer):
    """WindowScorer with a working semantic tier: ``explain_fast`` at ingest (for the message
    and its window), ``explain`` only in the worker; ``final_seen`` lists what it read."""

    def __init__(self) -> None:
        super().__init__()
        self.final_seen: list[str] = []

    def semantic_available(self) -> bool:
        return True

    def explain(self, texts: Any) -> Any:
        self.final_seen.extend(texts)
        return super().explain(texts)


@pytest.fixture
def scorer() -> TwoTierWindowScorer:
    return TwoTierWindowScorer()


def _post(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    reply = client.post("/v1/messages", json=message(**fields), headers=headers)
    assert reply.status_code == 201, reply.text
    body: dict[str, Any] = reply.json()
    return body


def _rescore(client: TestClient) -> Any:
    return client.app.state.semantic_worker.run_once()  # type: ignore[attr-defined]


def test_a_fast_ingest_scores_the_window_and_the_final_score_keeps_its_priority(
    client: TestClient, platform: dict[str, str], scorer: TwoTierWindowScorer, session: Session
) -> None:
    _post(client, platform, text=SAVING, sent_at=_sent(60 * 24))
    last = _post(client, platform, text=TONIGHT, sent_at=_sent(1))
    assert last["score_tier"] == "fast" and last["priority"] == "crisis"
    assert last["window_score"] == pytest.approx(0.9)
    assert scorer.fast_calls >= 2 and scorer.final_seen == []  # ingest never runs explain

    report = _rescore(client)

    assert report.finalised == 2 and report.newly_flagged == []
    session.expire_all()
    stored = session.get(Message, last["id"])
    assert stored is not None and stored.score_tier == "final"
    assert stored.probability == pytest.approx(0.01)  # alone it is still nothing
    assert stored.flagged is True
    assert any(reason.startswith("patient window:") for reason in stored.reasons)
    assert rendered_items(stored) == stored.reasons  # the window's note kept as an item too
    case = session.get(Case, last["case_id"])
    assert case is not None and case.tier == Tier.CRISIS and case.risk == pytest.approx(0.9)
    alerts = session.scalars(select(Alert).where(Alert.kind == "crisis")).all()
    assert [a.message_id for a in alerts] == [last["id"]]  # one alert, from ingest


def test_a_fast_ingest_leaves_an_uncovered_language_to_a_person_and_out_of_the_worker(
    client: TestClient, platform: dict[str, str], scorer: TwoTierWindowScorer, session: Session
) -> None:
    french = _post(client, platform, text=FRENCH)
    assert (french["score_status"], french["language"], french["score_tier"]) == (
        "unsupported",
        "fr",
        None,
    )
    assert french["priority"] == "review_now"
    stored = session.get(Message, french["id"])
    assert stored is not None and stored.semantic_due_at is None

    assert _rescore(client).leased == 0
    assert scorer.final_seen == []


def test_the_worker_applies_the_language_rule_to_messages_left_unscored(
    engine: Engine,
) -> None:
    sessions = make_session_factory(engine)
    policy = TriagePolicy()
    items = [
        IncomingMessage("lang-1", "p-fr", "patient", "portal", utcnow(), FRENCH),
        IncomingMessage("lang-2", "p-en", "patient", "portal", utcnow(), ROUTINE_TEXT),
    ]
    with sessions() as session:
        french, english = ingest(session, None, items, policy)
    assert french.score_status == english.score_status == "unscored"
    assert french.model_version is english.model_version is None  # no model at ingest
    scorer = TwoTierWindowScorer()

    report = rescore_pending(sessions, scorer, policy)

    assert (report.leased, report.finalised) == (2, 2)
    assert scorer.final_seen == [ROUTINE_TEXT]
    with sessions() as session:
        fr = session.get(Message, french.message_id)
        en = session.get(Message, english.message_id)
        fr_case = session.get(Case, french.case_id)
        assert fr is not None and en is not None and fr_case is not None
        assert (fr.score_status, fr.language, fr.probability) == ("unsupported", "fr", None)
        assert fr.semantic_due_at is None and fr.reasons == [
            "language not supported (detected: fr): review by a person"
        ]
        assert rendered_items(fr) == fr.reasons and rendered_items(en) == en.reasons
        assert fr_case.tier == Tier.REVIEW_NOW
        assert (en.score_status, en.score_tier, en.language) == ("scored", "final", "en")
        # Both name the worker's model: the one that scored, and the one that declined.
        assert fr.model_version == en.model_version == "window-fake@0123456789ab"
    assert rescore_pending(sessions, scorer, policy).leased == 0
