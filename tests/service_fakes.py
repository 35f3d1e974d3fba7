"""Small fakes and factories shared by the service tests (no real model, no shared data)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import numpy as np

from crisis_triage.detector import Explanation

_keys = count(1)


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
