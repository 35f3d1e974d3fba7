"""Site adaptation: fit a stacker over the bundled model on a site's labels, and measure it.

``adapt(base, texts, labels)`` returns the adapted detector (fitted on every label) and a
report of grouped, stratified K-fold cross-validation on the same labels comparing the base
model with the adapted one: AUROC/AUPRC (bootstrap CIs, and a paired bootstrap CI of the
difference) and sensitivity/PPV/flag rate (Wilson CIs) at thresholds chosen out of fold for
the target sensitivity.  The base model is frozen, so its scores are computed once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from crisis_triage.detector import (
    AdaptationError,
    BaseFeatures,
    SiteAdaptedDetector,
    StackedDetector,
    TwoStageDetector,
    base_features,
    check_site_labels,
    load_model,
    read_card,
)
from crisis_triage.detector._metrics import bootstrap_ranking, reliability_warnings, wilson
from crisis_triage.detector._selection import choose_threshold
from crisis_triage.training._data import load_labelled

MIN_SITE_CRISES = 15  # outer folds leave 4/5 of them, and the inner folds need 2 each
# In the learning curve (docs/site-adaptation.md), 12-18 drawn crises gave an out-of-fold
# threshold so unstable that held-out PPV ranged 0.02-0.90 across draws; 24 and more did not.
RECOMMENDED_SITE_CRISES = 25
_NON_WORD = re.compile(r"[^a-z]+")


@dataclass(frozen=True)
class AdaptationReport:
    """Cross-validated comparison of the base and adapted models on the site's labels."""

    n: int
    crises: int
    folds: int
    target_sensitivity: float
    base: dict[str, Any]
    adapted: dict[str, Any]
    difference: dict[str, Any]
    demoted: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "crises": self.crises,
            "folds": self.folds,
            "target_sensitivity": self.target_sensitivity,
            "base": self.base,
            "adapted": self.adapted,
            "difference": self.difference,
            "demoted": self.demoted,
            "warnings": list(self.warnings),
        }


def duplicate_groups(texts: list[str]) -> np.ndarray:
    """Group ids that put messages equal up to case, digits and punctuation together."""
    keys: dict[str, int] = {}
    return np.array(
        [keys.setdefault(_NON_WORD.sub(" ", t.lower()).strip(), len(keys)) for t in texts]
    )


def take(features: BaseFeatures, rows: np.ndarray) -> BaseFeatures:
    return replace(
        features,
        dense=features.dense[rows],
        normalised=[features.normalised[i] for i in rows],
        hits=[features.hits[i] for i in rows],
        base_probability=features.base_probability[rows],
        base_flagged=features.base_flagged[rows],
        top_ngrams=[features.top_ngrams[i] for i in rows] if features.top_ngrams else [],
    )


def adapt(
    base: TwoStageDetector,
    texts: list[str],
    labels: Any,
    groups: Any = None,
    *,
    random_state: int | None = 0,
    n_bootstrap: int = 500,
    **params: Any,
) -> tuple[SiteAdaptedDetector, AdaptationReport]:
    """Adapt ``base`` to a site's labelled messages and report the cross-validated gain.

    ``groups`` (e.g. patient ids) keep related messages in one fold; without them, messages
    that are the same up to case, digits and punctuation are grouped.  ``params`` go to
    :class:`SiteAdaptedDetector` (``C``, ``cv``, ``target_sensitivity``, ``keep_base_flags``...).
    """
    y = np.asarray(labels, dtype=np.int64)
    model = SiteAdaptedDetector(base=base, random_state=random_state, **params)
    check_site_labels(y, model.cv, minimum=MIN_SITE_CRISES)
    group_ids = duplicate_groups(texts) if groups is None else np.asarray(groups)
    features = base_features(base, texts)
    report = cross_validate(model, features, y, group_ids, n_bootstrap=n_bootstrap)
    model.fit_features(features, y, group_ids)
    report.warnings.extend(model.card_["warnings"])
    model.card_["cv_report"] = report.to_dict()
    model.card_["metrics_cv"] = report.adapted  # what the dashboard's model page shows
    return model, report


def cross_validate(
    model: SiteAdaptedDetector,
    features: BaseFeatures,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    n_bootstrap: int = 500,
) -> AdaptationReport:
    """Outer grouped stratified K-fold: fit on K-1 folds (threshold chosen inside them)."""
    n = len(y)
    scores = {"base": features.base_probability, "adapted": np.zeros(n)}
    flags = {"base": np.zeros(n, dtype=bool), "adapted": np.zeros(n, dtype=bool)}
    folds = StratifiedGroupKFold(model.cv, shuffle=True, random_state=model.random_state)
    for train, test in folds.split(np.zeros(n), y, groups):
        fold_model = SiteAdaptedDetector(**model.get_params(deep=False))
        fold_model.fit_features(take(features, train), y[train], groups[train])
        scores["adapted"][test] = fold_model.probability_from_features(take(features, test))
        flags["adapted"][test] = scores["adapted"][test] >= fold_model.threshold_
        base_threshold, _ = choose_threshold(
            "sensitivity",
            features.base_probability[train],
            y[train],
            np.ones(len(train)),
            fixed=float(model.base.threshold_),
            cost_fn=1.0,
            target_sensitivity=model.target_sensitivity,
        )
        flags["base"][test] = features.base_probability[test] >= base_threshold
    results = {
        name: {
            **bootstrap_ranking(y, scores[name], n_bootstrap, model.random_state),
            **_at_threshold(y, flags[name]),
        }
        for name in ("base", "adapted")
    }
    results["base"]["at_shipped_threshold"] = _at_threshold(y, features.base_flagged)
    lexicon_flagged = features.base_flagged & np.array(
        [any(h.active for h in found) for found in features.hits], dtype=bool
    )
    demoted = lexicon_flagged & ~flags["adapted"]
    warnings = reliability_warnings(int(y.sum()), int((y == 0).sum()), model.cv)
    if y.sum() < RECOMMENDED_SITE_CRISES:
        warnings.append(
            f"{int(y.sum())} labelled crises: below {RECOMMENDED_SITE_CRISES} the threshold "
            "chosen from them was unstable in the learning curve (docs/site-adaptation.md: "
            "PPV 0.02-0.90 across draws); label more before relying on the adapted threshold"
        )
    return AdaptationReport(
        n=n,
        crises=int(y.sum()),
        folds=model.cv,
        target_sensitivity=model.target_sensitivity,
        base=results["base"],
        adapted=results["adapted"],
        difference=paired_difference(
            y, scores["base"], scores["adapted"], n_bootstrap, model.random_state
        ),
        demoted={
            "lexicon_flagged_by_base": int(lexicon_flagged.sum()),
            "lowered_below_threshold": int(demoted.sum()),
            "of_which_crises": int((demoted & (y == 1)).sum()),
        },
        warnings=warnings,
    )


def _at_threshold(y: np.ndarray, flagged: np.ndarray) -> dict[str, Any]:
    tp = int((flagged & (y == 1)).sum())
    fp = int((flagged & (y == 0)).sum())
    return {
        "sensitivity": wilson(tp, int((y == 1).sum())),
        "ppv": wilson(tp, tp + fp),
        "flag_rate": wilson(tp + fp, len(y)),
    }


def paired_difference(
    y: np.ndarray, before: np.ndarray, after: np.ndarray, n_boot: int, random_state: int | None
) -> dict[str, Any]:
    """AUROC and AUPRC after minus before, with a paired stratified bootstrap 95% CI."""
    rng = np.random.default_rng(random_state)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    metrics = {"auroc": roc_auc_score, "auprc": average_precision_score}
    out: dict[str, Any] = {}
    draws = [
        np.concatenate([rng.choice(pos, len(pos)), rng.choice(neg, len(neg))])
        for _ in range(n_boot)
    ]
    for name, metric in metrics.items():
        point = metric(y, after) - metric(y, before)
        samples = [metric(y[r], after[r]) - metric(y[r], before[r]) for r in draws]
        ci = np.percentile(samples, [2.5, 97.5]).tolist() if n_boot else None
        out[name] = {
            "value": round(float(point), 4),
            "ci95": [round(float(c), 4) for c in ci] if ci else None,
        }
    return out


def adapt_file(
    data: str | Path,
    *,
    base: str | Path | None = None,
    text_col: str = "text",
    label_col: str = "crisis",
    group_col: str | None = None,
    random_state: int | None = 0,
    **params: Any,
) -> tuple[SiteAdaptedDetector, AdaptationReport]:
    """``adapt`` for a labelled file and a base model file (None or 'default': bundled)."""
    base_path = None if base in (None, "default") else Path(base)
    base_model = load_model(base_path)
    if isinstance(base_model, StackedDetector):
        raise AdaptationError(
            "site adaptation of detector v2 (the bundled default since wave 2) is not built "
            "yet: adapt a TwoStageDetector file (e.g. benchmarks/baselines/v1_default.skops "
            "or one made with `crisis-triage train`), or retrain v2 with your labelled "
            "messages as target rows (docs/detector-v2.md)"
        )
    if not isinstance(base_model, TwoStageDetector):
        raise AdaptationError("the base model must be a plain detector, not an adapted one")
    labelled = load_labelled(data, text_col=text_col, label_col=label_col, type_col=None)
    groups = None
    if group_col is not None:
        frame_groups = load_labelled(
            data, text_col=group_col, label_col=label_col, type_col=None
        ).texts
        groups = np.array(frame_groups)
    model, report = adapt(
        base_model, labelled.texts, labelled.labels, groups, random_state=random_state, **params
    )
    base_card = read_card(base_path)
    model.card_["base"]["file"] = base_card.get("file")
    model.card_["base"]["file_sha256"] = base_card.get("file_sha256")
    model.card_["data"] = dict(labelled.summary) | {"groups": group_col or "near-duplicate text"}
    return model, report
