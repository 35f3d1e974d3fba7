"""Small fakes and factories shared by the service tests (no real model, no shared data)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import numpy as np

from crisis_triage.detector import Explanation, ReasonItem

_keys = count(1)


def rendered_items(stored: Any) -> list[str]:
    """A stored message's reason items (``messages.reason_items``) rendered as text: what its
    reason strings must read, wherever the two were written."""
    assert stored.reason_items is not None, "no reason items were stored"
    return [ReasonItem.from_dict(item).render() for item in stored.reason_items]


class FakeScorer:
    """A scorer that flags texts by keyword: enough to drive the queue without a model."""

    threshold_ = 0.5
    card_: dict[str, Any] = {"version": "fake-1"}  # noqa: RUF012
    RULES = (("overdose", 0.97, ("OD",)), ("hurt myself", 0.8, ("NSSI",)), ("end it", 0.7, ("SI",)))

    def __init__(self) -> None:
        self.calls = 0

    def _one(self, text: str) -> Explanation:
        for term, probability, categories in self.RULES:
            if term in text.lower():
                return Explanation(
                    probability=probability,
                    flagged=True,
                    threshold=self.threshold_,
                    categories=categories,
                    lexicon_hits=(),
                    top_ngrams=((term, 1.5),),
                )
        return Explanation(0.01, False, self.threshold_, (), (), (), gate_passed=False)

    def explain(self, texts: Sequence[str]) -> list[Explanation]:
        self.calls += 1
        return [self._one(text) for text in texts]

    def predict_proba(self, texts: Sequence[str]) -> Any:
        p = np.array([self._one(t).probability for t in texts])
        return np.column_stack([1 - p, p])


class RaisingScorer(FakeScorer):
    """A scorer that fails, with the message text in its exception (it must not leak)."""

    def explain(self, texts: Sequence[str]) -> list[Explanation]:
        self.calls += 1
        raise RuntimeError(f"model exploded on {texts[0]!r}")


class TwoTierScorer(FakeScorer):
    """A detector v2 stand-in: ``explain_fast`` is FakeScorer's keyword rules; ``explain`` (the
    final tier) also reads meaning that has no listed word, and corrects a figure of speech.

    ``fail_final`` calls of ``explain`` raise (with the text in the exception, which must not
    leak); ``seconds_per_message`` makes ``explain`` cost what an encoder would.  ``final_seen``
    counts how often each text was given to ``explain``.
    """

    card_: dict[str, Any] = {"version": "fake-two-tier-1"}  # noqa: RUF012
    # (phrase, probability, categories): the final tier's word, ahead of the fast rules.
    FINAL_RULES = (
        ("tonight is the night", 0.91, ("SI",)),
        ("overdose of sunshine", 0.04, ()),
    )

    def __init__(
        self,
        *,
        semantic: bool = True,
        fail_final: int = 0,
        seconds_per_message: float = 0.0,
    ) -> None:
        super().__init__()
        self.semantic = semantic
        self.fail_final = fail_final
        self.seconds_per_message = seconds_per_message
        self.fast_calls = 0
        self.final_calls = 0
        self.final_seen: Counter[str] = Counter()
        self._lock = threading.Lock()

    def semantic_available(self) -> bool:
        return self.semantic

    def explain_fast(self, texts: Sequence[str]) -> list[Explanation]:
        self.fast_calls += 1
        return [self._one(text) for text in texts]

    def _final(self, text: str) -> Explanation:
        for phrase, probability, categories in self.FINAL_RULES:
            if phrase in text.lower():
                flagged = probability >= self.threshold_
                return Explanation(
                    probability, flagged, self.threshold_, categories, (), ((phrase, 2.0),)
                )
        return self._one(text)

    def explain(self, texts: Sequence[str]) -> list[Explanation]:
        with self._lock:
            self.final_calls += 1
            self.final_seen.update(texts)
            failing = self.fail_final > 0
            self.fail_final -= failing
        if failing:
            raise RuntimeError(f"encoder exploded on {texts[0]!r}")
        if self.seconds_per_message:
            time.sleep(self.seconds_per_message * len(texts))
        if not self.semantic:
            return [self._one(text) for text in texts]
        return [self._final(text) for text in texts]


class FailingFastScorer(TwoTierScorer):
    """A two-tier scorer whose fast tier fails at ingest (the message queues unscored)."""

    def explain_fast(self, texts: Sequence[str]) -> list[Explanation]:
        raise RuntimeError(f"fast tier exploded on {texts[0]!r}")


def message(**overrides: Any) -> dict[str, Any]:
    """A valid POST /v1/messages body; every call gets a fresh idempotency key."""
    body: dict[str, Any] = {
        "idempotency_key": f"key-{next(_keys)}",
        "patient_id": "patient-1",
        "sender": "patient",
        "sent_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "channel": "portal",
        "text": "Can I move my appointment to Tuesday?",
    }
    body.update(overrides)
    return body
