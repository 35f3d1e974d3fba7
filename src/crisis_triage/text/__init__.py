"""The one text normaliser shared by the lexicon and the model."""

from crisis_triage.text._normalise import MASK_TOKENS, normalise, tokenise

__all__ = ["MASK_TOKENS", "normalise", "tokenise"]
