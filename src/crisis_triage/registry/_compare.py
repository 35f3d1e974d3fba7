"""Champion vs challenger: on the messages resolved since shadowing began, with the
specialists' dispositions as labels, and on any labelled file.

Both use the evaluation package's comparison (one set of stratified bootstrap resamples for
both models, so the intervals of the differences are paired).  Dispositions: confirmed and
missed crises are crises (1), ``not_crisis`` is not (0), ``needs_follow_up`` is ambiguous (-1,
handled by the ``ambiguous`` policy).  The champion's score is the one the queue used
(``messages.probability``); messages either model left unscored are counted and left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from crisis_triage.evaluation import (
    EvaluationError,
    ReportConfig,
    ReportResult,
    TableSpec,
    compare,
    compare_models,
    file_sha256,
    read_evaluation_table,
)
from crisis_triage.registry._registry import (
    ModelEntry,
    RegistryError,
    challenger,
    champion,
    list_models,
    load_registered,
)
from crisis_triage.storage import Case, Message, ShadowScore
from crisis_triage.triage import Disposition

DISPOSITION_LABELS = {
    Disposition.CONFIRMED_CRISIS.value: 1,
    Disposition.MISSED_CRISIS.value: 1,
    Disposition.NOT_CRISIS.value: 0,
    Disposition.NEEDS_FOLLOW_UP.value: -1,
}


@dataclass(frozen=True)
class ResolvedPairs:
    """Both models' scores of the same resolved messages, with the dispositions as labels."""

    challenger_id: str
    labels: np.ndarray[Any, np.dtype[np.int8]]
    champion_scores: np.ndarray[Any, np.dtype[np.float64]]
    challenger_scores: np.ndarray[Any, np.dtype[np.float64]]
    champion_threshold: float
    challenger_threshold: float
    champion_models: dict[str, int]  # model_version of the queue's scores: message count
    left_out_unscored: int


def _shadowed_entry(session: Session, model_id: str | None) -> ModelEntry:
    if model_id is not None:
        found = [e for e in list_models(session) if e.model_id == model_id]
        if not found:
            raise RegistryError(f"no registered model {model_id!r}")
        return found[0]
    entry = challenger(session)
    if entry is None:
        raise RegistryError("no model is in shadow; name one with --challenger")
    return entry


def resolved_pairs(session: Session, challenger_id: str | None = None) -> ResolvedPairs:
    """The resolved messages the challenger scored in shadow, with both scores."""
    entry = _shadowed_entry(session, challenger_id)
    rows = session.execute(
        select(
            Message.probability,
            Message.threshold,
            Message.model_version,
            Case.disposition,
            ShadowScore.probability.label("shadow_probability"),
        )
        .join(Case, Case.message_id == Message.id)
        .join(ShadowScore, ShadowScore.message_id == Message.id)
        .where(ShadowScore.model_id == entry.model_id, Case.disposition.is_not(None))
        .order_by(Message.id)
    ).all()
    kept = [r for r in rows if r.probability is not None and r.shadow_probability is not None]
    if not kept:
        raise EvaluationError(
            f"no resolved message has scores from both the queue's model and {entry.model_id}"
        )
    thresholds = Counter(float(r.threshold) for r in kept if r.threshold is not None)
    if entry.threshold is None or not thresholds:
        raise EvaluationError("a model's threshold is unknown")
    return ResolvedPairs(
        challenger_id=entry.model_id,
        labels=np.array([DISPOSITION_LABELS.get(str(r.disposition), -1) for r in kept], np.int8),
        champion_scores=np.array([r.probability for r in kept], dtype=np.float64),
        challenger_scores=np.array([r.shadow_probability for r in kept], dtype=np.float64),
        champion_threshold=thresholds.most_common(1)[0][0],
        challenger_threshold=entry.threshold,
        champion_models=dict(Counter(str(r.model_version) for r in kept)),
        left_out_unscored=len(rows) - len(kept),
    )


def compare_resolved(
    session: Session, config: ReportConfig, challenger_id: str | None = None
) -> ReportResult:
    """Champion (the queue's scores) vs challenger (shadow scores) on resolved messages."""
    pairs = resolved_pairs(session, challenger_id)
    result = compare(
        pairs.labels,
        {"champion": pairs.champion_scores, "challenger": pairs.challenger_scores},
        {"champion": pairs.champion_threshold, "challenger": pairs.challenger_threshold},
        config,
        descriptions={
            "champion": "the queue's scores ("
            + ", ".join(f"{k}: {v}" for k, v in sorted(pairs.champion_models.items()))
            + ")",
            "challenger": f"{pairs.challenger_id} in shadow",
        },
        include_curves=False,
    )
    result.data["shadow"] = {
        "challenger": pairs.challenger_id,
        "labels": "dispositions of resolved cases",
        "left_out_unscored": pairs.left_out_unscored,
    }
    return result


def compare_on_file(
    session: Session,
    data: Path,
    spec: TableSpec,
    config: ReportConfig,
    challenger_id: str | None = None,
) -> ReportResult:
    """Champion vs challenger (both loaded from the registry and verified) on a labelled file."""
    top = champion(session)
    if top is None:
        raise RegistryError("no champion is registered (crisis-triage models promote)")
    other = _shadowed_entry(session, challenger_id)
    models = {"champion": load_registered(top), "challenger": load_registered(other)}
    frame = read_evaluation_table(data, spec)
    return compare_models(
        models,
        frame,
        spec,
        config,
        {"champion": top.model_id, "challenger": other.model_id},
        data_sha256=file_sha256(data),
    )
