"""Report figures drawn headless (Agg canvas, no pyplot state) and returned as base64 PNG."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_STYLE: dict[str, Any] = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 110,
}
_COLOURS = ["#1f5fa8", "#d9730d", "#2e8540", "#8e44ad", "#b03a2e", "#5d6d7e"]


def colour(index: int) -> str:
    return _COLOURS[index % len(_COLOURS)]


@contextmanager
def figure_canvas(width: float, height: float, ncols: int = 1) -> Iterator[tuple[Figure, Any]]:
    with mpl.rc_context(_STYLE):  # type: ignore[arg-type]
        figure = Figure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.subplots(1, ncols)
        yield figure, axes


def png_base64(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def roc_pr(models: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str]) -> str:
    """ROC and precision-recall curves of every model, overlaid, with operating points."""
    with figure_canvas(10.0, 4.4, ncols=2) as (figure, (roc, pr)):
        roc.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="chance")
        prevalence = None
        for i, (name, model) in enumerate(models.items()):
            curves, label = model["curves"], labels.get(name, name)
            point = curves["operating_point"]
            roc.plot(curves["roc"]["fpr"], curves["roc"]["tpr"], color=colour(i), label=label)
            roc.plot(point["fpr"], point["tpr"], "o", color=colour(i), markersize=7)
            pr.plot(
                curves["pr"]["recall"],
                curves["pr"]["precision"],
                color=colour(i),
                label=label,
                drawstyle="steps-post",
            )
            if point["precision"] is not None:
                pr.plot(point["tpr"], point["precision"], "o", color=colour(i), markersize=7)
            prevalence = curves["prevalence"]
        if prevalence is not None:
            pr.axhline(prevalence, color="grey", linestyle=":", linewidth=1, label="prevalence")
        roc.set(
            xlabel="False-positive rate (1 - specificity)",
            ylabel="Sensitivity",
            title="ROC curve (dots: shipped threshold)",
            xlim=(0, 1),
            ylim=(0, 1.02),
        )
        pr.set(
            xlabel="Sensitivity (recall)",
            ylabel="PPV (precision)",
            title="Precision-recall curve",
            xlim=(0, 1),
            ylim=(0, 1.02),
        )
        roc.legend(loc="lower right")
        pr.legend(loc="upper right")
        return png_base64(figure)


def reliability(rows: Sequence[Mapping[str, Any]]) -> str:
    """Observed crisis rate against mean predicted risk per decile, with Wilson intervals."""
    with figure_canvas(5.6, 4.6) as (figure, ax):
        x = [r["mean_predicted"] for r in rows]
        y = [r["observed"] for r in rows]
        err = [
            [r["observed"] - r["observed_low"] for r in rows],
            [r["observed_high"] - r["observed"] for r in rows],
        ]
        top = max([*x, *(r["observed_high"] for r in rows), 0.01]) * 1.08
        top = min(1.0, top)
        ax.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect calibration")
        ax.errorbar(
            x, y, yerr=err, fmt="o-", color=colour(0), capsize=3, label="observed (95% Wilson CI)"
        )
        ax.set(
            xlabel="Mean predicted probability (decile of risk)",
            ylabel="Observed crisis rate",
            title="Reliability diagram",
            xlim=(0, top),
            ylim=(0, top),
        )
        ax.legend(loc="upper left")
        return png_base64(figure)


def decision_curve(curve: Mapping[str, Any], labels: Mapping[str, str]) -> str:
    """Net benefit against threshold probability (log scale), with treat-all and treat-none."""
    with figure_canvas(7.0, 4.4) as (figure, ax):
        t = curve["thresholds"]
        ax.plot(t, curve["treat_all"], color="grey", linestyle="--", label="flag everything")
        ax.plot(t, curve["treat_none"], color="black", linewidth=1, label="flag nothing")
        for i, (name, values) in enumerate(curve["models"].items()):
            ax.plot(t, values, color=colour(i), label=labels.get(name, name))
        best = max(max(v for v in vs if v is not None) for vs in curve["models"].values())
        ax.set_xscale("log")
        ax.set(
            xlabel="Threshold probability (log scale)",
            ylabel="Net benefit per message",
            title="Decision curve",
            ylim=(-0.25 * max(best, 1e-3), max(best, 1e-3) * 1.2),
        )
        ax.legend(loc="upper right")
        return png_base64(figure)


def subgroup_sensitivity(table: Mapping[str, Any]) -> str | None:
    """Sensitivity per group with intervals; red where significantly below the rest."""
    shown = [g for g in table["groups"] if "sensitivity" in g["metrics"]]
    if not shown:
        return None
    with figure_canvas(6.4, 1.2 + 0.42 * len(shown)) as (figure, ax):
        for i, group in enumerate(shown):
            est = group["metrics"]["sensitivity"]
            below = group["sensitivity_below_rest"]
            tint = "#c0392b" if below else colour(0)
            if est["low"] is not None:
                ax.plot([est["low"], est["high"]], [i, i], color=tint, linewidth=2)
            ax.plot(est["value"], i, "o", color=tint, markersize=7)
        ax.set_yticks(range(len(shown)), [f"{g['group']} (n={g['n']})" for g in shown])
        ax.invert_yaxis()
        ax.set(
            xlabel="Sensitivity (95% CI; red: significantly below the rest)",
            title=f"Sensitivity by {table['column']}",
            xlim=(0, 1.02),
        )
        return png_base64(figure)


def time_series(table: Mapping[str, Any]) -> str:
    """Flags per 1,000 messages and sensitivity per period."""
    periods = table["periods"]
    with figure_canvas(9.0, 5.2) as (figure, _):
        figure.clear()
        volume, sens = figure.subplots(2, 1, sharex=True)
        x = list(range(len(periods)))
        volume.bar(x, [p["flags_per_1000"]["value"] or 0 for p in periods], color=colour(0))
        volume.set(
            ylabel="Flags per 1,000", title=f"Flag volume and sensitivity per {table['frequency']}"
        )
        ys = [p["sensitivity"]["value"] for p in periods]
        for xi, p, yi in zip(x, periods, ys, strict=True):
            if yi is None:
                continue
            est = p["sensitivity"]
            sens.plot([xi, xi], [est["low"], est["high"]], color=colour(1), linewidth=1.5)
            sens.plot(xi, yi, "o", color=colour(1))
        sens.set(
            ylabel="Sensitivity (Wilson CI)", ylim=(0, 1.05), xlabel=table["frequency"].title()
        )
        step = max(1, len(periods) // 12)
        sens.set_xticks(x[::step], [p["period"] for p in periods][::step], rotation=30, ha="right")
        return png_base64(figure)
