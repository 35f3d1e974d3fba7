"""Score texts with a fitted TF-IDF + linear model several times faster than scikit-learn.

``CompiledScorer`` gives the same decision function and probabilities as the fitted
scikit-learn objects it is built from (to rounding, ~1e-12), without building the TF-IDF
matrix: per text it finds the vocabulary n-grams present (see ``_ngram_index``), weights
them as ``TfidfVectorizer`` does (tf or 1 + log tf, or 1 when binary, times idf), takes the
row norm over *all* of them and sums the few with a non-zero coefficient. It also returns
the n-grams that moved each score most, for explanations.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from crisis_triage.detector._ngram_index import Block, IntArray, make_block

FloatArray = npt.NDArray[np.float64]
_CHUNK = 4096
# Up to this many characters in a batch, plain Python beats numpy's per-call overhead.
_SMALL_WORK = 300


class UnsupportedModelError(ValueError):
    """The fitted model uses an option the compiled scorer does not reproduce."""


@dataclass(frozen=True)
class CompiledScores:
    """Scores for a batch: decision function, class probabilities (n, 2) and n-grams."""

    decision: FloatArray
    probability: FloatArray
    top_ngrams: list[tuple[tuple[str, float], ...]]


@dataclass(frozen=True)
class _Weighting:
    block: Block
    idf: FloatArray
    coef: FloatArray
    weight: float
    norm: str | None
    sublinear_tf: bool
    binary: bool
    terms: dict[int, str]  # column -> n-gram, only for columns with a non-zero coefficient
    idf_values: array[float]  # idf again, cheap to index from Python (small batches)
    weighted: dict[int, float]  # column -> coefficient, non-zero ones only

    def tf(self, count: int) -> float:
        """The term-frequency weight of an n-gram seen ``count`` times, as sklearn's."""
        if self.binary or (count == 1 and self.sublinear_tf):
            return 1.0
        return math.log(count) + 1.0 if self.sublinear_tf else float(count)


def _check_vectorizer(vectorizer: Any) -> None:
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


def _linear_parts(classifier: Any, n_features: int) -> tuple[FloatArray, float]:
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


def _terms_with_weight(vectorizer: Any, coef: FloatArray) -> dict[int, str]:
    nonzero = set(np.flatnonzero(coef).tolist())
    return {col: term for term, col in vectorizer.vocabulary_.items() if col in nonzero}


class _LinearTextModel:
    """One fitted (vectorizers, linear classifier) pair plus an optional calibrator."""

    def __init__(
        self,
        vectorizers: Sequence[Any],
        classifier: Any,
        weights: Sequence[float | None],
        calibrator: Any = None,
    ) -> None:
        for vectorizer in vectorizers:
            _check_vectorizer(vectorizer)
        sizes = [len(v.vocabulary_) for v in vectorizers]
        coef, self.intercept = _linear_parts(classifier, sum(sizes))
        self._calibrator = _check_calibrator(calibrator)
        self.has_probability = calibrator is not None or isinstance(classifier, LogisticRegression)
        self.parts: list[_Weighting] = []
        offset = 0
        for vectorizer, size, weight in zip(vectorizers, sizes, weights, strict=True):
            block_coef = coef[offset : offset + size]
            offset += size
            idf = np.asarray(vectorizer.idf_ if vectorizer.use_idf else np.ones(size), np.float64)
            nonzero = np.flatnonzero(block_coef)
            self.parts.append(
                _Weighting(
                    block=make_block(vectorizer),
                    idf=idf,
                    coef=np.ascontiguousarray(block_coef),
                    weight=1.0 if weight is None else float(weight),
                    norm=vectorizer.norm,
                    sublinear_tf=bool(vectorizer.sublinear_tf),
                    binary=bool(vectorizer.binary),
                    terms=_terms_with_weight(vectorizer, block_coef),
                    idf_values=array("d", idf.tobytes()),
                    weighted=dict(zip(nonzero.tolist(), block_coef[nonzero].tolist(), strict=True)),
                )
            )

    def score(
        self, texts: Sequence[str], prepared: dict[object, list[str]], explain: bool
    ) -> tuple[FloatArray, list[dict[str, float]]]:
        n_docs = len(texts)
        contributions: list[dict[str, float]] = [{} for _ in range(n_docs)] if explain else []
        if sum(map(len, texts)) <= _SMALL_WORK:
            pushes = [self.intercept] * n_docs
            for part in self.parts:
                columns = part.block.columns(_prepared(part.block, texts, prepared))
                _add_part_small(part, columns, pushes, contributions)
            return np.asarray(pushes, dtype=np.float64), contributions
        decision = np.full(n_docs, self.intercept)
        for part in self.parts:
            docs, cols = part.block.occurrences(_prepared(part.block, texts, prepared))
            _add_part(part, docs, cols, n_docs, decision, contributions)
        return decision, contributions

    def probability(self, decision: FloatArray) -> FloatArray:
        """Shape (n, 2), computed as LogisticRegression / CalibratedClassifierCV do."""
        if self._calibrator is None:
            positive = np.asarray(expit(decision), dtype=np.float64)
            return np.column_stack([1.0 - positive, positive])
        if isinstance(self._calibrator, IsotonicRegression):
            positive = np.asarray(self._calibrator.predict(decision), dtype=np.float64)
        else:  # sklearn's sigmoid calibration: 1 / (1 + exp(a * f + b))
            positive = np.asarray(expit(-(self._calibrator.a_ * decision + self._calibrator.b_)))
        proba = np.column_stack([1.0 - positive, positive])
        proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
        return proba


def _check_calibrator(calibrator: Any) -> Any:
    if calibrator is None or isinstance(calibrator, IsotonicRegression):
        return calibrator
    if hasattr(calibrator, "a_") and hasattr(calibrator, "b_"):
        return calibrator
    raise UnsupportedModelError(
        f"unsupported calibrator {type(calibrator).__name__} (sigmoid or isotonic only)"
    )


def _prepared(block: Block, texts: Sequence[str], cache: dict[object, list[str]]) -> list[str]:
    """The block's preprocessed texts, computed once per batch for blocks that share them."""
    if block.prepare_key not in cache:
        cache[block.prepare_key] = [block.prepare(text) for text in texts]
    return cache[block.prepare_key]


def _add_part_small(
    part: _Weighting,
    columns: list[list[int]],
    decision: list[float],
    contributions: list[dict[str, float]],
) -> None:
    """``_add_part`` for a few texts, in plain Python (numpy's per-call cost dominates there)."""
    idf, weighted, l2 = part.idf_values, part.weighted, part.norm == "l2"
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
            push = part.weight * (value / norm) * weighted[col]
            decision[doc] += push
            if contributions:
                gram = part.terms[col]
                contributions[doc][gram] = contributions[doc].get(gram, 0.0) + push


def _add_part(
    part: _Weighting,
    docs: IntArray,
    cols: IntArray,
    n_docs: int,
    decision: FloatArray,
    contributions: list[dict[str, float]],
) -> None:
    """Add one vectorizer's share of the decision function (and its n-gram contributions)."""
    if not docs.size:
        return
    n_cols = len(part.idf)
    pairs, counts = np.unique(docs * n_cols + cols, return_counts=True)
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
    weighted = part.coef[cols] != 0.0
    docs, cols = docs[weighted], cols[weighted]
    pushes = part.weight * values[weighted] / norms[docs] * part.coef[cols]
    decision += np.bincount(docs, weights=pushes, minlength=n_docs)
    if contributions:
        terms = part.terms
        for doc, col, push in zip(docs.tolist(), cols.tolist(), pushes.tolist(), strict=True):
            contributions[doc][terms[col]] = contributions[doc].get(terms[col], 0.0) + push


def _as_texts(texts: Iterable[str]) -> list[str]:
    if isinstance(texts, str | bytes):
        raise TypeError("expected a sequence of texts, got a single string")
    items = list(texts)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"text at index {index} is {type(item).__name__}, not str")
    return items


class CompiledScorer:
    """Fast, exact scoring for a fitted TF-IDF + binary linear classifier.

    Build it with :meth:`from_fitted` (vectorizers, classifier, optional calibrator) or
    :meth:`from_estimator` (a fitted Pipeline, possibly inside CalibratedClassifierCV).
    Building reads the whole vocabulary once (about a second per million n-grams).
    """

    def __init__(self, members: Sequence[_LinearTextModel]) -> None:
        self._members = list(members)

    @classmethod
    def from_fitted(
        cls,
        vectorizers: TfidfVectorizer | Sequence[TfidfVectorizer],
        classifier: Any,
        *,
        calibrator: Any = None,
        weights: Sequence[float | None] | None = None,
    ) -> CompiledScorer:
        """Compile vectorizers (their outputs stacked in this order) and a linear classifier.

        ``weights`` scales each vectorizer's block (FeatureUnion ``transformer_weights``);
        ``calibrator`` maps the decision function to a probability (sklearn's sigmoid
        calibration or an IsotonicRegression); without one, P = expit(decision).
        """
        if isinstance(vectorizers, TfidfVectorizer):
            vectorizers = [vectorizers]
        weights = [None] * len(vectorizers) if weights is None else list(weights)
        return cls([_LinearTextModel(vectorizers, classifier, weights, calibrator)])

    @classmethod
    def from_estimator(cls, estimator: Any) -> CompiledScorer:
        """Compile a fitted Pipeline(TfidfVectorizer or FeatureUnion of them, classifier),
        optionally wrapped in FrozenEstimator or CalibratedClassifierCV."""
        if isinstance(estimator, FrozenEstimator):
            return cls.from_estimator(estimator.estimator)
        if isinstance(estimator, CalibratedClassifierCV):
            if not hasattr(estimator, "calibrated_classifiers_"):
                raise UnsupportedModelError("the CalibratedClassifierCV is not fitted")
            members = []
            for calibrated in estimator.calibrated_classifiers_:
                if calibrated.method not in ("sigmoid", "isotonic"):
                    raise UnsupportedModelError(f"unsupported calibration {calibrated.method}")
                inner = calibrated.estimator
                if isinstance(inner, FrozenEstimator):
                    inner = inner.estimator
                vectorizers, weights, classifier = _unpack_pipeline(inner)
                members.append(
                    _LinearTextModel(vectorizers, classifier, weights, calibrated.calibrators[0])
                )
            return cls(members)
        vectorizers, weights, classifier = _unpack_pipeline(estimator)
        return cls([_LinearTextModel(vectorizers, classifier, weights)])

    def score(self, texts: Iterable[str], *, top_k: int = 5) -> CompiledScores:
        """Decision function, class probabilities (NaN for a classifier without any) and up
        to ``top_k`` n-grams per text.

        The n-grams are those with the largest absolute contribution to the decision
        function (log-odds), as (n-gram, contribution) pairs, largest first. With several
        calibrated members (CalibratedClassifierCV ensembles) decision and contributions
        are the members' means.
        """
        with_probability = all(member.has_probability for member in self._members)
        decision, probability, top = self._run(
            _as_texts(texts), top_k, with_probability=with_probability
        )
        if not with_probability:
            probability[:] = np.nan
        return CompiledScores(decision=decision, probability=probability, top_ngrams=top)

    def _run(
        self, items: list[str], top_k: int, *, with_probability: bool
    ) -> tuple[FloatArray, FloatArray, list[tuple[tuple[str, float], ...]]]:
        decisions: list[FloatArray] = [np.empty(0)]
        probabilities: list[FloatArray] = [np.empty((0, 2))]
        top: list[tuple[tuple[str, float], ...]] = []
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            prepared: dict[object, list[str]] = {}
            decision = np.zeros(len(chunk))
            probability = np.zeros((len(chunk), 2))
            merged: list[dict[str, float]] = [{} for _ in chunk] if top_k > 0 else []
            for member in self._members:
                member_decision, contributions = member.score(chunk, prepared, top_k > 0)
                decision += member_decision
                if with_probability:
                    probability += member.probability(member_decision)
                for into, pushes in zip(merged, contributions, strict=False):
                    for gram, push in pushes.items():
                        into[gram] = into.get(gram, 0.0) + push
            size = len(self._members)
            decisions.append(decision / size)
            probabilities.append(probability / size)
            top += [_top(pushes, top_k, size) for pushes in merged] or [()] * len(chunk)
        return np.concatenate(decisions), np.concatenate(probabilities), top

    def _check_probability(self) -> None:
        if not all(member.has_probability for member in self._members):
            raise UnsupportedModelError("the classifier has no probabilities and no calibrator")

    def clear_caches(self) -> None:
        """Forget cached words and pieces (memory is bounded either way; for benchmarks)."""
        for member in self._members:
            for part in member.parts:
                part.block.clear_cache()

    def decision_function(self, texts: Iterable[str]) -> FloatArray:
        """The classifier's decision function (log-odds for logistic regression)."""
        if len(self._members) > 1:
            raise UnsupportedModelError("a calibrated ensemble has no single decision function")
        return self._run(_as_texts(texts), 0, with_probability=False)[0]

    def predict_proba(self, texts: Iterable[str]) -> FloatArray:
        """Shape (n, 2): P(not crisis), P(crisis), as the compiled estimator gives them."""
        self._check_probability()
        return self._run(_as_texts(texts), 0, with_probability=True)[1]


def _top(pushes: dict[str, float], k: int, members: int) -> tuple[tuple[str, float], ...]:
    ranked = sorted(pushes.items(), key=lambda item: (-abs(item[1]), item[0]))
    return tuple((gram, push / members) for gram, push in ranked[:k])


def _unpack_pipeline(estimator: Any) -> tuple[list[Any], list[float | None], Any]:
    if not isinstance(estimator, Pipeline) or len(estimator.steps) != 2:
        raise UnsupportedModelError(
            "expected Pipeline([vectorizer or FeatureUnion, classifier]), got "
            f"{type(estimator).__name__}"
        )
    features, classifier = estimator.steps[0][1], estimator.steps[1][1]
    if isinstance(features, TfidfVectorizer):
        return [features], [None], classifier
    if isinstance(features, FeatureUnion):
        weights = features.transformer_weights or {}
        parts = [(name, t) for name, t in features.transformer_list if t != "drop"]
        return [t for _, t in parts], [weights.get(name) for name, _ in parts], classifier
    raise UnsupportedModelError(
        f"unsupported feature step {type(features).__name__} (TfidfVectorizer or FeatureUnion)"
    )
