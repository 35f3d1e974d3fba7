"""What the detector says about one message, and the interface every scorer offers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from crisis_triage.lexicon import LexiconHit

EVIDENCE_LABELS = {
    "ngrams": "word patterns",
    "static": "meaning (fast)",
    "semantic": "meaning (full encoder)",
}


@dataclass(frozen=True)
class Explanation:
    """The score of one message and the reasons behind it.

    ``top_ngrams`` are (n-gram, contribution to the log-odds) pairs, largest push first.
    ``gate_passed`` is False when a lexicon gate kept the message from the model (its
    probability is then the model's floor, not a model score).  ``notes`` are further reasons
    (a site-adapted model says there what its stacker added, and when it lowered a message the
    base model flags).
    """

    probability: float
    flagged: bool
    threshold: float
    categories: tuple[str, ...]
    lexicon_hits: tuple[LexiconHit, ...]
    top_ngrams: tuple[tuple[str, float], ...]
    gate_passed: bool = True
    notes: tuple[str, ...] = ()  # further reasons, e.g. what a site adaptation changed
    # Detector v2: the (start, end) of the sentence that carries the most risk, in the
    # message's own characters; which tier gave the score ("fast" or "full"); and each
    # kind of evidence's log-odds before the stacker weighed them.
    sentence: tuple[int, int] | None = None
    tier: str | None = None
    evidence: Mapping[str, float] = field(default_factory=dict)

    def reasons(self) -> list[str]:
        """Short, human-readable reasons (matched terms first, then phrases)."""
        reasons = [f"lexicon {hit.describe()}" for hit in self.lexicon_hits]
        word = "phrase" if self.tier is not None else "ngram"
        reasons += [f"{word} '{gram}' {weight:+.2f}" for gram, weight in self.top_ngrams]
        if self.sentence is not None:
            start, end = self.sentence
            reasons.append(f"risk sentence: characters {start}-{end}")
        if self.evidence:
            reasons.append(
                "evidence (log-odds before weighing): "
                + ", ".join(
                    f"{EVIDENCE_LABELS.get(name, name)} {value:+.2f}"
                    for name, value in self.evidence.items()
                )
            )
        if not self.gate_passed:
            reasons.append("no active lexicon hit: not scored by the model (lexicon gate)")
        return reasons + list(self.notes)


class Scorer(Protocol):
    """What the service, CLI and evaluation need from a fitted detector."""

    threshold_: float
    card_: dict[str, Any]

    def explain(self, texts: Sequence[str]) -> list[Explanation]: ...

    def predict_proba(self, texts: Sequence[str]) -> Any: ...
