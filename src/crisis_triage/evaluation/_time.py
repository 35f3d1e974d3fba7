"""Metrics and flag volume over time, and the split for temporal validation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from crisis_triage.evaluation import _metrics as m
from crisis_triage.evaluation._intervals import estimate

TIME_FREQUENCIES = ("auto", "day", "week")
_AUTO_DAILY_SPAN = pd.Timedelta(days=62)


def resolve_frequency(times: pd.DatetimeIndex, freq: str) -> str:
    """``auto``: daily for spans of about two months or less, weekly beyond."""
    if freq not in TIME_FREQUENCIES:
        raise m.EvaluationError(f"time frequency must be one of {', '.join(TIME_FREQUENCIES)}")
    if freq != "auto":
        return freq
    span = times.max() - times.min() if len(times) else pd.Timedelta(0)
    return "day" if span <= _AUTO_DAILY_SPAN else "week"


def period_starts(times: pd.DatetimeIndex, freq: str) -> pd.DatetimeIndex:
    """The day (UTC midnight) or ISO week (Monday) each timestamp falls in."""
    naive = times.tz_convert("UTC").tz_localize(None) if times.tz is not None else times
    days = naive.floor("D")
    if freq == "day":
        return pd.DatetimeIndex(days)
    return pd.DatetimeIndex(days - pd.to_timedelta(days.day_of_week, unit="D"))


def time_table(
    truth: NDArray[np.bool_],
    scores: NDArray[np.float64],
    threshold: float,
    times: pd.DatetimeIndex,
    *,
    freq: str = "auto",
    level: float = 0.95,
) -> dict[str, Any]:
    """Per period: messages, crises, flags, flags per 1,000, sensitivity and PPV.

    Per-period counts are small, so every interval here is a Wilson interval.
    """
    freq = resolve_frequency(times, freq)
    starts = period_starts(times, freq)
    flagged = scores >= threshold
    frame = pd.DataFrame({"period": starts, "truth": truth, "flagged": flagged})
    rows = []
    for period, part in frame.groupby("period", sort=True):
        t, f = part["truth"].to_numpy(), part["flagged"].to_numpy()
        tp, fp, tn, fn = m.confusion_counts(t, f)
        n = tp + fp + tn + fn
        kw: dict[str, Any] = {"level": level, "wilson_below": n + 1}  # always Wilson
        rows.append(
            {
                "period": pd.Timestamp(period).date().isoformat(),  # type: ignore[arg-type]
                "n": n,
                "positives": tp + fn,
                "flagged": tp + fp,
                "tp": tp,
                "fp": fp,
                "fn": fn,
                "flags_per_1000": estimate(
                    m.flags_per_1000(t, f), None, counts=(tp + fp, n), scale=1000.0, **kw
                ).to_dict(),
                "sensitivity": estimate(
                    m.sensitivity(t, f), None, counts=(tp, tp + fn), **kw
                ).to_dict(),
                "ppv": estimate(m.ppv(t, f), None, counts=(tp, tp + fp), **kw).to_dict(),
            }
        )
    return {"frequency": freq, "periods": rows}


def parse_split_date(value: str) -> pd.Timestamp:
    """A date or date-time (UTC when no zone is given) for temporal validation."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise m.EvaluationError(f"{value!r} is not a date (use YYYY-MM-DD)") from None
    if pd.isna(stamp):
        raise m.EvaluationError(f"{value!r} is not a date (use YYYY-MM-DD)")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def temporal_split(
    times: pd.DatetimeIndex, split: pd.Timestamp
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(train rows: before ``split``, test rows: at or after it); both must be non-empty."""
    before = np.asarray(times < split)
    if not before.any():
        raise m.EvaluationError(f"no messages before {split.date()} to train on")
    if before.all():
        raise m.EvaluationError(f"no messages on or after {split.date()} to test on")
    return before, ~before
