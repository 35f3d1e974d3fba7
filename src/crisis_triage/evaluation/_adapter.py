"""The thin layer between a model, a message table and the report core.

Only this module (and the benchmark) touches the detector, through the agreed interface:
``load_model(path)``, ``predict_proba``, ``explain``, ``threshold_``, ``lexicon_``, ``card_``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.base import clone

from crisis_triage.detector import ModelLoadError, load_model, read_card
from crisis_triage.evaluation._compare import compare
from crisis_triage.evaluation._data import EvaluationData, parse_labels, parse_times
from crisis_triage.evaluation._in_sample import InSample, check_in_sample, combined
from crisis_triage.evaluation._metrics import EvaluationError
from crisis_triage.evaluation._report import EvaluationReport, ReportConfig, ReportResult, clean
from crisis_triage.evaluation._time import parse_split_date, temporal_split
from crisis_triage.io import read_table

BUNDLED = "bundled"  # MODEL argument naming the bundled default model
_ID_CANDIDATES = ("uid", "id", "message_id")
Progress = Callable[[int], None]
MAX_EXPLAINED_FALSE_POSITIVES = 5000
_SHOWN_FALSE_POSITIVES = 50


@dataclass(frozen=True)
class TableSpec:
    """Which columns of a message table hold what."""

    label_col: str = "crisis"
    text_col: str = "text"
    id_col: str | None = None  # None: 'uid', 'id' or 'message_id' when present, else row numbers
    group_cols: tuple[str, ...] = ()
    time_col: str | None = None

    def required(self) -> list[str]:
        columns = [self.label_col, self.text_col, *self.group_cols]
        columns += [c for c in (self.id_col, self.time_col) if c]
        return list(dict.fromkeys(columns))


def load_scorer(model: str | Path | None) -> Any:
    """A fitted detector from a model file; ``None`` or ``"bundled"``: the bundled default."""
    path = None if model is None or str(model) == BUNDLED else Path(model)
    if path is not None and not path.is_file():
        raise EvaluationError(f"model file {path} does not exist")
    try:
        model = load_model(path)
    except (ModelLoadError, OSError) as exc:
        raise EvaluationError(f"cannot load model {path or BUNDLED}: {exc}") from None
    try:
        side_card = read_card(path)
    except ModelLoadError:  # load_model has checked the card of a real model file
        side_card = {}
    # The card file beside the model may add records made after it was saved (benchmark
    # numbers, the files it was tuned on); what the model file itself says wins.
    model.card_ = {**side_card, **dict(getattr(model, "card_", {}) or {})}
    return model


def model_in_sample(model: Any, texts: Sequence[str], data_sha256: str | None) -> InSample:
    """``check_in_sample`` with ``model``'s card."""
    return check_in_sample(dict(getattr(model, "card_", {}) or {}), texts, data_sha256=data_sha256)


def read_evaluation_table(path: str | Path, spec: TableSpec) -> pd.DataFrame:
    """The table with the columns the spec needs (clear error when one is missing)."""
    return read_table(path, required=spec.required())


def _texts(frame: pd.DataFrame, spec: TableSpec, ids: Sequence[str]) -> list[str]:
    column = frame[spec.text_col]
    empty = column.isna().to_numpy() | (column.astype(str).str.strip() == "").to_numpy()
    if empty.any():
        shown = ", ".join(ids[i] for i in np.flatnonzero(empty)[:5])
        raise EvaluationError(
            f"{int(empty.sum())} row(s) have an empty message in column {spec.text_col!r} "
            f"(ids: {shown})"
        )
    return column.astype(str).tolist()


def _ids(frame: pd.DataFrame, spec: TableSpec) -> list[str]:
    column = spec.id_col or next((c for c in _ID_CANDIDATES if c in frame.columns), None)
    if column is None:
        return [f"row-{i + 1}" for i in range(len(frame))]
    return frame[column].astype(str).tolist()


def _rows_to_explain(
    labels: NDArray[np.int8], scores: NDArray[np.float64], flagged: NDArray[np.bool_], cap: int
) -> NDArray[np.intp]:
    """All possible misses, and false positives (top scores first, then a sample) up to ``cap``."""
    missed = np.flatnonzero((labels != 0) & ~flagged)
    false_pos = np.flatnonzero((labels != 1) & flagged)
    if false_pos.shape[0] > cap:
        by_score = false_pos[np.argsort(-scores[false_pos], kind="stable")]
        shown = min(cap, _SHOWN_FALSE_POSITIVES)
        top, rest = by_score[:shown], by_score[shown:]
        sample = np.random.default_rng(0).choice(rest, cap - shown, replace=False)
        false_pos = np.concatenate([top, sample])
    return np.sort(np.concatenate([missed, false_pos]))


def score_frame(
    model: Any,
    frame: pd.DataFrame,
    spec: TableSpec,
    *,
    batch_size: int = 5000,
    progress: Progress | None = None,
    max_explained_false_positives: int = MAX_EXPLAINED_FALSE_POSITIVES,
    data_sha256: str | None = None,
) -> EvaluationData:
    """Score every message, flag it with the model's lexicon alone, and explain the errors.

    Every missed crisis is explained.  False positives are explained up to
    ``max_explained_false_positives``: the highest-scoring ones the report lists, plus a seeded
    random sample of the rest for the pattern tables (the report says how many were explained).
    ``data_sha256`` (of the file the frame came from) lets the report recognise a training file.
    """
    labels = parse_labels(frame[spec.label_col].to_numpy(), column=spec.label_col)
    ids = _ids(frame, spec)
    texts = _texts(frame, spec, ids)
    threshold = float(model.threshold_)
    scores = np.empty(len(texts))
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        scores[start : start + len(batch)] = np.asarray(model.predict_proba(batch))[:, 1]
        if progress is not None:
            progress(len(batch))
    lexicon = getattr(model, "lexicon_", None)
    baseline = None
    if lexicon is not None:
        baseline = np.array([1.0 if lexicon.active_hits(t) else 0.0 for t in texts])
    flagged = scores >= threshold
    wrong = _rows_to_explain(labels, scores, flagged, max_explained_false_positives)
    explanations = dict(zip(wrong.tolist(), model.explain([texts[i] for i in wrong]), strict=True))
    times = frame[spec.time_col].to_numpy() if spec.time_col else None
    return EvaluationData.from_arrays(
        labels,
        scores,
        threshold,
        ids=ids,
        texts=texts,
        baseline=baseline,
        groups={c: frame[c].to_numpy() for c in spec.group_cols},
        times=times,
        explanations=explanations,
        model_card=clean(dict(getattr(model, "card_", {}) or {})),
        data_sha256=data_sha256,
    )


def evaluate(
    model: Any,
    frame: pd.DataFrame,
    spec: TableSpec,
    config: ReportConfig,
    progress: Progress | None = None,
    *,
    data_sha256: str | None = None,
) -> ReportResult:
    """Score ``frame`` with ``model`` and run the report (``data_sha256``: of the file the
    frame was read from, to recognise a file the model was trained or tuned on)."""
    data = score_frame(model, frame, spec, progress=progress, data_sha256=data_sha256)
    return EvaluationReport(config).run(data)


def temporal_validation(
    model: Any,
    frame: pd.DataFrame,
    spec: TableSpec,
    config: ReportConfig,
    split: str,
    progress: Progress | None = None,
) -> ReportResult:
    """Refit ``model``'s configuration (sklearn ``clone``) on messages before ``split`` and
    evaluate it on the messages from ``split`` on — the study's retrospective/prospective design.
    Ambiguous rows are left out of training.
    """
    if not spec.time_col:
        raise EvaluationError("temporal validation needs a time column (--time-col)")
    times = parse_times(frame[spec.time_col].to_numpy(), column=spec.time_col)
    when = parse_split_date(split)
    before, after = temporal_split(times, when)
    train = frame[before]
    labels = parse_labels(train[spec.label_col].to_numpy(), column=spec.label_col)
    usable = labels != -1
    if len(set(labels[usable].tolist())) < 2:
        raise EvaluationError(
            f"the messages before {when.date()} need both crisis and non-crisis labels to train on"
        )
    texts = _texts(train, spec, _ids(train, spec))
    estimator = clone(model)
    estimator.fit([t for t, u in zip(texts, usable, strict=True) if u], labels[usable].astype(int))
    test = frame[after].reset_index(drop=True)
    temporal = {
        "split": when.isoformat(),
        "n_train": int(usable.sum()),
        "n_test": len(test),
        "train_start": times[before].min().isoformat(),
        "test_end": times[after].max().isoformat(),
    }
    config = replace(config, extra={**config.extra, "temporal": temporal})
    return evaluate(estimator, test, spec, config, progress)


def compare_models(
    models: Mapping[str, Any],
    frame: pd.DataFrame,
    spec: TableSpec,
    config: ReportConfig,
    descriptions: Mapping[str, str] | None = None,
    *,
    data_sha256: str | None = None,
) -> ReportResult:
    """Score ``frame`` with every model and compare them (the first is the reference)."""
    labels = parse_labels(frame[spec.label_col].to_numpy(), column=spec.label_col)
    texts = _texts(frame, spec, _ids(frame, spec))
    scores = {name: np.asarray(m.predict_proba(texts))[:, 1] for name, m in models.items()}
    thresholds = {name: float(m.threshold_) for name, m in models.items()}
    overlap = {name: model_in_sample(m, texts, data_sha256) for name, m in models.items()}
    return compare(
        labels,
        scores,
        thresholds,
        config,
        descriptions=descriptions,
        in_sample=combined(overlap),
    )
