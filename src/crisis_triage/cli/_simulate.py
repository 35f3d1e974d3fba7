"""``crisis-triage simulate``: the staffing and queue simulation (docs/simulation.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from crisis_triage.cli._app import app


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _peaks(text: str) -> tuple[int, ...]:
    try:
        peaks = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        _fail(f"--specialists wants whole numbers separated by commas, not {text!r}")
    if not peaks:
        _fail("--specialists needs at least one staffing level")
    return peaks


def _simulation() -> Any:
    try:
        import matplotlib  # noqa: F401
        import simpy  # noqa: F401

        from crisis_triage import simulation
    except ImportError as exc:
        _fail(f"{exc.name} is missing; install the extra: pip install 'crisis-triage[simulation]'")
    return simulation


@app.command()
def simulate(
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the result as JSON.")
    ] = None,
    html_out: Annotated[
        Path | None, typer.Option("--html", help="Write an HTML page with plots.")
    ] = None,
    arrivals: Annotated[
        Path | None,
        typer.Option(
            help="CSV/JSONL/Parquet of your site's message times (default: a stated profile)."
        ),
    ] = None,
    timestamp_col: Annotated[str, typer.Option(help="The time column of --arrivals.")] = "sent_at",
    messages: Annotated[
        int, typer.Option(min=1, help="Messages over the period (CMD-1: 102,471).")
    ] = 102_471,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days simulated (CMD-1: 31).")] = 31,
    prevalence: Annotated[float, typer.Option(help="Share of crises (CMD-1: 0.0055).")] = 0.0055,
    operating_points: Annotated[
        str,
        typer.Option(
            help="'cmd1' (published), 'card' (the bundled model's card), or an evaluation "
            "report JSON or model card JSON."
        ),
    ] = "cmd1",
    specialists: Annotated[
        str, typer.Option(help="Staffing levels to try: specialists on shift at peak, e.g. 8,9,10.")
    ] = "8,9,10",
    default_specialists: Annotated[
        int, typer.Option(help="The staffing level the headline figures are for.")
    ] = 9,
    alert_response_minutes: Annotated[
        float,
        typer.Option(
            min=0.0, help="Median minutes from a crisis alert to a specialist turning to it."
        ),
    ] = 8.0,
    target_minutes: Annotated[
        float, typer.Option(min=0.0, help="Recommendation target: crises triaged within this.")
    ] = 20.0,
    target_quantile: Annotated[float, typer.Option(help="50 (median) or 90 (p90).")] = 90.0,
    other_hours: Annotated[
        float,
        typer.Option(
            min=0.0, help="Recommendation: other messages within this at p90 (0: no bound)."
        ),
    ] = 24.0,
    seed: Annotated[int, typer.Option(help="Seed of every random draw.")] = 0,
) -> None:
    """Simulate the triage queue: minutes to triage for crises and others, first come first
    served against the detector, over operating points x staffing levels."""
    simulation = _simulation()
    try:
        points, source = simulation.load_operating_points(operating_points)
        profile = (
            simulation.ArrivalProfile.from_timestamps(
                simulation.read_timestamps(arrivals, timestamp_col), arrivals.name
            )
            if arrivals is not None
            else simulation.ArrivalProfile.stated()
        )
        config = simulation.SimulationConfig(
            profile=profile,
            messages=messages,
            days=days,
            prevalence=prevalence,
            operating_points=tuple(points),
            operating_points_source=source,
            peaks=_peaks(specialists),
            default_peak=default_specialists,
            alert_response_minutes=alert_response_minutes,
            target=simulation.Target(target_minutes, target_quantile, other_hours or None),
            seed=seed,
        )
        result = simulation.run(config)
    except simulation.SimulationInputError as exc:
        _fail(str(exc))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if html_out is not None:
        html_out.parent.mkdir(parents=True, exist_ok=True)
        html_out.write_text(simulation.render_simulation_html(result), encoding="utf-8")
    medians = result["crisis_median_minutes"]
    typer.echo(
        f"crisis median minutes to triage: first come first served {medians['fcfs']}, "
        f"with the detector {medians['detector']} (peak {default_specialists} specialists)"
    )
    rec = result["recommendation"]
    if rec["met"]:
        s = rec["scenario"]
        typer.echo(
            f"recommended for {rec['target']}: {s['operating_point']} with "
            f"{s['peak_specialists']} specialists at peak"
        )
    else:
        typer.echo(f"no scenario meets {rec['target']}")
