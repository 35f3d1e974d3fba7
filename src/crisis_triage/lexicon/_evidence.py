"""A stable, model-ready view of what the lexicon found in one message.

The detector uses the lexicon as evidence, not as a gate: which entries and categories matched,
in which language, and whether a context rule explained each hit away (and of what kind). This
module turns ``Lexicon.match`` into that view without the detector knowing about rules.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from crisis_triage.lexicon._model import LexiconHit
from crisis_triage.lexicon._scan import ClauseEnds


@dataclass(frozen=True)
class HitEvidence:
    """One hit as evidence. ``state`` is ``"active"`` or the effect that explained it away
    (``negation``, ``hypothetical``, ``other_person``, ``figurative``, ``accidental``,
    ``conflict``...); ``annotations`` are effects that describe an active or suppressed hit
    (``other_person``, ``historical``). ``start``/``end`` and ``clause`` are offsets into
    ``normalised`` (the text the lexicon matched), not into the message as written.
    """

    entry_id: str
    category: str
    lang: str
    state: str
    rule_id: str | None
    annotations: tuple[str, ...]
    start: int
    end: int
    clause: tuple[int, int]

    @property
    def active(self) -> bool:
        return self.state == "active"


@dataclass(frozen=True)
class LexiconEvidence:
    """Every hit of one message as evidence, plus the normalised text the offsets refer to."""

    normalised: str
    hits: tuple[HitEvidence, ...]

    def clause_text(self, hit: HitEvidence) -> str:
        return self.normalised[hit.clause[0] : hit.clause[1]].strip()

    def features(self) -> dict[str, float]:
        """Counts keyed by stable names, for a ``DictVectorizer``: ``entry=ID:STATE``,
        ``category=CAT:STATE``, ``category=CAT:EFFECT`` for annotations, ``lang=LANG`` and
        ``any_active``. Names depend only on lexicon ids, categories and effects."""
        counts: Counter[str] = Counter()
        for hit in self.hits:
            counts[f"entry={hit.entry_id}:{hit.state}"] += 1
            counts[f"category={hit.category}:{hit.state}"] += 1
            for effect in hit.annotations:
                counts[f"category={hit.category}:{effect}"] += 1
            counts[f"lang={hit.lang}"] += 1
        if any(hit.active for hit in self.hits):
            counts["any_active"] = 1
        return {name: float(count) for name, count in sorted(counts.items())}


def build_evidence(normalised: str, hits: list[LexiconHit]) -> LexiconEvidence:
    """The evidence view of ``hits`` found in ``normalised``."""
    clause_ends = ClauseEnds(normalised) if hits else None
    found = []
    for hit in hits:
        clause = clause_ends.bounds(hit.start, hit.end) if clause_ends else (0, len(normalised))
        found.append(
            HitEvidence(
                entry_id=hit.entry_id,
                category=hit.category,
                lang=hit.lang,
                state=hit.effect if hit.effect else "active",
                rule_id=hit.suppressed_by,
                annotations=tuple(effect for _, effect in hit.annotations),
                start=hit.start,
                end=hit.end,
                clause=clause,
            )
        )
    return LexiconEvidence(normalised, tuple(found))
