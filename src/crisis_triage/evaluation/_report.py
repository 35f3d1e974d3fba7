"""The evaluation report: a configuration, ``run(data)``, and a serialisable result."""

from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import crisis_triage
from crisis_triage.evaluation import _summary as s
from crisis_triage.evaluation._bootstrap import bootstrap
from crisis_triage.evaluation._data import AMBIGUOUS_POLICIES, EvaluationData
from crisis_triage.evaluation._errors import error_analysis
from crisis_triage.evaluation._in_sample import check_in_sample
from crisis_triage.evaluation._metrics import EvaluationError
from crisis_triage.evaluation._subgroups import subgroup_tables
from crisis_triage.evaluation._time import time_table

SCHEMA_VERSION = 1
MODEL, LEXICON = "model", "lexicon"


@dataclass(frozen=True)
class ReportConfig:
    """How to evaluate.  Every field lands in the report so a result can be reproduced."""

    n_boot: int = 2000
    seed: int = 0
    level: float = 0.95
    ambiguous: str = "exclude"
    redact: bool = False
    target_sensitivities: tuple[float, ...] = s.TARGET_SENSITIVITIES
    wilson_below: int = 100
    min_group_size: int = 30
    min_group_positives: int = 5
    time_freq: str = "auto"
    max_false_positives: int = 50
    title: str = "Crisis detector evaluation"
    model_name: str = ""
    data_name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ambiguous not in AMBIGUOUS_POLICIES:
            raise EvaluationError(
                f"ambiguous must be one of {', '.join(AMBIGUOUS_POLICIES)}; got {self.ambiguous!r}"
            )
        if self.n_boot < 0:
            raise EvaluationError("n_boot must be 0 (no bootstrap) or more")
        if not 0.5 <= self.level < 1.0:
            raise EvaluationError("the confidence level must lie in [0.5, 1)")
        if any(not 0.0 < t <= 1.0 for t in self.target_sensitivities):
            raise EvaluationError("target sensitivities must lie in (0, 1]")


def clean(value: Any) -> Any:
    """JSON-ready copy: numpy scalars to Python, NaN/inf to None, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str | int):
        return value
    return str(value)


@dataclass(frozen=True)
class ReportResult:
    """Everything the report shows, as plain JSON data; renders to HTML and Markdown."""

    data: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps(self.data, indent=2, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ReportResult:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EvaluationError(f"not a report JSON file: {exc.msg}") from None
        if not isinstance(data, dict) or data.get("kind") not in {"report", "comparison"}:
            raise EvaluationError("not a crisis-triage report JSON file")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise EvaluationError(f"unsupported report schema {data.get('schema_version')!r}")
        return cls(data)

    @classmethod
    def load(cls, path: str | Path) -> ReportResult:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def to_html(self) -> str:
        from crisis_triage.evaluation._render import render_html

        return render_html(self.data)

    def to_markdown(self) -> str:
        from crisis_triage.evaluation._render import render_markdown

        return render_markdown(self.data)

    def save(self, directory: str | Path, stem: str | None = None) -> dict[str, Path]:
        """Write ``<stem>.json``, ``.html`` and ``.md`` into ``directory`` (created if needed)."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        stem = stem or str(self.data["kind"])
        paths = {
            "json": folder / f"{stem}.json",
            "html": folder / f"{stem}.html",
            "md": folder / f"{stem}.md",
        }
        paths["json"].write_text(self.to_json() + "\n", encoding="utf-8")
        paths["html"].write_text(self.to_html(), encoding="utf-8")
        paths["md"].write_text(self.to_markdown(), encoding="utf-8")
        return paths


def provenance(config: ReportConfig) -> dict[str, Any]:
    return {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "crisis_triage_version": crisis_triage.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "config": asdict(config),
    }


class EvaluationReport:
    """Configuration plus ``run(data)`` -> ``ReportResult`` (evidently's Report/Snapshot shape)."""

    def __init__(self, config: ReportConfig | None = None) -> None:
        self.config = config or ReportConfig()

    def run(self, data: EvaluationData) -> ReportResult:
        cfg = self.config
        keep, truth = data.resolve(cfg.ambiguous)
        rows = np.flatnonzero(keep)
        scores = data.scores[keep]
        n_pos, n_neg = int(truth.sum()), int((~truth).sum())
        if n_pos == 0:
            raise EvaluationError(
                "there are no crisis messages (label 1) to evaluate"
                + (" after excluding ambiguous rows" if data.n_ambiguous else "")
                + "; sensitivity cannot be estimated"
            )
        if n_neg == 0:
            raise EvaluationError("there are no non-crisis messages (label 0) to evaluate")
        scorers = {MODEL: scores}
        baseline = data.baseline[keep] if data.baseline is not None else None
        if baseline is not None:
            scorers[LEXICON] = baseline
        op_thresholds = s.sensitivity_thresholds(truth, scores, cfg.target_sensitivities)
        thresholds = {MODEL: [data.threshold, *op_thresholds], LEXICON: [0.5]}
        reps = None
        if cfg.n_boot > 0:
            reps = bootstrap(
                truth, scorers, thresholds, n_boot=cfg.n_boot, seed=cfg.seed, calibration=[MODEL]
            )
        kw: dict[str, Any] = {"level": cfg.level, "wilson_below": cfg.wilson_below}
        models: dict[str, Any] = {}
        for name, values in scorers.items():
            rep = reps[name] if reps else None
            threshold = data.threshold if name == MODEL else 0.5
            metrics = s.ranking_estimates(
                truth, values, rep, level=cfg.level, calibration=name == MODEL
            )
            metrics |= s.threshold_estimates(
                truth, values, threshold, rep, 0, benefit_threshold=data.threshold, **kw
            )
            models[name] = {
                "threshold": threshold,
                "metrics": {k: v.to_dict() for k, v in metrics.items()},
                "curves": s.curves(truth, values, threshold),
            }
        model_rep = reps[MODEL] if reps else None
        operating = []
        for i, (target, threshold) in enumerate(
            zip(cfg.target_sensitivities, op_thresholds, strict=True), start=1
        ):
            found = s.threshold_estimates(truth, scores, threshold, model_rep, i, **kw)
            operating.append(
                {
                    "target_sensitivity": target,
                    "threshold": threshold,
                    # Reached only at or below the lowest score: every message is flagged, so
                    # the model does not sort the queue at this target (the report says so).
                    "flags_everything": bool(np.all(scores >= threshold)),
                    **{k: v.to_dict() for k, v in found.items()},
                }
            )
        result: dict[str, Any] = {
            "kind": "report",
            "schema_version": SCHEMA_VERSION,
            "title": cfg.title,
            "in_sample": check_in_sample(
                data.model_card,
                data.texts or (),
                data_sha256=data.data_sha256,
                n_messages=int(data.labels.shape[0]),
            ).to_dict(),
            "provenance": provenance(cfg),
            "model_card": dict(data.model_card),
            "dataset": {
                "name": cfg.data_name,
                "n_rows": int(data.labels.shape[0]),
                "n_evaluated": int(keep.sum()),
                "n_positive": n_pos,
                "n_negative": n_neg,
                "n_ambiguous": data.n_ambiguous,
                "ambiguous_policy": cfg.ambiguous,
                "prevalence": n_pos / (n_pos + n_neg),
            },
            "threshold": data.threshold,
            "models": models,
            "operating_points": operating,
            "reliability": s.reliability(truth, scores, level=cfg.level),
            "decision_curve": s.decision_curve(
                truth, scorers, frozenset({LEXICON}), (data.threshold,)
            ),
            "subgroups": subgroup_tables(
                data.groups,
                keep,
                truth=truth,
                scores=scores,
                threshold=data.threshold,
                n_boot=cfg.n_boot,
                seed=cfg.seed,
                level=cfg.level,
                wilson_below=cfg.wilson_below,
                min_size=cfg.min_group_size,
                min_positives=cfg.min_group_positives,
            ),
            "time": None,
            "errors": error_analysis(
                rows,
                truth,
                scores=data.scores,
                threshold=data.threshold,
                labels=data.labels,
                ids=data.ids,
                texts=data.texts,
                baseline=data.baseline,
                groups=data.groups,
                explanations=data.explanations,
                redact=cfg.redact,
                max_false_positives=cfg.max_false_positives,
            ),
        }
        if data.times is not None:
            result["time"] = time_table(
                truth, scores, data.threshold, data.times[keep], freq=cfg.time_freq, level=cfg.level
            )
        return ReportResult(clean(result))
