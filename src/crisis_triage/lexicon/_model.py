"""Value types of the lexicon: entries, context rules and hits."""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = ("SI", "HI", "NSSI", "DV", "OD")
# What a context rule says about a nearby crisis term.
CONTEXT_EFFECTS = ("negation", "hypothetical", "other_person", "figurative", "historical")


class LexiconError(ValueError):
    """The lexicon file is malformed; the message names the entry and the problem."""


@dataclass(frozen=True)
class LexiconEntry:
    id: str
    pattern: str
    category: str
    rationale: str


@dataclass(frozen=True)
class ContextRule:
    """A cue that, found near a crisis term, changes what the term means.

    ``direction`` is where the cue must sit relative to the term: ``before``, ``after`` or
    ``either``; ``window`` is the furthest distance in tokens.  ``applies_to`` limits the rule to
    some categories (empty: all).
    """

    id: str
    pattern: str
    effect: str
    direction: str
    window: int
    rationale: str
    applies_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class LexiconHit:
    """One match of a lexicon entry in normalised text.

    ``suppressed_by`` names the context rule that explains the term away (``None``: the hit
    counts).  Suppressed hits are kept so that an explanation can say why a term did not count.
    """

    entry_id: str
    category: str
    term: str
    start: int
    end: int
    suppressed_by: str | None = None
    effect: str | None = None

    @property
    def active(self) -> bool:
        return self.suppressed_by is None

    def describe(self) -> str:
        if self.active:
            return f"{self.category}:{self.entry_id} '{self.term}'"
        return (
            f"{self.category}:{self.entry_id} '{self.term}' ({self.effect}: {self.suppressed_by})"
        )
