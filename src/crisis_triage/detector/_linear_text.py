"""The arithmetic of TF-IDF + linear models, done from n-gram occurrences instead of a matrix.

For one vectorizer block and one text, ``TfidfVectorizer`` + a linear model compute

    value(g) = tf(count of g) * idf(g)              for each vocabulary n-gram g in the text
    norm     = sqrt(sum of value(g)**2 over them)   (or the sum for l1, or 1 for none)
    decision = intercept + sum over blocks of weight * sum of value(g) / norm * coef(g)

so only the n-grams present matter, and of those only the ones with a non-zero coefficient
add to the decision (all of them count in the norm). ``LinearTextModel`` does this for
several linear models over the same features at once (a classifier and its category heads).
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from crisis_triage.detector._ngram_index import Block, IntArray, make_block

FloatArray = npt.NDArray[np.float64]
# Up to this many characters in a batch, plain Python beats numpy's per-call overhead; more
# with a small vocabulary (its dictionary stays in the CPU cache). Measured on this project's
# models (bench_core_dev messages, a 813k n-gram and a 2.3k n-gram vocabulary).
SMALL_WORK = 400
SMALL_WORK_SMALL_VOCABULARY = 4000
SMALL_VOCABULARY = 100_000


class UnsupportedModelError(ValueError):
    """The fitted model uses an option the compiled scorer does not reproduce."""


@dataclass(frozen=True)
class _Part:
    """One vectorizer block: how it weights n-grams and the coefficients of its columns."""

    block: Block
    offset: int  # of the block's first column among all features
    idf: FloatArray
    idf_values: array[float]  # the same, cheaper to index from Python
    coef: FloatArray  # (outputs, columns)
    weighted: dict[int, tuple[float, ...]]  # column -> coefficients, where any is non-zero
    weight: float  # FeatureUnion transformer weight
    norm: str | None
    sublinear_tf: bool
    binary: bool

    def tf(self, count: int) -> float:
        """The term-frequency weight of an n-gram seen ``count`` times, as sklearn's."""
        if self.binary or (count == 1 and self.sublinear_tf):
            return 1.0
        return math.log(count) + 1.0 if self.sublinear_tf else float(count)


def check_vectorizer(vectorizer: Any) -> None:
    if not isinstance(vectorizer, TfidfVectorizer):
        raise UnsupportedModelError(
            f"expected a fitted TfidfVectorizer, got {type(vectorizer).__name__}"
        )
    if not hasattr(vectorizer, "vocabulary_"):
        raise UnsupportedModelError("the TfidfVectorizer is not fitted")
    problems = []
    if vectorizer.input != "content":
        problems.append(f"input={vectorizer.input!r} (only 'content')")
    if vectorizer.norm not in (None, "l1", "l2"):
        problems.append(f"norm={vectorizer.norm!r} (only None, 'l1', 'l2')")
    if np.dtype(vectorizer.dtype) != np.float64:
        problems.append(f"dtype={vectorizer.dtype!r} (only float64)")
    if problems:
        raise UnsupportedModelError("unsupported TfidfVectorizer option: " + "; ".join(problems))


def _linear(classifier: Any, n_features: int) -> tuple[FloatArray, float]:
    coef = getattr(classifier, "coef_", None)
    if coef is None or not hasattr(classifier, "intercept_"):
        raise UnsupportedModelError(
            f"expected a fitted linear classifier, got {type(classifier).__name__}"
        )
    if hasattr(coef, "toarray"):  # sparsified coefficients
        coef = coef.toarray()
    coef = np.asarray(coef, dtype=np.float64)
    if coef.shape != (1, n_features) or len(getattr(classifier, "classes_", ())) != 2:
        raise UnsupportedModelError(
            f"expected a binary classifier over {n_features} features, coef_ has shape {coef.shape}"
        )
    return coef[0], float(np.asarray(classifier.intercept_, dtype=np.float64).ravel()[0])


def _check_calibrator(calibrator: Any) -> Any:
    if calibrator is None or isinstance(calibrator, IsotonicRegression):
        return calibrator
    if isinstance(calibrator, LogisticRegression) and np.shape(calibrator.coef_) == (1, 1):
        return calibrator  # sigmoid calibration fitted as a 1-feature logistic regression
    if hasattr(calibrator, "a_") and hasattr(calibrator, "b_"):
        return calibrator  # CalibratedClassifierCV's sigmoid calibration
    raise UnsupportedModelError(
        f"unsupported calibrator {type(calibrator).__name__} (sigmoid or isotonic only)"
    )


class LinearTextModel:
    """Fitted vectorizers, linear classifiers over their stacked features, a calibrator.

    ``classifiers[0]`` is the model whose decision is calibrated and explained; the others
    (category heads, say) are scored alongside at little extra cost.
    """

    def __init__(
        self,
        vectorizers: Sequence[Any],
        classifiers: Sequence[Any],
        *,
        weights: Sequence[float | None] | None = None,
        calibrator: Any = None,
        prefixes: Sequence[str] | None = None,
    ) -> None:
        for vectorizer in vectorizers:
            check_vectorizer(vectorizer)
        sizes = [len(v.vocabulary_) for v in vectorizers]
        linear = [_linear(c, sum(sizes)) for c in classifiers]
        coef = np.vstack([c for c, _ in linear])
        self.intercepts = [b for _, b in linear]
        self.calibrator = _check_calibrator(calibrator)
        self.has_probability = calibrator is not None or isinstance(
            classifiers[0], LogisticRegression
        )
        small = sum(sizes) <= SMALL_VOCABULARY
        self.small_work = SMALL_WORK_SMALL_VOCABULARY if small else SMALL_WORK
        weights = [None] * len(vectorizers) if weights is None else list(weights)
        prefixes = [""] * len(vectorizers) if prefixes is None else list(prefixes)
        self.parts: list[_Part] = []
        self.names: dict[int, str] = {}  # feature -> n-gram, for weighted columns of output 0
        offset = 0
        for vectorizer, size, weight, prefix in zip(
            vectorizers, sizes, weights, prefixes, strict=True
        ):
            block_coef = np.ascontiguousarray(coef[:, offset : offset + size])
            idf = np.asarray(vectorizer.idf_ if vectorizer.use_idf else np.ones(size), np.float64)
            nonzero = np.flatnonzero(block_coef.any(axis=0))
            explained = set(np.flatnonzero(block_coef[0]).tolist())
            self.names |= {
                offset + col: prefix + term
                for term, col in vectorizer.vocabulary_.items()
                if col in explained
            }
            self.parts.append(
                _Part(
                    block=make_block(vectorizer),
                    offset=offset,
                    idf=idf,
                    idf_values=array("d", idf.tobytes()),
                    coef=block_coef,
                    weighted=dict(
                        zip(
                            nonzero.tolist(),
                            map(tuple, block_coef[:, nonzero].T.tolist()),
                            strict=True,
                        )
                    ),
                    weight=1.0 if weight is None else float(weight),
                    norm=vectorizer.norm,
                    sublinear_tf=bool(vectorizer.sublinear_tf),
                    binary=bool(vectorizer.binary),
                )
            )
            offset += size

    def decisions(
        self, texts: Sequence[str], prepared: dict[object, list[str]], explain: bool
    ) -> tuple[FloatArray, list[dict[int, float]]]:
        """Decision functions, shape (classifiers, texts), and per text the contribution of
        each feature with a non-zero coefficient to the first one (if ``explain``)."""
        n_docs = len(texts)
        contributions: list[dict[int, float]] = [{} for _ in range(n_docs)] if explain else []
        if sum(map(len, texts)) <= self.small_work:
            rows = [[b] * n_docs for b in self.intercepts]
            for part in self.parts:
                columns = part.block.columns(_prepared(part.block, texts, prepared))
                _add_small(part, columns, rows, contributions)
            return np.array(rows, dtype=np.float64).reshape(len(rows), n_docs), contributions
        decision = np.repeat(np.array(self.intercepts)[:, None], n_docs, axis=1)
        for part in self.parts:
            docs, cols = part.block.occurrences(_prepared(part.block, texts, prepared))
            _add(part, docs, cols, decision, contributions)
        return decision, contributions

    def probability(self, decision: FloatArray) -> FloatArray:
        """Shape (n, 2), computed as LogisticRegression / the calibrator / sklearn do."""
        calibrator = self.calibrator
        if calibrator is None:
            positive = expit(decision)
        elif isinstance(calibrator, IsotonicRegression):
            positive = calibrator.predict(decision)
        elif isinstance(calibrator, LogisticRegression):
            positive = expit(decision * calibrator.coef_[0, 0] + calibrator.intercept_[0])
        else:  # CalibratedClassifierCV's sigmoid: 1 / (1 + exp(a * f + b))
            positive = expit(-(calibrator.a_ * decision + calibrator.b_))
        positive = np.asarray(positive, dtype=np.float64)
        proba = np.column_stack([1.0 - positive, positive])
        if calibrator is not None and not isinstance(calibrator, LogisticRegression):
            proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0  # as CalibratedClassifierCV
        return proba

    def clear_caches(self) -> None:
        for part in self.parts:
            part.block.clear_cache()


def _prepared(block: Block, texts: Sequence[str], cache: dict[object, list[str]]) -> list[str]:
    """The block's preprocessed texts, computed once per batch for blocks that share them."""
    if block.prepare_key not in cache:
        cache[block.prepare_key] = [block.prepare(text) for text in texts]
    return cache[block.prepare_key]


def _add_small(
    part: _Part,
    columns: list[list[int]],
    rows: list[list[float]],
    contributions: list[dict[int, float]],
) -> None:
    """``_add`` for a few short texts, in plain Python (numpy's per-call cost dominates)."""
    idf, weighted, l2, offset = part.idf_values, part.weighted, part.norm == "l2", part.offset
    outputs = range(len(rows))
    for doc, cols in enumerate(columns):
        total = 0.0
        kept: list[tuple[int, float]] = []
        for col, count in Counter(cols).items():
            value = part.tf(count) * idf[col]
            total += value * value if l2 else value
            if col in weighted:
                kept.append((col, value))
        norm = (math.sqrt(total) if l2 else total) if part.norm else 1.0
        norm = norm or 1.0
        for col, value in kept:
            scaled = part.weight * (value / norm)
            coefs = weighted[col]
            for output in outputs:
                rows[output][doc] += scaled * coefs[output]
            if contributions and coefs[0]:
                contributions[doc][offset + col] = scaled * coefs[0]


def _add(
    part: _Part,
    docs: IntArray,
    cols: IntArray,
    decision: FloatArray,
    contributions: list[dict[int, float]],
) -> None:
    """Add one block's share of the decision functions (and its n-gram contributions)."""
    if not docs.size:
        return
    n_docs, n_cols = decision.shape[1], len(part.idf)
    pairs, counts = _count(docs * n_cols + cols)
    docs, cols = pairs // n_cols, pairs % n_cols
    if part.binary:
        tf = np.ones(len(counts))
    else:
        tf = counts.astype(np.float64)
        if part.sublinear_tf:
            tf = np.log(tf) + 1.0
    values = tf * part.idf[cols]
    if part.norm == "l2":
        norms = np.sqrt(np.bincount(docs, weights=values * values, minlength=n_docs))
    elif part.norm == "l1":
        norms = np.bincount(docs, weights=values, minlength=n_docs)
    else:
        norms = np.ones(n_docs)
    norms[norms == 0.0] = 1.0  # an empty row stays empty, as in sklearn's normalize
    coef = part.coef[:, cols]
    weighted = coef.any(axis=0)
    docs, coef = docs[weighted], coef[:, weighted]
    scaled = part.weight * values[weighted] / norms[docs]
    for output in range(len(decision)):
        decision[output] += np.bincount(docs, weights=scaled * coef[output], minlength=n_docs)
    if contributions:
        pushes = scaled * coef[0]
        features = cols[weighted] + part.offset
        triples = zip(docs.tolist(), features.tolist(), pushes.tolist(), strict=True)
        for doc, feature, push in triples:
            if push:
                contributions[doc][feature] = push


def _count(keys: IntArray) -> tuple[IntArray, IntArray]:
    """The distinct keys, sorted, and how often each occurs (``np.unique`` without its
    overhead, which matters for one text at a time)."""
    keys = np.sort(keys)
    first = np.empty(len(keys), dtype=bool)
    first[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = first.nonzero()[0]
    return keys[starts], np.diff(starts, append=len(keys))
