"""Which scoring tiers a model offers, and where a message's final score stands (no database)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from service_fakes import FakeScorer, TwoTierScorer

from crisis_triage.detector import Explanation
from crisis_triage.triage import (
    FAST,
    FINAL,
    SCORED,
    UNSCORED,
    SemanticBacklog,
    TierMode,
    TriagePolicy,
    fast_explainer,
    final_scoring,
    log_tier_status,
    tier_status,
)
from crisis_triage.triage._rescoring import _id_chunks, backoff_delay
from crisis_triage.triage._scoring import score_texts

NOW = datetime(2026, 12, 6, tzinfo=UTC)


class BrokenCheckScorer(TwoTierScorer):
    def semantic_available(self) -> bool:
        raise OSError("encoder files unreadable")


class ExplainedAbsence(TwoTierScorer):
    def semantic_problem(self) -> str:
        return "onnxruntime is not installed"


def test_an_old_model_is_single_tier_and_scores_final_at_ingest() -> None:
    scorer = FakeScorer()
    assert tier_status(scorer).mode is TierMode.SINGLE_TIER
    assert fast_explainer(scorer) is None


def test_a_two_tier_model_with_its_encoder_scores_fast_at_ingest() -> None:
    scorer = TwoTierScorer()
    status = tier_status(scorer)
    assert status.mode is TierMode.TWO_TIER and status.semantic_available
    explain = fast_explainer(scorer)
    assert explain is not None
    explain(["hello there"])
    assert (scorer.fast_calls, scorer.final_calls) == (1, 0)


@pytest.mark.parametrize("scorer", [TwoTierScorer(semantic=False), BrokenCheckScorer()])
def test_a_two_tier_model_without_its_encoder_is_unavailable_and_final_at_ingest(
    scorer: TwoTierScorer,
) -> None:
    status = tier_status(scorer)
    assert status.mode is TierMode.SEMANTIC_UNAVAILABLE and not status.semantic_available
    assert "SEMANTIC TIER UNAVAILABLE" in status.detail
    assert fast_explainer(scorer) is None


def test_the_models_own_reason_for_a_missing_encoder_is_given() -> None:
    status = tier_status(ExplainedAbsence(semantic=False))
    assert "onnxruntime is not installed" in status.detail


def test_no_model_says_why() -> None:
    status = tier_status(None, "model could not be loaded: FileNotFoundError")
    assert status.mode is TierMode.NO_MODEL and "FileNotFoundError" in status.detail


def test_a_missing_encoder_is_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        log_tier_status(tier_status(TwoTierScorer(semantic=False)))
        log_tier_status(tier_status(TwoTierScorer()))
    levels = [(r.levelno, "UNAVAILABLE" in r.getMessage()) for r in caplog.records]
    assert levels == [(logging.ERROR, True), (logging.INFO, False)]


@pytest.mark.parametrize(
    ("tier", "due", "error", "expected"),
    [
        (FAST, NOW, None, "pending"),
        (FAST, NOW, "RuntimeError", "pending"),  # retrying
        (FINAL, None, None, "done"),
        (FAST, None, "RuntimeError", "failed"),
        (None, NOW, None, "pending"),  # unscored, being retried
        (None, None, "RuntimeError", "failed"),
    ],
)
def test_final_scoring_state(
    tier: str | None, due: datetime | None, error: str | None, expected: str
) -> None:
    assert final_scoring(tier, due, error) == expected


def test_backoff_doubles_and_is_capped() -> None:
    policy = TriagePolicy(semantic_backoff_seconds=2, semantic_backoff_max_seconds=10)
    delays = [backoff_delay(attempt, policy) for attempt in (1, 2, 3, 4)]
    assert delays == [timedelta(seconds=s) for s in (2, 4, 8, 10)]


def test_audited_id_lists_fit_an_audit_detail_and_lose_no_id() -> None:
    ids = list(range(1_000_000, 1_000_100))
    chunks = _id_chunks(ids)
    assert len(chunks) > 1 and all(len(c) <= 128 for c in chunks)
    assert [int(i) for c in chunks for i in c.split(",")] == ids
    assert _id_chunks([]) == []


def test_scores_carry_their_tier_and_a_bad_probability_is_unscored() -> None:
    def explain(texts: Sequence[str]) -> list[Explanation]:
        return [
            Explanation(0.9, True, 0.5, ("SI",), (), ()),
            Explanation(float("nan"), False, 0.5, (), (), ()),
        ]

    good, bad = score_texts(explain, ["one message", "another message"], FAST)
    assert (good.status, good.tier) == (SCORED, FAST)
    assert (bad.status, bad.tier, bad.error) == (UNSCORED, None, "InvalidProbability")


def test_a_failing_scorer_leaves_every_text_unscored_with_the_error_type() -> None:
    def explain(texts: Sequence[str]) -> list[Explanation]:
        raise MemoryError

    scores = score_texts(explain, ["a", "b"], FINAL)
    assert [(s.status, s.error) for s in scores] == [(UNSCORED, "MemoryError")] * 2


def test_the_backlog_age_is_counted_when_asked() -> None:
    assert SemanticBacklog(0, None).oldest_pending_seconds(NOW) is None
    backlog = SemanticBacklog(3, NOW - timedelta(seconds=4.5))
    assert backlog.oldest_pending_seconds(NOW) == pytest.approx(4.5)
    assert backlog.oldest_pending_seconds(NOW - timedelta(minutes=1)) == 0.0  # clocks apart
