"""Value types of the lexicon: entries, context rules and hits."""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = ("SI", "HI", "NSSI", "DV", "OD")
# Languages an entry or rule can be written for; a context rule only looks at hits of entries
# in its own language ("no" is a Spanish denial, not an English one).
LANGUAGES = ("en", "es")
# What a context rule says about a nearby crisis term.
CONTEXT_EFFECTS = (
    "negation",
    "hypothetical",
    "other_person",
    "figurative",
    "historical",
    "accidental",
    "conflict",
)
# Whether a rule with this effect explains a hit away (True) or only annotates it (False) when
# the rule does not say.  A crisis about someone else (a parent writing about a suicidal child)
# must still be found, and guideline-ambiguous history ("years ago I attempted") goes to a human,
# so those two annotate by default.
SUPPRESSES_BY_DEFAULT = {
    "negation": True,
    "hypothetical": True,
    "other_person": False,
    "figurative": True,
    "historical": False,
    "accidental": True,
    "conflict": True,
}


class LexiconError(ValueError):
    """The lexicon file is malformed; the message names the entry and the problem."""


@dataclass(frozen=True)
class LexiconEntry:
    """One crisis term: a regex over normalised text, its category and why it is there.

    ``examples`` are messages in which the entry must produce an active hit (checked by
    ``Lexicon.check_examples`` and ``crisis-triage lexicon validate``).
    """

    id: str
    pattern: str
    category: str
    rationale: str
    examples: tuple[str, ...] = ()
    source_pattern: str = ""  # as written in the file, before {{macros}} are expanded
    lang: str = "en"


@dataclass(frozen=True)
class ContextRule:
    """A cue that, found near a crisis term, changes what the term means.

    ``direction`` is where the cue must sit relative to the term: ``before``, ``after`` or
    ``either``; ``window`` is the furthest distance in tokens.  ``applies_to`` limits the rule to
    some categories or entry ids (empty: all).  ``suppress`` says whether the rule explains the
    hit away or only annotates it; ``examples`` are messages in which the rule must affect some hit.
    """

    id: str
    pattern: str
    effect: str
    direction: str
    window: int
    rationale: str
    applies_to: tuple[str, ...] = ()
    suppress: bool = True
    examples: tuple[str, ...] = ()
    source_pattern: str = ""  # as written in the file, before {{macros}} are expanded
    lang: str = "en"


@dataclass(frozen=True)
class LexiconHit:
    """One match of a lexicon entry in normalised text (``start``/``end`` index into
    ``normalise(text)``; ``term`` is that slice, accents kept).

    ``suppressed_by`` names the context rule that explains the term away (``None``: the hit
    counts).  Suppressed hits are kept so that an explanation can say why a term did not count.
    ``annotations`` are ``(rule id, effect)`` pairs of rules that describe the hit without
    explaining it away, e.g. that it is about someone else (a third party at risk) or historical.
    """

    entry_id: str
    category: str
    term: str
    start: int
    end: int
    suppressed_by: str | None = None
    effect: str | None = None
    annotations: tuple[tuple[str, str], ...] = ()
    lang: str = "en"

    @property
    def active(self) -> bool:
        return self.suppressed_by is None

    @property
    def effects(self) -> tuple[str, ...]:
        """Every context effect found around the hit, suppressing or not."""
        found = [self.effect] if self.effect else []
        found += [effect for _, effect in self.annotations if effect not in found]
        return tuple(found)

    def describe(self) -> str:
        text = f"{self.category}:{self.entry_id} '{self.term}'"
        if not self.active:
            text += f" ({self.effect}: {self.suppressed_by})"
        if self.annotations:
            notes = ", ".join(f"{effect}: {rule}" for rule, effect in self.annotations)
            text += f" [{notes}]"
        return text
