"""How many site labels an adaptation needs: performance against the number of labels.

For each size n and seed, n rows are drawn (stratified) from one labelled set as "the site's
labels", the base model is adapted on them, and both models are scored on the rows that were
not drawn (and on a second set, less any message drawn).  Every number is out of sample:

- ``auroc``, ``auprc``: ranking on the held-out rows;
- ``sensitivity``, ``ppv``, ``flag_rate``: at the threshold chosen from the n labels alone
  (the adapted model's out-of-fold threshold; for the base model, the highest threshold
  whose sensitivity on the n labels reaches the target), as a site would deploy it;
- ``ppv_at_target``: PPV at the highest held-out threshold that reaches the target
  sensitivity (a ranking measure, not a deployable threshold).

A draw with too few crises for an adaptation is recorded as refused, as the CLI would refuse.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from crisis_triage.detector import (
    AdaptationError,
    SiteAdaptedDetector,
    TwoStageDetector,
    base_features,
)
from crisis_triage.detector._selection import choose_threshold
from crisis_triage.evaluation._metrics import auprc, auroc, ppv, sensitivity
from crisis_triage.evaluation._summary import sensitivity_thresholds
from crisis_triage.training import duplicate_groups
from crisis_triage.training._adapt import take

DEFAULT_SIZES = (200, 400, 800, 1600)
METRICS = ("auroc", "auprc", "sensitivity", "ppv", "flag_rate", "ppv_at_target")


@dataclass(frozen=True)
class LabelledSet:
    name: str
    texts: list[str]
    labels: np.ndarray


def learning_curve(
    base: TwoStageDetector,
    site: LabelledSet,
    others: Sequence[LabelledSet] = (),
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    seeds: Sequence[int] = (0, 1, 2),
    target_sensitivity: float = 0.95,
    **params: Any,
) -> dict[str, Any]:
    """Runs of (size, seed) and their mean/min/max per size; see the module docstring."""
    site_features = base_features(base, site.texts)
    other_features = [base_features(base, s.texts) for s in others]
    runs = []
    for n in sizes:
        if n >= len(site.labels):
            raise ValueError(f"size {n} leaves no held-out rows in {site.name}")
        for seed in seeds:
            drawn, held = train_test_split(
                np.arange(len(site.labels)),
                train_size=n,
                stratify=site.labels,
                random_state=seed,
            )
            run: dict[str, Any] = {"n": n, "seed": seed, "crises": int(site.labels[drawn].sum())}
            model = SiteAdaptedDetector(
                base=base, target_sensitivity=target_sensitivity, random_state=seed, **params
            )
            y_drawn = site.labels[drawn]
            drawn_features = take(site_features, drawn)
            try:
                model.fit_features(
                    drawn_features, y_drawn, duplicate_groups(drawn_features.normalised)
                )
            except AdaptationError as exc:
                run["refused"] = str(exc)
                runs.append(run)
                continue
            base_threshold, _ = choose_threshold(
                "sensitivity",
                site_features.base_probability[drawn],
                y_drawn,
                np.ones(n),
                fixed=base.threshold_,
                cost_fn=1.0,
                target_sensitivity=target_sensitivity,
            )
            drawn_texts = {site.texts[i] for i in drawn}
            # A held-out message identical to a drawn one would be scored in-sample.
            held = np.array([i for i in held if site.texts[i] not in drawn_texts], dtype=int)
            sets = [(site.name, site_features, site.labels, held)]
            for other, features in zip(others, other_features, strict=True):
                keep = np.array([t not in drawn_texts for t in other.texts])
                sets.append((other.name, features, other.labels, np.flatnonzero(keep)))
            for name, features, labels, rows in sets:
                held_features = take(features, rows)
                run[name] = {
                    "base": _scores(
                        labels[rows],
                        held_features.base_probability,
                        base_threshold,
                        target_sensitivity,
                    ),
                    "adapted": _scores(
                        labels[rows],
                        model.probability_from_features(held_features),
                        model.threshold_,
                        target_sensitivity,
                    ),
                }
            runs.append(run)
    names = [site.name, *(s.name for s in others)]
    return {
        "site_set": site.name,
        "sets": names,
        "sizes": list(sizes),
        "seeds": list(seeds),
        "target_sensitivity": target_sensitivity,
        "params": {k: v for k, v in params.items()},
        "runs": runs,
        "summary": summarise(runs, names, sizes),
    }


def _scores(y: np.ndarray, p: np.ndarray, threshold: float, target: float) -> dict[str, float]:
    flagged = p >= threshold
    truth = y == 1
    at_target = sensitivity_thresholds(truth, p, (target,))[0]
    return {
        "auroc": auroc(y, p),
        "auprc": auprc(y, p),
        "sensitivity": sensitivity(y, flagged),
        "ppv": ppv(y, flagged),
        "flag_rate": float(flagged.mean()),
        "ppv_at_target": ppv(y, p >= at_target),
    }


def summarise(runs: list[dict[str, Any]], names: Sequence[str], sizes: Sequence[int]) -> list[Any]:
    """Per size and set: how many draws were refused, and mean/min/max of each metric."""
    rows = []
    for n in sizes:
        done = [r for r in runs if r["n"] == n and "refused" not in r]
        refused = sum(1 for r in runs if r["n"] == n and "refused" in r)
        crises = [r["crises"] for r in runs if r["n"] == n]
        for name in names:
            row: dict[str, Any] = {
                "n": n,
                "set": name,
                "crises_drawn": float(np.mean(crises)),
                "adapted_runs": len(done),
                "refused_runs": refused,
            }
            for model in ("base", "adapted"):
                for metric in METRICS:
                    values = np.array([r[name][model][metric] for r in done], dtype=float)
                    values = values[np.isfinite(values)]
                    row[f"{model}_{metric}"] = (
                        {
                            "mean": round(float(values.mean()), 4),
                            "min": round(float(values.min()), 4),
                            "max": round(float(values.max()), 4),
                        }
                        if len(values)
                        else None
                    )
            rows.append(row)
    return rows


def _fmt(cell: dict[str, float] | None) -> str:
    if cell is None:
        return "-"
    return f"{cell['mean']:.3f} ({cell['min']:.3f}-{cell['max']:.3f})"


def render_learning_curve_markdown(result: dict[str, Any]) -> str:
    """A table per held-out set: mean (min-max over seeds) of base vs adapted, per size."""
    target = result["target_sensitivity"]
    lines = [
        f"# Learning curve: site labels drawn from {result['site_set']}",
        "",
        f"Sizes {result['sizes']}, seeds {result['seeds']}; stratified draws; every number is "
        "on rows not drawn. Cells: mean (min-max over seeds that adapted). Sensitivity and "
        f"PPV are at the threshold chosen from the drawn labels for sensitivity >= {target}; "
        f"'PPV@{target}' is at the held-out threshold reaching it (ranking, not deployable). "
        "Refused: draws with too few crises to adapt.",
    ]
    for name in result["sets"]:
        lines += [
            "",
            f"## Held out: {name}",
            "",
            "| labels | crises drawn | adapted/refused | model | AUROC | AUPRC | sensitivity "
            f"| PPV | PPV@{target} |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in (r for r in result["summary"] if r["set"] == name):
            for model in ("base", "adapted"):
                cells = [_fmt(row[f"{model}_{m}"]) for m in METRICS if m != "flag_rate"]
                lines.append(
                    f"| {row['n']} | {row['crises_drawn']:.1f} | "
                    f"{row['adapted_runs']}/{row['refused_runs']} | {model} | "
                    + " | ".join(cells)
                    + " |"
                )
    return "\n".join(lines) + "\n"


def plot_learning_curve(result: dict[str, Any]) -> bytes:
    """PNG: AUPRC and PPV at the chosen threshold against labels, base vs adapted, per set."""
    import io

    from crisis_triage.evaluation._plots import colour, figure_canvas  # matplotlib: extra

    metrics = ("auprc", "ppv", "sensitivity")
    with figure_canvas(4.0 * len(metrics), 3.6, ncols=len(metrics)) as (figure, axes):
        for ax, metric in zip(axes, metrics, strict=True):
            for s, name in enumerate(result["sets"]):
                rows = [r for r in result["summary"] if r["set"] == name]
                for model, style in (("base", "--"), ("adapted", "-")):
                    points = [(r["n"], r[f"{model}_{metric}"]) for r in rows]
                    points = [(n, c) for n, c in points if c is not None]
                    if not points:
                        continue
                    xs = [n for n, _ in points]
                    ax.plot(
                        xs,
                        [c["mean"] for _, c in points],
                        style,
                        marker="o",
                        color=colour(s),
                        label=f"{model}, {name}",
                    )
                    ax.fill_between(
                        xs,
                        [c["min"] for _, c in points],
                        [c["max"] for _, c in points],
                        color=colour(s),
                        alpha=0.12,
                    )
            ax.set_xscale("log")
            ax.set_xlabel("site labels")
            ax.set_title(metric.upper() if metric != "sensitivity" else "sensitivity")
        axes[0].legend(loc="lower right")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_learning_curve(result: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "learning_curve.json",
        "md": out_dir / "learning_curve.md",
        "png": out_dir / "learning_curve.png",
    }
    paths["json"].write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    paths["md"].write_text(render_learning_curve_markdown(result), "utf-8")
    paths["png"].write_bytes(plot_learning_curve(result))
    return paths
