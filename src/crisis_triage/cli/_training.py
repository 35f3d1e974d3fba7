"""`crisis-triage train` (a model from a site's own labels) and `train-default` (bundled model)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from crisis_triage.cli._app import app
from crisis_triage.cli._scoring import user_errors
from crisis_triage.detector import (
    PRESETS,
    TwoStageDetector,
    card_path,
    read_card,
    save_model,
)
from crisis_triage.training import (
    AMBIGUOUS_CHOICES,
    load_labelled,
    term_list_lexicon,
    train,
    train_default,
)


@app.command("train")
def train_command(
    data: Annotated[Path, typer.Argument(help="Labelled messages: CSV, JSONL or Parquet.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Model file to write (.skops).")],
    text_col: Annotated[str, typer.Option(help="Column with the message text.")] = "text",
    label_col: Annotated[str, typer.Option(help="Column with 1 / 0 / -1 labels.")] = "crisis",
    preset: Annotated[str, typer.Option(help=f"One of: {', '.join(PRESETS)}.")] = "default",
    ambiguous: Annotated[
        str, typer.Option(help="-1 labels: 'exclude' (default) or 'positive'.")
    ] = "exclude",
    type_col: Annotated[str, typer.Option(help="Crisis types (e.g. SI/NSSI), if any.")] = (
        "crisis_type"
    ),
    source_col: Annotated[str, typer.Option(help="Source names, if any.")] = "source",
    license_col: Annotated[str, typer.Option(help="Source licences, if any.")] = "license",
    exclude_source: Annotated[
        list[str] | None, typer.Option(help="Leave out a source (repeatable).")
    ] = None,
    allow_noncommercial: Annotated[
        bool, typer.Option(help="Keep rows with non-commercial licences (never for shipping).")
    ] = False,
    source_weight: Annotated[
        list[str] | None, typer.Option(help="SOURCE=WEIGHT sample weight (repeatable).")
    ] = None,
    lexicon: Annotated[
        Path | None, typer.Option(help="Lexicon YAML, or a CSV term list for the gate.")
    ] = None,
    gate: Annotated[str | None, typer.Option(help="'lexicon' or 'none'.")] = None,
    cv: Annotated[int | None, typer.Option(help="Cross-validation folds.")] = None,
    c: Annotated[list[float] | None, typer.Option("--C", help="C value(s) to try.")] = None,
    threshold_mode: Annotated[
        str | None, typer.Option(help="'fixed', 'cost' or 'sensitivity'.")
    ] = None,
    threshold: Annotated[float | None, typer.Option(help="Threshold for 'fixed'.")] = None,
    target_sensitivity: Annotated[
        float | None, typer.Option(help="Target for 'sensitivity'.")
    ] = None,
    calibration: Annotated[
        str | None, typer.Option(help="'none', 'sigmoid' or 'isotonic'.")
    ] = None,
    ngram_max: Annotated[int | None, typer.Option(help="Longest word n-gram.")] = None,
    char_ngrams: Annotated[str | None, typer.Option(help="Char n-grams, e.g. '2,5'.")] = None,
    min_df: Annotated[str | None, typer.Option(help="Minimum document frequency.")] = None,
    cost_fn: Annotated[float | None, typer.Option(help="Cost of a miss in FPs.")] = None,
    random_state: Annotated[int | None, typer.Option(help="Seed.")] = None,
) -> None:
    """Train a detector on labelled messages; prints cross-validated metrics with 95% CIs."""
    with user_errors():
        if ambiguous not in AMBIGUOUS_CHOICES:
            raise ValueError(f"--ambiguous must be one of {', '.join(AMBIGUOUS_CHOICES)}")
        if preset not in PRESETS:
            raise ValueError(f"--preset must be one of {', '.join(PRESETS)}")
        if output.suffix != ".skops":
            raise ValueError("the output file name must end in .skops")
        overrides = _overrides(
            lexicon=lexicon,
            gate=gate,
            cv=cv,
            c=c,
            threshold_mode=threshold_mode,
            threshold=threshold,
            target_sensitivity=target_sensitivity,
            calibration=calibration,
            ngram_max=ngram_max,
            char_ngrams=char_ngrams,
            min_df=min_df,
            cost_fn=cost_fn,
            random_state=random_state,
        )
        labelled = load_labelled(
            data,
            text_col=text_col,
            label_col=label_col,
            ambiguous=ambiguous,
            type_col=type_col,
            source_col=source_col,
            license_col=license_col,
            exclude_sources=exclude_source or (),
            allow_noncommercial=allow_noncommercial,
            source_weights=_weights(source_weight or []),
        )
        model = train(labelled, preset=preset, **overrides)
        path = save_model(model, output)
    print_report(model, path)


@app.command("train-default")
def train_default_command(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder with train.csv.gz (default: $CRISIS_TRIAGE_SHARED_DATA or ../shared/data)."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="Where to write (default: the bundled model).")
    ] = None,
) -> None:
    """Rebuild the bundled default model from the shared training data, reproducibly.

    Leaves out non-commercial sources.  Set SOURCE_DATE_EPOCH to fix the card's date; with
    the same data, code and date the model file has the same SHA-256.
    """
    with user_errors():
        model, path = train_default(data_dir, output)
    print_v2_report(model.card_, path)


def print_v2_report(card: dict[str, Any], path: Path) -> None:
    """Each tier's figures, labelled with the data they were measured on."""
    console = Console(highlight=False)
    sections = [("out of fold, all dev", card.get("metrics_out_of_fold", {}))]
    held_out = card.get("metrics_held_out", {})
    sections += [
        (f"held out, unread dev ({name})", held_out.get(name, {})) for name in ("core", "stress")
    ]
    for title, section in sections:
        table = Table(title=title)
        for column in ("tier", "sensitivity", "ppv", "flags/1000", "auroc", "auprc"):
            table.add_column(column)
        for tier in ("full", "fast"):
            m = section.get(tier)
            if not m:
                continue
            table.add_row(
                tier,
                *(_with_ci(m[name]) for name in ("sensitivity", "ppv")),
                f"{m['flags_per_1000']:.1f}",
                *(_with_ci(m[name]) for name in ("auroc", "auprc")),
            )
        console.print(table)
    console.print(
        f"threshold {card['threshold']['value']:.4g} ({card['threshold']['how']})", markup=False
    )
    for warning in card.get("warnings", []):
        console.print(f"warning: {warning}", style="yellow", markup=False)
    saved = read_card(path)
    console.print(f"model  {path}  sha256 {saved['file_sha256']}", markup=False)
    console.print(f"card   {card_path(path)}", markup=False)


def _with_ci(entry: dict[str, Any]) -> str:
    if entry.get("value") is None:
        return "-"
    ci = entry.get("ci95")
    return f"{entry['value']:.3f}" + (f" ({ci[0]:.3f}-{ci[1]:.3f})" if ci else "")


def _overrides(**given: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("gate", "cv", "threshold_mode", "threshold", "target_sensitivity"):
        if given[name] is not None:
            out[name] = given[name]
    for name in ("calibration", "cost_fn", "random_state"):
        if given[name] is not None:
            out[name] = given[name]
    if given["c"]:
        out["Cs"] = tuple(given["c"])
    if given["ngram_max"] is not None:
        out["ngram_range"] = (1, given["ngram_max"])
    if given["char_ngrams"]:
        out["char_ngrams"] = _pair(given["char_ngrams"])
    if given["min_df"] is not None:
        text = given["min_df"]
        try:
            out["min_df"] = int(text) if text.isdigit() else float(text)
        except ValueError:
            raise ValueError(f"--min-df must be a number, got {text!r}") from None
    lexicon = given["lexicon"]
    if lexicon is not None:
        is_csv = lexicon.suffix.lower() == ".csv"
        out["lexicon"] = term_list_lexicon(lexicon) if is_csv else str(lexicon)
    return out


def _pair(text: str) -> tuple[int, int]:
    try:
        low, high = (int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"--char-ngrams must look like '2,5', got {text!r}") from None
    return low, high


def _weights(items: list[str]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            weights[name] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name:
            raise ValueError(f"--source-weight must look like SOURCE=0.5, got {item!r}")
    return weights


def print_report(model: TwoStageDetector, path: Path) -> None:
    """Cross-validated metrics with 95% intervals, the threshold, warnings, and the files."""
    console = Console(highlight=False)
    card = model.card_
    metrics = card["metrics_cv"]
    table = Table(title=f"cross-validated metrics ({card['cv']['folds']} folds)")
    for column in ("metric", "value", "95% CI", "count"):
        table.add_column(column)
    for name in ("sensitivity", "ppv", "specificity", "flag_rate", "auroc", "auprc"):
        entry = metrics[name]
        ci = entry.get("ci95")
        count = f"{entry['k']}/{entry['n']}" if "k" in entry else ""
        value = "-" if entry["value"] is None else f"{entry['value']:.3f}"
        interval = f"{ci[0]:.3f}-{ci[1]:.3f}" if ci else "-"
        table.add_row(name, value, interval, count)
    console.print(table)
    threshold = card["threshold"]
    training = card["training"]
    console.print(
        f"positives {training['n_positive']:,} / {training['n']:,} messages; C={model.C_:g}; "
        f"threshold {threshold['value']:.4g} ({threshold['how']})",
        markup=False,
    )
    warnings = list(card["warnings"])
    flag_rate = metrics.get("flag_rate", {})
    if flag_rate.get("n") and flag_rate.get("k") == flag_rate["n"]:
        warnings.append(
            f"the threshold {threshold['value']:.4g} flags every message (cross-validated): "
            "the model does not sort the queue; lower the sensitivity target or add labels"
        )
    for warning in warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False)
    saved = read_card(path)
    console.print(f"model  {path}  sha256 {saved['file_sha256']}", markup=False)
    console.print(f"card   {card_path(path)}", markup=False)
