"""Crisis terms and context rules as a versioned, validated data file, with one compiled matcher."""

from crisis_triage.lexicon._evidence import HitEvidence, LexiconEvidence
from crisis_triage.lexicon._lexicon import DEFAULT_LEXICON_PATH, Lexicon
from crisis_triage.lexicon._model import (
    CATEGORIES,
    CONTEXT_EFFECTS,
    LANGUAGES,
    SUPPRESSES_BY_DEFAULT,
    ContextRule,
    LexiconEntry,
    LexiconError,
    LexiconHit,
)
from crisis_triage.lexicon._term_list import Term, load_term_list

__all__ = [
    "CATEGORIES",
    "CONTEXT_EFFECTS",
    "DEFAULT_LEXICON_PATH",
    "LANGUAGES",
    "SUPPRESSES_BY_DEFAULT",
    "ContextRule",
    "HitEvidence",
    "Lexicon",
    "LexiconEntry",
    "LexiconError",
    "LexiconEvidence",
    "LexiconHit",
    "Term",
    "load_term_list",
]
