"""Evaluation and audit: metrics with confidence intervals, reports, comparisons, benchmark.

Metrics are plain functions ``f(y_true, y_score_or_pred)``.  A report is a ``ReportConfig`` plus
``EvaluationReport.run(EvaluationData)`` -> ``ReportResult`` (JSON, loadable back) that renders
to HTML and Markdown.  The core needs no model; ``score_frame``/``evaluate`` connect a detector.
Plots, subgroup tables and rendering need the ``evaluation`` extra (matplotlib, fairlearn,
jinja2).
"""

from crisis_triage.evaluation._adapter import (
    BUNDLED,
    TableSpec,
    compare_models,
    evaluate,
    load_scorer,
    read_evaluation_table,
    score_frame,
    temporal_validation,
)
from crisis_triage.evaluation._benchmark import (
    BENCHMARK_FILES,
    benchmark_card_section,
    read_cmd1_lexicon,
    record_benchmark_in_card,
    render_benchmark_markdown,
    run_benchmark,
    write_benchmark,
)
from crisis_triage.evaluation._bootstrap import Replicates, bootstrap
from crisis_triage.evaluation._compare import compare
from crisis_triage.evaluation._data import AMBIGUOUS_POLICIES, EvaluationData, parse_labels
from crisis_triage.evaluation._in_sample import (
    IN_SAMPLE_LABEL,
    TEXT_HASHES_KEY,
    TUNING_FILES_KEY,
    InSample,
    check_in_sample,
    file_sha256,
    in_sample_overlap,
)
from crisis_triage.evaluation._intervals import Estimate, percentile_interval, wilson_interval
from crisis_triage.evaluation._learning_curve import (
    LabelledSet,
    learning_curve,
    render_learning_curve_markdown,
    write_learning_curve,
)
from crisis_triage.evaluation._metrics import (
    EvaluationError,
    auprc,
    auroc,
    brier,
    calibration_intercept,
    calibration_slope,
    confusion_counts,
    expected_calibration_error,
    flags_per_1000,
    net_benefit,
    npv,
    ppv,
    sensitivity,
    specificity,
)
from crisis_triage.evaluation._report import EvaluationReport, ReportConfig, ReportResult
from crisis_triage.evaluation._subgroups import subgroup_table
from crisis_triage.evaluation._summary import (
    TARGET_SENSITIVITIES,
    decision_curve,
    sensitivity_thresholds,
)
from crisis_triage.evaluation._time import TIME_FREQUENCIES, temporal_split, time_table

__all__ = [
    "AMBIGUOUS_POLICIES",
    "BENCHMARK_FILES",
    "BUNDLED",
    "IN_SAMPLE_LABEL",
    "TARGET_SENSITIVITIES",
    "TEXT_HASHES_KEY",
    "TIME_FREQUENCIES",
    "TUNING_FILES_KEY",
    "Estimate",
    "EvaluationData",
    "EvaluationError",
    "EvaluationReport",
    "InSample",
    "LabelledSet",
    "Replicates",
    "ReportConfig",
    "ReportResult",
    "TableSpec",
    "auprc",
    "auroc",
    "benchmark_card_section",
    "bootstrap",
    "brier",
    "calibration_intercept",
    "calibration_slope",
    "check_in_sample",
    "compare",
    "compare_models",
    "confusion_counts",
    "decision_curve",
    "evaluate",
    "expected_calibration_error",
    "file_sha256",
    "flags_per_1000",
    "in_sample_overlap",
    "learning_curve",
    "load_scorer",
    "net_benefit",
    "npv",
    "parse_labels",
    "percentile_interval",
    "ppv",
    "read_cmd1_lexicon",
    "read_evaluation_table",
    "record_benchmark_in_card",
    "render_benchmark_markdown",
    "render_learning_curve_markdown",
    "run_benchmark",
    "score_frame",
    "sensitivity",
    "sensitivity_thresholds",
    "specificity",
    "subgroup_table",
    "temporal_split",
    "temporal_validation",
    "time_table",
    "wilson_interval",
    "write_benchmark",
    "write_learning_curve",
]
