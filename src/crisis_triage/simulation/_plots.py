"""The simulation page's figures, drawn with the evaluation report's headless helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crisis_triage.evaluation._plots import colour, figure_canvas, png_base64


def _log_minutes(value: float | None) -> float:
    return max(value or 0.0, 0.1)  # log axis: sub-6-second waits drawn at 0.1 min


def waits_by_staffing(grid: Sequence[Mapping[str, Any]], target_minutes: float) -> str:
    """Crisis median and p90 minutes against staffing: FCFS and each operating point."""
    with figure_canvas(10.0, 4.4, ncols=2) as (figure, (crisis, other)):
        series: dict[str, list[Mapping[str, Any]]] = {}
        for row in grid:
            name = "first come, first served" if row["mode"] == "fcfs" else row["operating_point"]
            series.setdefault(name, []).append(row)
        for i, (name, rows) in enumerate(series.items()):
            x = [r["peak_specialists"] for r in rows]
            crisis.plot(
                x,
                [_log_minutes(r["crisis_minutes"]["median"]) for r in rows],
                "o-",
                color=colour(i),
                label=f"{name}: median",
            )
            crisis.plot(
                x,
                [_log_minutes(r["crisis_minutes"]["p90"]) for r in rows],
                "s--",
                color=colour(i),
                label=f"{name}: p90",
            )
            other.plot(
                x,
                [_log_minutes(r["other_minutes"]["median"]) for r in rows],
                "o-",
                color=colour(i),
                label=f"{name}: median",
            )
        crisis.axhline(target_minutes, color="#b03a2e", linestyle=":", label="target")
        peaks = sorted({r["peak_specialists"] for r in grid})
        for ax, title in ((crisis, "Crises"), (other, "Other messages")):
            ax.set_yscale("log")
            ax.set_xticks(peaks)
            ax.set(
                xlabel="Specialists on shift at peak",
                ylabel="Minutes to triage (log)",
                title=f"{title}: minutes from message to triage",
            )
        crisis.legend(loc="upper right", fontsize=7)
        other.legend(loc="upper right", fontsize=7)
        return png_base64(figure)


def utilisation(grid: Sequence[Mapping[str, Any]]) -> str:
    """Specialists' utilisation against staffing (detector scenarios)."""
    with figure_canvas(5.6, 4.0) as (figure, ax):
        fcfs = [r for r in grid if r["mode"] == "fcfs"]
        ax.set_xticks([r["peak_specialists"] for r in fcfs])
        ax.plot(
            [r["peak_specialists"] for r in fcfs],
            [r["utilisation"] for r in fcfs],
            "o-",
            color=colour(0),
        )
        ax.axhline(1.0, color="grey", linestyle=":")
        ax.set(
            xlabel="Specialists on shift at peak",
            ylabel="Busy share of shift time",
            title="Utilisation",
            ylim=(0, 1.1),
        )
        return png_base64(figure)


def day_shape(arrivals_per_hour: Sequence[float], rota: Sequence[int]) -> str:
    """Mean messages per hour of day against specialists on shift (default rota)."""
    with figure_canvas(7.0, 3.8) as (figure, ax):
        hours = list(range(24))
        ax.bar(hours, arrivals_per_hour, color=colour(0), alpha=0.7, label="messages per hour")
        ax.set(
            xlabel="Hour of day",
            ylabel="Messages per hour (mean)",
            title="Arrivals and the default rota",
        )
        staff = ax.twinx()
        staff.step(hours, rota, where="mid", color=colour(1), label="specialists on shift")
        staff.set_ylabel("Specialists on shift")
        staff.set_ylim(0, max(rota) * 1.3)
        staff.grid(False)
        ax.legend(loc="upper left")
        staff.legend(loc="upper right")
        return png_base64(figure)
