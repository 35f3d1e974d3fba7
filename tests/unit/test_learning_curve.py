"""The learning curve: refuses draws with too few crises, scores only rows not drawn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from synthetic_messages import corpus, fast_detector

from crisis_triage.evaluation import LabelledSet, learning_curve, write_learning_curve


def test_learning_curve_runs_refuses_and_writes(tmp_path: Path) -> None:
    texts, labels, _ = corpus(240, seed=0)
    base = fast_detector().fit(texts, labels)
    site_texts, site_labels, _ = corpus(400, positive_every=8, seed=4)  # 50 crises
    other_texts, other_labels, _ = corpus(120, seed=8)
    site = LabelledSet("site", site_texts, np.array(site_labels))
    other = LabelledSet("other", other_texts, np.array(other_labels))
    result = learning_curve(base, site, [other], sizes=(40, 200), seeds=(0, 1))
    small = [r for r in result["runs"] if r["n"] == 40]
    assert all(r["crises"] == 5 and "only 5 labelled crises" in r["refused"] for r in small)
    large = [r for r in result["runs"] if r["n"] == 200]
    assert [r["crises"] for r in large] == [25, 25]
    assert all(set(r["site"]) == {"base", "adapted"} and "other" in r for r in large)
    assert large[0]["site"]["adapted"]["auroc"] > 0.9
    rows = {(row["n"], row["set"]): row for row in result["summary"]}
    assert rows[(40, "site")]["refused_runs"] == 2 and rows[(40, "site")]["adapted_auprc"] is None
    assert rows[(200, "other")]["adapted_runs"] == 2
    paths = write_learning_curve(result, tmp_path)
    assert "| 200 | 25.0 | 2/0 | adapted |" in paths["md"].read_text()
    assert paths["png"].read_bytes().startswith(b"\x89PNG")
