"""The report object: run on synthetic data, JSON round trip, HTML and Markdown rendering."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from crisis_triage.detector import Explanation
from crisis_triage.evaluation import (
    EvaluationData,
    EvaluationError,
    EvaluationReport,
    ReportConfig,
    ReportResult,
    compare,
    sensitivity_thresholds,
)
from crisis_triage.evaluation._render import SECTIONS
from crisis_triage.lexicon import LexiconHit

SECRET = "zebra-unicorn-secret"  # appears in every message text; must vanish when redacted
PNG = b"\x89PNG\r\n\x1a\n"


def _hit(active: bool = True) -> LexiconHit:
    if active:
        return LexiconHit("si-001", "SI", "kill myself", 0, 11)
    return LexiconHit("si-001", "SI", "kill myself", 0, 11, "neg-1", "negation")


def _explanation(score: float, hits: tuple[LexiconHit, ...], gate: bool = True) -> Explanation:
    return Explanation(
        score,
        score >= 0.1,
        0.1,
        ("SI",) if hits else (),
        hits,
        (("want to", 0.8), ("tired", -0.2)),
        gate,
    )


def make_data(n: int = 1200, seed: int = 0, **overrides: object) -> EvaluationData:
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(n) < 0.08, 1, 0)
    labels[rng.random(n) < 0.03] = -1
    site = rng.choice(["north", "south"], n)
    site[:25] = "tiny"  # a group too small to judge
    scores = np.clip(rng.beta(1, 12, n) + 0.5 * (labels == 1) * rng.random(n), 0, 1)
    south_crisis = (site == "south") & (labels == 1)
    scores[south_crisis] *= 0.15  # the model misses crises from the south
    baseline = ((labels == 1) & (rng.random(n) < 0.8)) | (rng.random(n) < 0.05)
    times = np.datetime64("2024-03-01T00:00") + rng.integers(0, 20 * 24, n).astype("timedelta64[h]")
    missed = np.flatnonzero((labels == 1) & (scores < 0.1))
    explanations = {}
    kinds = [((), False), ((_hit(False),), True), ((), True), ((_hit(),), True)]
    for i, row in enumerate(missed):
        hits, gate = kinds[i % 4]
        explanations[int(row)] = _explanation(float(scores[row]), hits, gate)
    for row in np.flatnonzero((labels == 0) & (scores >= 0.1))[:40]:
        explanations[int(row)] = _explanation(float(scores[row]), (_hit(),))
    kwargs: dict[str, object] = {
        "ids": [f"msg-{i}" for i in range(n)],
        "texts": [f"message {i} <b>{SECRET}</b>" for i in range(n)],
        "baseline": baseline.astype(float),
        "groups": {"site": site},
        "times": times,
        "explanations": explanations,
        "model_card": {"preset": "test", "threshold": 0.1},
    }
    kwargs.update(overrides)
    return EvaluationData.from_arrays(labels, scores, 0.1, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def data() -> EvaluationData:
    return make_data()


@pytest.fixture(scope="module")
def result(data: EvaluationData) -> ReportResult:
    return EvaluationReport(ReportConfig(n_boot=200, seed=1)).run(data)


@pytest.fixture(scope="module")
def html(result: ReportResult) -> str:
    return result.to_html()


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and found.get("id"):
            self.sections.append(str(found["id"]))
        if tag == "img":
            self.images.append(found)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_json_round_trip(result: ReportResult) -> None:
    text = result.to_json()
    assert "NaN" not in text
    loaded = ReportResult.from_json(text)
    assert loaded.data == result.data
    assert loaded.to_markdown() == result.to_markdown()


def test_html_has_every_section_and_image(html: str) -> None:
    page = _Page()
    page.feed(html)
    assert page.sections == [section for section, _ in SECTIONS]
    alts = [str(img.get("alt")) for img in page.images]
    assert alts == [
        "ROC and precision-recall curves",
        "Reliability diagram",
        "Decision curve: net benefit across thresholds",
        "Sensitivity by site",
        "Flag volume and sensitivity over time",
    ]
    for img in page.images:
        src = str(img["src"])
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)
    assert "http://" not in html and "https://" not in html  # self-contained


def test_markdown_has_every_section(result: ReportResult) -> None:
    markdown = result.to_markdown()
    for heading in (
        "## Summary",
        "## Metrics at the shipped threshold",
        "## Operating points",
        "## Calibration",
        "## Decision curve",
        "## Subgroups",
        "## Over time",
        "## Error analysis",
        "## Configuration",
    ):
        assert heading in markdown


def test_message_text_is_escaped_in_html(html: str) -> None:
    assert f"<b>{SECRET}</b>" not in html
    assert f"&lt;b&gt;{SECRET}&lt;/b&gt;" in html


def test_redact_removes_every_message_text(data: EvaluationData, tmp_path: Path) -> None:
    redacted = EvaluationReport(ReportConfig(n_boot=50, redact=True)).run(data)
    paths = redacted.save(tmp_path)
    for path in paths.values():
        content = path.read_text(encoding="utf-8")
        assert SECRET not in content
        assert "kill myself" not in content  # matched terms give way to entry ids
        assert "want to" not in content  # model n-grams are left out
    missed = redacted.data["errors"]["false_negatives"]
    assert missed and all(item["text"] is None for item in missed)
    assert missed[0]["id"] in paths["html"].read_text(encoding="utf-8")


def test_dataset_counts_and_ambiguous_policies(data: EvaluationData) -> None:
    n_amb = data.n_ambiguous
    n_pos = int((data.labels == 1).sum())
    assert n_amb > 0
    counts = {}
    for policy in ("exclude", "positive", "negative"):
        run = EvaluationReport(ReportConfig(n_boot=0, ambiguous=policy)).run(data)
        counts[policy] = run.data["dataset"]
        assert run.data["dataset"]["n_ambiguous"] == n_amb
    assert counts["exclude"]["n_evaluated"] == len(data.labels) - n_amb
    assert counts["exclude"]["n_positive"] == n_pos
    assert counts["positive"]["n_positive"] == n_pos + n_amb
    assert counts["negative"]["n_positive"] == n_pos
    assert counts["negative"]["n_negative"] == counts["exclude"]["n_negative"] + n_amb


def test_metrics_carry_intervals_and_the_method_used(result: ReportResult) -> None:
    model = result.data["models"]["model"]["metrics"]
    lexicon = result.data["models"]["lexicon"]["metrics"]
    for name in ("auroc", "auprc", "brier", "ece", "calibration_slope", "calibration_intercept"):
        assert model[name]["method"] == "bootstrap"
        assert model[name]["low"] <= model[name]["value"] <= model[name]["high"]
    assert model["sensitivity"]["method"] == "wilson"  # fewer than 100 crises
    assert model["specificity"]["method"] == "bootstrap"
    assert "calibration_slope" not in lexicon  # a 0/1 flag has no calibration
    assert lexicon["sensitivity"]["value"] is not None


def test_operating_points_reach_their_targets(result: ReportResult) -> None:
    for point in result.data["operating_points"]:
        assert point["sensitivity"]["value"] >= point["target_sensitivity"]
    thresholds = [p["threshold"] for p in result.data["operating_points"]]
    assert thresholds == sorted(thresholds, reverse=True)


def test_sensitivity_thresholds_by_hand() -> None:
    truth = np.array([1, 1, 1, 1, 0, 0], dtype=bool)
    scores = np.array([0.9, 0.7, 0.5, 0.2, 0.6, 0.1])
    # 3 of 4 crises (0.75) need threshold 0.5; all 4 need 0.2.
    assert sensitivity_thresholds(truth, scores, (0.5, 0.75, 0.8, 1.0)) == [0.7, 0.5, 0.2, 0.2]


def test_subgroups_mark_shortfalls_and_suppress_tiny_groups(
    result: ReportResult, html: str
) -> None:
    (table,) = result.data["subgroups"]
    groups = {g["group"]: g for g in table["groups"]}
    assert groups["tiny"]["suppressed"] and groups["tiny"]["metrics"] == {}
    assert 0 < groups["tiny"]["n"] <= 25  # the size is still shown
    assert groups["south"]["sensitivity_below_rest"] is True
    assert groups["north"]["sensitivity_below_rest"] is False
    assert (
        groups["south"]["metrics"]["sensitivity"]["high"]
        < groups["north"]["metrics"]["sensitivity"]["value"]
    )
    assert "significantly below the rest" in html


def test_time_table_per_day(result: ReportResult, data: EvaluationData) -> None:
    time = result.data["time"]
    assert time["frequency"] == "day"
    assert len(time["periods"]) == 20
    assert sum(p["n"] for p in time["periods"]) == result.data["dataset"]["n_evaluated"]
    assert all(p["sensitivity"]["method"] in ("wilson", "none") for p in time["periods"])


def test_error_analysis_explains_every_miss(result: ReportResult) -> None:
    errors = result.data["errors"]
    model = result.data["models"]["model"]["metrics"]["sensitivity"]
    assert errors["n_false_negatives"] == model["denominator"] - model["numerator"]
    assert len(errors["false_negatives"]) == errors["n_false_negatives"]
    assert set(errors["miss_reasons"]) == {
        "gated_out",
        "lexicon_suppressed",
        "no_lexicon_hit",
        "low_score",
    }
    assert errors["false_positive_patterns"]["lexicon_entries"][0][0].startswith("SI:si-001")
    assert errors["false_positive_patterns"]["ngrams"] == [["want to", 40]]
    by_site = errors["false_positive_patterns"]["by_group"]["site"]
    assert sum(row["false_positives"] for row in by_site) == errors["n_false_positives"]


def test_decision_curve_treat_all_by_hand(result: ReportResult) -> None:
    curve = result.data["decision_curve"]
    prevalence = result.data["dataset"]["prevalence"]
    t = curve["thresholds"][10]
    assert curve["treat_all"][10] == pytest.approx(prevalence - (1 - prevalence) * t / (1 - t))
    assert set(curve["models"]) == {"model", "lexicon"}


def test_no_positives_is_a_clear_error() -> None:
    data = EvaluationData.from_arrays([0, 0, -1, 0], [0.1, 0.2, 0.3, 0.4], 0.5)
    with pytest.raises(EvaluationError, match=r"no crisis messages.*after excluding ambiguous"):
        EvaluationReport(ReportConfig(n_boot=10)).run(data)
    with pytest.raises(EvaluationError, match="no non-crisis"):
        EvaluationReport(ReportConfig(n_boot=10)).run(
            EvaluationData.from_arrays([1, 1], [0.1, 0.2], 0.5)
        )


@pytest.mark.parametrize(
    ("labels", "message"),
    [([0, 2, 1], "must hold 0"), ([0, None, 1], "no value"), (["a", "0", "1"], "'a'")],
)
def test_bad_labels_are_a_clear_error(labels: list[object], message: str) -> None:
    with pytest.raises(EvaluationError, match=message):
        EvaluationData.from_arrays(labels, [0.1, 0.2, 0.3], 0.5)


def test_bad_configuration_is_a_clear_error() -> None:
    with pytest.raises(EvaluationError, match="ambiguous must be one of"):
        ReportConfig(ambiguous="maybe")
    with pytest.raises(EvaluationError, match="unique"):
        EvaluationData.from_arrays([0, 1], [0.1, 0.2], 0.5, ids=["a", "a"])


def test_loading_a_file_that_is_not_a_report() -> None:
    with pytest.raises(EvaluationError, match="not a crisis-triage report"):
        ReportResult.from_json(json.dumps({"kind": "other"}))
    with pytest.raises(EvaluationError, match="not a report JSON"):
        ReportResult.from_json("{")


def test_compare_paired_differences() -> None:
    rng = np.random.default_rng(3)
    labels = np.where(rng.random(800) < 0.2, 1, 0)
    good = np.clip(rng.beta(2, 6, 800) + 0.4 * labels, 0, 1)
    worse = np.clip(good + rng.normal(0, 0.3, 800), 0, 1)
    cmp = compare(
        labels,
        {"good": good, "copy": good.copy(), "worse": worse},
        {"good": 0.4, "copy": 0.4, "worse": 0.4},
        ReportConfig(n_boot=200),
    )
    diffs = cmp.data["differences"]
    assert diffs["copy"]["auroc"] == {"value": 0.0, "low": 0.0, "high": 0.0}
    assert diffs["worse"]["auroc"]["high"] < 0  # clearly worse, beyond resampling noise
    page = _Page()
    page.feed(cmp.to_html())
    assert page.sections == ["summary", "metrics", "differences", "curves", "configuration"]
    assert len(page.images) == 1
    assert "| AUROC |" in cmp.to_markdown()
    assert ReportResult.from_json(cmp.to_json()).data == cmp.data


def test_a_minimal_report_renders_every_section() -> None:
    """Labels and scores only: no baseline, groups, time, texts or explanations."""
    rng = np.random.default_rng(11)
    labels = (rng.random(300) < 0.1).astype(int)
    scores = np.clip(rng.random(300) * 0.5 + 0.4 * labels, 0, 1)
    minimal = EvaluationReport(ReportConfig(n_boot=0)).run(
        EvaluationData.from_arrays(labels, scores, 0.5)
    )
    assert list(minimal.data["models"]) == ["model"]
    assert minimal.data["models"]["model"]["metrics"]["auroc"]["method"] == "none"
    assert minimal.data["models"]["model"]["metrics"]["sensitivity"]["method"] == "wilson"
    page = _Page()
    page.feed(minimal.to_html())
    assert page.sections == [section for section, _ in SECTIONS]
    text = " ".join(page.text)
    assert "No group columns given" in text and "No time column given" in text
    assert "No group columns given" in minimal.to_markdown()


def _low_prevalence(n: int = 4000, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Crises at 0.5%, every score under 0.1 (as a calibrated model gives at that prevalence)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.005).astype(int)
    labels[:3] = 1
    scores = np.clip(rng.beta(1, 300, n) + 0.04 * labels * rng.random(n), 0.0, 0.099)
    return labels, scores


def test_the_reliability_diagram_has_ten_equal_count_bins_on_low_prevalence_data() -> None:
    labels, scores = _low_prevalence()
    assert scores.max() < 0.1  # equal-width tenths would put every message in one bin
    report = EvaluationReport(ReportConfig(n_boot=0)).run(
        EvaluationData.from_arrays(labels, scores, 0.02)
    )
    bins = report.data["reliability"]
    assert len(bins) == 10
    assert sum(b["n"] for b in bins) == labels.shape[0]
    assert {b["n"] for b in bins} <= {labels.shape[0] // 10, labels.shape[0] // 10 + 1}
    means = [b["mean_predicted"] for b in bins]
    assert means == sorted(means) and means[0] < means[-1] / 5
    html = report.to_html()
    table = html[html.index("<th>Risk decile</th>") :]
    assert table[: table.index("</table>")].count("<tr>") == 10  # the header's <tr> is before


def test_a_target_met_only_by_flagging_everything_says_so_in_words() -> None:
    labels, scores = _low_prevalence()
    lowest = int(np.argmin(scores))
    labels[lowest] = 1  # one crisis scores below every other message: 100% needs them all
    config = ReportConfig(n_boot=0, target_sensitivities=(0.5, 1.0))
    report = EvaluationReport(config).run(EvaluationData.from_arrays(labels, scores, 0.02))
    half, every = report.data["operating_points"]
    assert (half["flags_everything"], every["flags_everything"]) == (False, True)
    assert every["flags_per_1000"]["value"] == 1000.0
    words = "reached only by flagging every message"
    for rendered in (report.to_html(), report.to_markdown()):
        assert rendered.count(words) == 1
    # A report saved before the field existed still renders.
    older = json.loads(report.to_json())
    for point in older["operating_points"]:
        del point["flags_everything"]
    assert words not in ReportResult(older).to_html()


def test_wide_tables_scroll_inside_their_own_box_not_the_page(result: ReportResult) -> None:
    """The subgroup table is the widest: its interval cells wrap, and any table wider than the
    page scrolls inside itself (a browser test measures the page: test_dashboard_browser)."""
    html = result.to_html()
    style = html[html.index("<style>") : html.index("</style>")]
    table_rule = style[style.index("  table {") : style.index("}", style.index("  table {"))]
    for declaration in ("display: block", "max-width: 100%", "overflow-x: auto"):
        assert declaration in table_rule
    assert "table.subgroups td.num { white-space: normal" in style
    subgroups = html[html.index('<section id="subgroups">') :]
    assert subgroups.index('<table class="subgroups">') < subgroups.index("</section>")
