"""``crisis-triage evaluate``, ``compare`` and ``benchmark``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress

from crisis_triage.cli._app import app

if TYPE_CHECKING:
    from crisis_triage.evaluation import ReportResult


class Ambiguous(StrEnum):
    exclude = "exclude"
    positive = "positive"
    negative = "negative"


class Frequency(StrEnum):
    auto = "auto"
    day = "day"
    week = "week"


LabelCol = Annotated[str, typer.Option("--label-col", help="Column with 1 / 0 / -1 (ambiguous).")]
TextCol = Annotated[str, typer.Option("--text-col", help="Column with the message text.")]
IdCol = Annotated[
    str | None,
    typer.Option("--id-col", help="Column with message ids (default: uid/id if present)."),
]
AmbiguousOpt = Annotated[
    Ambiguous,
    typer.Option("--ambiguous", help="Label -1 rows: exclude them, or count them as 1 or 0."),
]
NBoot = Annotated[int, typer.Option("--n-boot", min=0, help="Bootstrap resamples (0: none).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")]


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=1)


def _evaluation() -> Any:
    try:
        import fairlearn  # noqa: F401
        import jinja2  # noqa: F401
        import matplotlib  # noqa: F401

        from crisis_triage import evaluation
    except ImportError as exc:
        _fail(f"{exc.name} is missing; install the extra: pip install 'crisis-triage[evaluation]'")
    return evaluation


def _known_errors() -> tuple[type[Exception], ...]:
    from crisis_triage.evaluation import EvaluationError
    from crisis_triage.io import TableError

    return (EvaluationError, TableError)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr while messages are scored (only on a terminal)."""
    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("scoring", total=total)
        yield lambda done: bar.advance(task, done)


def _warn_in_sample(in_sample: dict[str, Any] | None) -> None:
    """The report's in-sample label on the terminal too, where it cannot be missed."""
    if in_sample and in_sample.get("value"):
        typer.secho(
            f"warning: {in_sample['label']} ({in_sample['overlapping_messages']} message(s) "
            "the model was trained or tuned on, by its card)",
            fg=typer.colors.YELLOW,
            err=True,
        )


def _warn_flags_everything(operating_points: list[dict[str, Any]]) -> None:
    """A target sensitivity the model meets only by flagging every message, in words."""
    for point in operating_points:
        if point.get("flags_everything"):
            typer.secho(
                f"warning: sensitivity {point['target_sensitivity']:.2f} is reached only by "
                "flagging every message: at this target the model does not sort the queue",
                fg=typer.colors.YELLOW,
                err=True,
            )


def _save(result: ReportResult, output: Path, stem: str) -> None:
    try:
        paths = result.save(output, stem)
    except OSError as exc:
        _fail(f"cannot write to {output}: {exc.strerror}")
    for path in paths.values():
        typer.echo(f"wrote {path}")


@app.command()
def evaluate(
    model: Annotated[str, typer.Argument(help="Model file (.skops), or 'bundled'.")],
    data: Annotated[Path, typer.Argument(help="Labelled messages (.csv, .jsonl, .parquet).")],
    label_col: LabelCol = "crisis",
    text_col: TextCol = "text",
    id_col: IdCol = None,
    group_col: Annotated[
        list[str] | None, typer.Option("--group-col", help="Subgroup column (repeatable).")
    ] = None,
    time_col: Annotated[
        str | None, typer.Option("--time-col", help="Timestamp column: metrics over time.")
    ] = None,
    time_freq: Annotated[Frequency, typer.Option("--time-freq")] = Frequency.auto,
    ambiguous: AmbiguousOpt = Ambiguous.exclude,
    redact: Annotated[
        bool, typer.Option("--redact", help="Replace message text with ids in the report.")
    ] = False,
    n_boot: NBoot = 2000,
    seed: Seed = 0,
    train_before: Annotated[
        str | None,
        typer.Option(
            "--train-before",
            help="Temporal validation: refit MODEL's configuration on messages before this date "
            "(YYYY-MM-DD) and evaluate on the rest. Needs --time-col.",
        ),
    ] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Report folder.")] = Path("report"),
) -> None:
    """Evaluate a model on labelled messages: report.html, report.json and report.md."""
    ev = _evaluation()
    spec = ev.TableSpec(
        label_col=label_col,
        text_col=text_col,
        id_col=id_col,
        group_cols=tuple(group_col or ()),
        time_col=time_col,
    )
    config = ev.ReportConfig(
        n_boot=n_boot,
        seed=seed,
        ambiguous=ambiguous.value,
        redact=redact,
        time_freq=time_freq.value,
        model_name=str(model),
        data_name=data.name,
    )
    try:
        frame = ev.read_evaluation_table(data, spec)
        scorer = ev.load_scorer(model)
        with _progress(len(frame)) as advance:
            if train_before:
                result = ev.temporal_validation(scorer, frame, spec, config, train_before, advance)
            else:
                digest = ev.file_sha256(data)
                result = ev.evaluate(scorer, frame, spec, config, advance, data_sha256=digest)
    except _known_errors() as exc:
        _fail(str(exc))
    _save(result, output, "report")
    _warn_in_sample(result.data.get("in_sample"))
    _warn_flags_everything(result.data.get("operating_points") or [])
    ds, metrics = result.data["dataset"], result.data["models"]["model"]["metrics"]
    typer.echo(
        f"{ds['n_evaluated']} messages ({ds['n_positive']} crisis, {ds['n_ambiguous']} ambiguous "
        f"{_POLICY_WORDS[ds['ambiguous_policy']]}): sensitivity {_short(metrics['sensitivity'])}, "
        f"PPV {_short(metrics['ppv'])}"
    )


_POLICY_WORDS = {
    "exclude": "excluded",
    "positive": "counted as crisis",
    "negative": "counted as not crisis",
}


def _short(est: dict[str, Any]) -> str:
    if est.get("value") is None:
        return "–"
    if est.get("low") is None:
        return f"{est['value']:.3f}"
    return f"{est['value']:.3f} ({est['low']:.3f}-{est['high']:.3f})"


def _names(paths: list[str]) -> list[str]:
    names: list[str] = []
    for path in paths:
        base = Path(path).name.split(".")[0] or path
        name, i = base, 2
        while name in names:
            name, i = f"{base}-{i}", i + 1
        names.append(name)
    return names


@app.command()
def compare(
    paths: Annotated[
        list[str], typer.Argument(help="MODEL_A MODEL_B ... DATA", metavar="MODELS... DATA")
    ],
    label_col: LabelCol = "crisis",
    text_col: TextCol = "text",
    ambiguous: AmbiguousOpt = Ambiguous.exclude,
    n_boot: NBoot = 2000,
    seed: Seed = 0,
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")] = Path(
        "comparison"
    ),
) -> None:
    """Compare models on the same messages: one table, overlaid curves, paired differences."""
    if len(paths) < 3:
        _fail("give at least two models and then the data file: compare MODEL_A MODEL_B DATA")
    ev = _evaluation()
    *models, data = paths
    spec = ev.TableSpec(label_col=label_col, text_col=text_col)
    config = ev.ReportConfig(
        n_boot=n_boot,
        seed=seed,
        ambiguous=ambiguous.value,
        title="Model comparison",
        data_name=Path(data).name,
    )
    try:
        frame = ev.read_evaluation_table(Path(data), spec)
        scorers = {
            name: ev.load_scorer(path) for name, path in zip(_names(models), models, strict=True)
        }
        descriptions = dict(zip(scorers, models, strict=True))
        result = ev.compare_models(
            scorers, frame, spec, config, descriptions, data_sha256=ev.file_sha256(data)
        )
    except _known_errors() as exc:
        _fail(str(exc))
    _save(result, output, "comparison")
    _warn_in_sample(result.data.get("in_sample"))


@app.command()
def benchmark(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="The shared data folder (default: $CRISIS_TRIAGE_SHARED_DATA or ../shared/data).",
        ),
    ] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Results folder.")] = Path(
        "benchmarks/results"
    ),
    n_boot: NBoot = 2000,
    seed: Seed = 0,
    cmd1_model: Annotated[
        Path | None,
        typer.Option("--cmd1-model", help="Reuse this trained cmd1 model, or save it here."),
    ] = None,
    record_in_card: Annotated[
        bool,
        typer.Option(
            "--record-in-card", help="Also write the default model's numbers into its card."
        ),
    ] = False,
) -> None:
    """The standard comparison on the shared development sets (exit 2, naming the path it looked
    for, when the data is absent)."""
    ev = _evaluation()
    if data_dir is None:
        from crisis_triage.training import default_data_dir

        data_dir = default_data_dir()
    needed = [data_dir / f"{stem}.csv.gz" for stem in ev.BENCHMARK_FILES]
    needed += [data_dir / "reference" / "cmd1_lexicon_swaminathan2023.csv"]
    missing = [p for p in needed if not p.is_file()]
    if missing:
        typer.echo(
            f"error: shared data not found: {missing[0].resolve()} is missing "
            f"(looked in --data-dir {data_dir}); no benchmark was run",
            err=True,
        )
        raise typer.Exit(code=2)
    try:
        result = ev.run_benchmark(data_dir, n_boot=n_boot, seed=seed, cmd1_cache=cmd1_model)
    except _known_errors() as exc:
        _fail(str(exc))
    try:
        paths = ev.write_benchmark(result, output)
    except OSError as exc:
        _fail(f"cannot write to {output}: {exc.strerror}")
    for path in paths.values():
        typer.echo(f"wrote {path}")
    for stem, in_sample in result["in_sample"]["files"].items():
        if in_sample["value"]:
            typer.echo(f"{stem}:", err=True, nl=False)
            _warn_in_sample(in_sample)
    if record_in_card:
        from crisis_triage.detector import BUNDLED_MODEL_PATH, card_path

        ev.record_benchmark_in_card(result, card_path(BUNDLED_MODEL_PATH))
        typer.echo(f"recorded the default model's numbers in {card_path(BUNDLED_MODEL_PATH)}")
    for candidate in result["candidates"]:
        if candidate["skipped"]:
            typer.echo(f"skipped {candidate['name']}: {candidate['skipped']}")
