"""Loading labelled messages for training, with the checks and filters a model card needs.

Labels: 1 crisis, 0 not, -1 ambiguous.  Ambiguous rows are left out by default
(``ambiguous="positive"`` counts them as crises).  Rows from sources whose licence is
non-commercial (e.g. CC BY-NC-SA) are left out unless ``allow_noncommercial`` is set, so that
no model the project ships learns from them.  Every exclusion is counted in the summary.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crisis_triage.io import read_table

AMBIGUOUS_CHOICES = ("exclude", "positive")
_NONCOMMERCIAL = re.compile(r"(?:\bNC\b|non[- ]?commercial)", re.IGNORECASE)


class DataError(ValueError):
    """The labelled data cannot be used as given; the message says why and where."""


def is_noncommercial(licence: str) -> bool:
    """True for licences that forbid commercial use (CC BY-NC*, 'non-commercial')."""
    return bool(_NONCOMMERCIAL.search(licence))


@dataclass(frozen=True)
class LabelledData:
    texts: list[str]
    labels: np.ndarray
    crisis_types: list[Any] | None = None
    weights: np.ndarray | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def load_labelled(
    path: str | Path,
    *,
    text_col: str = "text",
    label_col: str = "crisis",
    ambiguous: str = "exclude",
    type_col: str | None = "crisis_type",
    source_col: str | None = "source",
    license_col: str | None = "license",
    exclude_sources: Sequence[str] = (),
    allow_noncommercial: bool = False,
    source_weights: Mapping[str, float] | None = None,
) -> LabelledData:
    """Read a CSV/JSONL/Parquet file of labelled messages (optional columns may be absent)."""
    if ambiguous not in AMBIGUOUS_CHOICES:
        raise DataError(f"ambiguous must be one of {', '.join(AMBIGUOUS_CHOICES)}")
    path = Path(path)
    frame = read_table(path, required=[text_col, label_col])
    if frame.empty:  # a header alone: say so rather than fail deep inside numpy
        raise DataError(f"{path.name} has no labelled rows (only a header)")
    labels = _labels(frame[label_col], label_col)
    _check_texts(frame[text_col], text_col)
    keep = np.ones(len(frame), dtype=bool)
    excluded: dict[str, int] = {}

    def drop(mask: np.ndarray, reason: str) -> None:
        newly = mask & keep
        if newly.any():
            excluded[reason] = excluded.get(reason, 0) + int(newly.sum())
            keep[newly] = False

    sources = _optional(frame, source_col)
    licences = _optional(frame, license_col)
    if sources is not None and exclude_sources:
        unknown = sorted(set(exclude_sources) - set(sources))
        if unknown:
            raise DataError(f"--exclude-source names unknown sources: {', '.join(unknown)}")
        drop(np.isin(sources, list(exclude_sources)), "excluded source")
    elif exclude_sources:
        raise DataError(f"cannot exclude sources: the data has no column {source_col!r}")
    if licences is not None and not allow_noncommercial:
        drop(np.array([is_noncommercial(lic) for lic in licences]), "non-commercial licence")
    if ambiguous == "exclude":
        drop(labels == -1, "ambiguous label (-1)")
    labels = np.where(labels == -1, 1, labels)

    weights = None
    if source_weights:
        if sources is None:
            raise DataError(f"source weights need a {source_col!r} column")
        unknown = sorted(set(source_weights) - set(sources))
        if unknown:
            raise DataError(f"source weights name unknown sources: {', '.join(unknown)}")
        weights = np.array([float(source_weights.get(s, 1.0)) for s in sources])[keep]
    rows = np.flatnonzero(keep)
    if not len(rows):
        raise DataError("no rows are left after the exclusions")
    types = _optional(frame, type_col)
    summary = {
        "file": path.name,
        "sha256": _file_sha256(path),
        "rows_read": len(frame),
        "rows_used": len(rows),
        "positives_used": int(labels[rows].sum()),
        "excluded": excluded,
        "ambiguous": "excluded" if ambiguous == "exclude" else "counted as positive",
        "text_column": text_col,
        "label_column": label_col,
        "sources": _source_table(sources, licences, labels, keep),
        "source_weights": dict(source_weights or {}),
    }
    return LabelledData(
        texts=frame[text_col].iloc[rows].astype(str).tolist(),
        labels=labels[rows].astype(np.int64),
        crisis_types=[types[i] for i in rows] if types is not None else None,
        weights=weights,
        summary=summary,
    )


def _labels(column: pd.Series, name: str) -> np.ndarray:
    numbers = pd.to_numeric(column, errors="coerce")
    bad = numbers.isna() | ~numbers.isin([-1, 0, 1])
    if bad.any():
        values = sorted({str(v)[:20] for v in column[bad].tolist()})[:5]
        rows = [str(i + 1) for i in np.flatnonzero(bad.to_numpy())[:5]]
        raise DataError(
            f"column {name!r} must hold 1 (crisis), 0 (not) or -1 (ambiguous); "
            f"{int(bad.sum())} rows do not (values {', '.join(values)}; "
            f"data rows {', '.join(rows)})"
        )
    return numbers.to_numpy(dtype=np.int64)


def _check_texts(column: pd.Series, name: str) -> None:
    empty = column.isna().to_numpy() | np.array(
        [isinstance(v, str) and not v.strip() for v in column.tolist()]
    )
    if empty.any():
        rows = [str(i + 1) for i in np.flatnonzero(empty)[:5]]
        raise DataError(
            f"column {name!r} has {int(empty.sum())} empty or missing messages "
            f"(data rows {', '.join(rows)}); remove those rows or fill them in before training"
        )


def _optional(frame: pd.DataFrame, column: str | None) -> list[Any] | None:
    if column is None or column not in frame.columns:
        return None
    return ["" if pd.isna(v) else str(v) for v in frame[column].tolist()]


def _source_table(
    sources: list[Any] | None, licences: list[Any] | None, labels: np.ndarray, keep: np.ndarray
) -> list[dict[str, Any]]:
    if sources is None:
        return [{"source": "(no source column)", "license": "unknown", "rows": int(keep.sum())}]
    table: dict[str, dict[str, Any]] = {}
    for i, source in enumerate(sources):
        entry = table.setdefault(
            source,
            {
                "source": source,
                "license": licences[i] if licences is not None else "unknown",
                "rows": 0,
                "positives": 0,
                "used": True,
            },
        )
        entry["rows"] += int(keep[i])
        entry["positives"] += int(keep[i] and labels[i] == 1)
    for entry in table.values():
        entry["used"] = entry["rows"] > 0
    return [table[s] for s in sorted(table)]


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
