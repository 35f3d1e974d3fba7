"""Staffing and queue simulation: how long crises and other messages wait for a specialist,
first come first served or with the detector, over a grid of operating points and staffing
levels (docs/simulation.md)."""

from crisis_triage.simulation._inputs import (
    ArrivalProfile,
    HandlingTimes,
    OperatingPoint,
    Rota,
    SimulationInputError,
    card_operating_points,
    cmd1_operating_point,
    load_operating_points,
    read_timestamps,
    report_operating_points,
)
from crisis_triage.simulation._render import render_simulation_html
from crisis_triage.simulation._study import SimulationConfig, Target, recommend, run

__all__ = [
    "ArrivalProfile",
    "HandlingTimes",
    "OperatingPoint",
    "Rota",
    "SimulationConfig",
    "SimulationInputError",
    "Target",
    "card_operating_points",
    "cmd1_operating_point",
    "load_operating_points",
    "read_timestamps",
    "recommend",
    "render_simulation_html",
    "report_operating_points",
    "run",
]
