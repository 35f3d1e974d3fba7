"""The simulation result (plain JSON data) as a self-contained HTML page with figures."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

from crisis_triage.simulation import _plots


def _minutes(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 120:
        return f"{value / 60:.1f} h"
    return f"{value:.1f} min"


def _environment() -> Environment:
    env = Environment(
        # The evaluation report's shared style sheet (_style.html.j2) is included from there.
        loader=ChoiceLoader(
            [
                PackageLoader("crisis_triage.simulation", "templates"),
                PackageLoader("crisis_triage.evaluation", "templates"),
            ]
        ),
        autoescape=select_autoescape(["html", "html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["minutes"] = _minutes
    return env


def render_simulation_html(result: dict[str, Any]) -> str:
    config = result["config"]
    figures = {
        "waits": _plots.waits_by_staffing(result["grid"], config["target"]["minutes"]),
        "utilisation": _plots.utilisation(result["grid"]),
        "day": _plots.day_shape(
            result["workload"]["arrivals_per_hour_of_day"], config["rota_default"]
        ),
    }
    return (
        _environment()
        .get_template("simulation.html.j2")
        .render(
            r=result,
            figures=figures,
            config_json=json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False),
        )
    )
