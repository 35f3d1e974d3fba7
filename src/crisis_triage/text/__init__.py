"""The one text normaliser shared by the lexicon and the model, and language identification."""

from crisis_triage.text._language import UNDETERMINED, LanguageGuess, detect_language
from crisis_triage.text._normalise import MASK_TOKENS, normalise, tokenise

__all__ = [
    "MASK_TOKENS",
    "UNDETERMINED",
    "LanguageGuess",
    "detect_language",
    "normalise",
    "tokenise",
]
