"""Render a report or comparison result (plain JSON data) to HTML and Markdown with Jinja2."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from crisis_triage.evaluation import _plots

METRIC_LABELS = {
    "auroc": "AUROC",
    "auprc": "AUPRC",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "npv": "NPV",
    "flags_per_1000": "Flags per 1,000",
    "net_benefit": "Net benefit",
    "brier": "Brier score",
    "ece": "Expected calibration error",
    "calibration_slope": "Calibration slope",
    "calibration_intercept": "Calibration intercept",
}
MODEL_LABELS = {"model": "Model", "lexicon": "Lexicon only (baseline)"}
# An operating point whose threshold is at or below every message's score.
FLAGS_EVERYTHING = (
    "reached only by flagging every message: at this target the model does not sort the queue"
)
SECTIONS = (
    ("summary", "Summary"),
    ("metrics", "Metrics at the shipped threshold"),
    ("curves", "ROC and precision-recall curves"),
    ("operating-points", "Operating points"),
    ("calibration", "Calibration"),
    ("decision-curve", "Decision curve"),
    ("subgroups", "Subgroups"),
    ("time", "Over time"),
    ("errors", "Error analysis"),
    ("configuration", "Configuration and provenance"),
)
COMPARISON_SECTIONS = (
    ("summary", "Summary"),
    ("metrics", "Metrics"),
    ("differences", "Paired differences"),
    ("curves", "ROC and precision-recall curves"),
    ("configuration", "Configuration and provenance"),
)


def _digits(name: str) -> int:
    return 1 if name == "flags_per_1000" else 3


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def fmt_estimate(est: dict[str, Any] | None, name: str = "", *, interval: bool = True) -> str:
    """``0.952 (0.931–0.968)ʷ``: ʷ marks a Wilson interval, the rest are bootstrap."""
    if not est or est.get("value") is None:
        return "–"
    digits = _digits(name)
    text = fmt(est["value"], digits)
    if interval and est.get("low") is not None:
        dash = " to " if est["low"] < 0 else "–"
        text += f" ({fmt(est['low'], digits)}{dash}{fmt(est['high'], digits)})"
        if est.get("method") == "wilson":
            text += "ʷ"
    return text


def fmt_count(est: dict[str, Any] | None) -> str:
    if not est or est.get("denominator") is None:
        return ""
    return f"{est['numerator']}/{est['denominator']}"


def md_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(value).split()).replace("|", "\\|") if value is not None else "–"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("crisis_triage.evaluation", "templates"),
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(est=fmt_estimate, num=fmt, count=fmt_count, md=md_cell)
    env.globals.update(
        METRIC_LABELS=METRIC_LABELS, MODEL_LABELS=MODEL_LABELS, FLAGS_EVERYTHING=FLAGS_EVERYTHING
    )
    return env


_ENV: Environment | None = None


def environment() -> Environment:
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV


def _labels(data: dict[str, Any]) -> dict[str, str]:
    return {name: MODEL_LABELS.get(name, name) for name in data["models"]}


def report_figures(data: dict[str, Any]) -> dict[str, Any]:
    labels = _labels(data)
    figures: dict[str, Any] = {
        "curves": _plots.roc_pr(data["models"], labels),
        "decision_curve": _plots.decision_curve(data["decision_curve"], labels),
        "reliability": _plots.reliability(data["reliability"]) if data["reliability"] else None,
        "subgroups": {t["column"]: _plots.subgroup_sensitivity(t) for t in data["subgroups"]},
        "time": _plots.time_series(data["time"]) if data.get("time") else None,
    }
    return figures


def render_html(data: dict[str, Any]) -> str:
    """A self-contained HTML page: inline CSS, figures embedded as base64 PNG."""
    sections: tuple[tuple[str, str], ...]
    if data["kind"] == "comparison":
        figures = {"curves": _plots.roc_pr(data["models"], _labels(data))}
        template, sections = "comparison.html.j2", COMPARISON_SECTIONS
    else:
        figures = report_figures(data)
        template, sections = "report.html.j2", SECTIONS
    return (
        environment()
        .get_template(template)
        .render(
            r=data,
            figures=figures,
            sections=sections,
            config_json=_pretty(data["provenance"]),
            card_json=_pretty(data.get("model_card") or {}),
        )
    )


def render_markdown(data: dict[str, Any]) -> str:
    template = "comparison.md.j2" if data["kind"] == "comparison" else "report.md.j2"
    sections = COMPARISON_SECTIONS if data["kind"] == "comparison" else SECTIONS
    return environment().get_template(template).render(r=data, sections=sections)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
