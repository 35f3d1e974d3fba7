"""The staffing and queue simulation: deterministic, CMD-1's direction and scale, the contract
of ``crisis-triage simulate``, and its inputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from crisis_triage.cli import app
from crisis_triage.simulation import (
    ArrivalProfile,
    OperatingPoint,
    Rota,
    SimulationConfig,
    SimulationInputError,
    Target,
    card_operating_points,
    cmd1_operating_point,
    load_operating_points,
    recommend,
    render_simulation_html,
    report_operating_points,
    run,
)

# A small week: 6,000 messages, about 24 h of work a day; one specialist around the clock
# (peak 1) is overloaded, peak 3 is not.  Alerts are seen at once, to show the queue alone.
SMALL = {
    "messages": 6000,
    "days": 7,
    "peaks": (1, 2, 3),
    "default_peak": 2,
    "seed": 3,
    "alert_response_minutes": 0.0,
}


def test_cmd1_published_operating_point_gives_its_flag_rate() -> None:
    point = cmd1_operating_point()
    # sensitivity 0.98 and PPV 0.66 at 0.55% prevalence: 0.0055 * 0.98 / 0.66 flagged.
    assert point.flags_per_1000(0.0055) == pytest.approx(1000 * 0.0055 * 0.98 / 0.66)
    assert point.sensitivity == 0.98


def test_cmd1_scale_hours_first_come_first_served_minutes_with_the_detector() -> None:
    """The published inputs at the default staffing: hours FCFS, minutes with the detector."""
    result = run(SimulationConfig(peaks=(9,), default_peak=9))
    assert result["workload"]["messages"] == pytest.approx(102_471, rel=0.02)
    medians = result["crisis_median_minutes"]
    assert medians["fcfs"] > 180  # hours (CMD-1: 9 h)
    assert 3 < medians["detector"] < 20  # minutes (CMD-1: 8-13 min)


def test_same_seed_same_result_and_another_seed_differs() -> None:
    first = run(SimulationConfig(**SMALL))  # type: ignore[arg-type]
    again = run(SimulationConfig(**SMALL))  # type: ignore[arg-type]
    other = run(SimulationConfig(**(SMALL | {"seed": 4})))  # type: ignore[arg-type]
    assert json.dumps(first) == json.dumps(again)
    assert json.dumps(first["grid"]) != json.dumps(other["grid"])


def test_more_staff_never_slower_and_detector_puts_crises_first() -> None:
    result = run(SimulationConfig(**SMALL))  # type: ignore[arg-type]
    fcfs = [r for r in result["grid"] if r["mode"] == "fcfs"]
    others = [r["other_minutes"]["median"] for r in fcfs]
    assert others == sorted(others, reverse=True)
    utilisation = [r["utilisation"] for r in fcfs]
    assert utilisation == sorted(utilisation, reverse=True)
    short = next(
        r for r in result["grid"] if r["mode"] == "detector" and r["peak_specialists"] == 1
    )
    long = next(r for r in fcfs if r["peak_specialists"] == 1)
    assert short["crisis_minutes"]["median"] < long["crisis_minutes"]["median"] / 5
    # Crises the detector misses wait with everyone else.
    assert short["missed_crisis_minutes"]["n"] >= 0
    assert set(result["crisis_median_minutes"]) == {"fcfs", "detector"}


def test_recommendation_is_the_cheapest_scenario_meeting_the_target() -> None:
    def row(peak: int, hours: int, sens: float, p90: float) -> dict[str, object]:
        return {
            "mode": "detector",
            "operating_point": f"p{peak}-{sens}",
            "peak_specialists": peak,
            "staff_hours_per_day": hours,
            "sensitivity": sens,
            "flags_per_1000": 10.0,
            "crisis_minutes": {"median": 1.0, "p90": p90, "untriaged": 0},
            "other_minutes": {"median": 10.0, "p90": 60.0, "untriaged": 0},
        }

    rows = [
        row(3, 30, 0.9, 5.0),
        row(3, 30, 0.99, 8.0),
        row(4, 40, 0.99, 2.0),
        row(2, 20, 0.99, 50),
    ]
    found = recommend(rows, Target(minutes=10))
    assert found["met"] and found["scenario"]["operating_point"] == "p3-0.99"
    assert not recommend(rows, Target(minutes=1))["met"]


def test_operating_points_from_a_report_and_from_the_bundled_card() -> None:
    report = {
        "kind": "report",
        "models": {
            "model": {
                "threshold": 0.3,
                "metrics": {"sensitivity": {"value": 0.9}, "specificity": {"value": 0.95}},
            }
        },
        "operating_points": [
            {
                "target_sensitivity": 0.99,
                "threshold": 0.1,
                "sensitivity": {"value": 0.99},
                "specificity": {"value": 0.8},
            }
        ],
    }
    points = report_operating_points(report)
    assert [(p.threshold, p.sensitivity) for p in points] == [(0.3, 0.9), (0.1, 0.99)]
    assert points[1].false_positive_rate == pytest.approx(0.2)
    card_points, source = load_operating_points("card")
    assert card_points and "card" in source
    assert card_points[0].sensitivity > 0.9
    assert card_operating_points({}) == []


def test_unusable_inputs_are_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(SimulationInputError, match="not 'cmd1'"):
        load_operating_points(str(tmp_path / "missing.json"))
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(SimulationInputError, match="no operating point"):
        load_operating_points(str(tmp_path / "empty.json"))
    with pytest.raises(SimulationInputError, match="at least 168"):
        ArrivalProfile.from_timestamps(["2026-01-01T00:00:00Z"] * 10, "site.csv")
    with pytest.raises(SimulationInputError, match="default staffing"):
        run(SimulationConfig(**(SMALL | {"default_peak": 7})))  # type: ignore[arg-type]


def test_site_timestamps_shape_the_arrivals() -> None:
    # Every message at 14:xx on Mondays: all simulated arrivals fall in that hour.
    stamps = [f"2026-01-{5 + 7 * (i % 4):02d}T14:{i % 60:02d}:00Z" for i in range(400)]
    profile = ArrivalProfile.from_timestamps(stamps, "site.csv")
    rates = profile.hourly_rates(1000, 7, first_weekday=0)
    assert rates.argmax() == 14
    assert rates[14] > 0.75 * rates.sum()  # the rest: a half-count floor on every hour


def test_rota_scales_with_one_person_always_on() -> None:
    rota = Rota.scaled(4)
    assert max(rota.on_shift) == 4 and min(rota.on_shift) == 1
    assert OperatingPoint("x", 1.0, 0.0).flags_per_1000(0.01) == pytest.approx(10.0)


def test_cli_writes_json_with_the_contract_key_and_an_html_page(tmp_path: Path) -> None:
    out_json, out_html = tmp_path / "sim.json", tmp_path / "sim.html"
    result = CliRunner().invoke(
        app,
        ["simulate", "--json", str(out_json), "--html", str(out_html), "--messages", "6000",
         "--days", "7", "--specialists", "1,2", "--default-specialists", "1",
         "--alert-response-minutes", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(out_json.read_text())
    assert set(data["crisis_median_minutes"]) == {"fcfs", "detector"}
    assert data["crisis_median_minutes"]["fcfs"] > data["crisis_median_minutes"]["detector"]
    page = out_html.read_text()
    assert page.count("data:image/png;base64,") == 3
    assert "Recommended operating point" in page
    assert render_simulation_html(data) == page


def test_cli_refuses_a_bad_staffing_list(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--specialists", "a,b"])
    assert result.exit_code == 2
    assert "whole numbers" in result.output


DOC = Path(__file__).resolve().parents[2] / "docs" / "simulation.md"


def _doc_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_docs_python_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    (example,) = _doc_blocks("python")
    exec(compile(example, str(DOC), "exec"), {})  # noqa: S102 - our own documentation
    assert "fcfs" in capsys.readouterr().out


def test_docs_commands_use_options_that_exist() -> None:
    (commands,) = _doc_blocks("bash")
    command = typer.main.get_command(app).commands["simulate"]  # type: ignore[attr-defined]
    options = {name for param in command.params for name in param.opts}
    for line in commands.splitlines():
        assert line.startswith("crisis-triage simulate")
        for option in (w for w in line.split() if w.startswith("--")):
            assert option in options, option
