"""The project's standard comparison on ../shared/data (``crisis-triage benchmark``).

Candidates: the CMD-1 term list alone, our lexicon alone, the ``cmd1`` preset trained on
train.csv.gz (non-commercial sources left out), and the bundled default model.  Each runs on
bench_core_dev and bench_stress_dev, once with ambiguous rows excluded and once counting them
as crises.  A candidate that cannot be built (no detector yet, no bundled model) is reported as
skipped with its reason rather than failing the whole run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crisis_triage.detector import TwoStageDetector, load_model, save_model
from crisis_triage.evaluation._adapter import load_scorer
from crisis_triage.evaluation._categories import category_sensitivity, third_party_flags
from crisis_triage.evaluation._compare import compare
from crisis_triage.evaluation._in_sample import InSample, check_in_sample, combined, file_sha256
from crisis_triage.evaluation._metrics import EvaluationError
from crisis_triage.evaluation._report import ReportConfig, clean
from crisis_triage.io import read_table
from crisis_triage.lexicon import Lexicon, LexiconError
from crisis_triage.training import load_labelled, train

BENCHMARK_FILES = ("bench_core_dev", "bench_stress_dev")
CMD1_LEXICON = Path("reference") / "cmd1_lexicon_swaminathan2023.csv"
POLICIES = ("exclude", "positive")
ScoreFn = Callable[[list[str]], np.ndarray]


@dataclass
class Candidate:
    name: str
    description: str
    threshold: float = 0.5
    score: ScoreFn | None = None
    binary: bool = False
    skipped: str | None = None
    card: dict[str, Any] | None = None  # a model's card: what it was trained and tuned on


def read_cmd1_lexicon(path: str | Path) -> Lexicon:
    """The CMD-1 term list as a gate-only lexicon (whole words, no context rules)."""
    try:
        return Lexicon.from_term_csv(path)
    except LexiconError as exc:
        raise EvaluationError(str(exc)) from None


def _lexicon_flags(lexicon: Lexicon) -> ScoreFn:
    def score(texts: list[str]) -> np.ndarray:
        return np.array([1.0 if lexicon.active_hits(t) else 0.0 for t in texts])

    return score


def _model_scores(model: Any) -> ScoreFn:
    def score(texts: list[str]) -> np.ndarray:
        return np.asarray(model.predict_proba(texts))[:, 1]

    return score


def train_cmd1(data_dir: Path, cache: Path | None = None) -> TwoStageDetector:
    """The ``cmd1`` preset gated on the CMD-1 term list, as in the paper, fitted on train.csv.gz
    without non-commercial sources or ambiguous rows; loaded from / saved to ``cache`` when given
    (training takes a while)."""
    if cache is not None and cache.is_file():
        return load_model(cache)
    data = load_labelled(data_dir / "train.csv.gz", ambiguous="exclude")
    gate = read_cmd1_lexicon(data_dir / CMD1_LEXICON)
    model = train(data, preset="cmd1", lexicon=gate)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        save_model(model, cache)
    return model


def candidates(data_dir: Path, cmd1_cache: Path | None = None) -> list[Candidate]:
    found: list[Candidate] = []
    cmd1_terms = read_cmd1_lexicon(data_dir / CMD1_LEXICON)
    found.append(
        Candidate(
            "cmd1_terms",
            f"CMD-1 term list alone ({len(cmd1_terms.entries)} terms; flag = any term)",
            score=_lexicon_flags(cmd1_terms),
            binary=True,
        )
    )
    ours = Lexicon.load()
    found.append(
        Candidate(
            "our_lexicon",
            f"our lexicon alone (version {ours.version}; flag = an active hit)",
            score=_lexicon_flags(ours),
            binary=True,
        )
    )
    builders: list[tuple[str, str, Callable[[], Any]]] = [
        (
            "cmd1_preset",
            "cmd1 preset gated on the CMD-1 term list, trained on train.csv.gz (NC sources out)",
            lambda: train_cmd1(data_dir, cmd1_cache),
        ),
        ("default_model", "the bundled default model", lambda: load_scorer(None)),
    ]
    for name, description, build in builders:
        try:
            model = build()
        except (EvaluationError, ImportError, ValueError) as exc:
            found.append(Candidate(name, description, skipped=str(exc)))
            continue
        card = dict(getattr(model, "card_", {}) or {})
        found.append(
            Candidate(name, description, float(model.threshold_), _model_scores(model), card=card)
        )
    return found


def run_benchmark(
    data_dir: Path,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    cmd1_cache: Path | None = None,
    files: Sequence[str] = BENCHMARK_FILES,
) -> dict[str, Any]:
    """Every candidate on every benchmark file under both ambiguous policies."""
    started = time.perf_counter()
    found = candidates(data_dir, cmd1_cache)
    ready = [c for c in found if c.score is not None]
    results: dict[str, Any] = {}
    categories: dict[str, Any] = {}
    overlap: dict[str, dict[str, Any]] = {}
    for stem in files:
        path = data_dir / f"{stem}.csv.gz"
        table = read_table(path, required=["text", "crisis"])
        texts = table["text"].astype(str).tolist()
        scores = {c.name: c.score(texts) for c in ready if c.score is not None}
        checks: dict[str, InSample] = {
            c.name: check_in_sample(c.card, texts, data_sha256=file_sha256(path))
            for c in ready
            if c.card is not None
        }
        overlap[stem] = combined(checks)
        results[stem] = {}
        for policy in POLICIES:
            config = ReportConfig(
                n_boot=n_boot,
                seed=seed,
                ambiguous=policy,
                title=f"Benchmark: {stem}, ambiguous {policy}",
                data_name=stem,
            )
            comparison = compare(
                table["crisis"].to_numpy(),
                scores,
                {c.name: c.threshold for c in ready},
                config,
                binary=frozenset(c.name for c in ready if c.binary),
                descriptions={c.name: c.description for c in ready},
                include_curves=False,
                in_sample=overlap[stem],
            )
            results[stem][policy] = comparison.data
        categories[stem] = _categories(table, scores, ready)
    summary: dict[str, Any] = clean(
        {
            "kind": "benchmark",
            "in_sample": {
                "value": any(entry["value"] for entry in overlap.values()),
                "overlapping_messages": sum(e["overlapping_messages"] for e in overlap.values()),
                "files": overlap,
            },
            "data_dir": str(data_dir),
            "n_boot": n_boot,
            "seed": seed,
            "candidates": [
                {
                    "name": c.name,
                    "description": c.description,
                    "threshold": c.threshold,
                    "skipped": c.skipped,
                }
                for c in found
            ],
            "results": results,
            "category_sensitivity": categories,
            "seconds": round(time.perf_counter() - started, 1),
        }
    )
    return summary


def _categories(
    table: pd.DataFrame, scores: dict[str, np.ndarray], ready: list[Candidate]
) -> dict[str, Any]:
    """Per-category and third-party sensitivity at each candidate's shipped threshold."""
    if "crisis_type" not in table.columns:
        return {}
    labels = pd.to_numeric(table["crisis"], errors="coerce").fillna(0).to_numpy()
    notes = table["label_note"].tolist() if "label_note" in table.columns else None
    third = third_party_flags(notes) if notes is not None else None
    types = table["crisis_type"].tolist()
    return {
        c.name: category_sensitivity(
            labels, np.asarray(scores[c.name]) >= c.threshold, types, third
        )
        for c in ready
        if c.name in scores
    }


def render_benchmark_markdown(result: dict[str, Any]) -> str:
    from crisis_triage.evaluation._render import environment  # jinja2: extra "evaluation"

    return environment().get_template("benchmark.md.j2").render(b=result)


def write_benchmark(result: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "benchmark.json", "md": out_dir / "benchmark.md"}
    paths["json"].write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    paths["md"].write_text(render_benchmark_markdown(result), encoding="utf-8")
    return paths


CARD_METRICS = ("auroc", "auprc", "sensitivity", "ppv", "flags_per_1000")


def benchmark_card_section(
    result: dict[str, Any], candidate: str = "default_model"
) -> dict[str, Any]:
    """The ``candidate``'s benchmark numbers with their 95% intervals, for a model card:
    ``{dataset: {ambiguous_policy: {metric: [value, low, high]}}}`` plus provenance."""
    section: dict[str, Any] = {
        "source": "crisis-triage benchmark (development halves only)",
        "n_boot": result.get("n_boot"),
        "seed": result.get("seed"),
    }
    for dataset, policies in result["results"].items():
        for policy, comparison in policies.items():
            metrics = comparison["models"].get(candidate, {}).get("metrics")
            if not metrics:
                continue
            section.setdefault(dataset, {})[policy] = {
                name: [metrics[name]["value"], metrics[name]["low"], metrics[name]["high"]]
                for name in CARD_METRICS
                if name in metrics
            }
    return section


def record_benchmark_in_card(
    result: dict[str, Any], card: Path, candidate: str = "default_model"
) -> None:
    """Write the candidate's benchmark numbers into a model card (the model file is untouched,
    so its checksum in the card stays valid)."""
    data = json.loads(card.read_text(encoding="utf-8"))
    data["benchmark"] = benchmark_card_section(result, candidate)
    card.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
