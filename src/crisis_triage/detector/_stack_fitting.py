"""Fitting the stacked detector: base models out of fold, a stacker, calibration, threshold.

Rows have two roles.  *Background* rows (large public corpora labelled by forum or keyword)
teach the n-gram and static-embedding models what crisis language looks like.  *Target* rows
(messages like the ones the model will score: patient messages, our own written examples)
also train the semantic-encoder model and are the only rows the stacker learns from, so the
stacker weighs each kind of evidence by how well it works on messages like the real ones.
The calibrator and the threshold are fitted on the ``calibrate_on`` rows (target rows at a
realistic prevalence), from out-of-fold stacker scores: probabilities are calibrated on data
no model saw, and the threshold meets the sensitivity target out of fold.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from crisis_triage.detector import _features as feat
from crisis_triage.detector._evidence import lexicon_evidence
from crisis_triage.detector._selection import calibrate, choose_threshold, fit_calibrator
from crisis_triage.lexicon import CATEGORIES, Lexicon

Embed = Callable[[str, Sequence[str]], np.ndarray]
# Level-1 inputs of the two stackers, in column order (lexicon evidence follows).
FAST_MEMBERS = ("ngrams", "static")
FULL_MEMBERS = ("ngrams", "static", "semantic")


@dataclass
class Inputs:
    """Everything the base models read, computed once per fit."""

    normalised: list[str]
    evidence: np.ndarray
    ngrams: sp.csr_matrix
    static: np.ndarray
    semantic: np.ndarray | None  # rows of ``target`` only, in order; None without the encoder


@dataclass
class StackFit:
    attributes: dict[str, Any]
    oof: dict[str, np.ndarray]  # level-1 and final out-of-fold scores of the target rows
    warnings: list[str]


def feature_spec(est: Any) -> feat.FeatureSpec:
    return feat.FeatureSpec(tuple(est.word_ngrams), tuple(est.char_ngrams), est.min_df, True)


def fit_vectorizers(
    est: Any, normalised: Sequence[str], vocabularies: Sequence[Sequence[str] | None] = (None, None)
) -> list[TfidfVectorizer | None]:
    """Word and character TF-IDF vectorisers (idf from ``normalised``; raw text at scoring)."""
    spec = feature_spec(est)
    return [
        feat.fit_vectorizer(spec, kind, vocabulary, normalised)
        for kind, vocabulary in zip(("word", "char"), vocabularies, strict=True)
    ]


def _logistic(C: float, *, l1: bool = False, random_state: Any = None) -> LogisticRegression:
    if l1:
        return LogisticRegression(
            C=C, l1_ratio=1.0, solver="liblinear", max_iter=2000, random_state=random_state
        )
    return LogisticRegression(C=C, max_iter=3000)


def _fit(model: LogisticRegression, X: Any, y: np.ndarray, w: np.ndarray) -> LogisticRegression:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y, sample_weight=w)


def _balanced(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Sample weights scaled so that crises and non-crises carry the same total weight."""
    out = np.asarray(w, dtype=float).copy()
    pos, neg = out[y == 1].sum(), out[y == 0].sum()
    if pos > 0 and neg > 0:
        out[y == 1] *= neg / pos
    return out


class BaseModels:
    """The three base models fitted on a set of rows; log-odds for any rows."""

    def __init__(self, est: Any, inputs: Inputs, target_rows: np.ndarray, calibrate_on: np.ndarray):
        self.est = est
        self.inputs = inputs
        self.calibrate_on = calibrate_on
        self.target_position = {int(r): i for i, r in enumerate(target_rows)}

    def fit(
        self, rows: np.ndarray, y: np.ndarray, w: np.ndarray, target: np.ndarray
    ) -> dict[str, Any]:
        est, inputs = self.est, self.inputs
        weights = _balanced(y[rows], w[rows])
        models: dict[str, Any] = {
            "ngrams": _fit(
                _logistic(est.ngram_C, l1=True, random_state=est.random_state),
                inputs.ngrams[rows],
                y[rows],
                weights,
            ),
            "static": _fit(_logistic(est.embedding_C), inputs.static[rows], y[rows], weights),
        }
        if inputs.semantic is not None:
            sem_rows = rows[target[rows]]
            positions = [self.target_position[int(r)] for r in sem_rows]
            # Target rows outside the calibration rows (our written examples, half of them
            # crises, shorter and plainer than patient messages) can count for less, so the
            # encoder model learns meaning more than the written examples' style.
            outside = np.where(
                self.calibrate_on[sem_rows], 1.0, est.semantic_outside_calibration_weight
            )
            models["semantic"] = _fit(
                _logistic(est.embedding_C),
                inputs.semantic[positions],
                y[sem_rows],
                _balanced(y[sem_rows], w[sem_rows] * outside),
            )
        return models

    def log_odds(self, models: dict[str, Any], rows: np.ndarray) -> dict[str, np.ndarray]:
        inputs = self.inputs
        out = {
            "ngrams": models["ngrams"].decision_function(inputs.ngrams[rows]),
            "static": models["static"].decision_function(inputs.static[rows]),
        }
        if "semantic" in models and inputs.semantic is not None:
            positions = [self.target_position[int(r)] for r in rows]
            out["semantic"] = models["semantic"].decision_function(inputs.semantic[positions])
        return out


def level1(
    scores: dict[str, np.ndarray], evidence: np.ndarray, members: Sequence[str]
) -> np.ndarray:
    """The stacker's input: base-model log-odds, then the lexicon evidence."""
    return np.column_stack([scores[m] for m in members] + [evidence])


def fit_stack(
    est: Any,
    inputs: Inputs,
    y: np.ndarray,
    w: np.ndarray,
    target: np.ndarray,
    calibrate_on: np.ndarray,
    threshold_on: np.ndarray,
) -> StackFit:
    """Out-of-fold base scores for the target rows, both stackers, calibrators, thresholds."""
    notes: list[str] = []
    target_rows = np.flatnonzero(target)
    base = BaseModels(est, inputs, target_rows, calibrate_on)
    folds = StratifiedKFold(est.cv, shuffle=True, random_state=est.random_state)
    background = np.flatnonzero(~target)
    oof: dict[str, np.ndarray] = {m: np.zeros(len(target_rows)) for m in FULL_MEMBERS}
    position = np.arange(len(target_rows))
    bg_folds = np.arange(len(background)) % est.cv
    for k, (train_pos, test_pos) in enumerate(folds.split(position, y[target_rows])):
        # Background rows are split into folds too, so a near-duplicate of a target row in the
        # background corpus cannot be trained on in every fold.
        rows = np.concatenate([background[bg_folds != k], target_rows[train_pos]])
        models = base.fit(rows, y, w, target)
        for name, values in base.log_odds(models, target_rows[test_pos]).items():
            oof[name][test_pos] = values
    members = FULL_MEMBERS if inputs.semantic is not None else FAST_MEMBERS
    evidence = inputs.evidence[target_rows]
    y_t, w_t, cal = y[target_rows], w[target_rows], calibrate_on[target_rows]
    at = threshold_on[target_rows]
    # Below 1, the stacker learns how much each member counts mostly from the rows at a
    # realistic prevalence (the calibration rows), like the messages it will rank; the other
    # target rows (written examples, half of them crises) count for less.
    w_stack = w_t * np.where(cal, 1.0, est.stack_outside_calibration_weight)
    learns = w_stack > 0
    stackers: dict[str, Any] = {}
    for tier, tier_members in (("fast", FAST_MEMBERS), ("full", members)):
        level1_inputs = level1(oof, evidence, tier_members)
        second = np.zeros(len(target_rows))
        for train_pos, test_pos in StratifiedKFold(
            est.cv, shuffle=True, random_state=est.random_state
        ).split(level1_inputs, y_t):
            train_pos = train_pos[learns[train_pos]]
            stacker = _fit(
                _logistic(est.stack_C),
                level1_inputs[train_pos],
                y_t[train_pos],
                _balanced(y_t[train_pos], w_stack[train_pos]),
            )
            second[test_pos] = stacker.decision_function(level1_inputs[test_pos])
        stacker = _fit(
            _logistic(est.stack_C),
            level1_inputs[learns],
            y_t[learns],
            _balanced(y_t[learns], w_stack[learns]),
        )
        calibrator = fit_calibrator("sigmoid", second[cal], y_t[cal], w_t[cal])
        p = calibrate(calibrator, second)
        threshold, warning = choose_threshold(
            "sensitivity",
            p[at],
            y_t[at],
            w_t[at],
            fixed=0.5,
            cost_fn=20.0,
            target_sensitivity=est.target_sensitivity,
        )
        if warning:
            notes.append(f"{tier} tier: {warning}")
        stackers[tier] = (stacker, calibrator, threshold)
        oof[f"{tier}_probability"] = p
    final_models = base.fit(np.arange(len(y)), y, w, target)
    attributes = {
        "ngram_model_": final_models["ngrams"],
        "static_model_": final_models["static"],
        "semantic_model_": final_models.get("semantic"),
        "fast_stacker_": stackers["fast"][0],
        "fast_calibrator_": stackers["fast"][1],
        "fast_threshold_": stackers["fast"][2],
        "stacker_": stackers["full"][0],
        "calibrator_": stackers["full"][1],
        "threshold_": stackers["full"][2],
        "full_members_": members,
    }
    return StackFit(attributes, oof, notes)


def category_heads(
    est: Any,
    static: np.ndarray,
    evidence: np.ndarray,
    y: np.ndarray,
    crisis_types: Sequence[str] | None,
) -> dict[str, LogisticRegression]:
    """One head per category over the static embedding and lexicon evidence, fitted on crises.

    The category comes from what the message means, not from which lexicon entry fired: a
    partner's threat is DV even when the words are those of an SI entry.
    """
    if crisis_types is None:
        return {}
    rows = [int(i) for i in np.flatnonzero(y == 1) if crisis_types[int(i)]]
    X = np.column_stack([static[rows], evidence[rows]])
    heads = {}
    for category in CATEGORIES:
        labels = np.array(
            [category in str(crisis_types[i]).split("/") for i in rows], dtype=np.int64
        )
        enough = est.min_category_positives
        if labels.sum() >= enough and (len(labels) - labels.sum()) >= enough:
            heads[category] = _fit(
                LogisticRegression(C=est.category_C, max_iter=3000, class_weight="balanced"),
                X,
                labels,
                np.ones(len(rows)),
            )
    return heads


def compute_inputs(
    est: Any,
    lexicon: Lexicon,
    normalised: list[str],
    raw: Sequence[str],
    target: np.ndarray,
    embed: Embed,
    vectorizer_pair: list[TfidfVectorizer],
) -> Inputs:
    evidence, _ = lexicon_evidence(lexicon, normalised)
    ngrams = feat.transform(vectorizer_pair, normalised)
    static = embed(est.fast_encoder, raw)
    semantic = None
    if est.full_encoder is not None:
        semantic = embed(est.full_encoder, [raw[int(i)] for i in np.flatnonzero(target)])
    return Inputs(normalised, evidence, ngrams, static, semantic)


def prune(
    est: Any,
    attributes: dict[str, Any],
    vectorizer_pair: list[TfidfVectorizer | None],
    inputs: Inputs,
    y: np.ndarray,
    w: np.ndarray,
) -> dict[str, Any]:
    """Keep the n-grams the final L1 model selected and refit on them.

    The shipped vectorisers then know a few thousand n-grams instead of hundreds of
    thousands: a small model file and fast scoring.  Restricting the vocabulary changes each
    row's L2 normalisation, so the model is refitted on the restricted features.
    """
    coef = attributes["ngram_model_"].coef_[0]
    kept = np.flatnonzero(coef)
    vocabularies: list[list[str] | None] = []
    offset = 0
    for vectorizer in vectorizer_pair:
        size = 0 if vectorizer is None else len(vectorizer.vocabulary_)
        if vectorizer is not None:
            names = vectorizer.get_feature_names_out()
            in_block = kept[(kept >= offset) & (kept < offset + size)] - offset
            vocabularies.append([str(t) for t in names[in_block]])
        else:
            vocabularies.append([])
        offset += size
    restricted = fit_vectorizers(est, inputs.normalised, vocabularies)
    X = feat.transform(restricted, inputs.normalised)
    model = _fit(
        _logistic(est.ngram_C, l1=True, random_state=est.random_state), X, y, _balanced(y, w)
    )
    return {"vectorizers": restricted, "model": model}
