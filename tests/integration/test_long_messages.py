"""A message longer than the model reads is stored whole, scored on its first part and queued for
a person (unless that part is already a crisis), on SQLite and PostgreSQL, through both tiers."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient
from service_fakes import FakeScorer, TwoTierScorer, message, rendered_items
from service_helpers import Factory, settings_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisis_triage.detector import Explanation
from crisis_triage.service import create_app
from crisis_triage.storage import Case, Message
from crisis_triage.triage import MAX_SCORED_CHARS, Tier

LENGTH = 25_000
REASON = f"scored the first 20,000 of {LENGTH:,} characters: a person should read it all"
# Past the scored part: the model never sees it, so it cannot flag the message.
TAIL = " and tonight I will take an overdose"


def _letter(opening: str = "Dear doctor, about my appointment. ") -> str:
    body = opening + "I have been thinking about many things lately. " * 600
    return body[: LENGTH - len(TAIL)] + TAIL


class RecordingScorer(FakeScorer):
    """FakeScorer that keeps every text it was given (its own score and patient windows)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def explain(self, texts: Sequence[str]) -> list[Explanation]:
        self.seen.extend(texts)
        return super().explain(texts)


@pytest.fixture
def scorer() -> RecordingScorer:
    return RecordingScorer()


def _stored(session: Session, message_id: int) -> tuple[Message, int]:
    session.expire_all()
    stored = session.get(Message, message_id)
    assert stored is not None
    tier = session.scalar(select(Case.tier).where(Case.message_id == message_id))
    assert tier is not None
    return stored, tier


def test_a_long_message_is_stored_whole_and_queued_for_a_person(
    client: TestClient,
    platform: dict[str, str],
    factory: Factory,
    session: Session,
    scorer: RecordingScorer,
) -> None:
    letter = _letter()
    assert len(letter) == LENGTH

    reply = client.post("/v1/messages", json=message(text=letter), headers=platform)

    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert body["score_status"] == "scored"
    assert body["flagged"] is False  # the overdose is past the part the model read
    assert body["priority"] == "review_now"
    assert body["reasons"][-1] == REASON
    stored, tier = _stored(session, body["id"])
    assert stored.text == letter
    assert rendered_items(stored) == body["reasons"]
    assert stored.reason_items is not None and stored.reason_items[-1] == {
        "kind": "note",
        "text": REASON,
    }
    assert stored.text_length == LENGTH
    assert tier == Tier.REVIEW_NOW
    assert scorer.seen and max(len(text) for text in scorer.seen) == MAX_SCORED_CHARS
    queue = client.get("/v1/queue", headers=factory.headers()).json()
    [item] = [item for item in queue["items"] if item["message_id"] == body["id"]]
    assert item["priority"] == "review_now"


def test_a_long_message_whose_scored_part_is_a_crisis_is_a_crisis(
    client: TestClient, platform: dict[str, str], session: Session
) -> None:
    reply = client.post(
        "/v1/messages", json=message(text=_letter("I took an overdose. ")), headers=platform
    )

    assert reply.status_code == 201, reply.text
    body = reply.json()
    assert (body["flagged"], body["priority"]) == (True, "crisis")
    assert REASON in body["reasons"]
    assert _stored(session, body["id"])[1] == Tier.CRISIS


def test_a_message_of_exactly_the_scored_length_is_scored_as_before(
    client: TestClient, platform: dict[str, str], session: Session
) -> None:
    text = ("Can I move my appointment? " * 1000)[:MAX_SCORED_CHARS]

    body = client.post("/v1/messages", json=message(text=text), headers=platform).json()

    assert body["priority"] == "routine"
    assert not any("characters" in reason for reason in body["reasons"])
    assert _stored(session, body["id"])[1] == Tier.ROUTINE


def test_the_patient_window_reads_only_the_scored_part_of_long_messages(
    client: TestClient, platform: dict[str, str], scorer: RecordingScorer
) -> None:
    first = client.post("/v1/messages", json=message(text=_letter()), headers=platform)
    second = client.post("/v1/messages", json=message(text=_letter()), headers=platform)

    assert (first.status_code, second.status_code) == (201, 201)
    assert len(scorer.seen) > 2  # the second message was scored with the first in a window
    assert not any("overdose" in text for text in scorer.seen)
    assert second.json()["priority"] == "review_now"


def test_the_final_tier_keeps_a_long_message_for_a_person(
    database_url: str, platform: dict[str, str], session: Session
) -> None:
    scorer = TwoTierScorer()
    app = create_app(settings_for(database_url), scorer=scorer)
    with TestClient(app, raise_server_exceptions=False) as client:
        sent = client.post("/v1/messages", json=message(text=_letter()), headers=platform).json()
        assert (sent["score_tier"], sent["priority"]) == ("fast", "review_now")

        report = app.state.semantic_worker.run_once()

    assert report.finalised == 1
    stored, tier = _stored(session, sent["id"])
    assert stored.score_tier == "final"
    assert stored.reasons[-1] == REASON
    assert tier == Tier.REVIEW_NOW
    assert all(len(text) <= MAX_SCORED_CHARS for text in scorer.final_seen)


def test_the_request_size_limit_still_applies(database_url: str, session: Session) -> None:
    platform = Factory(session).api_key("messages:write")
    app = create_app(settings_for(database_url, max_body_bytes=16_384), scorer=FakeScorer())
    with TestClient(app, raise_server_exceptions=False) as client:
        reply = client.post("/v1/messages", json=message(text=_letter()), headers=platform)

    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "payload_too_large"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Message)) == 0
