"""The static encoder: a word table distilled from multilingual-e5-small, served with numpy.

A message's vector is the SIF-weighted mean of the table rows of its known words
(weight a / (a + p(word)), p the word's corpus frequency), L2-normalised. Unknown words are
skipped; a message with no known word (or ``""``) gets the zero vector, which callers must
read as "no evidence", not as a direction. Words come from the shared normaliser followed by
a Unicode word pattern (``text.tokenise`` keeps to ASCII and would split "mañana").

The table file (``.npz``, built by :func:`build_static_table`) holds the words, int8 rows with
float16 per-row scales, the SIF weights and the PCA that maps full-encoder vectors into the
table's space; a JSON card beside it records its provenance and SHA-256, checked on load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from crisis_triage.detector._encoders import (
    STATIC_ENCODER,
    EncoderUnavailable,
    check_texts,
    l2_normalise,
)
from crisis_triage.detector._full_encoder import file_sha256
from crisis_triage.text import normalise

STATIC_TABLE_PATH = Path(__file__).resolve().parent / "bundled" / "static_e5_v1.npz"
TOKENISER = "normalise+unicode-words-v1"
_WORD = re.compile(r"__[a-z]+__|\w+(?:'\w+)?")
_TABLE_KEYS = ("words", "vectors", "scales", "weights", "mean", "components")


def words(text: str) -> list[str]:
    """The words of ``text`` as the table knows them (normalised, Unicode-aware)."""
    return _WORD.findall(normalise(text))


def card_path_for(table: Path) -> Path:
    """The JSON card that describes a table file."""
    return table.with_suffix(".json")


def read_table_card(table: Path = STATIC_TABLE_PATH) -> dict[str, Any]:
    """The table's card, checked against the table file; EncoderUnavailable if they differ."""
    card_file = card_path_for(table)
    if not table.is_file():
        raise EncoderUnavailable(f"static encoder table {table.name} is missing")
    if not card_file.is_file():
        raise EncoderUnavailable(f"static encoder card {card_file.name} is missing")
    try:
        card: dict[str, Any] = json.loads(card_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        reason = f"static encoder card {card_file.name} is unreadable: {exc}"
        raise EncoderUnavailable(reason) from None
    actual = file_sha256(table)
    if card.get("table_sha256") != actual:
        raise EncoderUnavailable(
            f"static encoder table {table.name} has sha256 {actual[:16]}…, its card records "
            f"{str(card.get('table_sha256'))[:16]}…; rebuild it (crisis-triage encoder "
            "build-static)"
        )
    if card.get("tokeniser") != TOKENISER:
        raise EncoderUnavailable(
            f"static encoder table was built with tokeniser {card.get('tokeniser')!r}, "
            f"this code reads {TOKENISER!r}; rebuild it"
        )
    return card


class StaticEncoder:
    """``static-e5-v1``: numpy lookup and weighted mean; no model at serving time."""

    name = STATIC_ENCODER

    def __init__(self, path: Path = STATIC_TABLE_PATH) -> None:
        self.card = read_table_card(path)
        try:
            with np.load(path, allow_pickle=False) as table:
                arrays = {key: table[key] for key in _TABLE_KEYS}
        except (OSError, ValueError, KeyError) as exc:
            reason = f"static encoder table {path.name} is unreadable: {exc}"
            raise EncoderUnavailable(reason) from None
        vocabulary = arrays["words"].tobytes().decode("utf-8").split("\n")
        scales = arrays["scales"].astype(np.float32)
        # Rows dequantised once (float32: what the sparse product needs for speed).
        self.table_ = arrays["vectors"].astype(np.float32) * scales[:, None]
        self.weights_ = arrays["weights"].astype(np.float32)
        self.mean_ = arrays["mean"].astype(np.float32)
        self.components_ = arrays["components"].astype(np.float32)
        self.index_ = {word: row for row, word in enumerate(vocabulary)}
        if len(self.index_) != len(self.table_):
            raise EncoderUnavailable(f"static encoder table {path.name} is inconsistent")
        self.dim = int(self.table_.shape[1])

    def _rows(self, text: str) -> list[int]:
        index = self.index_
        return [index[word] for word in words(text) if word in index]

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        items = check_texts(texts)
        if len(items) == 1:  # one message: a direct weighted sum beats building a matrix
            rows = self._rows(items[0])
            summed = self.weights_[rows] @ self.table_[rows] if rows else np.zeros(self.dim)
            return l2_normalise(np.asarray(summed, dtype=np.float32).reshape(1, -1))
        indptr, indices = [0], []
        for text in items:
            indices.extend(self._rows(text))
            indptr.append(len(indices))
        columns = np.asarray(indices, dtype=np.int64)
        counts = sparse.csr_matrix(
            (self.weights_[columns], columns, np.asarray(indptr)),
            shape=(len(items), len(self.table_)),
        )
        # The mean's denominator drops out in the normalisation, so a weighted sum suffices.
        return l2_normalise(np.asarray(counts @ self.table_))

    def project(self, full_vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Full-encoder vectors mapped into this table's space (centred, PCA), normalised."""
        centred = np.asarray(full_vectors, dtype=np.float32) - self.mean_
        return l2_normalise(centred @ self.components_.T)


def static_encoder_status(path: Path = STATIC_TABLE_PATH) -> dict[str, Any]:
    """Whether the bundled table is present and matches its card; its provenance."""
    try:
        card = read_table_card(path)
    except EncoderUnavailable as exc:
        return {"available": False, "reason": str(exc), "table": path.name}
    return {"available": True, "reason": None, "table": path.name} | {
        key: card.get(key)
        for key in (
            "dim",
            "vocabulary_size",
            "table_sha256",
            "source_package",
            "source_weights_sha256",
            "built_at",
            "tokeniser",
        )
    }
