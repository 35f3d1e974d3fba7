"""The one text normaliser shared by the lexicon and the model, language identification, and
the text fingerprint (``text_hash``) model cards record for their training texts."""

from crisis_triage.text._fingerprint import COMPACT_HASH_CHARACTERS, text_hash
from crisis_triage.text._language import UNDETERMINED, LanguageGuess, detect_language
from crisis_triage.text._normalise import MASK_TOKENS, fold_accents, normalise, tokenise

__all__ = [
    "COMPACT_HASH_CHARACTERS",
    "MASK_TOKENS",
    "UNDETERMINED",
    "LanguageGuess",
    "detect_language",
    "fold_accents",
    "normalise",
    "text_hash",
    "tokenise",
]
