"""The queue's JSON row is read from the domain's QueueItem, with the names the API always had."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from crisis_triage.service._schemas import QueueItemOut
from crisis_triage.triage import FAST, CaseStatus, QueueItem, Tier

ITEM = QueueItem(
    case_id=7,
    message_id=11,
    status=CaseStatus.CLAIMED,
    tier=Tier.REVIEW_NOW,
    risk=0.25,
    probability=None,
    flagged=None,
    score_status="unscored",
    score_tier=None,
    final_scoring="done",
    categories=("SI", "OD"),
    patient_id="p-1",
    channel="sms",
    sent_at=datetime(2026, 12, 6, 8, 30, tzinfo=UTC),
    waiting_seconds=90.5,
    claimed_by=3,
    escalated=False,
)


def test_a_queue_row_is_the_domain_item_under_the_api_names() -> None:
    assert QueueItemOut.model_validate(ITEM).model_dump(mode="json") == {
        "case_id": 7,
        "message_id": 11,
        "status": "claimed",
        "priority": "review_now",
        "risk": 0.25,
        "score": None,
        "flagged": None,
        "score_status": "unscored",
        "score_tier": None,
        "categories": ["SI", "OD"],
        "patient_id": "p-1",
        "channel": "sms",
        "sent_at": "2026-12-06T08:30:00Z",
        "waiting_seconds": 90.5,
        "claimed_by": 3,
        "escalated": False,
    }


def test_a_scored_fast_crisis_row_names_its_priority_score_and_tier() -> None:
    item = replace(ITEM, tier=Tier.CRISIS, probability=0.9, flagged=True, score_tier=FAST)
    row = QueueItemOut.model_validate(item).model_dump(mode="json")
    assert (row["priority"], row["score"], row["flagged"], row["score_tier"]) == (
        "crisis",
        0.9,
        True,
        "fast",
    )


def test_an_unknown_scoring_tier_shows_as_none_and_a_bad_tier_is_refused() -> None:
    assert QueueItemOut.model_validate(replace(ITEM, score_tier="other")).score_tier is None
    with pytest.raises(ValidationError):
        QueueItemOut.model_validate(replace(ITEM, tier=9))
