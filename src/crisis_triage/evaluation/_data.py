"""What a report evaluates: labels, scores and optional context, independent of any model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from crisis_triage.evaluation._metrics import EvaluationError, as_scores

if TYPE_CHECKING:
    from crisis_triage.detector import Explanation

AMBIGUOUS = -1
AMBIGUOUS_POLICIES = ("exclude", "positive", "negative")
MISSING_GROUP = "(missing)"


def parse_labels(values: ArrayLike, *, column: str = "label") -> NDArray[np.int8]:
    """Labels as 1 (crisis), 0 (not crisis) or -1 (ambiguous); anything else is an error."""
    series = pd.Series(np.asarray(values, dtype=object))
    if series.empty:
        raise EvaluationError("there are no rows to evaluate")
    missing = series.isna() | (series.astype(str).str.strip() == "")
    if missing.any():
        raise EvaluationError(
            f"{int(missing.sum())} row(s) have no value in label column {column!r}"
        )
    numeric = pd.to_numeric(series.map(_bool_to_int), errors="coerce")
    bad = numeric.isna() | ~numeric.isin((0, 1, AMBIGUOUS))
    if bad.any():
        shown = ", ".join(sorted({repr(str(v)) for v in series[bad].tolist()})[:5])
        raise EvaluationError(
            f"label column {column!r} must hold 0 (not crisis), 1 (crisis) or -1 (ambiguous); "
            f"found {shown} in {int(bad.sum())} row(s)"
        )
    return numeric.to_numpy(dtype=np.int8)


def _bool_to_int(value: Any) -> Any:
    return int(value) if isinstance(value, bool | np.bool_) else value


def parse_times(values: ArrayLike, *, column: str = "time") -> pd.DatetimeIndex:
    """Timestamps (UTC); unparseable or missing ones are an error naming how many."""
    parsed = pd.to_datetime(pd.Series(np.asarray(values, dtype=object)), errors="coerce", utc=True)
    bad = parsed.isna()
    if bad.any():
        raise EvaluationError(
            f"time column {column!r}: {int(bad.sum())} row(s) are missing or not a date/time"
        )
    return pd.DatetimeIndex(parsed)


@dataclass(frozen=True)
class EvaluationData:
    """Labels and scores of n messages plus what else the report can use.

    ``labels``: 1, 0 or -1 (ambiguous).  ``baseline``: 0/1 flags of the lexicon-only baseline.
    ``groups``: column name -> one value per message.  ``explanations``: row position ->
    the detector's explanation (only rows the error analysis needs).  ``texts`` are only
    copied into error tables, and replaced by ids when the report is redacted.
    """

    labels: NDArray[np.int8]
    scores: NDArray[np.float64]
    threshold: float
    ids: tuple[str, ...] = ()
    texts: tuple[str, ...] | None = None
    baseline: NDArray[np.float64] | None = None
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    times: pd.DatetimeIndex | None = None
    explanations: Mapping[int, Explanation] = field(default_factory=dict)
    model_card: Mapping[str, Any] = field(default_factory=dict)
    data_sha256: str | None = None  # of the file the messages came from (in-sample check)

    @classmethod
    def from_arrays(
        cls,
        labels: ArrayLike,
        scores: ArrayLike,
        threshold: float,
        *,
        ids: Sequence[str] | None = None,
        texts: Sequence[str] | None = None,
        baseline: ArrayLike | None = None,
        groups: Mapping[str, ArrayLike] | None = None,
        times: ArrayLike | None = None,
        explanations: Mapping[int, Explanation] | None = None,
        model_card: Mapping[str, Any] | None = None,
        data_sha256: str | None = None,
    ) -> EvaluationData:
        """Validate and assemble; every per-message input must have one value per label."""
        parsed = parse_labels(labels)
        n = parsed.shape[0]
        probabilities = as_scores(scores, n=n, probability=True)
        if not 0.0 <= float(threshold) <= 1.0:
            raise EvaluationError("the threshold must lie in [0, 1]")
        id_values = tuple(str(i) for i in ids) if ids is not None else _row_ids(n)
        _check_length("ids", len(id_values), n)
        if len(set(id_values)) != n:
            raise EvaluationError("message ids must be unique")
        text_values = None
        if texts is not None:
            text_values = tuple("" if t is None else str(t) for t in texts)
            _check_length("texts", len(text_values), n)
        flags = None
        if baseline is not None:
            flags = as_scores(baseline, n=n, probability=True)
        group_values: dict[str, tuple[str, ...]] = {}
        for name, column in (groups or {}).items():
            group_values[name] = tuple(_group_value(v) for v in np.asarray(column, dtype=object))
            _check_length(f"group column {name!r}", len(group_values[name]), n)
        when = None
        if times is not None:
            when = parse_times(times)
            _check_length("times", len(when), n)
        return cls(
            labels=parsed,
            scores=probabilities,
            threshold=float(threshold),
            ids=id_values,
            texts=text_values,
            baseline=flags,
            groups=group_values,
            times=when,
            explanations=dict(explanations or {}),
            model_card=dict(model_card or {}),
            data_sha256=data_sha256,
        )

    @property
    def n_ambiguous(self) -> int:
        return int(np.count_nonzero(self.labels == AMBIGUOUS))

    def resolve(self, policy: str) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """(rows kept, truth of the kept rows) under an ambiguous-label policy."""
        if policy not in AMBIGUOUS_POLICIES:
            raise EvaluationError(
                f"ambiguous policy must be one of {', '.join(AMBIGUOUS_POLICIES)}; got {policy!r}"
            )
        ambiguous = self.labels == AMBIGUOUS
        if policy == "exclude":
            keep = ~ambiguous
            return keep, self.labels[keep] == 1
        keep = np.ones(self.labels.shape[0], dtype=bool)
        positive = (self.labels == 1) | (ambiguous & (policy == "positive"))
        return keep, positive


def _row_ids(n: int) -> tuple[str, ...]:
    return tuple(f"row-{i + 1}" for i in range(n))


def _group_value(value: Any) -> str:
    try:
        missing = value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        missing = False
    if missing:
        return MISSING_GROUP
    text = str(value).strip()
    return text or MISSING_GROUP


def _check_length(what: str, length: int, n: int) -> None:
    if length != n:
        raise EvaluationError(f"{what}: {length} values for {n} messages")
