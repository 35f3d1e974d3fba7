"""Fitting a TwoStageDetector: gate, cross-validate the C grid, fit the final stage 2.

Kept apart from the estimator class so that each stays readable; ``fit_detector`` returns
the fitted attributes and the fitting part of the model card.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from crisis_triage.detector import _features as feat
from crisis_triage.detector._inputs import (
    as_category_sets,
    as_labels,
    as_texts,
    as_weights,
    describe_lexicon,
    resolve_lexicon,
    unique_sorted,
)
from crisis_triage.detector._metrics import cv_metrics, reliability_warnings
from crisis_triage.detector._presets import matching_preset
from crisis_triage.detector._selection import (
    ModelSpec,
    choose,
    cross_validate,
    fit_stage2,
)
from crisis_triage.lexicon import CATEGORIES
from crisis_triage.text import normalise

if TYPE_CHECKING:
    from crisis_triage.detector._detector import TwoStageDetector

CATEGORY_FALLBACK = (
    "categories come from the active lexicon hits; for flagged messages, category heads "
    "(P(category | crisis), trained on labelled crisis messages) add categories they give "
    "at least 0.5; categories without enough labelled examples have no head and rely on the "
    "lexicon alone"
)


@dataclass
class Fitted:
    attributes: dict[str, Any]
    card: dict[str, Any]


def fit_detector(
    est: TwoStageDetector, X: Any, y: Any, sample_weight: Any, crisis_types: Any
) -> Fitted:
    texts = as_texts(X)
    labels = as_labels(y, len(texts))
    weight = as_weights(sample_weight, len(texts))
    types = as_category_sets(crisis_types, len(texts))
    lexicon = resolve_lexicon(est.lexicon)
    normalised = [normalise(t) for t in texts]
    if est.gate == "lexicon":
        gate = np.array([bool(lexicon.active_hits(s, normalised=True)) for s in normalised])
    else:
        gate = np.ones(len(texts), dtype=bool)
    gated = np.flatnonzero(gate)
    n_pos, n_neg = int((labels == 1).sum()), int((labels == 0).sum())
    gated_pos = int(labels[gated].sum())
    gated_neg = len(gated) - gated_pos
    if min(gated_pos, gated_neg) < 2:
        raise ValueError(
            f"stage 2 needs at least 2 positive and 2 negative messages that pass the gate; "
            f"got {gated_pos} positive and {gated_neg} negative"
        )
    folds = min(est.cv, n_pos, n_neg, gated_pos)
    spec = feat.FeatureSpec(
        tuple(est.ngram_range),  # type: ignore[arg-type]
        tuple(est.char_ngrams) if est.char_ngrams else None,  # type: ignore[arg-type]
        est.min_df,
        bool(est.sublinear_tf),
    )
    model_spec = ModelSpec(
        est.solver, est.class_weight, est.max_iter, est.random_state, bool(est.prune_refit)
    )
    Cs = unique_sorted([est.C] if est.C is not None else est.Cs)
    gated_texts = [normalised[i] for i in gated]
    counts = feat.FeatureCounts(spec, gated_texts)
    cv = cross_validate(counts, gated, labels, weight, Cs, folds, model_spec)
    choice = choose(
        cv,
        labels,
        weight,
        calibration=est.calibration,
        mode=est.threshold_mode,
        fixed=est.threshold,
        cost_fn=est.cost_fn,
        target_sensitivity=est.target_sensitivity,
    )
    notes = reliability_warnings(n_pos, n_neg, folds)
    if choice.warning:
        notes.append(choice.warning)
    if cv.unconverged:
        notes.append(f"{cv.unconverged} cross-validation fits did not converge")
    if gated_pos < n_pos:
        notes.append(
            f"the lexicon gate keeps {n_pos - gated_pos} of {n_pos} positive training "
            f"messages from the model; they count as misses in the CV metrics"
        )

    # The final model, on every gated message.
    rows = np.arange(len(gated))
    X_all, _, columns = counts.fold(rows, rows[:0])
    C_index = choice.C_index
    while True:
        fit, _ = fit_stage2(model_spec, Cs[C_index], X_all, labels[gated], weight[gated], columns)
        if fit.selected is None or len(fit.selected) or C_index == len(Cs) - 1:
            break
        C_index += 1
    if fit.selected is not None and not len(fit.selected):
        raise ValueError("the L1 model kept no n-gram at any C in the grid; try larger Cs")
    if C_index != choice.C_index:
        notes.append(f"C={Cs[choice.C_index]:g} kept no n-gram; used C={Cs[C_index]:g}")
    if not fit.converged:
        notes.append("the final stage-2 fit did not converge; raise max_iter")
    vectorizers = _final_vectorizers(spec, counts, columns, fit.selected, gated_texts)
    n_features = sum(len(v.vocabulary_) for v in vectorizers if v is not None)
    if n_features != fit.classifier.coef_.shape[1]:  # pragma: no cover - internal invariant
        raise RuntimeError("vectoriser vocabulary and classifier coefficients disagree")

    heads, head_counts = _category_heads(est, model_spec, types, labels, normalised, vectorizers)
    metrics = cv_metrics(
        labels,
        choice.probabilities,
        choice.threshold,
        cost_fn=est.cost_fn,
        n_boot=est.n_bootstrap,
        random_state=est.random_state,
    )
    attributes = {
        "classes_": np.array([0, 1]),
        "lexicon_": lexicon,
        "vectorizer_": vectorizers[0],
        "char_vectorizer_": vectorizers[1] if len(vectorizers) > 1 else None,
        "classifier_": fit.classifier,
        "calibrator_": choice.calibrator,
        "threshold_": choice.threshold,
        "C_": Cs[C_index],
        "category_heads_": heads,
    }
    card = {
        "preset": matching_preset(est.get_params()),
        "lexicon": describe_lexicon(lexicon, est.lexicon),
        "training": {
            "n": len(texts),
            "n_positive": n_pos,
            "n_negative": n_neg,
            "n_passing_gate": len(gated),
            "n_positive_passing_gate": gated_pos,
            "sample_weighted": sample_weight is not None,
        },
        "cv": {
            "folds": folds,
            "stratified": True,
            "C_grid": list(Cs),
            "cost_by_C": list(choice.costs),
            "mean_nonzero_coefficients_by_C": [round(float(v), 1) for v in cv.n_nonzero],
            "chosen_C": Cs[C_index],
            "unconverged_fits": cv.unconverged,
        },
        "stage2": {
            "n_features": n_features,
            "n_nonzero": int(np.count_nonzero(fit.classifier.coef_)),
            "pruned_and_refitted": bool(est.prune_refit),
            "min_df": feat.describe_min_df(est.min_df),
        },
        "calibration": {
            "method": est.calibration,
            "fitted_on": "out-of-fold stage-2 log-odds at the chosen C",
        },
        "metrics_cv": metrics,
        "metrics_note": (
            "out-of-fold predictions of 'folds'-fold stratified CV over all training "
            "messages (gated-out messages score 0); C and the threshold were chosen on these "
            "same scores, so the estimates are optimistic; 95% intervals: Wilson for "
            "proportions, stratified percentile bootstrap for AUROC/AUPRC"
        ),
        "categories": {
            "heads": sorted(heads),
            "labelled_positives_by_category": head_counts,
            "rule": CATEGORY_FALLBACK,
        },
        "warnings": notes,
    }
    return Fitted(attributes, card)


def _final_vectorizers(
    spec: feat.FeatureSpec,
    counts: feat.FeatureCounts,
    columns: list[np.ndarray],
    selected: np.ndarray | None,
    texts: list[str],
) -> list[Any]:
    kept = counts.kept_terms(np.arange(len(texts)))
    kinds = [block.kind for block in counts.blocks]
    out = []
    for kind, terms, block_columns in zip(kinds, kept, columns, strict=True):
        if selected is None:
            out.append(feat.fit_vectorizer(spec, kind, None, texts))
            continue
        in_block = selected[np.isin(selected, block_columns)]
        if len(in_block):
            in_block = in_block - block_columns[0]
        out.append(feat.fit_vectorizer(spec, kind, [str(t) for t in terms[in_block]], texts))
    return out


def _category_heads(
    est: TwoStageDetector,
    model_spec: ModelSpec,
    types: list[frozenset[str]] | None,
    labels: np.ndarray,
    normalised: list[str],
    vectorizers: list[Any],
) -> tuple[dict[str, Any], dict[str, int]]:
    if types is None:
        return {}, {}
    rows = [i for i in np.flatnonzero(labels == 1) if types[i]]
    counts = {c: sum(c in types[i] for i in rows) for c in CATEGORIES}
    if not rows:
        return {}, counts
    prenormalised = [feat.prenormalised(v) if v is not None else None for v in vectorizers]
    X = feat.transform(prenormalised, [normalised[i] for i in rows])
    heads: dict[str, Any] = {}
    for category in CATEGORIES:
        target = np.array([category in types[i] for i in rows], dtype=np.int64)
        enough = est.min_category_positives
        if target.sum() >= enough and (len(target) - target.sum()) >= enough:
            head = ModelSpec(
                model_spec.solver, None, model_spec.max_iter, model_spec.random_state, False
            ).classifier(est.category_C)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                heads[category] = head.fit(X, target)
    return heads, counts
