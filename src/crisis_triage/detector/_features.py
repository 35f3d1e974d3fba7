"""TF-IDF features for stage 2, built so that cross-validation stays cheap and exact.

Counting n-grams is the slow part of training.  We count every n-gram of the training texts
once (``FeatureCounts``); a fold's TF-IDF matrix is then a column selection of those counts
(the n-grams frequent enough in the fold's training rows) passed through a
``TfidfTransformer`` fitted on those rows.  That is exactly what a ``TfidfVectorizer`` fitted
on the fold's texts would give (same vocabulary, same order, same idf), at a fraction of the
cost, and it is reused across the whole C grid.

The shipped model keeps plain fitted ``TfidfVectorizer`` objects whose preprocessor is
:func:`crisis_triage.text.normalise`.  Inside the detector, texts are normalised once and
passed through a copy of each vectoriser whose preprocessor is the identity, which gives
identical matrices without normalising twice.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.preprocessing import normalize

from crisis_triage.text import normalise, tokenise

CHAR_PREFIX = "[char] "


def identity(text: str) -> str:
    """Preprocessor for texts that are already normalised."""
    return text


@dataclass(frozen=True)
class FeatureSpec:
    """How stage 2 turns text into TF-IDF features (the subset of detector params it uses)."""

    ngram_range: tuple[int, int]
    char_ngrams: tuple[int, int] | None
    min_df: int | float
    sublinear_tf: bool

    def vectorizer_params(self, kind: str) -> dict[str, Any]:
        common: dict[str, Any] = {
            "lowercase": False,
            "preprocessor": normalise,
            "sublinear_tf": self.sublinear_tf,
            "dtype": np.float64,
            "norm": "l2",
            "use_idf": True,
            "smooth_idf": True,
        }
        if kind == "word":
            return common | {
                "tokenizer": tokenise,
                "token_pattern": None,
                "ngram_range": tuple(self.ngram_range),
            }
        if self.char_ngrams is None:  # pragma: no cover - callers check
            raise ValueError("no char n-grams configured")
        return common | {"analyzer": "char_wb", "ngram_range": tuple(self.char_ngrams)}

    def min_count(self, n_docs: int) -> float:
        """The document frequency an n-gram needs among ``n_docs`` training texts."""
        if isinstance(self.min_df, float):
            return self.min_df * n_docs
        return float(self.min_df)


@dataclass
class _Block:
    kind: str
    counts: sp.csr_matrix
    terms: np.ndarray


class FeatureCounts:
    """N-gram counts of the training texts (one block per vectoriser), computed once."""

    def __init__(self, spec: FeatureSpec, normalised_texts: Sequence[str]) -> None:
        self.spec = spec
        self.blocks: list[_Block] = []
        kinds = ["word"] + (["char"] if spec.char_ngrams else [])
        # An n-gram kept in any fold has at least min_df documents overall, so a global
        # absolute min_df loses nothing.
        global_min = spec.min_df if isinstance(spec.min_df, int) else 1
        for kind in kinds:
            params = spec.vectorizer_params(kind)
            counter = CountVectorizer(
                **{k: v for k, v in params.items() if k in _COUNT_KEYS},
                preprocessor=identity,
                min_df=global_min,
            )
            try:
                counts = counter.fit_transform(normalised_texts).tocsr()
            except ValueError as exc:
                raise ValueError(f"no {kind} n-grams to learn from: {exc}") from None
            self.blocks.append(_Block(kind, counts, counter.get_feature_names_out()))

    def fold(
        self, train_rows: np.ndarray, other_rows: np.ndarray
    ) -> tuple[sp.csr_matrix, sp.csr_matrix, list[np.ndarray]]:
        """TF-IDF of ``train_rows`` (fitted on them) and ``other_rows``; columns per block."""
        train_parts, other_parts, columns = [], [], []
        offset = 0
        for block in self.blocks:
            train_counts = block.counts[train_rows]
            df = np.bincount(train_counts.indices, minlength=train_counts.shape[1])
            keep = np.flatnonzero(df >= self.spec.min_count(len(train_rows)))
            transformer = _transformer(self.spec).fit(train_counts[:, keep])
            train_parts.append(transformer.transform(train_counts[:, keep]))
            if len(other_rows):
                other_parts.append(transformer.transform(block.counts[other_rows][:, keep]))
            else:
                other_parts.append(sp.csr_matrix((0, len(keep))))
            columns.append(np.arange(offset, offset + len(keep)))
            offset += len(keep)
        if offset == 0:
            raise ValueError("no n-gram is frequent enough in a fold; lower min_df")
        return _hstack(train_parts), _hstack(other_parts), columns

    def kept_terms(self, train_rows: np.ndarray) -> list[np.ndarray]:
        """The n-grams of each block that a vectoriser fitted on ``train_rows`` keeps."""
        kept = []
        for block in self.blocks:
            df = np.bincount(block.counts[train_rows].indices, minlength=block.counts.shape[1])
            kept.append(block.terms[df >= self.spec.min_count(len(train_rows))])
        return kept


_COUNT_KEYS = {"lowercase", "tokenizer", "token_pattern", "ngram_range", "analyzer", "dtype"}


def _transformer(spec: FeatureSpec) -> TfidfTransformer:
    return TfidfTransformer(
        norm="l2", use_idf=True, smooth_idf=True, sublinear_tf=spec.sublinear_tf
    )


def _hstack(parts: list[sp.csr_matrix]) -> sp.csr_matrix:
    return parts[0].tocsr() if len(parts) == 1 else sp.hstack(parts, format="csr")


def select_columns(
    matrix: sp.csr_matrix, columns: list[np.ndarray], selected: np.ndarray
) -> tuple[sp.csr_matrix, list[np.ndarray]]:
    """Keep ``selected`` columns and re-normalise each block to unit length.

    This is what a vectoriser restricted to the selected n-grams produces: TF-IDF rows are
    L2-normalised over the vocabulary the vectoriser knows.
    """
    parts, new_columns, offset = [], [], 0
    for block_columns in columns:
        in_block = selected[np.isin(selected, block_columns)]
        parts.append(normalize(matrix[:, in_block], norm="l2", copy=True))
        new_columns.append(np.arange(offset, offset + len(in_block)))
        offset += len(in_block)
    return _hstack(parts), new_columns


def fit_vectorizer(
    spec: FeatureSpec,
    kind: str,
    vocabulary: Sequence[str] | None,
    normalised_texts: Sequence[str],
) -> TfidfVectorizer | None:
    """A plain ``TfidfVectorizer`` with idf from ``normalised_texts``.

    With ``vocabulary`` (the n-grams the L1 model kept) it knows only those; without, it
    learns every n-gram with at least ``min_df`` documents.  Fitted on already-normalised
    texts with an identity preprocessor, then given the real preprocessor (``normalise``),
    so it scores raw text exactly as the detector does.
    """
    if vocabulary is not None and len(vocabulary) == 0:
        return None
    params = spec.vectorizer_params(kind)
    if vocabulary is None:
        vectorizer = TfidfVectorizer(**params, min_df=spec.min_df)
    else:
        vectorizer = TfidfVectorizer(**params, vocabulary=list(vocabulary))
    vectorizer.set_params(preprocessor=identity).fit(normalised_texts)
    vectorizer.set_params(preprocessor=normalise)
    return vectorizer


def prenormalised(vectorizer: TfidfVectorizer) -> TfidfVectorizer:
    """A shallow copy of a fitted vectoriser that expects normalised text."""
    clone = copy.copy(vectorizer)
    clone.set_params(preprocessor=identity)
    return clone


def transform(
    vectorizers: Sequence[TfidfVectorizer | None], normalised_texts: Sequence[str]
) -> Any:
    """The stage-2 feature matrix (blocks side by side) of already-normalised texts."""
    parts = [v.transform(normalised_texts) for v in vectorizers if v is not None]
    return _hstack(parts)


def feature_names(vectorizers: Sequence[TfidfVectorizer | None]) -> np.ndarray:
    names: list[str] = []
    for position, vectorizer in enumerate(vectorizers):
        if vectorizer is None:
            continue
        prefix = "" if position == 0 else CHAR_PREFIX
        names.extend(prefix + str(n) for n in vectorizer.get_feature_names_out())
    return np.asarray(names, dtype=object)


def describe_min_df(min_df: int | float) -> str:
    if isinstance(min_df, float):
        return f"{min_df:.3g} of documents"
    return f"{min_df} document{'s' if min_df != 1 else ''}"


def check_ngram_range(value: Any, name: str) -> tuple[int, int]:
    try:
        low, high = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of whole numbers, got {value!r}") from None
    if not 1 <= low <= high or not math.isfinite(high):
        raise ValueError(f"{name} must satisfy 1 <= low <= high, got {value!r}")
    return low, high
