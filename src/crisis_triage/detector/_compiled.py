"""Score texts with a fitted TF-IDF + linear model several times faster than scikit-learn.

``CompiledScorer`` gives the same decision function and probabilities as the fitted
scikit-learn objects it is built from (to rounding, ~1e-12), without building the TF-IDF
matrix: per text it finds the vocabulary n-grams present (``_ngram_index``) and adds up
their weights (``_linear_text``). It also returns the n-grams that moved each score most,
for explanations, and optionally the decisions of further linear models over the same
features (the detector's category heads).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from crisis_triage.detector._linear_text import FloatArray, LinearTextModel, UnsupportedModelError

__all__ = ["CompiledScorer", "CompiledScores", "UnsupportedModelError"]

_CHUNK = 4096
NgramPushes = tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class CompiledScores:
    """Scores for a batch of texts.

    ``decision``: the classifier's decision function (log-odds); ``probability``: shape
    (n, 2) as ``predict_proba`` gives it (NaN without a probability model); ``top_ngrams``:
    per text, (n-gram, contribution to the log-odds) pairs, largest absolute value first;
    ``heads``: per extra classifier, its P(positive class) (``predict_proba(...)[:, 1]``).
    """

    decision: FloatArray
    probability: FloatArray
    top_ngrams: list[NgramPushes]
    heads: dict[str, FloatArray] = field(default_factory=dict)


class CompiledScorer:
    """Fast, exact scoring for fitted TF-IDF vectorizers + a binary linear classifier.

    Build it with :meth:`from_fitted` (vectorizers, classifier, optional calibrator and
    category heads) or :meth:`from_estimator` (a fitted Pipeline, possibly inside
    FrozenEstimator or CalibratedClassifierCV). Building reads the whole vocabulary once
    (a few seconds per million n-grams). Caches of recent words are bounded.
    """

    def __init__(self, members: Sequence[LinearTextModel], head_names: Sequence[str] = ()):
        self._members = list(members)
        self._head_names = list(head_names)

    @classmethod
    def from_fitted(
        cls,
        vectorizers: TfidfVectorizer | Sequence[TfidfVectorizer],
        classifier: Any,
        *,
        calibrator: Any = None,
        weights: Sequence[float | None] | None = None,
        heads: Mapping[str, LogisticRegression] | None = None,
        prefixes: Sequence[str] | None = None,
    ) -> CompiledScorer:
        """Compile vectorizers (their outputs stacked in this order) and a linear classifier.

        ``calibrator`` maps the decision function to a probability: a 1-feature
        LogisticRegression fitted on it (sigmoid), an IsotonicRegression, or
        CalibratedClassifierCV's sigmoid; without one, P = expit(decision).
        ``weights`` scale each vectorizer's block (FeatureUnion ``transformer_weights``).
        ``heads`` are further LogisticRegressions over the same features. ``prefixes``
        are put before the n-grams of each block in explanations.
        """
        if isinstance(vectorizers, TfidfVectorizer):
            vectorizers = [vectorizers]
        heads = dict(heads or {})
        for name, head in heads.items():
            if not isinstance(head, LogisticRegression):
                raise UnsupportedModelError(f"head {name!r} is not a LogisticRegression")
        model = LinearTextModel(
            vectorizers,
            [classifier, *heads.values()],
            weights=weights,
            calibrator=calibrator,
            prefixes=prefixes,
        )
        return cls([model], list(heads))

    @classmethod
    def from_estimator(cls, estimator: Any) -> CompiledScorer:
        """Compile a fitted Pipeline(TfidfVectorizer or FeatureUnion of them, classifier),
        optionally wrapped in FrozenEstimator or CalibratedClassifierCV."""
        if isinstance(estimator, FrozenEstimator):
            return cls.from_estimator(estimator.estimator)
        if not isinstance(estimator, CalibratedClassifierCV):
            vectorizers, weights, classifier = _unpack_pipeline(estimator)
            return cls([LinearTextModel(vectorizers, [classifier], weights=weights)])
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
                LinearTextModel(
                    vectorizers,
                    [classifier],
                    weights=weights,
                    calibrator=calibrated.calibrators[0],
                )
            )
        return cls(members)

    def score(self, texts: Iterable[str], *, top_k: int = 5) -> CompiledScores:
        """Decision, probabilities, heads and up to ``top_k`` n-grams per text.

        Ties in contribution keep feature order (as a stable sort of a sparse row does).
        A CalibratedClassifierCV ensemble reports its members' mean decision and
        contributions, and averages probabilities as sklearn does.
        """
        return self._run(_as_texts(texts), top_k)

    def decision_function(self, texts: Iterable[str]) -> FloatArray:
        """The classifier's decision function (log-odds for logistic regression)."""
        if len(self._members) > 1:
            raise UnsupportedModelError("a calibrated ensemble has no single decision function")
        return self._run(_as_texts(texts), 0, with_probability=False).decision

    def predict_proba(self, texts: Iterable[str]) -> FloatArray:
        """Shape (n, 2): P(negative class), P(positive class), as the estimator gives them."""
        if not all(member.has_probability for member in self._members):
            raise UnsupportedModelError("the classifier has no probabilities and no calibrator")
        return self._run(_as_texts(texts), 0).probability

    def clear_caches(self) -> None:
        """Forget cached words and pieces (their memory is bounded anyway; for benchmarks)."""
        for member in self._members:
            member.clear_caches()

    def _run(
        self, items: list[str], top_k: int, *, with_probability: bool = True
    ) -> CompiledScores:
        with_probability &= all(member.has_probability for member in self._members)
        if len(self._members) == 1 and len(items) <= _CHUNK:  # the usual case, kept lean
            member = self._members[0]
            decision, contributions = member.decisions(items, {}, top_k > 0)
            if with_probability:
                probability = member.probability(decision[0])
            else:
                probability = np.full((len(items), 2), np.nan)
            top = [_top(c, member.names, top_k) for c in contributions] or [()] * len(items)
            return self._scores(decision, probability, top)
        size = len(self._members)
        decisions: list[FloatArray] = [np.empty((1 + len(self._head_names), 0))]
        probabilities: list[FloatArray] = [np.empty((0, 2))]
        top = []
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            prepared: dict[object, list[str]] = {}
            decision = np.zeros((1 + len(self._head_names), len(chunk)))
            probability = np.zeros((len(chunk), 2))
            named: list[dict[str, float]] = [{} for _ in chunk]
            for member in self._members:
                member_decision, contributions = member.decisions(chunk, prepared, top_k > 0)
                decision += member_decision
                if with_probability:
                    probability += member.probability(member_decision[0])
                if size == 1:
                    top += [_top(c, member.names, top_k) for c in contributions]
                for into, pushes in zip(named, contributions, strict=False):
                    for feature, push in pushes.items():
                        gram = member.names[feature]
                        into[gram] = into.get(gram, 0.0) + push / size
            if size > 1 and top_k > 0:
                top += [_top_by_name(pushes, top_k) for pushes in named]
            decisions.append(decision / size)
            probabilities.append(probability / size)
            if top_k <= 0:
                top += [()] * len(chunk)
        probability = np.concatenate(probabilities)
        if not with_probability:
            probability[:] = np.nan
        return self._scores(np.concatenate(decisions, axis=1), probability, top)

    def _scores(
        self, decision: FloatArray, probability: FloatArray, top: list[NgramPushes]
    ) -> CompiledScores:
        heads = {name: expit(decision[1 + i]) for i, name in enumerate(self._head_names)}
        return CompiledScores(decision[0], probability, top, heads)


def _top(pushes: dict[int, float], names: dict[int, str], k: int) -> NgramPushes:
    ranked = sorted(pushes.items(), key=lambda item: (-abs(item[1]), item[0]))[:k]
    return tuple((names[feature], push) for feature, push in ranked)


def _top_by_name(pushes: dict[str, float], k: int) -> NgramPushes:
    return tuple(sorted(pushes.items(), key=lambda item: (-abs(item[1]), item[0]))[:k])


def _as_texts(texts: Iterable[str]) -> list[str]:
    if isinstance(texts, str | bytes):
        raise TypeError("expected a sequence of texts, got a single string")
    items = list(texts)
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"text at index {index} is {type(item).__name__}, not str")
    return items


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
