"""The one text normaliser shared by the lexicon and the model, and language identification."""

from crisis_triage.text._language import UNDETERMINED, LanguageGuess, detect_language
from crisis_triage.text._normalise import MASK_TOKENS, fold_accents, normalise, tokenise

__all__ = [
    "MASK_TOKENS",
    "UNDETERMINED",
    "LanguageGuess",
    "detect_language",
    "fold_accents",
    "normalise",
    "tokenise",
]
