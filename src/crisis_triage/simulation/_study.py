"""A staffing study: the queue simulated over a grid of operating points x staffing levels,
first come first served against the detector, and the operating point to recommend.

Configuration + ``run()`` -> a plain JSON-ready result, from which the HTML page is rendered
(like the evaluation report).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crisis_triage.simulation._inputs import (
    CMD1_DAYS,
    CMD1_FIRST_WEEKDAY,
    CMD1_MESSAGES,
    CMD1_PREVALENCE,
    DEFAULT_PEAK,
    ArrivalProfile,
    HandlingTimes,
    OperatingPoint,
    Rota,
    SimulationInputError,
    Workload,
    cmd1_operating_point,
)
from crisis_triage.simulation._queue import DAY, simulate_queue

SCHEMA_VERSION = 1
MAX_RUNS = 60  # scenarios in one study; each is a full month of messages


@dataclass(frozen=True)
class Target:
    """What the recommendation must meet: crises triaged within ``minutes`` at ``quantile``,
    and the other messages within ``other_hours`` at p90 (None: no bound)."""

    minutes: float = 20.0
    quantile: float = 90.0
    other_hours: float | None = 24.0

    def describe(self) -> str:
        text = f"crises triaged within {self.minutes:g} min at p{self.quantile:g}"
        if self.other_hours is not None:
            text += f", other messages within {self.other_hours:g} h at p90"
        return text


@dataclass(frozen=True)
class SimulationConfig:
    """Everything a study depends on; ``run()`` is deterministic for a given config."""

    profile: ArrivalProfile = field(default_factory=ArrivalProfile.stated)
    messages: int = CMD1_MESSAGES
    days: int = CMD1_DAYS
    first_weekday: int = CMD1_FIRST_WEEKDAY
    prevalence: float = CMD1_PREVALENCE
    operating_points: tuple[OperatingPoint, ...] = field(
        default_factory=lambda: (cmd1_operating_point(),)
    )
    operating_points_source: str = "CMD-1 published prospective figures"
    peaks: tuple[int, ...] = (DEFAULT_PEAK - 1, DEFAULT_PEAK, DEFAULT_PEAK + 1)
    default_peak: int = DEFAULT_PEAK
    handling: HandlingTimes = field(default_factory=HandlingTimes)
    # Median minutes from a crisis alert to a specialist turning to it (finishing a call or a
    # session first); lognormal with the handling times' spread.  0: they watch the queue.
    alert_response_minutes: float = 8.0
    target: Target = field(default_factory=Target)
    seed: int = 0

    def validate(self) -> None:
        if self.messages < 1 or self.days < 1:
            raise SimulationInputError("messages and days must be at least 1")
        if not 0.0 < self.prevalence < 1.0:
            raise SimulationInputError("prevalence must be between 0 and 1")
        if not self.operating_points or not self.peaks:
            raise SimulationInputError("at least one operating point and one staffing level")
        if min(self.peaks) < 1:
            raise SimulationInputError("staffing levels (specialists at peak) must be >= 1")
        if len(self.peaks) * (len(self.operating_points) + 1) > MAX_RUNS:
            raise SimulationInputError(
                f"the grid asks for more than {MAX_RUNS} simulated months; use fewer levels"
            )
        if self.default_peak not in self.peaks:
            raise SimulationInputError("the default staffing level must be one of the grid's")

    def to_dict(self) -> dict[str, Any]:
        return {
            "arrivals": self.profile.source,
            "messages": self.messages,
            "days": self.days,
            "first_weekday": self.first_weekday,
            "prevalence": self.prevalence,
            "operating_points_source": self.operating_points_source,
            "staffing_peaks": list(self.peaks),
            "default_peak": self.default_peak,
            "rota_default": list(Rota.scaled(self.default_peak).on_shift),
            "handling_minutes": self.handling.to_dict(),
            "alert_response_minutes": self.alert_response_minutes,
            "target": {
                "minutes": self.target.minutes,
                "quantile": self.target.quantile,
                "other_hours": self.target.other_hours,
            },
            "seed": self.seed,
        }


def _quantiles(waits: np.ndarray) -> dict[str, float | int | None]:
    done = waits[~np.isnan(waits)]
    if done.size == 0:
        return {"n": int(waits.size), "median": None, "p90": None, "untriaged": int(waits.size)}
    return {
        "n": int(waits.size),
        "median": round(float(np.median(done)), 2),
        "p90": round(float(np.percentile(done, 90)), 2),
        "untriaged": int(waits.size - done.size),
    }


def _scenario(
    config: SimulationConfig, work: Workload, peak: int, point: OperatingPoint | None
) -> dict[str, Any]:
    """One simulated month: FCFS when ``point`` is None, else flagged messages first."""
    rota = Rota.scaled(peak)
    n = work.is_crisis.size
    flagged = work.flagged(point) if point is not None else np.zeros(n, bool)
    handling = work.handling_minutes(config.handling, flagged)
    joins = None
    if point is not None and config.alert_response_minutes > 0:
        spread = config.handling.spread * work.response_draw
        response = config.alert_response_minutes * np.exp(spread)
        joins = work.arrival_minutes + np.where(flagged, response, 0.0)
    run = simulate_queue(
        work.arrival_minutes,
        np.where(flagged, 0, 1),
        handling,
        rota,
        days=work.days,
        joins=joins,
    )
    waits = run.opened - work.arrival_minutes
    in_period = run.opened < work.days * DAY
    on_shift = 60.0 * rota.staff_hours_per_day * work.days
    missed = work.is_crisis & ~flagged
    return {
        "mode": "fcfs" if point is None else "detector",
        "operating_point": None if point is None else point.label,
        "threshold": None if point is None else point.threshold,
        "sensitivity": None if point is None else point.sensitivity,
        "flags_per_1000": None
        if point is None
        else round(point.flags_per_1000(config.prevalence), 2),
        "peak_specialists": peak,
        "staff_hours_per_day": rota.staff_hours_per_day,
        "crisis_minutes": _quantiles(waits[work.is_crisis]),
        "other_minutes": _quantiles(waits[~work.is_crisis]),
        "missed_crisis_minutes": _quantiles(waits[missed]) if point is not None else None,
        "flagged": int(flagged.sum()),
        "utilisation": round(float(handling[in_period].sum()) / on_shift, 4),
    }


def _meets(row: dict[str, Any], target: Target) -> bool:
    waits = row["crisis_minutes"]
    if waits["untriaged"]:
        return False
    key = "median" if target.quantile == 50 else "p90"
    if waits[key] is None or waits[key] > target.minutes:
        return False
    others = row["other_minutes"]
    if target.other_hours is None:
        return True
    return others["p90"] is not None and others["p90"] <= 60 * target.other_hours


def recommend(rows: Sequence[dict[str, Any]], target: Target) -> dict[str, Any]:
    """The cheapest detector scenario meeting the target: fewest staff hours, then the highest
    sensitivity (fewest missed crises), then the fewest flags."""
    meeting = [r for r in rows if r["mode"] == "detector" and _meets(r, target)]
    if not meeting:
        return {"met": False, "target": target.describe(), "scenario": None}
    best = min(
        meeting,
        key=lambda r: (r["staff_hours_per_day"], -r["sensitivity"], r["flags_per_1000"]),
    )
    return {"met": True, "target": target.describe(), "scenario": best}


def run(config: SimulationConfig) -> dict[str, Any]:
    """Simulate every grid cell (and FCFS per staffing level) on one shared draw of messages."""
    if config.target.quantile not in (50.0, 90.0):
        raise SimulationInputError("the target quantile must be 50 (median) or 90")
    config.validate()
    work = Workload.draw(
        config.profile,
        messages=config.messages,
        days=config.days,
        prevalence=config.prevalence,
        first_weekday=config.first_weekday,
        seed=config.seed,
    )
    rows: list[dict[str, Any]] = []
    for peak in config.peaks:
        rows.append(_scenario(config, work, peak, None))
        rows.extend(_scenario(config, work, peak, p) for p in config.operating_points)
    default_point = config.operating_points[0].label
    fcfs = next(
        r for r in rows if r["mode"] == "fcfs" and r["peak_specialists"] == config.default_peak
    )
    detector = next(
        r
        for r in rows
        if r["operating_point"] == default_point and r["peak_specialists"] == config.default_peak
    )
    return {
        "kind": "simulation",
        "schema_version": SCHEMA_VERSION,
        "config": config.to_dict(),
        "workload": {
            "messages": int(work.is_crisis.size),
            "crises": int(work.is_crisis.sum()),
            "days": work.days,
            "arrivals_per_hour_of_day": [
                round(float(v), 2)
                for v in np.bincount((work.arrival_minutes // 60).astype(int) % 24, minlength=24)
                / work.days
            ],
        },
        "crisis_median_minutes": {
            "fcfs": fcfs["crisis_minutes"]["median"],
            "detector": detector["crisis_minutes"]["median"],
        },
        "default": {"fcfs": fcfs, "detector": detector},
        "grid": rows,
        "recommendation": recommend(rows, config.target),
    }
