"""Ingest on SQLite and PostgreSQL: languages the model does not cover go to a person, a
patient's earlier messages raise a new one's priority, and every score names its model."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_fakes import FakeScorer, message
from service_helpers import settings_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.detector import Explanation, load_model, read_card
from crisis_triage.service import create_app
from crisis_triage.storage import Alert, AuditEntry, Case, Message
from crisis_triage.triage import list_queue

FRENCH = "Je vais prendre toutes mes pilules ce soir, je veux en finir"
SPANISH = "Voy a tomar todas mis pastillas esta noche, quiero terminar con todo"
SAVING = "I have been saving up my pills for a while now"
TONIGHT = "tonight is the night, I am ready"


class ExplainOnlyScorer(FakeScorer):
    """Risk that only shows when two messages are read together (no fast tier)."""

    card_: dict[str, Any] = {"model_id": "window-fake@0123456789ab"}  # noqa: RUF012

    def _one(self, text: str) -> Explanation:
        lowered = text.lower()
        if "saving up my pills" in lowered and "tonight" in lowered:
            return Explanation(0.9, True, self.threshold_, ("SI",), (), (("pills", 1.0),))
        if "saving up my pills" in lowered:
            return Explanation(0.3, False, self.threshold_, (), (), ())
        return super()._one(text)


class WindowScorer(ExplainOnlyScorer):
    """The same, with a synchronous tier whose calls it counts."""

    def __init__(self) -> None:
        super().__init__()
        self.fast_calls = 0

    def explain_fast(self, texts: Sequence[str]) -> list[Explanation]:
        self.fast_calls += 1
        return [self._one(text) for text in texts]


class BilingualScorer(WindowScorer):
    languages_ = ("en", "es")


class FailingWindowScorer(WindowScorer):
    def explain_fast(self, texts: Sequence[str]) -> list[Explanation]:
        raise RuntimeError(f"window exploded on {texts[0]!r}")


def _client(database_url: str, scorer: Any, **settings: Any) -> TestClient:
    app = create_app(settings_for(database_url, **settings), scorer=scorer)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def window_client(database_url: str) -> Iterator[tuple[TestClient, WindowScorer]]:
    scorer = WindowScorer()
    with _client(database_url, scorer) as client:
        yield client, scorer


def _sent(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def _post(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    reply = client.post("/v1/messages", json=message(**fields), headers=headers)
    assert reply.status_code == 201, reply.text
    body: dict[str, Any] = reply.json()
    return body


# --- language --------------------------------------------------------------------------------


def test_a_message_in_an_uncovered_language_is_queued_for_a_person_unscored(
    window_client: tuple[TestClient, WindowScorer], platform: dict[str, str], session: Session
) -> None:
    client, _scorer = window_client
    routine = _post(client, platform, text="Can I move my appointment to Tuesday please?")
    french = _post(client, platform, text=FRENCH, patient_id="patient-fr")
    assert french["score_status"] == "unsupported"
    assert french["score"] is None and french["flagged"] is None
    assert french["priority"] == "review_now"
    assert french["language"] == "fr"
    assert french["reasons"] == ["language not supported (detected: fr): review by a person"]
    stored = session.get(Message, french["id"])
    assert stored is not None and stored.text == FRENCH and stored.language == "fr"
    assert stored.reason_items == [{"kind": "note", "text": french["reasons"][0]}]
    assert routine["language"] == "en" and routine["score_status"] == "scored"
    items, _total = list_queue(session)
    assert [i.case_id for i in items] == [french["case_id"], routine["case_id"]]
    # Not a failure of the system: no operator alert.
    assert session.scalars(select(Alert.kind)).all() == []


def test_a_language_the_model_covers_is_scored(
    database_url: str, platform: dict[str, str], session: Session
) -> None:
    with _client(database_url, BilingualScorer()) as client:
        spanish = _post(client, platform, text=SPANISH)
    assert (spanish["score_status"], spanish["language"]) == ("scored", "es")
    assert spanish["score"] is not None


def test_a_short_message_is_scored_as_undetermined(
    window_client: tuple[TestClient, WindowScorer], platform: dict[str, str]
) -> None:
    client, _scorer = window_client
    body = _post(client, platform, text="overdose")
    assert (body["score_status"], body["language"], body["flagged"]) == ("scored", "und", True)


# --- model version ---------------------------------------------------------------------------


def test_every_message_records_the_id_of_the_model_that_scored_it(
    database_url: str, platform: dict[str, str], session: Session
) -> None:
    model = load_model()
    model_id = model.card_["model_id"]
    # The file's SHA-256 as its card records it (load_model checked the file against it).
    assert model_id == f"default@{read_card()['file_sha256'][:12]}"
    with _client(database_url, model) as client:
        texts = ["I want to kill myself", "can I get a refill", SAVING, TONIGHT, FRENCH]
        bodies = [_post(client, platform, text=text) for text in texts]
    assert bodies[-1]["score_status"] == "unsupported"  # declined by that model: still named
    assert {b["model_version"] for b in bodies} == {model_id}
    session.expire_all()
    assert set(session.scalars(select(Message.model_version))) == {model_id}


class FailingScorer(FakeScorer):
    card_: dict[str, Any] = {"model_id": "failing@0123456789ab"}  # noqa: RUF012

    def explain(self, texts: Sequence[str]) -> list[Explanation]:
        raise RuntimeError("the model failed")


def test_a_message_the_model_failed_on_names_the_model_and_none_without_a_model(
    database_url: str, platform: dict[str, str], session: Session
) -> None:
    with _client(database_url, FailingScorer()) as client:
        failed = _post(client, platform, text="can I get a refill")
    with _client(database_url, None) as client:
        no_model = _post(client, platform, text="can I get a refill", patient_id="p-2")
    assert failed["score_status"] == no_model["score_status"] == "unscored"
    assert failed["model_version"] == "failing@0123456789ab"
    assert no_model["model_version"] is None
    session.expire_all()
    stored = {i: v for i, v in session.execute(select(Message.id, Message.model_version))}
    assert stored == {failed["id"]: "failing@0123456789ab", no_model["id"]: None}
    assert "unknown" not in stored.values()


# --- patient window --------------------------------------------------------------------------


def test_earlier_messages_raise_a_new_ones_priority_and_are_named(
    window_client: tuple[TestClient, WindowScorer], platform: dict[str, str], session: Session
) -> None:
    client, scorer = window_client
    other = _post(client, platform, text="Can I get a refill?", sent_at=_sent(60 * 80))
    first = _post(client, platform, text=SAVING, sent_at=_sent(60 * 24))
    assert first["priority"] == "routine"
    last = _post(client, platform, text=TONIGHT, sent_at=_sent(1))
    assert last["score"] == pytest.approx(0.01)  # alone it is nothing
    assert last["window_score"] == pytest.approx(0.9)
    assert last["priority"] == "crisis" and last["flagged"] is True
    assert scorer.fast_calls >= 1  # the synchronous tier when the scorer has one
    stored = session.get(Message, last["id"])
    assert stored is not None and stored.model_version == "window-fake@0123456789ab"
    contributors = stored.window_contributors or []
    # The message of 80 h ago is outside the 72 h window; the refill request adds nothing.
    assert [c["case_id"] for c in contributors] == [first["case_id"]]
    assert contributors[0]["drop"] == pytest.approx(0.89)
    case = session.get(Case, last["case_id"])
    assert case is not None and case.risk == pytest.approx(0.9)
    items, _ = list_queue(session)
    assert items[0].case_id == last["case_id"]
    assert other["case_id"] in [i.case_id for i in items]
    alerts = session.scalars(select(Alert).where(Alert.kind == "crisis")).all()
    assert [a.message_id for a in alerts] == [last["id"]]
    assert alerts[0].payload["window_probability"] == pytest.approx(0.9)
    reads = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "message.read", AuditEntry.actor_kind == "system"
        )
    ).all()
    assert reads, "the window's read of earlier text must be audited"
    last_read = reads[-1]
    assert last_read.patient_id == "patient-1"
    assert last_read.details is not None
    assert last_read.details["message_ids"] == f"{first['id']}"
    assert SAVING not in str(last_read.details)


def test_a_scorer_without_a_fast_tier_scores_windows_with_explain(
    database_url: str, platform: dict[str, str]
) -> None:
    scorer = ExplainOnlyScorer()
    with _client(database_url, scorer) as client:
        _post(client, platform, text=SAVING, sent_at=_sent(10))
        calls = scorer.calls
        last = _post(client, platform, text=TONIGHT)
    assert last["priority"] == "crisis" and last["window_score"] == pytest.approx(0.9)
    assert scorer.calls > calls + 1  # the message itself, then its window


def test_a_message_that_adds_nothing_to_an_earlier_crisis_is_not_raised(
    window_client: tuple[TestClient, WindowScorer], platform: dict[str, str], session: Session
) -> None:
    client, _scorer = window_client
    crisis = _post(client, platform, text="I took an overdose", sent_at=_sent(30))
    after = _post(client, platform, text="Thanks, Tuesday works for me", sent_at=_sent(1))
    assert crisis["priority"] == "crisis"
    assert after["priority"] == "routine" and after["window_score"] is None
    assert session.scalar(select(Alert.message_id).where(Alert.kind == "crisis")) == crisis["id"]


def test_earlier_messages_in_the_same_batch_count_too(
    window_client: tuple[TestClient, WindowScorer], platform: dict[str, str], session: Session
) -> None:
    client, _scorer = window_client
    batch = [message(text=SAVING, sent_at=_sent(10)), message(text=TONIGHT, sent_at=_sent(2))]
    reply = client.post("/v1/messages:batch", json={"messages": batch}, headers=platform)
    assert reply.status_code == 201, reply.text
    first, last = reply.json()["results"]
    assert last["priority"] == "crisis"
    stored = session.get(Message, last["id"])
    assert stored is not None
    assert [c["case_id"] for c in stored.window_contributors or []] == [first["case_id"]]


def test_other_patients_and_a_disabled_window_do_not_count(
    database_url: str, platform: dict[str, str]
) -> None:
    with _client(database_url, WindowScorer()) as client:
        _post(client, platform, text=SAVING, patient_id="someone-else", sent_at=_sent(10))
        assert _post(client, platform, text=TONIGHT)["priority"] == "routine"
    with _client(database_url, WindowScorer(), patient_window_hours=0) as client:
        _post(client, platform, text=SAVING, sent_at=_sent(10))
        assert _post(client, platform, text=TONIGHT)["priority"] == "routine"


def test_a_failing_window_falls_back_to_the_messages_own_score(
    database_url: str,
    platform: dict[str, str],
    session: Session,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    with _client(database_url, FailingWindowScorer()) as client:
        _post(client, platform, text=SAVING, sent_at=_sent(10))
        body = _post(client, platform, text=TONIGHT)
    assert (body["score_status"], body["priority"]) == ("scored", "routine")
    assert body["score"] == pytest.approx(0.01) and body["window_score"] is None
    assert "patient window failed for 1 message(s): RuntimeError" in caplog.text
    assert TONIGHT not in caplog.text and SAVING not in caplog.text
