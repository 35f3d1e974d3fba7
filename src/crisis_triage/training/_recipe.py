"""The recipe of the bundled default model (detector v2): which data plays which role.

- *Background*: the shared training corpus (forum and Twitter posts, medical questions,
  assistant commands), without non-commercial sources and without ``rmhd27`` (its labels
  call self-harm posts on other forums non-crises).  It teaches the n-gram and static
  embedding models crisis language; it is not like patient messages, so the stacker never
  learns from it.
- *Target*: the dev benchmark's messages (patient-like, realistic prevalence; the stress file
  holds the core file) and our own written examples (``training/examples``, English and
  Spanish, ``split=train`` rows only).  They train the encoder model and the stacker.
- *Calibration*: the dev rows only, because their prevalence is realistic: probabilities are
  calibrated and the threshold is chosen on their out-of-fold scores (all dev rows: the core
  rows alone hold too few crises for a stable 95% sensitivity point).

``hold_out_unread=True`` leaves the unread quarter of dev out entirely (see ``_dev_split``),
which is how the honest held-out figures of the model card are made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crisis_triage.io import read_table
from crisis_triage.training._data import load_labelled
from crisis_triage.training._dev_split import SPLIT_RULE, unread_mask

EXAMPLES_DIR = Path(__file__).with_name("examples")
BACKGROUND_FILE = "train.csv.gz"
DEV_FILE = "bench_stress_dev.csv.gz"  # holds every message of bench_core_dev too
CORE_FILE = "bench_core_dev.csv.gz"
EXCLUDED_SOURCES = ("rmhd27",)
EXAMPLE_FILES = ("written_en.csv", "written_es.csv")
TARGET_WEIGHT = 3.0


@dataclass
class TrainingSet:
    texts: list[str]
    labels: np.ndarray
    crisis_types: list[str]
    target: np.ndarray
    calibrate_on: np.ndarray
    threshold_on: np.ndarray  # rows whose out-of-fold sensitivity sets the threshold
    weights: np.ndarray
    core: np.ndarray  # dev rows that are in bench_core_dev
    unread: np.ndarray  # dev rows in the unread quarter (training/_dev_split.py)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class DevSet:
    """The dev benchmark messages (ambiguous excluded) with their core/unread marks."""

    texts: list[str]
    labels: np.ndarray
    core: np.ndarray
    unread: np.ndarray
    ambiguous: np.ndarray  # rows labelled -1 (kept here, left out of training)
    frame: pd.DataFrame


def load_dev(data_dir: Path) -> DevSet:
    frame = read_table(data_dir / DEV_FILE, required=["uid", "text", "crisis"])
    core_uids = set(read_table(data_dir / CORE_FILE, required=["uid"])["uid"])
    labels = frame["crisis"].astype(int).to_numpy()
    return DevSet(
        texts=frame["text"].fillna("").astype(str).tolist(),
        labels=labels,
        core=frame["uid"].isin(core_uids).to_numpy(),
        unread=unread_mask(frame["uid"]),
        ambiguous=labels == -1,
        frame=frame,
    )


def load_examples(split: str = "train", files: Sequence[str] = EXAMPLE_FILES) -> pd.DataFrame:
    """Our own written messages (``split`` "train" or "test"), with a ``lang`` column."""
    parts = []
    for name in files:
        frame = pd.read_csv(EXAMPLES_DIR / name, keep_default_na=False)
        frame["lang"] = name.removesuffix(".csv").rsplit("_", 1)[-1]
        parts.append(frame[frame["split"] == split])
    return pd.concat(parts, ignore_index=True)


def balance_languages(
    weights: np.ndarray, labels: np.ndarray, target: np.ndarray, languages: np.ndarray
) -> dict[str, float]:
    """Weight each non-English language's non-crises up to the English target rows'
    prevalence (in place); ``languages`` is each row's language ("" for background rows).

    Our Spanish examples are about half crises while English target rows are mostly dev
    messages at a realistic prevalence: unweighted, the models would learn that Spanish itself
    is a sign of crisis.  Returns the factor given to each language's non-crises.
    """
    prevalence = float(labels[target & (languages == "en")].mean())
    applied: dict[str, float] = {}
    for lang in sorted(set(languages[target]) - {"en"}):
        rows = np.flatnonzero(target & (languages == lang))
        pos, neg = int(labels[rows].sum()), int((labels[rows] == 0).sum())
        if pos and neg:
            factor = pos * (1 - prevalence) / (prevalence * neg)
            weights[rows[labels[rows] == 0]] *= factor
            applied[lang] = round(factor, 2)
    return applied


def assemble(data_dir: Path, *, hold_out_unread: bool = False) -> TrainingSet:
    """Background, target and calibration rows for the bundled model."""
    background = load_labelled(
        data_dir / BACKGROUND_FILE, exclude_sources=EXCLUDED_SOURCES, allow_noncommercial=False
    )
    dev = load_dev(data_dir)
    use = ~dev.ambiguous & ~(dev.unread if hold_out_unread else np.zeros(len(dev.labels), bool))
    examples = load_examples("train")
    n_bg, n_dev, n_ex = len(background.texts), int(use.sum()), len(examples)
    texts = (
        background.texts
        + [t for t, keep in zip(dev.texts, use, strict=True) if keep]
        + examples["text"].astype(str).tolist()
    )
    labels = np.concatenate(
        [background.labels, dev.labels[use], examples["crisis"].astype(int).to_numpy()]
    )
    dev_types = dev.frame["crisis_type"].fillna("").astype(str).to_numpy()[use]
    types = (
        [str(t or "") for t in (background.crisis_types or [""] * n_bg)]
        + dev_types.tolist()
        + examples["crisis_type"].astype(str).tolist()
    )
    target = np.r_[np.zeros(n_bg, bool), np.ones(n_dev + n_ex, bool)]
    calibrate_on = np.r_[np.zeros(n_bg, bool), np.ones(n_dev, bool), np.zeros(n_ex, bool)]
    # The threshold is chosen on every dev row: on the core rows alone (42 crises) the 5th
    # percentile of crisis scores moved too much between fits (docs/detector-v2.md).
    threshold_on = calibrate_on.copy()
    summary: dict[str, Any] = {
        "background": background.summary,
        "target": {
            "dev_file": DEV_FILE,
            "dev_rows": n_dev,
            "dev_positives": int(dev.labels[use].sum()),
            "dev_unread_rows_left_out": int((dev.unread & ~dev.ambiguous).sum())
            if hold_out_unread
            else 0,
            "dev_split_rule": SPLIT_RULE,
            "written_examples": {
                "files": list(EXAMPLE_FILES),
                "rows": n_ex,
                "positives": int(examples["crisis"].astype(int).sum()),
                "by_language": examples.groupby("lang").size().to_dict(),
            },
        },
        "calibration": "dev rows only (realistic prevalence)",
    }
    # Target rows count three times as much as background rows in the base models: they are
    # the kind of message the model will score.
    weights = np.where(target, TARGET_WEIGHT, 1.0)
    summary["target_weight"] = TARGET_WEIGHT
    languages = np.r_[
        np.full(n_bg, ""), np.full(n_dev, "en"), examples["lang"].astype(str).to_numpy()
    ]
    summary["language_balance"] = balance_languages(weights, labels, target, languages)
    summary["threshold"] = "all dev rows (bench_stress_dev, which holds bench_core_dev)"
    zeros_bg, zeros_ex = np.zeros(n_bg, bool), np.zeros(n_ex, bool)
    core = np.r_[zeros_bg, dev.core[use], zeros_ex]
    unread = np.r_[zeros_bg, dev.unread[use], zeros_ex]
    return TrainingSet(
        texts, labels, types, target, calibrate_on, threshold_on, weights, core, unread, summary
    )
