"""Detector v2's quality figures, as the bundled model's card records them, in one table.

Run from the repository root: ``python -m benchmarks.detector_quality``.  The figures are made
by ``crisis-triage train-default`` (which trains a second model without the unread quarter of
dev to measure them); this script only lays them out, each labelled with the data it comes
from.  Writes benchmarks/results/detector_v2_quality.json and .md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crisis_triage.detector import BUNDLED_MODEL_PATH, read_card

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
IN_SAMPLE = " (in-sample: its lexicon was written reading these messages)"
METRICS = ("auroc", "auprc", "sensitivity", "ppv", "flags_per_1000")


def cell(metric: dict[str, Any] | float) -> str:
    if not isinstance(metric, dict):
        return f"{metric:.1f}"
    if metric.get("value") is None:
        return "–"
    ci = metric.get("ci95")
    return f"{metric['value']:.3f}" + (f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else "")


def rows(card: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    held = card["metrics_held_out"]
    out: list[tuple[str, str, dict[str, Any]]] = []
    for subset in ("core", "stress"):
        for tier in ("full", "fast"):
            out.append((f"held out: unread dev, {subset}", f"v2 {tier} tier", held[subset][tier]))
        for name, figures in held.get("comparison", {}).items():
            if "v2" not in name:
                label = name + (IN_SAMPLE if "v1" in name else "")
                out.append((f"held out: unread dev, {subset}", label, figures[subset]))
    oof = card["metrics_out_of_fold"]
    for prefix, data in (
        ("", "out of fold: all dev (stress)"),
        ("core_", "out of fold: all dev, core"),
        ("unread_", "out of fold: unread dev quarter (stress)"),
        ("unread_core_", "out of fold: unread dev quarter, core"),
    ):
        for tier in ("full", "fast"):
            if f"{prefix}{tier}" in oof:
                out.append((data, f"v2 {tier} tier", oof[f"{prefix}{tier}"]))
    for lang in ("en", "es"):
        key = f"written_test_{lang}"
        if key in held:
            out.append((f"our written test examples ({lang})", "v2 full tier", held[key]["full"]))
    return out


def markdown(card: dict[str, Any]) -> str:
    lines = [
        "# Detector v2 quality (from the bundled model's card)",
        "",
        f"Held out: {card['metrics_held_out']['how']}.",
        "",
        f"Out of fold: {card['metrics_out_of_fold']['how']}.",
        "",
        "Ambiguous rows excluded; 95% intervals (Wilson for proportions, stratified bootstrap "
        "for AUROC/AUPRC). Our written examples are about half crises: their PPV is not a "
        "field PPV.",
        "",
        "| data | model | AUROC | AUPRC | sensitivity | PPV | flags/1000 |",
        "|---|---|---|---|---|---|---|",
    ]
    for data, model, m in rows(card):
        lines.append(f"| {data} | {model} | " + " | ".join(cell(m[k]) for k in METRICS) + " |")
    lines += ["", f"Threshold {card['threshold']['value']:.4g}: {card['threshold']['how']}.", ""]
    return "\n".join(lines)


def main() -> int:
    card = read_card(BUNDLED_MODEL_PATH)
    if card.get("detector_version") != 2:
        print("the bundled model is not detector v2")
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    table = [{"data": d, "model": m, **{k: f[k] for k in METRICS}} for d, m, f in rows(card)]
    (RESULTS / "detector_v2_quality.json").write_text(json.dumps(table, indent=2) + "\n")
    text = markdown(card)
    (RESULTS / "detector_v2_quality.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
