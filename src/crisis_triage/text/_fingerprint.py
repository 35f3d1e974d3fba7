"""One fingerprint of a message's text: what a model card records about its training texts.

``text_hash(text)`` is the hex SHA-256 of ``normalise(text)`` (UTF-8), so that spelling, case
and spacing variants the model cannot tell apart count as the same message.  It lives here, at
the bottom, so that training (which writes hashes into a card) and evaluation (which compares
evaluated messages with them) share one definition.
"""

from __future__ import annotations

import hashlib

from crisis_triage.text._normalise import normalise

COMPACT_HASH_CHARACTERS = 16  # the short form a card may store for large training sets


def text_hash(text: str) -> str:
    """The hex SHA-256 of the normalised text (64 characters)."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()
