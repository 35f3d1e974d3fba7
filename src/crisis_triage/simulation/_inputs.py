"""What the simulation is fed: when messages arrive, how the detector sorts them, who is on
shift and how long a message takes to triage.

Every default is a stated assumption; docs/simulation.md says where each comes from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# CMD-1's prospective test set (Swaminathan et al. 2023): 1-31 October 2022, 102,471 messages.
CMD1_DAYS = 31
CMD1_MESSAGES = 102_471
CMD1_PREVALENCE = 0.0055
CMD1_SENSITIVITY = 0.98
CMD1_PPV = 0.66
# 1 October 2022 was a Saturday (Monday = 0).
CMD1_FIRST_WEEKDAY = 5

# A stated profile (CMD-1 published no hourly counts): share of a day's messages per hour of
# day, low overnight, rising through the morning, level through the working day and evening.
DEFAULT_HOURLY = (
    1.0, 0.7, 0.5, 0.4, 0.4, 0.6, 1.2, 2.5, 4.5, 6.0, 6.5, 6.5,
    6.3, 6.3, 6.3, 6.2, 6.0, 5.8, 5.5, 5.2, 4.8, 4.0, 3.0, 1.8,
)  # fmt: skip
# Weekends are quieter (Monday first).
DEFAULT_WEEKDAY = (1.1, 1.1, 1.05, 1.05, 1.0, 0.8, 0.75)
# Specialists on shift per hour of day, scaled to the staffing level (its peak): a day shift,
# an evening shift and one person overnight.
DEFAULT_ROTA_SHAPE = (
    1, 1, 1, 1, 1, 1, 1, 2, 6, 8, 8, 8,
    8, 8, 8, 8, 8, 6, 4, 4, 3, 2, 1, 1,
)  # fmt: skip
DEFAULT_PEAK = 9


class SimulationInputError(ValueError):
    """An input file or option the simulation cannot use; the message says why."""


@dataclass(frozen=True)
class ArrivalProfile:
    """Expected messages per hour for each of the 168 hours of a week (Monday 00:00 first)."""

    weekly_shares: tuple[float, ...]
    source: str

    @classmethod
    def stated(cls) -> ArrivalProfile:
        week = np.outer(DEFAULT_WEEKDAY, DEFAULT_HOURLY).ravel()
        return cls(tuple(float(v) for v in week / week.sum()), "stated profile (docs)")

    @classmethod
    def from_timestamps(cls, stamps: Sequence[Any], source: str) -> ArrivalProfile:
        """The hour-of-week mix of a site's own message times (no text needed)."""
        import pandas as pd

        times = pd.to_datetime(pd.Series(list(stamps)), errors="coerce", utc=True).dropna()
        if len(times) < 168:
            raise SimulationInputError(
                f"{source}: {len(times)} readable timestamps; at least 168 (one a week-hour) "
                "are needed for an arrival profile"
            )
        slots = (times.dt.day_of_week * 24 + times.dt.hour).to_numpy()
        counts = np.bincount(slots, minlength=168).astype(float) + 0.5  # no empty hour
        return cls(tuple(float(v) for v in counts / counts.sum()), source)

    def hourly_rates(self, messages: int, days: int, first_weekday: int) -> np.ndarray:
        """Expected arrivals in each hour of the period, summing to ``messages``."""
        shares = np.asarray(self.weekly_shares)
        hours = (first_weekday * 24 + np.arange(days * 24)) % 168
        rates = np.asarray(shares[hours], dtype=float)
        return np.asarray(rates / rates.sum() * messages)


def read_timestamps(path: Path, column: str) -> list[Any]:
    """The ``column`` of a CSV/JSONL/Parquet file of message times (only that column is read)."""
    from crisis_triage.io import TableError, read_table

    try:
        frame = read_table(path, required=[column])
    except (TableError, OSError) as exc:
        raise SimulationInputError(f"{path}: {exc}") from None
    return frame[column].tolist()


@dataclass(frozen=True)
class OperatingPoint:
    """How the detector sorts messages at one threshold: the share of crises it flags
    (sensitivity) and the share of other messages it flags (1 - specificity)."""

    label: str
    sensitivity: float
    false_positive_rate: float
    threshold: float | None = None

    def flags_per_1000(self, prevalence: float) -> float:
        rate = prevalence * self.sensitivity + (1 - prevalence) * self.false_positive_rate
        return 1000.0 * rate


def cmd1_operating_point() -> OperatingPoint:
    """CMD-1's published prospective figures: sensitivity 0.98 and PPV 0.66 at 0.55%."""
    flagged = CMD1_PREVALENCE * CMD1_SENSITIVITY / CMD1_PPV
    fpr = (flagged - CMD1_PREVALENCE * CMD1_SENSITIVITY) / (1 - CMD1_PREVALENCE)
    return OperatingPoint("CMD-1 published (sens 0.98, PPV 0.66)", CMD1_SENSITIVITY, fpr)


def _value(entry: Any) -> float | None:
    if isinstance(entry, Mapping):
        entry = entry.get("value")
    return float(entry) if isinstance(entry, int | float) else None


def _point(label: str, metrics: Mapping[str, Any], threshold: Any) -> OperatingPoint | None:
    sensitivity = _value(metrics.get("sensitivity"))
    specificity = _value(metrics.get("specificity"))
    if sensitivity is None or specificity is None:
        return None
    return OperatingPoint(
        label,
        sensitivity,
        1.0 - specificity,
        float(threshold) if isinstance(threshold, int | float) else None,
    )


def card_operating_points(card: Mapping[str, Any]) -> list[OperatingPoint]:
    """A model card's out-of-fold operating points: its own table when it has one, else the
    shipped thresholds of its tiers."""
    points: list[OperatingPoint] = []
    for row in card.get("operating_points") or []:
        found = _point(f"threshold {row.get('threshold', 0):.4g}", row, row.get("threshold"))
        if found:
            points.append(found)
    if not points:
        figures = card.get("metrics_out_of_fold") or card.get("metrics") or {}
        threshold = _value(card.get("threshold"))
        for tier in ("full", "fast"):
            metrics = figures.get(tier)
            if isinstance(metrics, Mapping):
                found = _point(f"{tier} tier at its threshold", metrics, None)
                if found:
                    points.append(found)
        if not points and isinstance(figures, Mapping):
            found = _point("card threshold", figures, threshold)
            if found:
                points.append(found)
    return points


def report_operating_points(report: Mapping[str, Any]) -> list[OperatingPoint]:
    """An evaluation report's (``crisis-triage evaluate --format json``) shipped threshold and
    its operating-point table (thresholds for target sensitivities)."""
    points: list[OperatingPoint] = []
    model = (report.get("models") or {}).get("model") or {}
    shipped = _point("shipped threshold", model.get("metrics") or {}, model.get("threshold"))
    if shipped:
        points.append(shipped)
    for row in report.get("operating_points") or []:
        target = row.get("target_sensitivity")
        found = _point(f"sensitivity target {target}", row, row.get("threshold"))
        if found:
            points.append(found)
    return points


def load_operating_points(source: str) -> tuple[list[OperatingPoint], str]:
    """``cmd1`` (published), ``card`` (the bundled model's card), or a path to an evaluation
    report JSON or a model card JSON."""
    if source == "cmd1":
        return [cmd1_operating_point()], "CMD-1 published prospective figures"
    if source == "card":
        from crisis_triage.detector import read_card

        return card_operating_points(read_card()), "the bundled model card (out of fold)"
    path = Path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SimulationInputError(
            f"operating points: {source!r} is not 'cmd1', 'card' or a readable JSON file "
            f"({type(exc).__name__})"
        ) from None
    points = (
        report_operating_points(data)
        if isinstance(data, dict) and data.get("kind") == "report"
        else card_operating_points(data if isinstance(data, dict) else {})
    )
    if not points:
        raise SimulationInputError(
            f"{path.name}: no operating point with sensitivity and specificity found (expected "
            "an evaluation report JSON or a model card)"
        )
    return points, f"{path.name}"


@dataclass(frozen=True)
class Rota:
    """Specialists on shift in each hour of the day (the same every day)."""

    on_shift: tuple[int, ...]

    @classmethod
    def scaled(cls, peak: int, shape: Sequence[int] = DEFAULT_ROTA_SHAPE) -> Rota:
        """The default rota's shape with ``peak`` people at its busiest, at least one always."""
        top = max(shape)
        return cls(tuple(max(1, round(peak * s / top)) for s in shape))

    @property
    def staff_hours_per_day(self) -> int:
        return sum(self.on_shift)


@dataclass(frozen=True)
class HandlingTimes:
    """Minutes a specialist spends on a message once they open it (lognormal medians): a real
    crisis needs the crisis protocol; a flagged non-crisis is read with care; the rest are
    routine."""

    crisis: float = 10.0
    flagged: float = 3.0
    routine: float = 1.7
    spread: float = 0.5  # sigma of log minutes

    def to_dict(self) -> dict[str, float]:
        return {
            "crisis_median": self.crisis,
            "flagged_median": self.flagged,
            "routine_median": self.routine,
            "log_sigma": self.spread,
        }


@dataclass(frozen=True)
class Workload:
    """The messages of the study period: arrival times (minutes), which are crises, and the
    random draws every scenario shares (common random numbers)."""

    arrival_minutes: np.ndarray
    is_crisis: np.ndarray
    flag_draw: np.ndarray  # uniform: flagged when below the class's flag rate
    handling_draw: np.ndarray  # standard normal, scaled per kind
    response_draw: np.ndarray  # standard normal, for the alert response delay
    days: int
    first_weekday: int
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def draw(
        cls,
        profile: ArrivalProfile,
        *,
        messages: int,
        days: int,
        prevalence: float,
        first_weekday: int,
        seed: int,
    ) -> Workload:
        rng = np.random.default_rng(seed)
        rates = profile.hourly_rates(messages, days, first_weekday)
        counts = rng.poisson(rates)
        hours = np.repeat(np.arange(rates.size), counts)
        arrivals = np.sort((hours + rng.random(hours.size)) * 60.0)
        n = arrivals.size
        return cls(
            arrival_minutes=arrivals,
            is_crisis=rng.random(n) < prevalence,
            flag_draw=rng.random(n),
            handling_draw=rng.standard_normal(n),
            response_draw=rng.standard_normal(n),
            days=days,
            first_weekday=first_weekday,
        )

    def flagged(self, point: OperatingPoint) -> np.ndarray:
        rate = np.where(self.is_crisis, point.sensitivity, point.false_positive_rate)
        return np.asarray(self.flag_draw < rate)

    def handling_minutes(self, times: HandlingTimes, flagged: np.ndarray) -> np.ndarray:
        median = np.where(
            self.is_crisis, times.crisis, np.where(flagged, times.flagged, times.routine)
        )
        return np.asarray(median * np.exp(times.spread * self.handling_draw))
