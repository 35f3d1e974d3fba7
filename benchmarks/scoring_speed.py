"""Scoring speed on one core: scikit-learn Pipeline vs CompiledScorer vs a tokenising floor.

Run from the repository root: ``python -m benchmarks.scoring_speed`` (``--help`` for options).
Three stage-2 models are measured:

- ``full_vocabulary``: TF-IDF word 1-5-grams (every n-gram in 2+ documents) + L1 logistic
  regression, trained here on ../shared/data/train.csv.gz (or on a synthetic corpus when the
  shared data is absent: the JSON says which);
- ``pruned_vocabulary``: the same refitted on the n-grams the L1 fit kept (what the
  ``default`` preset's ``prune_refit`` does);
- ``bundled_default_model``: the model shipped with the package, also scored end to end by
  ``TwoStageDetector.predict_proba`` and ``.explain`` (lexicon matching included).

For each, in the same run and single-threaded: batch throughput (messages/s) and
single-message latency p50/p99 of (a) the plain Pipeline, (b) the compiled scorer (with and
without the top-5 n-grams), (c) lower-casing plus regex tokenising (a floor no scorer can
beat); and that (a) and (b) give the same scores.

The workload is bench_core_dev's text when available. Text caches are emptied and then
warmed on random training texts before each measurement, as in a service that has run for
a while: common words are cached, the workload itself is unseen.
Writes benchmarks/results/scoring_speed.json. Message text never reaches the output.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from threadpoolctl import threadpool_limits

from crisis_triage.detector import load_model
from crisis_triage.detector._compiled import CompiledScorer
from crisis_triage.text import normalise, tokenise
from crisis_triage.text._normalise import clear_caches

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "scoring_speed.json"
NON_COMMERCIAL_SOURCES = {"legalbench_dv"}
GOAL_MESSAGES_PER_SECOND = 20_000
GOAL_P99_MS = 0.5
WARM_UP_TEXTS = 10_000
_FLOOR_TOKEN = re.compile(r"\b\w+\b")


def _synthetic(n: int, seed: int) -> tuple[list[str], list[int]]:
    rng = random.Random(seed)
    crisis = ["i want to die", "thinking of killing myself", "he hurts me", "took all my pills"]
    ordinary = ["can i reschedule", "refill my prescription", "thanks for today", "side effects"]
    words = ["i", "the", "a", "to", "and", "my", "of", "it", "is", "so", "but", "not", "feel"]
    texts, labels = [], []
    for i in range(n):
        label = int(i % 10 == 0)
        body = " ".join(rng.choices(words, k=rng.randint(3, 30)))
        texts.append(f"{body} {rng.choice(crisis if label else ordinary)} {body[:40]}")
        labels.append(label)
    return texts, labels


def _load_training(max_rows: int | None) -> tuple[list[str], list[int], str]:
    path = DATA / "train.csv.gz"
    if not path.is_file():
        texts, labels = _synthetic(max_rows or 20_000, seed=1)
        return texts, labels, "synthetic (../shared/data/train.csv.gz absent)"
    frame = pd.read_csv(path, usecols=["text", "crisis", "source"])
    frame = frame[(frame["crisis"] >= 0) & ~frame["source"].isin(NON_COMMERCIAL_SOURCES)]
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=0)
    texts = frame["text"].fillna("").astype(str).tolist()
    return texts, frame["crisis"].astype(int).tolist(), "../shared/data/train.csv.gz"


def _load_workload(limit: int | None) -> tuple[list[str], str]:
    path = DATA / "bench_core_dev.csv.gz"
    if path.is_file():
        texts = pd.read_csv(path, usecols=["text"])["text"].fillna("").astype(str).tolist()
        source = "../shared/data/bench_core_dev.csv.gz (text column)"
    else:
        texts, _ = _synthetic(3000, seed=2)
        source = "synthetic (../shared/data/bench_core_dev.csv.gz absent)"
    return texts[:limit] if limit else texts, source


def _vectorizer(min_df: int, vocabulary: list[str] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        preprocessor=normalise,
        tokenizer=tokenise,
        lowercase=False,
        token_pattern=None,
        ngram_range=(1, 5),
        min_df=min_df,
        sublinear_tf=True,
        vocabulary=vocabulary,
    )


def _classifier(c: float) -> LogisticRegression:
    return LogisticRegression(
        l1_ratio=1, solver="liblinear", C=c, class_weight="balanced", max_iter=1000
    )


def _train(texts: list[str], labels: list[int], min_df: int, c: float) -> dict[str, Pipeline]:
    """Two stage-2 models: every n-gram with min_df documents (as the cmd1 preset keeps),
    and the n-grams the first one's L1 fit kept, refitted (as the default preset's
    prune_refit does: the shipped model's vocabulary is only those)."""
    full = make_pipeline(_vectorizer(min_df), _classifier(c)).fit(texts, labels)
    names = full[0].get_feature_names_out()
    kept = [str(name) for name in names[np.flatnonzero(full[-1].coef_[0])]]
    pruned = make_pipeline(_vectorizer(1, kept), _classifier(c)).fit(texts, labels)
    return {"full_vocabulary": full, "pruned_vocabulary": pruned}


def _floor(texts: Sequence[str]) -> list[list[str]]:
    return [_FLOOR_TOKEN.findall(text.lower()) for text in texts]


def _summary(seconds: list[float], size: int, latency_s: list[float]) -> dict[str, float]:
    times = np.array(seconds)
    lat_ms = np.array(latency_s) * 1e3
    return {
        "batch_messages_per_s_median": round(size / float(np.median(times)), 1),
        "batch_messages_per_s_best": round(size / float(times.min()), 1),
        "latency_ms_p50": round(float(np.percentile(lat_ms, 50)), 4),
        "latency_ms_p90": round(float(np.percentile(lat_ms, 90)), 4),
        "latency_ms_p99": round(float(np.percentile(lat_ms, 99)), 4),
        "latency_ms_max": round(float(lat_ms.max()), 4),
    }


def _measure(
    methods: dict[str, Callable[[Sequence[str]], Any]],
    workload: list[str],
    warm_up: Callable[[], None],
    repeats: int,
    passes: int,
) -> dict[str, dict[str, dict[str, float]]]:
    """Batch throughput and single-message latency, in wall-clock and in CPU time (the
    latter is what this process itself spent, so other processes' load moves it less).

    Batch runs of the methods are interleaved so that load from other processes hits all
    of them alike. A latency pass runs each method over the whole workload after
    ``warm_up``; a message's latency is its median over ``passes`` passes."""
    names = list(methods)
    clocks = {"wall_clock": time.perf_counter, "cpu_time": time.process_time}
    batch: dict[str, dict[str, list[float]]] = {c: {n: [] for n in names} for c in clocks}
    for repeat in range(repeats):
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            warm_up()
            gc.collect()
            wall, cpu = time.perf_counter(), time.process_time()
            methods[name](workload)
            batch["cpu_time"][name].append(time.process_time() - cpu)
            batch["wall_clock"][name].append(time.perf_counter() - wall)
    shape = (passes, len(workload))
    latency = {c: {n: np.zeros(shape) for n in names} for c in clocks}
    for run in range(passes):
        for name in names[run % len(names) :] + names[: run % len(names)]:
            warm_up()  # each method sees the workload unseen: no cache shared with another
            score = methods[name]
            for index, text in enumerate(workload):
                wall, cpu = time.perf_counter(), time.process_time()
                score([text])
                latency["cpu_time"][name][run, index] = time.process_time() - cpu
                latency["wall_clock"][name][run, index] = time.perf_counter() - wall
    results: dict[str, dict[str, dict[str, float]]] = {}
    for clock in clocks:
        results[clock] = {
            name: _summary(
                batch[clock][name], len(workload), np.median(latency[clock][name], axis=0)
            )
            for name in names
        }
        base = results[clock]["sklearn_pipeline"]
        for result in results[clock].values():
            result["batch_speedup_vs_sklearn"] = round(
                result["batch_messages_per_s_median"] / base["batch_messages_per_s_median"], 2
            )
            result["p99_latency_ratio_vs_sklearn"] = round(
                result["latency_ms_p99"] / base["latency_ms_p99"], 4
            )
    return results


def _run_model(
    pipeline: Pipeline,
    workload: list[str],
    warm_texts: list[str],
    args: argparse.Namespace,
    detector: Any = None,
) -> dict[str, Any]:
    """Measure one model: its plain Pipeline, the compiled scorer, the floor and, for the
    bundled model, the TwoStageDetector itself (which scores through a compiled scorer)."""
    start = time.perf_counter()
    compiled = CompiledScorer.from_estimator(pipeline)
    compile_seconds = time.perf_counter() - start

    def warm_up() -> None:
        clear_caches()
        compiled.clear_caches()
        compiled.decision_function(warm_texts)
        if detector is not None:
            detector._compiled().clear_caches()
            detector.predict_proba(warm_texts)

    expected = pipeline.decision_function(workload)
    batch_gap = np.abs(compiled.decision_function(workload) - expected)
    single = np.concatenate([compiled.decision_function([t]) for t in workload])
    proba_gap = np.abs(pipeline.predict_proba(workload) - compiled.predict_proba(workload))
    methods: dict[str, Callable[[Sequence[str]], Any]] = {
        "sklearn_pipeline": pipeline.decision_function,
        "compiled_scorer": compiled.decision_function,
        "compiled_scorer_with_top5_ngrams": lambda texts: compiled.score(texts, top_k=5),
        "floor_lower_regex_tokenise": _floor,
    }
    if detector is not None:
        methods["detector_predict_proba"] = detector.predict_proba
        methods["detector_explain"] = detector.explain
    with threadpool_limits(limits=1):  # one core: no BLAS or OpenMP threads
        measured = _measure(methods, workload, warm_up, args.repeats, args.latency_passes)
    goal = {}
    for clock, results in measured.items():
        ours = results["compiled_scorer"]
        goal[clock] = {
            "met_throughput": ours["batch_messages_per_s_median"] >= GOAL_MESSAGES_PER_SECOND,
            "met_p99": ours["latency_ms_p99"] < GOAL_P99_MS,
        }
    return {
        "vocabulary_size": sum(len(v.vocabulary_) for v in compiled_vectorizers(pipeline)),
        "nonzero_weights": int(np.count_nonzero(pipeline[-1].coef_)),
        "compile_seconds": round(compile_seconds, 2),
        "equality": {
            "max_abs_decision_diff_batch": float(batch_gap.max()),
            "max_abs_decision_diff_one_at_a_time": float(np.abs(single - expected).max()),
            "max_abs_probability_diff": float(proba_gap.max()),
        },
        "results": measured,
        "goal_met": goal,
    }


def compiled_vectorizers(pipeline: Pipeline) -> list[Any]:
    features = pipeline[0]
    if isinstance(features, FeatureUnion):
        return [t for _, t in features.transformer_list]
    return [features]


def _bundled() -> tuple[Pipeline, Any]:
    """The bundled default model as a plain Pipeline (vectorisers + classifier; the
    calibrator maps the same decision function) and as the TwoStageDetector."""
    model = load_model()
    blocks = [v for v in (model.vectorizer_, model.char_vectorizer_) if v is not None]
    features: Any = blocks[0]
    if len(blocks) > 1:
        features = FeatureUnion([(f"block{i}", v) for i, v in enumerate(blocks)])
    return make_pipeline(features, model.classifier_), model


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-train-rows", type=int, default=None, help="subsample training")
    parser.add_argument("--workload-limit", type=int, default=None, help="first N messages")
    parser.add_argument("--repeats", type=int, default=5, help="batch repetitions per method")
    parser.add_argument("--latency-passes", type=int, default=3, help="single-message passes")
    parser.add_argument("--min-df", type=int, default=2)
    parser.add_argument("-C", type=float, default=2.0, dest="c")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    texts, labels, train_source = _load_training(args.max_train_rows)
    start = time.perf_counter()
    pipelines = _train(texts, labels, args.min_df, args.c)
    train_seconds = time.perf_counter() - start
    workload, workload_source = _load_workload(args.workload_limit)
    warm_texts = random.Random(0).sample(texts, min(WARM_UP_TEXTS, len(texts)))
    models = {}
    for name, pipeline in pipelines.items():
        models[name] = _run_model(pipeline, workload, warm_texts, args)
    bundled, detector = _bundled()
    models["bundled_default_model"] = _run_model(bundled, workload, warm_texts, args, detector)
    lengths = np.array([len(t) for t in workload])
    report = {
        "benchmark": "scoring_speed",
        "command": "python -m benchmarks.scoring_speed " + " ".join(sys.argv[1:]),
        "machine": {
            "cpu_count": os.cpu_count(),
            "threads": "one (single-threaded Python, BLAS/OpenMP limited to 1)",
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit_learn": sklearn.__version__,
        },
        "training": {
            "data": train_source,
            "rows": len(texts),
            "config": f"TfidfVectorizer(normalise, tokenise, (1,5), min_df={args.min_df}, "
            f"sublinear_tf) + LogisticRegression(l1_ratio=1, liblinear, C={args.c}, "
            "class_weight=balanced); pruned_vocabulary: the same refitted on the n-grams "
            "with non-zero weight",
            "seconds": round(train_seconds, 1),
        },
        "workload": {
            "source": workload_source,
            "messages": len(workload),
            "chars_mean": round(float(lengths.mean()), 1),
            "chars_p50": float(np.percentile(lengths, 50)),
            "chars_p99": float(np.percentile(lengths, 99)),
        },
        "goal": {"messages_per_s": GOAL_MESSAGES_PER_SECOND, "p99_ms": GOAL_P99_MS},
        "models": models,
        "notes": f"Caches emptied and warmed on {WARM_UP_TEXTS:,} random training texts "
        "before each batch run and before each method's latency pass; batch runs "
        "interleaved; a message's latency is its median over the passes. "
        "wall_clock includes time lost to other processes on a shared machine (see "
        "load_average); cpu_time counts only this process's own time.",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(models, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
