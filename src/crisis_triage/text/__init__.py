"""The one text normaliser shared by the lexicon and the model."""

from crisis_triage.text._normalise import MASK_TOKENS, fold_accents, normalise, tokenise

__all__ = ["MASK_TOKENS", "fold_accents", "normalise", "tokenise"]
