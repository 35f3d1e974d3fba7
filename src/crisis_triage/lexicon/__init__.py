"""Crisis terms and context rules as a versioned, validated data file, with one compiled matcher."""

from crisis_triage.lexicon._lexicon import DEFAULT_LEXICON_PATH, Lexicon
from crisis_triage.lexicon._model import (
    CATEGORIES,
    CONTEXT_EFFECTS,
    ContextRule,
    LexiconEntry,
    LexiconError,
    LexiconHit,
)

__all__ = [
    "CATEGORIES",
    "CONTEXT_EFFECTS",
    "DEFAULT_LEXICON_PATH",
    "ContextRule",
    "Lexicon",
    "LexiconEntry",
    "LexiconError",
    "LexiconHit",
]
