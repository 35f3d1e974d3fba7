"""The part of the development benchmark that no one reads while building.

From wave 2 on, a quarter of the dev halves' messages, chosen by a hash of their ``uid`` (so
the choice is fixed, reproducible and blind to text and label), is *unread*: no developer
looks at those messages, no lexicon entry is written from them, and the honest figures of the
model card come from a model trained without them and evaluated on them.  The lexicon of
wave 1 was written while reading all of dev, so even the unread part is not fully independent
of the lexicon; the model card says so next to every figure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np

UNREAD_SHARE = 4  # one message in four
SPLIT_RULE = "sha256(uid) as hex, first 8 digits as an integer, mod 4 == 0 -> unread"


def is_unread(uid: str) -> bool:
    """True for the dev messages kept unread (see the module docstring)."""
    return int(hashlib.sha256(uid.encode()).hexdigest()[:8], 16) % UNREAD_SHARE == 0


def unread_mask(uids: Iterable[str]) -> np.ndarray:
    return np.array([is_unread(str(u)) for u in uids], dtype=bool)
