"""`crisis-triage adapt` (site adaptation of a model) and `learning-curve` (labels it needs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from crisis_triage.cli._app import app
from crisis_triage.cli._scoring import user_errors
from crisis_triage.detector import card_path, read_card, save_model
from crisis_triage.training import AdaptationReport, adapt_file


@app.command("adapt")
def adapt_command(
    data: Annotated[Path, typer.Argument(help="The site's labelled messages: CSV/JSONL/Parquet.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model file to write (.skops).")],
    base: Annotated[
        str, typer.Option("--base", help="'default' (the bundled model) or a .skops file.")
    ] = "default",
    text_col: Annotated[str, typer.Option(help="Column with the message text.")] = "text",
    label_col: Annotated[
        str, typer.Option(help="Column with 1 / 0 labels (-1 rows are left out).")
    ] = "crisis",
    group_col: Annotated[
        str | None,
        typer.Option(help="Patient or thread ids kept in one fold (default: near-duplicates)."),
    ] = None,
    target_sensitivity: Annotated[
        float, typer.Option(help="Out-of-fold sensitivity the threshold must reach.")
    ] = 0.95,
    max_flag_rate: Annotated[
        float, typer.Option(help="Cap on the out-of-fold share flagged (warns when it binds).")
    ] = 0.25,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    c: Annotated[float, typer.Option("--C", help="Inverse L2 strength of the stacker.")] = 1.0,
    indicator_weight: Annotated[
        float,
        typer.Option(help="Scale of the lexicon indicators (0.3: stay closer to the base)."),
    ] = 1.0,
    keep_base_flags: Annotated[
        bool,
        typer.Option(
            help="Never score a lexicon-hit message the base model flags below the threshold."
        ),
    ] = False,
    report_json: Annotated[
        Path | None, typer.Option(help="Also write the cross-validation report here.")
    ] = None,
    random_state: Annotated[int, typer.Option(help="Seed of folds and bootstrap.")] = 0,
) -> None:
    """Adapt the bundled (or another) model to a site's labels; reports the CV gain with CIs."""
    with user_errors():
        if output.suffix != ".skops":
            raise ValueError("the output file name must end in .skops")
        model, report = adapt_file(
            data,
            base=base,
            text_col=text_col,
            label_col=label_col,
            group_col=group_col,
            random_state=random_state,
            target_sensitivity=target_sensitivity,
            max_flag_rate=max_flag_rate,
            cv=folds,
            C=c,
            indicator_weight=indicator_weight,
            keep_base_flags=keep_base_flags,
        )
        path = save_model(model, output)
        if report_json is not None:
            report_json.write_text(json.dumps(report.to_dict(), indent=2) + "\n", "utf-8")
    print_adaptation(report, path, model.threshold_)


def _cell(entry: dict[str, Any]) -> str:
    if entry.get("value") is None:
        return "-"
    ci = entry.get("ci95")
    count = f" ({entry['k']}/{entry['n']})" if "k" in entry else ""
    interval = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""
    return f"{entry['value']:.3f}{interval}{count}"


def print_adaptation(report: AdaptationReport, path: Path, threshold: float) -> None:
    console = Console(highlight=False, width=120)
    table = Table(
        title=(
            f"{report.folds}-fold grouped CV on {report.n:,} site labels ({report.crises} crises); "
            f"thresholds chosen out of fold for sensitivity >= {report.target_sensitivity:.2f}"
        )
    )
    for column in ("metric", "base model", "adapted", "difference"):
        table.add_column(column)
    for name in ("auroc", "auprc", "sensitivity", "ppv", "flag_rate"):
        diff = report.difference.get(name)
        table.add_row(
            name,
            _cell(report.base[name]),
            _cell(report.adapted[name]),
            _cell(diff) if diff else "",
        )
    console.print(table)
    demoted = report.demoted
    console.print(
        f"lexicon-hit messages the base model flags: {demoted['lexicon_flagged_by_base']}; "
        f"the adapted model lowered {demoted['lowered_below_threshold']} below its threshold "
        f"({demoted['of_which_crises']} of them crises); their explanations say so",
        markup=False,
    )
    for warning in report.warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False)
    saved = read_card(path)
    console.print(f"threshold {threshold:.4g}", markup=False)
    console.print(f"model  {path}  sha256 {saved['file_sha256']}", markup=False)
    console.print(f"card   {card_path(path)}", markup=False)


@app.command("learning-curve")
def learning_curve_command(
    site: Annotated[
        Path, typer.Option("--data", help="Labelled set the site labels are drawn from.")
    ] = Path("../shared/data/bench_core_dev.csv.gz"),
    other: Annotated[
        list[Path] | None, typer.Option("--other", help="Another held-out set (repeatable).")
    ] = None,
    sizes: Annotated[str, typer.Option(help="Numbers of site labels, comma-separated.")] = (
        "200,400,800,1600"
    ),
    seeds: Annotated[int, typer.Option(help="Draws per size.")] = 3,
    text_col: Annotated[str, typer.Option(help="Column with the message text.")] = "text",
    label_col: Annotated[str, typer.Option(help="1 / 0 / -1 (-1 left out).")] = "crisis",
    base: Annotated[str, typer.Option(help="'default' or a .skops base model.")] = "default",
    output: Annotated[Path, typer.Option("-o", "--output", help="Results folder.")] = Path(
        "benchmarks/results"
    ),
) -> None:
    """Performance against the number of site labels: base vs adapted, all out of sample."""
    with user_errors():
        from crisis_triage.detector import TwoStageDetector, load_model
        from crisis_triage.evaluation import LabelledSet, learning_curve, write_learning_curve
        from crisis_triage.training import load_labelled

        try:
            numbers = [int(part) for part in sizes.split(",")]
        except ValueError:
            raise ValueError(f"--sizes must look like '200,400,800', got {sizes!r}") from None
        base_model = load_model(None if base == "default" else Path(base))
        if not isinstance(base_model, TwoStageDetector):
            raise ValueError("the base model must be a plain detector, not an adapted one")
        sets = []
        for path in [site, *(other or [])]:
            data = load_labelled(path, text_col=text_col, label_col=label_col, type_col=None)
            sets.append(LabelledSet(path.name.split(".")[0], data.texts, data.labels))
        result = learning_curve(
            base_model, sets[0], sets[1:], sizes=numbers, seeds=tuple(range(seeds))
        )
        paths = write_learning_curve(result, output)
    console = Console(highlight=False)
    for row in result["summary"]:
        adapted, plain = row["adapted_auprc"], row["base_auprc"]
        console.print(
            f"{row['set']:>18} n={row['n']:>5}  adapted {row['adapted_runs']} refused "
            f"{row['refused_runs']}  AUPRC base "
            f"{plain['mean'] if plain else float('nan'):.3f} adapted "
            f"{adapted['mean'] if adapted else float('nan'):.3f}",
            markup=False,
        )
    for kind, path in paths.items():
        console.print(f"{kind:>4}  {path}", markup=False)
